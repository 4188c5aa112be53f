"""Many tenants, one operator, on the real API server and moto: account bindings, guardrails and
external IDs read from Secrets.

The operator here runs as the chart runs it (bindings required, external IDs from Secrets of one
name, debug logging so the secret scan sees everything) and watches tenant-* namespaces only, so
the session-wide operator (test-* namespaces) never touches these objects. Bindings are
cluster-scoped: each test uses accounts of its own, which no other test's roles live in.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi

from dynamobackup.api.v1alpha1 import ACCOUNT, GROUP, VERSION
from dynamobackup.api.v1alpha1.lifecycle import RECONCILE_REQUEST_ANNOTATION
from dynamobackup_devenv import kube
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import AwsHelper, MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

from .conftest import DbrClient, condition, wait_for

APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
SECRET = "dynamobackup-external-ids"


@pytest.fixture
def tenancy(
    k8s: ApiClient,
    control_plane: Cluster,
    moto_server: MotoServer,
    crd_installed: None,
    aws: AwsHelper,
    tmp_path: Path,
) -> Iterator[Tenancy]:
    suffix = uuid.uuid4().hex[:8]
    names = {key: f"tenant-{key}-{suffix}" for key in ("system", "a", "b")}
    for name in names.values():
        kube.create_namespace(k8s, name)
    log = tmp_path / "operator.log"
    args = (
        "--require-account-bindings",
        f"--operator-namespace={names['system']}",
        f"--external-id-secret-name={SECRET}",
        "--log-level=debug",
        "--no-discover-organizations",
    )
    setup = Tenancy(k8s, aws, names, log)
    try:
        with OperatorProcess(
            control_plane.kubeconfig,
            moto_server.environment(),
            namespaces=(f"tenant-*-{suffix}",),
            log_path=log,
            extra_args=args,
        ) as running:
            setup.operator = running
            yield setup
    finally:
        setup.delete_bindings()
        for name in names.values():
            kube.delete_namespace(k8s, name)


class Tenancy:
    def __init__(self, k8s: ApiClient, aws: AwsHelper, names: dict[str, str], log: Path) -> None:
        self.k8s, self.aws, self.names, self.log = k8s, aws, names, log
        self.objects = CustomObjectsApi(k8s)
        self.core = CoreV1Api(k8s)
        self.bindings: list[str] = []
        self.operator: OperatorProcess | None = None

    def roles(self, tenant: str) -> DbrClient:
        return DbrClient(self.k8s, self.names[tenant])

    def account(self, external_id: str | None = None) -> tuple[str, str]:
        """A fresh AWS account with a role the operator may assume."""
        account = f"{secrets.randbelow(10**11) + 3 * 10**11:012d}"
        access = self.aws.create_cross_account_role(
            account, "dynamobackup-operator", external_id=external_id
        )
        return account, access

    def bind(self, account_id: str, access: str, tenant: str, **extra: Any) -> str:
        name = f"bind-{uuid.uuid4().hex[:8]}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": ACCOUNT.kind,
            "metadata": {"name": name, "labels": {"example.com/tier": "prod"}},
            "spec": {
                "account": {
                    "id": account_id,
                    "assumeRoleArn": access,
                    **extra.pop("account", {}),
                },
                "namespaces": {"names": [self.names[tenant]]},
                "operations": ["BackupPolicy", "Restore"],
                "appliances": {"roleArns": [APPLIANCE]},
                **extra,
            },
        }
        self.objects.create_cluster_custom_object(GROUP, VERSION, ACCOUNT.plural, body)
        self.bindings.append(name)
        return name

    def delete_bindings(self) -> None:
        for name in self.bindings:
            self.objects.delete_cluster_custom_object(GROUP, VERSION, ACCOUNT.plural, name)

    def put_secret(self, namespace: str, data: dict[str, str]) -> None:
        body = {
            "metadata": {"name": SECRET},
            "stringData": data,
        }
        try:
            self.core.create_namespaced_secret(namespace, body)
        except Exception:
            self.core.replace_namespaced_secret(SECRET, namespace, body)

    def role_names(self, account: str) -> list[str]:
        iam = self.aws.client("iam", account=account)
        return [r["RoleName"] for r in iam.list_roles()["Roles"]]


def spec(account_id: str, role: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "account": {"id": account_id},
        "roleName": role,
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": APPLIANCE},
        "driftCheckInterval": "10s",
    }
    base.update(overrides)
    return base


def reason(status: dict[str, Any]) -> str:
    return str(condition(status, "Ready").get("reason"))


def ready(status: dict[str, Any]) -> bool:
    return condition(status, "Ready").get("status") == "True"


def role_name() -> str:
    return f"veeam-{uuid.uuid4().hex[:10]}"


def test_a_tenant_cannot_reach_an_account_bound_to_another_namespace(tenancy: Tenancy) -> None:
    account, access = tenancy.account()
    tenancy.bind(account, access, "a")
    mine, theirs, sneaky = role_name(), role_name(), role_name()
    tenancy.roles("a").create("mine", spec(account, mine))
    tenancy.roles("b").create("theirs", spec(account, theirs))
    # Naming the account's access role itself does not help: the binding says how to get in.
    tenancy.roles("b").create(
        "sneaky", spec(account, sneaky, account={"id": account, "assumeRoleArn": access})
    )
    assert ready(tenancy.roles("a").wait_status("mine", ready, what="Ready=True in tenant a"))
    refused = tenancy.roles("b").wait_status(
        "theirs", lambda s: reason(s) == "AccountNotAllowed", what="AccountNotAllowed"
    )
    assert condition(refused, "Ready")["status"] == "False"
    assert tenancy.names["b"] in condition(refused, "Ready")["message"]
    assert refused.get("awsCalls", 0) == 0
    sneaked = tenancy.roles("b").wait_status(
        "sneaky", lambda s: reason(s) == "AssumeRoleArnNotAllowed", what="AssumeRoleArnNotAllowed"
    )
    assert sneaked.get("awsCalls", 0) == 0
    names = tenancy.role_names(account)
    assert mine in names and theirs not in names and sneaky not in names
    # Deleting a refused role touches nothing in AWS and does not hang on the finalizer.
    tenancy.roles("b").delete("theirs")
    wait_for(lambda: not tenancy.roles("b").exists("theirs"), 30, "the refused role to go")
    # An account no binding governs is refused too: bindings are required.
    other, _ = tenancy.account()
    tenancy.roles("a").create("unbound", spec(other, role_name()))
    tenancy.roles("a").wait_status(
        "unbound", lambda s: reason(s) == "AccountNotAllowed", what="unbound account refused"
    )


def test_a_forbidden_action_is_refused_with_nothing_written(tenancy: Tenancy) -> None:
    account, access = tenancy.account()
    tenancy.bind(account, access, "a")
    name = role_name()
    wanted = {"additionalActions": ["iam:*", "s3:GetObject"]}
    tenancy.roles("a").create("greedy", spec(account, name, permissions=wanted))
    refused = tenancy.roles("a").wait_status(
        "greedy", lambda s: reason(s) == "ForbiddenAction", what="ForbiddenAction"
    )
    message = condition(refused, "Ready")["message"]
    assert "iam:*" in message and "s3:GetObject" not in message
    assert refused.get("awsCalls", 0) == 0 and name not in tenancy.role_names(account)
    assert "ForbiddenAction" in {e["reason"] for e in tenancy.roles("a").events("greedy")}

    # What the binding's admin allow list covers may be added, and is reported, never silent.
    allowed_name = role_name()
    other, other_access = tenancy.account()
    tenancy.bind(other, other_access, "a", guardrails={"allowedActions": ["iam:GetAccountSummary"]})
    extra = {"additionalActions": ["iam:GetAccountSummary", "s3:GetObject"]}
    tenancy.roles("a").create("allowed", spec(other, allowed_name, permissions=extra))
    status = tenancy.roles("a").wait_status("allowed", ready, what="Ready=True")
    assert status["addedActions"] == ["iam:GetAccountSummary", "s3:GetObject"]
    assert status["excessActions"] == [] and status["dangerousActions"] == []

    # A foreign iam:* grant on that role makes it non-compliant, though exclusive is false.
    iam = tenancy.aws.client("iam", account=other)
    admin = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=allowed_name, PolicyName="admin", PolicyDocument=json.dumps(admin))
    tainted = tenancy.roles("a").wait_status(
        "allowed", lambda s: s.get("compliant") is False, timeout=60, what="the foreign iam:*"
    )
    assert tainted["dangerousActions"] == ["iam:*"]
    assert tainted["foreignPolicies"] == ["inline:admin"]


def trust_text(tenancy: Tenancy, account: str, role: str) -> str:
    iam = tenancy.aws.client("iam", account=account)
    return json.dumps(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])


def request_recheck(roles: DbrClient, name: str) -> None:
    stamp = datetime.now(UTC).isoformat()
    roles.patch(name, {"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: stamp}}})


def test_an_external_id_from_a_secret_reaches_the_trust_policy_rotates_and_leaks_nowhere(
    tenancy: Tenancy,
) -> None:
    operator_id = f"op-{secrets.token_hex(12)}"
    first, second = (f"veeam-{secrets.token_hex(12)}" for _ in range(2))
    account, access = tenancy.account(external_id=operator_id)
    tenancy.put_secret(tenancy.names["system"], {account: operator_id})
    tenancy.bind(
        account,
        access,
        "a",
        account={"externalIdSecretRef": {"name": SECRET, "key": account}},
    )
    tenant = tenancy.names["a"]
    tenancy.put_secret(tenant, {"appliance": first})
    name = role_name()
    trust = {
        "applianceRoleArn": APPLIANCE,
        "externalIdSecretRef": {"name": SECRET, "key": "appliance"},
    }
    roles = tenancy.roles("a")
    roles.create("secret", spec(account, name, trust=trust, driftCheckInterval="1h"))
    status = roles.wait_status("secret", ready, what="Ready=True")
    assert first in trust_text(tenancy, account, name)

    tenancy.put_secret(tenant, {"appliance": second})
    request_recheck(roles, "secret")
    wait_for(
        lambda: second in trust_text(tenancy, account, name),
        60,
        "the rotated external ID in the trust policy",
    )
    assert first not in trust_text(tenancy, account, name)
    rotated = roles.wait_status(
        "secret",
        lambda s: s["lastCheckedTime"] >= status["lastCheckedTime"] and ready(s),
        what="Ready after the rotation",
    )
    assert rotated["lastChanges"] == [f"replaced the trust policy of {name}"]

    # Found nowhere else: logs at debug level, Events, status, annotations, metrics.
    assert tenancy.operator is not None
    obj = roles.get("secret")
    places = {
        "operator log": tenancy.log.read_text(errors="replace"),
        "status": json.dumps(obj.get("status")),
        "metadata": json.dumps(obj["metadata"]),
        "spec": json.dumps(obj["spec"]),
        "events": json.dumps(
            tenancy.k8s.sanitize_for_serialization(
                CoreV1Api(tenancy.k8s).list_event_for_all_namespaces().items
            )
        ),
        "metrics": tenancy.operator.metrics(),
    }
    assert "DEBUG" in places["operator log"]  # the scan covered debug-level logging
    for value in (operator_id, first, second):
        encoded = base64.b64encode(value.encode()).decode()
        for where, text in places.items():
            assert value not in text, f"{value[:6]}... found in {where}"
            assert encoded not in text, f"{value[:6]}... (base64) found in {where}"


def test_a_secret_of_another_name_is_refused_without_reading_it(tenancy: Tenancy) -> None:
    account, access = tenancy.account()
    tenancy.bind(account, access, "a")
    trust = {"applianceRoleArn": APPLIANCE, "externalIdSecretRef": {"name": "other", "key": "k"}}
    tenancy.roles("a").create("other", spec(account, role_name(), trust=trust))
    refused = tenancy.roles("a").wait_status(
        "other", lambda s: reason(s) == "SecretNotAllowed", what="SecretNotAllowed"
    )
    assert SECRET in condition(refused, "Ready")["message"]
    tenancy.put_secret(tenancy.names["a"], {"present": "abc-123"})
    missing = {
        "applianceRoleArn": APPLIANCE,
        "externalIdSecretRef": {"name": SECRET, "key": "absent"},
    }
    tenancy.roles("a").create("missing", spec(account, role_name(), trust=missing))
    tenancy.roles("a").wait_status(
        "missing", lambda s: reason(s) == "SecretKeyNotFound", what="SecretKeyNotFound"
    )
