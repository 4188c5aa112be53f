"""Organisation-wide roles on the real API server and moto's Organizations API: bindings
discovered from the organisation, one DynamoBackupRoleSet selecting an OU, and `dbr report`.

An organisation of 6 member accounts in 2 OUs plus an excluded account (and the management
account). The operator here is the only one that discovers organisations (the session-wide one
runs with --no-discover-organizations) and watches orgs-* namespaces only.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from dynamobackup.api.v1alpha1 import ACCOUNT, GROUP, ORGANIZATION, ROLE_SET, VERSION
from dynamobackup.api.v1alpha1.lifecycle import RECONCILE_REQUEST_ANNOTATION
from dynamobackup_devenv import kube
from dynamobackup_devenv.browser import Browser
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import AwsHelper, MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

from .conftest import DbrClient, wait_for

APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
ACCESS_ROLE = "dynamobackup-operator"
MANAGEMENT = "123456789012"  # moto's default account: the operator's own credentials


class Organization:
    """The moto organisation, seen from its management account."""

    def __init__(self, aws: AwsHelper) -> None:
        self.aws = aws
        self.client = aws.client("organizations")
        self.client.create_organization(FeatureSet="ALL")
        self.root = self.client.list_roots()["Roots"][0]["Id"]
        self.ous = {
            name: self.client.create_organizational_unit(ParentId=self.root, Name=name)[
                "OrganizationalUnit"
            ]["Id"]
            for name in ("Production", "Development")
        }

    def add_account(self, name: str, ou: str, **tags: str) -> str:
        created = self.client.create_account(
            AccountName=name,
            Email=f"{name}@example.com",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        account = str(created["CreateAccountStatus"]["AccountId"])
        self.client.move_account(
            AccountId=account, SourceParentId=self.root, DestinationParentId=self.ous[ou]
        )
        # What a StackSet deploys in every member account: the role the operator assumes.
        self.aws.create_cross_account_role(account, ACCESS_ROLE, trusted_account=MANAGEMENT)
        return account

    def remove(self, account: str) -> None:
        self.client.remove_account_from_organization(AccountId=account)

    def roles(self, account: str) -> dict[str, dict[str, Any]]:
        iam = self.aws.client("iam", account=account)
        return {r["RoleName"]: r for r in iam.list_roles()["Roles"]}


@pytest.fixture
def fleet(
    k8s: ApiClient,
    control_plane: Cluster,
    moto_server: MotoServer,
    crd_installed: None,
    aws: AwsHelper,
    tmp_path: Path,
) -> Iterator[Fleet]:
    suffix = uuid.uuid4().hex[:8]
    namespace = f"orgs-backup-{suffix}"
    kube.create_namespace(k8s, namespace)
    setup = Fleet(k8s, aws, namespace, suffix, control_plane.kubeconfig)
    args = (
        "--require-account-bindings",
        f"--operator-namespace={namespace}",
        "--role-set-resync=1",
        "--discover-organizations",
    )
    try:
        with OperatorProcess(
            control_plane.kubeconfig,
            moto_server.environment(),
            namespaces=(f"orgs-*-{suffix}",),
            log_path=tmp_path / "operator.log",
            extra_args=args,
        ):
            yield setup
    finally:
        setup.cleanup()
        kube.delete_namespace(k8s, namespace)


class Fleet:
    def __init__(
        self, k8s: ApiClient, aws: AwsHelper, namespace: str, suffix: str, kubeconfig: Path
    ) -> None:
        self.k8s, self.aws, self.namespace, self.kubeconfig = k8s, aws, namespace, kubeconfig
        self.objects = CustomObjectsApi(k8s)
        self.source = f"acme-{suffix}"
        self.roles = DbrClient(k8s, namespace)

    def discover(self, excluded: list[str]) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": ORGANIZATION.kind,
            "metadata": {"name": self.source},
            "spec": {
                "managementAccount": {"id": MANAGEMENT},
                "excludedAccountIds": excluded,
                "interval": "10m",
                "bindingTemplate": {
                    "accessRoleName": ACCESS_ROLE,
                    "namespaces": {"names": [self.namespace]},
                    "operations": ["BackupPolicy", "Restore"],
                    "appliances": {"roleArns": [APPLIANCE]},
                },
            },
        }
        self.objects.create_cluster_custom_object(GROUP, VERSION, ORGANIZATION.plural, body)

    def rediscover(self) -> None:
        stamp = datetime.now(UTC).isoformat()
        patch = {"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: stamp}}}
        self.objects.patch_cluster_custom_object(
            GROUP, VERSION, ORGANIZATION.plural, self.source, patch
        )

    def source_status(self) -> dict[str, Any]:
        obj = self.objects.get_cluster_custom_object(
            GROUP, VERSION, ORGANIZATION.plural, self.source
        )
        return dict(obj.get("status") or {})

    def bindings(self) -> dict[str, dict[str, Any]]:
        listed = self.objects.list_cluster_custom_object(
            GROUP,
            VERSION,
            ACCOUNT.plural,
            label_selector=f"dynamobackup.io/organization-source={self.source}",
        )
        return {b["spec"]["account"]["id"]: b for b in listed["items"]}

    def create_set(self, name: str, spec: dict[str, Any]) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": ROLE_SET.kind,
            "metadata": {"name": name},
            "spec": spec,
        }
        self.objects.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ROLE_SET.plural, body
        )

    def patch_set(self, name: str, patch: dict[str, Any]) -> None:
        self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ROLE_SET.plural, name, patch
        )

    def set_status(self, name: str) -> dict[str, Any]:
        obj = self.objects.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, ROLE_SET.plural, name
        )
        return dict(obj.get("status") or {})

    def wait_set(self, name: str, expected: dict[str, int], timeout: float = 120) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def holds() -> bool:
            nonlocal last
            last = self.set_status(name)
            return all(last.get(key) == value for key, value in expected.items())

        wait_for(holds, timeout, lambda: f"set {name} {expected}; last status: {last}")
        return last

    def children(self) -> dict[str, dict[str, Any]]:
        listed = self.roles.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "dynamobackuproles"
        )
        return {r["spec"]["account"]["id"]: r for r in listed["items"]}

    def dbr(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        return subprocess.run(
            [sys.executable, "-m", "dynamobackup.cli.main", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    def cleanup(self) -> None:
        for call in (
            lambda: self.objects.delete_cluster_custom_object(
                GROUP, VERSION, ORGANIZATION.plural, self.source
            ),
            *(
                (
                    lambda name=name: self.objects.delete_cluster_custom_object(
                        GROUP, VERSION, ACCOUNT.plural, name
                    )
                )
                for name in (b["metadata"]["name"] for b in self.bindings().values())
            ),
        ):
            with contextlib.suppress(ApiException):
                call()


ROLE = "VeeamOrgBackup"


def test_a_set_selecting_one_ou_follows_the_organisation(fleet: Fleet, tmp_path: Path) -> None:
    org = Organization(fleet.aws)
    production = [org.add_account(f"prod-{n}", "Production", env="prod") for n in range(3)]
    development = [org.add_account(f"dev-{n}", "Development", env="dev") for n in range(3)]
    excluded = org.add_account("sandbox", "Production", env="sandbox")
    fleet.discover(excluded=[excluded])

    # Discovery: one binding per member in scope (the management account too), none excluded.
    wait_for(
        lambda: fleet.source_status().get("active") == 7,
        90,
        lambda: f"7 active accounts; last status: {fleet.source_status()}",
    )
    bindings = fleet.bindings()
    assert set(bindings) == {MANAGEMENT, *production, *development}
    labels = bindings[production[0]]["metadata"]["labels"]
    assert labels["dynamobackup.io/ou"] == org.ous["Production"]
    assert labels["dynamobackup.io/ou-path"] == "Root.Production"
    assert labels["tag.dynamobackup.io/env"] == "prod"
    assert labels["dynamobackup.io/account-status"] == "Active"

    # A set selecting the Production OU: one compliant role per account there, and only there.
    fleet.create_set(
        "backup",
        {
            "template": {
                "roleName": ROLE,
                "scope": {"operations": ["BackupPolicy"]},
                "trust": {"applianceRoleArn": APPLIANCE},
                "driftCheckInterval": "10s",
            },
            "accountSelector": {
                "labelSelector": {
                    "matchExpressions": [
                        {"key": f"ou.dynamobackup.io/{org.ous['Production']}", "operator": "Exists"}
                    ]
                }
            },
        },
    )
    status = fleet.wait_set("backup", {"selected": 3, "ready": 3, "compliant": 3})
    assert status["nonCompliant"] == 0 and status["failing"] == 0
    children = fleet.children()
    assert set(children) == set(production)
    for account, child in children.items():
        assert child["metadata"]["name"] == f"backup-{account}"
        (owner,) = child["metadata"]["ownerReferences"]
        assert owner["kind"] == "DynamoBackupRoleSet" and owner["controller"] is True
        assert ROLE in org.roles(account)
    for account in (*development, excluded):
        assert ROLE not in org.roles(account)

    # An account added to the OU while running gets its role.
    newcomer = org.add_account("prod-new", "Production", env="prod")
    fleet.rediscover()
    fleet.wait_set("backup", {"selected": 4, "compliant": 4})
    assert ROLE in org.roles(newcomer)

    # An account removed from the organisation: its binding is marked, its child goes, and the
    # IAM role stays (deletionPolicy Retain, the default).
    leaver = production[0]
    org.remove(leaver)
    fleet.rediscover()
    fleet.wait_set("backup", {"selected": 3, "compliant": 3})
    wait_for(lambda: leaver not in fleet.children(), 60, "the leaver's child deleted")
    marked = fleet.bindings()[leaver]["metadata"]["labels"]["dynamobackup.io/account-status"]
    assert marked == "Left"
    assert ROLE in org.roles(leaver)

    # A template change reaches every child, and every IAM role.
    fleet.patch_set("backup", {"spec": {"template": {"maxSessionDuration": 7200}}})
    remaining = [*production[1:], newcomer]

    def propagated() -> bool:
        return all(org.roles(a)[ROLE]["MaxSessionDuration"] == 7200 for a in remaining)

    wait_for(propagated, 90, "MaxSessionDuration 7200 on every role")
    fleet.wait_set("backup", {"selected": 3, "compliant": 3, "ready": 3})
    assert all(c["spec"]["maxSessionDuration"] == 7200 for c in fleet.children().values())

    # roleName is immutable in the template, as in every role.
    with pytest.raises(ApiException) as refused:
        fleet.patch_set("backup", {"spec": {"template": {"roleName": "Other"}}})
    assert refused.value.status == 422 and "roleName is immutable" in str(refused.value.body)

    # The fleet report over the cluster: the table on the terminal, and the HTML page.
    page = tmp_path / "fleet.html"
    shown = fleet.dbr("report", "--namespace", fleet.namespace, "--html", str(page))
    assert shown.returncode == 0, shown.stderr
    for account in remaining:
        assert account in shown.stdout
    assert "3 roles, 3 compliant" in shown.stdout
    as_json = fleet.dbr("report", "--namespace", fleet.namespace, "--format", "json")
    report = json.loads(as_json.stdout)
    assert {row["accountId"] for row in report["roles"]} == set(remaining)
    # The page, as a browser shows it: the OU's accounts ready for BackupPolicy, nothing else.
    with Browser() as browser:
        browser.open(page.as_uri())
        cells = browser.evaluate(
            "Array.from(document.querySelectorAll('#grid td.cell')).map(td => "
            "[td.dataset.account, td.dataset.operation, td.dataset.verdict])"
        )
    shown = {(account, operation): verdict for account, operation, verdict in cells}
    assert shown == {
        (account, operation): "ready" if operation == "BackupPolicy" else "none"
        for account in remaining
        for operation in ("BackupPolicy", "ManualBackup", "Restore")
    }
