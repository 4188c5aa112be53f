"""End-to-end fixtures: the CRD installed, the operator running against the control plane and moto."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

EXAMPLES_OPERATOR_NAMESPACE = "dynamobackup-system"


@pytest.fixture(scope="session")
def operator(
    control_plane: Cluster,
    moto_server: MotoServer,
    crd_installed: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    # Only the namespaces e2e tests create (and the examples'): other tiers and the chart tests run
    # their own objects and operators, which this one must not fight over.
    namespaces = ("test-*", "veeam-backup")
    # The examples' account bindings keep the operator's external IDs in dynamobackup-system.
    with OperatorProcess(
        control_plane.kubeconfig,
        moto_server.environment(),
        log_path=log,
        namespaces=namespaces,
        # Organisation discovery is test_organizations.py's own operator's: one per cluster.
        extra_args=(
            f"--operator-namespace={EXAMPLES_OPERATOR_NAMESPACE}",
            "--no-discover-organizations",
        ),
    ) as running:
        yield running
    print(f"operator log: {log}")


@pytest.fixture
def dbr(k8s: ApiClient, namespace: str, operator: OperatorProcess) -> DbrClient:
    return DbrClient(k8s, namespace)


class DbrClient:
    """DynamoBackupRole objects in one namespace, and waiting for what the operator writes."""

    def __init__(self, k8s: ApiClient, namespace: str) -> None:
        self.api = CustomObjectsApi(k8s)
        self.core = CoreV1Api(k8s)
        self.namespace = namespace

    def create(
        self, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DynamoBackupRole",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": spec,
        }
        return dict(
            self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
        )

    def get(self, name: str) -> dict[str, Any]:
        return dict(
            self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        )

    def patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.api.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, body
            )
        )

    def delete(self, name: str) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            raise

    def wait_status(
        self,
        name: str,
        check: Callable[[dict[str, Any]], bool],
        timeout: float = 60,
        what: str = "status",
    ) -> dict[str, Any]:
        """Waits until `check(status)` holds; fails with the last status seen."""
        last: dict[str, Any] = {}

        def holds() -> bool:
            nonlocal last
            last = self.get(name).get("status") or {}
            return check(last)

        wait_for(holds, timeout, lambda: f"{name}: {what}; last status: {last}")
        return last

    def events(self, name: str) -> list[dict[str, str]]:
        items = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        ).items
        return [
            {
                "reason": e.reason,
                "message": e.message,
                "type": e.type,
                "component": e.reporting_component or (e.source.component if e.source else ""),
            }
            for e in items
        ]


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.25,
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {described}")
        time.sleep(interval)


def wait_past_second(stamp: str) -> None:
    """Waits until the clock has left the second of `stamp` (a status time such as
    lastCheckedTime, which has whole-second precision), so that a later time compares greater."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    later = moment.replace(microsecond=0) + timedelta(seconds=1)
    wait_for(lambda: datetime.now(UTC) >= later, 5, f"the clock to pass {stamp}", interval=0.05)
