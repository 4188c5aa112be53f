"""The operator holding only the IAM policies in docs/iam/, with moto enforcing them.

moto 5 checks IAM policies once authorization is switched on (POST /moto-api/reset-auth with 0):
it finds the caller by access key (an IAM user, or a session from sts:AssumeRole, whose role's
policies then apply) and evaluates Action and Effect. It resolves the resource only for
sts:AssumeRole (the RoleArn) and for IAM calls naming a role that exists; CreateRole, GetRole of a
missing role and every managed-policy call are judged against "*", so an Allow scoped to ARNs denies
them. Conditions are treated as satisfied. So the operator gets the shipped policies with exactly
those Allow statements widened to "*" (`for_moto`); every action list, every other statement and
the Deny keep what docs/iam/ ships. ARN and tag scoping is judged by tests/unit/iam instead, and
`test_what_moto_cannot_judge_yet` fails on the day moto learns either, so the widening can go.

This module runs its own control plane: the session's e2e operator watches every namespace and
would reconcile these objects too, against the other moto, with unlimited rights.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kubernetes.client import ApiClient

from dynamobackup.api import crdgen
from dynamobackup_devenv import kube
from dynamobackup_devenv.controlplane import ControlPlane
from dynamobackup_devenv.moto_server import MotoServer, aws_environment, moto_client
from dynamobackup_devenv.operator_process import OperatorProcess
from envfixtures import namespace_name

from .conftest import DbrClient, condition, wait_for
from .test_operator import (
    drift_by_hand,
    inline_actions,
    ready,
    reason,
    request_recheck,
    role_name,
    spec,
    trusted_principals,
)

DOCS_IAM = Path(__file__).parents[2] / "docs" / "iam"
MANAGEMENT, TARGET = "123456789012", "222222222222"
OPERATOR = "dynamobackup-operator"  # the user (here) or IRSA role, and the target-account role
TARGET_ROLE_ARN = f"arn:aws:iam::{TARGET}:role/{OPERATOR}"
OPERATOR_EXTERNAL_ID = "dynamobackup-operator-ext"
ADMIN = "test-admin"
GRANT = "granted"  # the one inline policy of each test user
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def shipped(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DOCS_IAM / name).read_text())
    return document


def management_policy() -> dict[str, Any]:
    return shipped("operator-management-account.json")


def target_policy() -> dict[str, Any]:
    return shipped("operator-target-account.json")


def target_trust() -> dict[str, Any]:
    """The shipped trust policy with its placeholders filled in, as docs/iam/README.md says."""
    text = (DOCS_IAM / "target-account-trust.json").read_text()
    text = text.replace("MANAGEMENT_ACCOUNT_ID", MANAGEMENT).replace(
        "EXTERNAL_ID", OPERATOR_EXTERNAL_ID
    )
    document: dict[str, Any] = json.loads(text)
    return document


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def judged_on_star(statement: dict[str, Any]) -> bool:
    """An Allow that moto checks against "*" for some call (see the module docstring)."""
    on_policies = any(":policy/" in r for r in as_list(statement["Resource"]))
    may_lack_role = {"iam:CreateRole", "iam:GetRole"} & set(as_list(statement["Action"]))
    return statement["Effect"] == "Allow" and (on_policies or bool(may_lack_role))


def for_moto(policy: dict[str, Any]) -> dict[str, Any]:
    adapted = copy.deepcopy(policy)
    for statement in adapted["Statement"]:
        if judged_on_star(statement):
            statement["Resource"] = "*"
    return adapted


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    reduced = copy.deepcopy(policy)
    for statement in reduced["Statement"]:
        if statement["Effect"] == "Allow":
            statement["Action"] = [a for a in as_list(statement["Action"]) if a != action]
    reduced["Statement"] = [s for s in reduced["Statement"] if s["Action"]]
    return reduced


@dataclass
class EnforcingMoto:
    """A moto server of our own with IAM enforcement on, the operator's user and admin users."""

    server: MotoServer
    operator_keys: dict[str, str]
    admin_keys: dict[str, dict[str, str]]

    def admin(self, service: str, account: str = MANAGEMENT) -> Any:
        return moto_client(self.server.url, service, account, **self.admin_keys[account])

    def as_operator(self, service: str) -> Any:
        return moto_client(self.server.url, service, **self.operator_keys)

    def grant_operator(self, policy: dict[str, Any]) -> None:
        """Replaces the operator user's only policy; moto reads it on every request."""
        self.admin("iam").put_user_policy(
            UserName=OPERATOR, PolicyName=GRANT, PolicyDocument=json.dumps(policy)
        )

    def operator_environment(self) -> dict[str, str]:
        return {
            **aws_environment(self.server.url),
            "AWS_ACCESS_KEY_ID": self.operator_keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.operator_keys["aws_secret_access_key"],
        }


