"""The fault tier: the operator under a hostile environment, on a control plane of its own.

Restarting kube-apiserver and etcd would disturb the other tiers, so this tier starts its own
control plane (and leaves the session's alone). AWS is the session's moto server behind a
fault-injecting proxy (proxy.py). Every scenario ends with the same checks (`Scenario.verify`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from dynamobackup.api import crdgen
from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup_devenv import kube
from dynamobackup_devenv.controlplane import ControlPlane
from dynamobackup_devenv.moto_server import MotoServer, moto_client
from dynamobackup_devenv.operator_process import OperatorProcess

from .proxy import FaultProxy

SEED = int(os.environ.get("DBR_FAULT_SEED", "20261129"))
# Another build of the operator to try the scenarios on (its operator/ directory), e.g. an older
# commit checked out elsewhere, to show that a scenario catches a defect there. Flags that build
# may not know are left out.
OTHER_BUILD = os.environ.get("DBR_FAULTS_OPERATOR_SOURCE")
AWS_TIMEOUT = 2.0
OWN_ACCOUNT, OTHER_ACCOUNT = "123456789012", "222222222222"
APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
OWNER_TAGS = ("dynamobackup.io/namespace", "dynamobackup.io/name")
POLICY_PATH = "/dynamobackup/"
FOREIGN_ROLE = "foreign-untouched"
# Figures of every scenario, for docs/reliability.md (printed at the end of the tier).
FIGURES: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
def fault_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(log_dir=tmp_path_factory.mktemp("fault-plane-logs"))
    with plane:
        client = plane.api_client()
        for crd in crdgen.crds():
            kube.install_crd(client, crd)
        client.close()
        yield plane


@pytest.fixture(scope="session")
def fault_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    with FaultProxy(moto_server.url, SEED, AWS_TIMEOUT) as proxy:
        yield proxy


@pytest.fixture
def scenario(
    fault_plane: ControlPlane,
    fault_proxy: FaultProxy,
    moto_server: MotoServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Scenario]:
    moto_server.reset()
    fault_proxy.record.injected.clear()
    fault_proxy.record.forwarded_mutations.clear()
    run = Scenario(fault_plane, fault_proxy, moto_server, tmp_path, request.node.name)
    try:
        yield run
    finally:
        run.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: Callable[[], str] | str) -> float:
    """Polls until `predicate()`; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except (ApiException, OSError):
            pass  # the API server may be down on purpose
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"timed out after {timeout:.0f}s: {what() if callable(what) else what}"
            )
        time.sleep(0.5)


def ready(obj: dict[str, Any]) -> bool:
    return condition(obj, "Ready").get("status") == "True"


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


@dataclass
class Scenario:
    plane: ControlPlane
    proxy: FaultProxy
    moto: MotoServer
    workdir: Path
    name: str
    operators: list[OperatorProcess] = field(default_factory=list)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)  # released with the opt-out annotation

    def __post_init__(self) -> None:
        self.namespace = f"faults-{uuid.uuid4().hex[:8]}"
        self.k8s = self.plane.api_client()
        kube.create_namespace(self.k8s, self.namespace)
        self.objects = CustomObjectsApi(self.k8s)
        self.core = CoreV1Api(self.k8s)
        self.external_ids = {f"acct-ext-{SEED}", f"veeam-ext-{SEED}"}
        self._foreign = self._create_foreign_role()
        self.started = time.monotonic()

    # -- the operator ---------------------------------------------------------------------------

    def start_operator(self, *extra: str, wait: bool = True) -> OperatorProcess:
        index = len(self.operators)
        environment = {**self.moto.environment(), "AWS_ENDPOINT_URL": self.proxy.url}
        tuning = [f"--aws-timeout={AWS_TIMEOUT}", "--max-retry-delay=8"]
        if OTHER_BUILD:
            environment["PYTHONPATH"] = OTHER_BUILD
            tuning = []
        operator = OperatorProcess(
            self.plane.kubeconfig,
            environment,
            drift_tick=1.0,
            retry_delay=1.0,
            namespaces=(self.namespace,),
            log_path=self.workdir / f"operator-{index}.log",
            extra_args=(
                "--log-level=debug",
                "--aws-max-attempts=4",
                *tuning,
                *extra,
            ),
        )
        self.operators.append(operator)
        if wait:
            operator.start()
        else:
            operator.process.start()
        return operator

    @staticmethod
    def kill(operator: OperatorProcess) -> None:
        """SIGKILL, as the kernel's OOM killer or a node loss would: no cleanup at all."""
        pid = operator.process.pid
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        operator.stop()  # reaps the child

    def close(self) -> None:
        for operator in self.operators:
            operator.stop()
        # A test that broke the control plane must not hide its own failure behind this one.
        with contextlib.suppress(Exception):
            kube.delete_namespace(self.k8s, self.namespace)
        self.k8s.close()

    # -- resources ------------------------------------------------------------------------------

    def spec(self, index: int) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "account": {"id": OWN_ACCOUNT},
            "roleName": f"fs-{self.namespace[-8:]}-{index}",
            "scope": {"operations": ["BackupPolicy", "Restore"] if index % 2 else ["BackupPolicy"]},
            "trust": {"applianceRoleArn": APPLIANCE, "externalId": f"veeam-ext-{SEED}"},
            "driftCheckInterval": "10s",
        }
        if index % 4 == 1:
            spec["permissions"] = {"delivery": "Managed"}
        if index % 3 == 0:
            spec["deletionPolicy"] = "Delete"
        if index % 5 == 2:
            spec["account"] = {
                "id": OTHER_ACCOUNT,
                "assumeRoleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/OperatorAccess",
                "externalId": f"acct-ext-{SEED}",
            }
        return spec

    def create(self, indexes: range, **overrides: Any) -> None:
        for index in indexes:
            name = f"r{index}"
            spec = {**self.spec(index), **overrides}
            self.specs[name] = spec
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "DynamoBackupRole",
                "metadata": {"name": name},
                "spec": spec,
            }
            self.objects.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, body
            )

    def widen_or_narrow(self, name: str) -> None:
        """Flips the resource between one and two operations: new permissions to write."""
        spec = self.specs[name]
        two = ["BackupPolicy", "Restore"]
        operations = ["BackupPolicy"] if spec["scope"]["operations"] == two else two
        spec["scope"] = {"operations": operations}
        self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": {"scope": spec["scope"]}}
        )

    def delete(self, names: list[str]) -> None:
        for name in names:
            self.objects.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name
            )
            self.deleted.add(name)

    def listed(self) -> dict[str, dict[str, Any]]:
        items = self.objects.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, _request_timeout=10
        )["items"]
        return {item["metadata"]["name"]: item for item in items}

    def count(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        return sum(predicate(obj) for obj in self.listed().values())

    def wait_converged(self, timeout: float) -> float:
        """Every live resource Ready, every deleted one gone."""
        expected = set(self.specs) - self.deleted

        def converged() -> bool:
            objects = self.listed()
            return set(objects) == expected and all(ready(o) for o in objects.values())

        def describe() -> str:
            objects = self.listed()
            stuck = {
                n: condition(o, "Ready").get("reason") for n, o in objects.items() if not ready(o)
            }
            return f"not converged: {len(stuck)} not Ready {dict(list(stuck.items())[:8])}"

        return wait_for(converged, timeout, describe)

    # -- the checks every scenario ends with ----------------------------------------------------

    def verify(self, title: str, faults: int) -> dict[str, Any]:
        objects = self.listed()
        assert all(o.get("status", {}).get("conditions") for o in objects.values()), (
            "a resource without status"
        )
        duplicates, orphans, missing = self._roles(objects)
        versions = self._policy_problems()
        foreign = self._foreign_changes()
        secrets = self._secrets_found(objects)
        figures = {
            "scenario": title,
            "resources": len(self.specs),
            "deleted": len(self.deleted),
            "faults": faults,
            "converged": sum(ready(o) for o in objects.values()) + len(self.deleted),
            "duplicates": duplicates,
            "orphans": orphans + len(versions),
            "foreign": foreign,
            "secrets": len(secrets),
            "seconds": round(time.monotonic() - self.started),
        }
        FIGURES.append(figures)
        print("FAULT-FIGURES " + json.dumps(figures))
        assert missing == [], f"resources without their role: {missing}"
        assert versions == [], versions
        assert (duplicates, orphans, foreign) == (0, 0, 0), figures
        assert secrets == [], f"secrets found in: {secrets}"
        assert figures["converged"] == len(self.specs)
        return figures

    def _iam(self, account: str) -> Any:
        return moto_client(self.moto.url, "iam", account=account)

    def _roles(self, objects: dict[str, dict[str, Any]]) -> tuple[int, int, list[str]]:
        duplicates = orphans = 0
        missing: list[str] = []
        owned: dict[tuple[str, str], list[str]] = {}
        for account in (OWN_ACCOUNT, OTHER_ACCOUNT):
            iam = self._iam(account)
            listed = iam.get_paginator("list_roles").paginate()
            for role in (role for page in listed for role in page["Roles"]):
                tags = {
                    t["Key"]: t["Value"]
                    for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
                }
                key = (tags.get(OWNER_TAGS[0], ""), tags.get(OWNER_TAGS[1], ""))
                if key[0] == self.namespace:
                    owned.setdefault((account, key[1]), []).append(role["RoleName"])
        for (_account, name), roles in owned.items():
            if len(roles) > 1:
                duplicates += len(roles) - 1
            if name not in objects:
                orphans += len(roles)  # a role whose resource is gone (all here are Delete-able)
        for name in objects:
            account = self.specs[name]["account"]["id"]
            if (account, name) not in owned:
                missing.append(name)
        # Deleted resources with Retain (or released by a person) keep their roles on purpose.
        for name in self.deleted:
            if self.specs[name].get("deletionPolicy") != "Delete" or name in self.abandoned:
                account = self.specs[name]["account"]["id"]
                orphans -= len(owned.get((account, name), []))
        return duplicates, orphans, missing

    def _policy_problems(self) -> list[str]:
        """Managed policies of the operator that are detached, duplicated or hold old versions."""
        problems = []
        for account in (OWN_ACCOUNT, OTHER_ACCOUNT):
            iam = self._iam(account)
            pages = iam.get_paginator("list_policies").paginate(
                Scope="Local", PathPrefix=POLICY_PATH
            )
            policies = [policy for page in pages for policy in page["Policies"]]
            # Counted from the roles: moto's AttachmentCount grows when an AttachRolePolicy is
            # repeated (a retry after an answer was lost), where IAM's attach is idempotent.
            attached = Counter(
                p["PolicyArn"]
                for page in iam.get_paginator("list_roles").paginate()
                for role in page["Roles"]
                for p in iam.list_attached_role_policies(RoleName=role["RoleName"])[
                    "AttachedPolicies"
                ]
            )
            for policy in policies:
                if attached[policy["Arn"]] != 1:
                    problems.append(f"{policy['Arn']} attached {attached[policy['Arn']]} times")
                versions = iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
                if len(versions) > 1:
                    held = sorted(v["VersionId"] for v in versions)
                    problems.append(f"{policy['Arn']} holds versions {held}")
        return problems

    def _create_foreign_role(self) -> dict[str, Any]:
        iam = self._iam(OWN_ACCOUNT)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(
            RoleName=FOREIGN_ROLE,
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=[{"Key": "team", "Value": "someone-else"}],
        )
        iam.put_role_policy(
            RoleName=FOREIGN_ROLE,
            PolicyName="theirs",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            ),
        )
        return self._foreign_state()

    def _foreign_state(self) -> dict[str, Any]:
        iam = self._iam(OWN_ACCOUNT)
        role = iam.get_role(RoleName=FOREIGN_ROLE)["Role"]
        return {
            "trust": role["AssumeRolePolicyDocument"],
            "tags": iam.list_role_tags(RoleName=FOREIGN_ROLE)["Tags"],
            "inline": iam.list_role_policies(RoleName=FOREIGN_ROLE)["PolicyNames"],
            "attached": iam.list_attached_role_policies(RoleName=FOREIGN_ROLE)["AttachedPolicies"],
        }

    def _foreign_changes(self) -> int:
        after = self._foreign_state()
        return sum(after[key] != self._foreign[key] for key in after)

    def _secrets_found(self, objects: dict[str, dict[str, Any]]) -> list[str]:
        secrets = self.proxy.record.secrets | self.external_ids
        sources: dict[str, str] = {}
        for operator in self.operators:
            sources[f"log {operator.log_path.name}"] = operator.log()
            with contextlib.suppress(OSError):  # a killed operator has no metrics endpoint
                sources[f"metrics {operator.log_path.name}"] = operator.metrics()
        events = self.core.list_namespaced_event(self.namespace).items
        sources["events"] = "\n".join(f"{e.reason} {e.message}" for e in events)
        for name, obj in objects.items():
            sources[f"{name} status"] = json.dumps(obj.get("status"))
            sources[f"{name} annotations"] = json.dumps(obj["metadata"].get("annotations"))
        return sorted(
            f"{where} ({secret[:4]}...)"
            for where, text in sources.items()
            for secret in secrets
            if secret in text
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures of every scenario that ran, for docs/reliability.md."""
    if not FIGURES:
        return
    terminalreporter.section("fault scenarios")
    keys = (
        "resources",
        "faults",
        "converged",
        "duplicates",
        "orphans",
        "foreign",
        "secrets",
        "seconds",
    )
    terminalreporter.write_line(" | ".join(("scenario", *keys)))
    for figures in FIGURES:
        terminalreporter.write_line(" | ".join(str(figures[k]) for k in ("scenario", *keys)))