def _user_with_keys(iam: Any, name: str, policy: dict[str, Any]) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=GRANT, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def _seed(server: MotoServer) -> EnforcingMoto:
    """Users and the target-account role, made while moto still lets anyone do anything."""
    helper = server.helper()
    admins = {
        a: _user_with_keys(helper.client("iam", a), ADMIN, ALLOW_ALL) for a in (MANAGEMENT, TARGET)
    }
    operator = _user_with_keys(
        helper.client("iam", MANAGEMENT), OPERATOR, for_moto(management_policy())
    )
    target = helper.client("iam", TARGET)
    target.create_role(RoleName=OPERATOR, AssumeRolePolicyDocument=json.dumps(target_trust()))
    target.put_role_policy(
        RoleName=OPERATOR,
        PolicyName="operator",
        PolicyDocument=json.dumps(for_moto(target_policy())),
    )
    return EnforcingMoto(server, operator, admins)


def enforce_iam(server: MotoServer) -> None:
    """From now on every request is authenticated and authorized (moto's reset-auth endpoint)."""
    # The body is the number of requests still let through; text/plain so it is not parsed as a form.
    request = urllib.request.Request(
        f"{server.url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture(scope="module")
def enforcing_moto() -> Iterator[EnforcingMoto]:
    with MotoServer() as server:
        world = _seed(server)
        enforce_iam(server)
        yield world


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[ControlPlane]:
    with ControlPlane() as cluster:
        api = cluster.api_client()
        try:
            kube.install_crd(api, crdgen.crd())
        finally:
            api.close()
        yield cluster


@pytest.fixture(scope="module")
def restricted_operator(
    private_cluster: ControlPlane,
    enforcing_moto: EnforcingMoto,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("iam-operator") / "operator.log"
    with pytest.MonkeyPatch.context() as env:
        # The operator must hold the user's keys and nothing else that boto3 would prefer.
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE"):
            env.delenv(key, raising=False)
        process = OperatorProcess(
            private_cluster.kubeconfig, enforcing_moto.operator_environment(), log_path=log
        )
    with process as running:
        yield running
    print(f"operator log: {log}")


@pytest.fixture
def cluster_api(private_cluster: ControlPlane) -> Iterator[ApiClient]:
    api = private_cluster.api_client()
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def dbr(
    cluster_api: ApiClient, restricted_operator: OperatorProcess, request: pytest.FixtureRequest
) -> Iterator[DbrClient]:
    name = namespace_name(request.node.name)
    kube.create_namespace(cluster_api, name)
    try:
        yield DbrClient(cluster_api, name)
    finally:
        kube.delete_namespace(cluster_api, name)


@pytest.fixture
def full_grant(enforcing_moto: EnforcingMoto) -> Iterator[EnforcingMoto]:
    """The shipped policy, and again after the test whatever the test granted meanwhile."""
    enforcing_moto.grant_operator(for_moto(management_policy()))
    yield enforcing_moto
    enforcing_moto.grant_operator(for_moto(management_policy()))


def denied(call: Any, **arguments: Any) -> str:
    """The error code of a call expected to fail."""
    with pytest.raises(ClientError) as failure:
        call(**arguments)
    return str(failure.value.response["Error"]["Code"])


def test_moto_enforces_the_shipped_actions_and_arns_it_can_resolve(
    full_grant: EnforcingMoto,
) -> None:
    sts = full_grant.as_operator("sts")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{MANAGEMENT}:user/{OPERATOR}"
    other_role = f"arn:aws:iam::{TARGET}:role/{ADMIN}"
    assert denied(sts.assume_role, RoleArn=other_role, RoleSessionName="x-test") == "AccessDenied"
    iam = full_grant.as_operator("iam")
    assert denied(iam.list_users) == "AccessDenied"  # users are none of its business
    assert denied(iam.create_user, UserName="intruder") == "AccessDenied"
    # Deny statements keep their ARN: the operator's own target role is off limits.
    assumed = sts.assume_role(
        RoleArn=TARGET_ROLE_ARN, RoleSessionName="x-test", ExternalId=OPERATOR_EXTERNAL_ID
    )
    keys = assumed["Credentials"]
    in_target = moto_client(
        full_grant.server.url,
        "iam",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    assert in_target.get_role(RoleName=OPERATOR)["Role"]["Arn"] == TARGET_ROLE_ARN
    assert (
        denied(
            in_target.put_role_policy,
            RoleName=OPERATOR,
            PolicyName="x",
            PolicyDocument=json.dumps(ALLOW_ALL),
        )
        == "AccessDenied"
    )


def test_what_moto_cannot_judge_yet(full_grant: EnforcingMoto) -> None:
    """Canaries: when one fails, moto judges more, and `for_moto` should widen less."""
    iam = full_grant.as_operator("iam")
    owned = [{"Key": "dynamobackup.io/managed-by", "Value": "DynamoBackupRole.dynamobackup.io"}]
    full_grant.grant_operator(management_policy())  # verbatim: CreateRole is judged on "*"
    assert (
        denied(iam.create_role, RoleName=role_name(), AssumeRolePolicyDocument="{}", Tags=owned)
        == "AccessDenied"
    )
    full_grant.grant_operator(for_moto(management_policy()))
    unowned = role_name()
    full_grant.admin("iam").create_role(
        RoleName=unowned, AssumeRolePolicyDocument=json.dumps(trust_for_ec2())
    )
    # In AWS the ManageOwnedRoles condition refuses this role (no ownership tag); moto allows it.
    iam.put_role_policy(RoleName=unowned, PolicyName="x", PolicyDocument=json.dumps(ALLOW_ALL))
    full_grant.admin("iam").delete_role_policy(RoleName=unowned, PolicyName="x")
    full_grant.admin("iam").delete_role(RoleName=unowned)
    # The target role's trust demands the external ID; moto does not read a trust policy across
    # accounts (within one account it does, but knows no :root or role-session principals).
    sts = full_grant.as_operator("sts")
    sts.assume_role(RoleArn=TARGET_ROLE_ARN, RoleSessionName="x-test", ExternalId="wrong")


def trust_for_ec2() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def test_enforce_repair_managed_delivery_and_delete_with_only_the_shipped_policy(
    dbr: DbrClient, full_grant: EnforcingMoto
) -> None:
    name, iam = role_name(), full_grant.admin("iam")
    dbr.create("backup", spec(name, deletionPolicy="Delete"))
    created = dbr.wait_status("backup", ready, what="Ready=True")
    assert created["roleArn"] == f"arn:aws:iam::{MANAGEMENT}:role/{name}"
    assert len(inline_actions(iam, name)) == created["profile"]["actionCount"]

    drift_by_hand(iam, name)
    repaired = dbr.wait_status(
        "backup",
        lambda s: bool(s.get("lastChanges")) and s["lastCheckedTime"] > created["lastCheckedTime"],
        timeout=40,
        what="the timer's repair",
    )
    assert ready(repaired), repaired
    assert "sns:Subscribe" in inline_actions(iam, name)
    assert "999999999999" not in trusted_principals(iam, name)

    dbr.patch("backup", {"spec": {"permissions": {"delivery": "Managed"}}})
    managed = dbr.wait_status(
        "backup", lambda s: bool(s.get("managedPolicyArns")) and ready(s), what="managed delivery"
    )
    (policy_arn,) = managed["managedPolicyArns"]
    assert ":policy/dynamobackup/" in policy_arn
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []

    dbr.delete("backup")
    wait_gone(dbr, "backup")
    assert name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert policy_arn not in [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]


def wait_gone(dbr: DbrClient, name: str) -> None:
    wait_for(lambda: not dbr.exists(name), 60, f"{name} to be finalized")


def test_cross_account_through_the_target_account_role(
    dbr: DbrClient, full_grant: EnforcingMoto
) -> None:
    name = role_name()
    account = {"id": TARGET, "assumeRoleArn": TARGET_ROLE_ARN, "externalId": OPERATOR_EXTERNAL_ID}
    dbr.create(
        "remote",
        spec(name, account=account, deletionPolicy="Delete", permissions={"delivery": "Managed"}),
    )
    status = dbr.wait_status("remote", ready, what="Ready=True")
    assert status["roleArn"] == f"arn:aws:iam::{TARGET}:role/{name}"
    target = full_grant.admin("iam", TARGET)
    assert name in [r["RoleName"] for r in target.list_roles()["Roles"]]
    assert name not in [r["RoleName"] for r in full_grant.admin("iam").list_roles()["Roles"]]

    dbr.delete("remote")
    wait_gone(dbr, "remote")
    assert name not in [r["RoleName"] for r in target.list_roles()["Roles"]]
    assert target.list_policies(Scope="Local")["Policies"] == []


def test_the_operator_cannot_take_over_its_own_role(
    dbr: DbrClient, full_grant: EnforcingMoto
) -> None:
    account = {"id": TARGET, "assumeRoleArn": TARGET_ROLE_ARN, "externalId": OPERATOR_EXTERNAL_ID}
    dbr.create("hijack", spec(OPERATOR, account=account, adoptExisting=True))
    refused = dbr.wait_status("hijack", lambda s: reason(s) == "AccessDenied", what="AccessDenied")
    # The claim (TagRole) comes first and meets the explicit Deny on the operator's own role.
    assert "iam:TagRole" in condition(refused, "Ready")["message"]
    trust = full_grant.admin("iam", TARGET).get_role(RoleName=OPERATOR)["Role"]
    assert trust["AssumeRolePolicyDocument"] == target_trust()
    assert "Tags" not in trust


def test_a_missing_permission_is_one_line_of_access_denied_and_the_operator_carries_on(
    dbr: DbrClient, full_grant: EnforcingMoto, restricted_operator: OperatorProcess
) -> None:
    pid, log_start = restricted_operator.process.pid, len(restricted_operator.log())
    full_grant.grant_operator(for_moto(without(management_policy(), "iam:PutRolePolicy")))
    name = role_name()
    dbr.create("partial", spec(name, driftCheckInterval="1h"))
    failed = dbr.wait_status("partial", lambda s: reason(s) == "AccessDenied", what="AccessDenied")

    message = condition(failed, "Ready")["message"]
    assert condition(failed, "Ready")["status"] == "False"
    assert "iam:PutRolePolicy" in message and f"account {MANAGEMENT}" in message
    assert "\n" not in message and "Traceback" not in json.dumps(failed)
    assert restricted_operator.healthy() and restricted_operator.process.pid == pid
    assert restricted_operator.process.running()
    assert "Traceback" not in restricted_operator.log()[log_start:]

    # Granted again, the next check (here requested, else the timer's) finishes the role.
    full_grant.grant_operator(for_moto(management_policy()))
    request_recheck(dbr, "partial")
    # Ready=True is the new check: the failed one left the role unfinished and Ready=False.
    recovered = dbr.wait_status("partial", ready, what="recovery")
    assert recovered["compliant"] is True
    assert inline_actions(full_grant.admin("iam"), name)
