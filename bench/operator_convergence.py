"""How fast the operator converges N DynamoBackupRoles, and how many AWS calls it spends.

Runs on the local control plane and moto (started here, stopped at the end), so the numbers are
about the operator, not AWS latency: seconds to converge N new resources, AWS calls per reconcile
when creating and when re-checking a correct role, and mutating calls in the steady state.
Run with `.venv/bin/python bench/operator_convergence.py [N]`; numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import CustomObjectsApi
from prometheus_client.parser import text_string_to_metric_families

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup.api.v1alpha1.lifecycle import RECONCILE_REQUEST_ANNOTATION
from dynamobackup_devenv import binaries, kube
from dynamobackup_devenv.aws_calls import mutating
from dynamobackup_devenv.controlplane import ControlPlane
from dynamobackup_devenv.demo import CRD_FILE, kubectl
from dynamobackup_devenv.moto_server import MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

NAMESPACE = "bench"


def manifest(index: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DynamoBackupRole",
        "metadata": {"name": f"role-{index:03d}"},
        "spec": {
            "account": {"id": "123456789012"},
            "roleName": f"veeam-bench-{index:03d}",
            "scope": {"operations": ["BackupPolicy", "ManualBackup", "Restore"][: 1 + index % 3]},
            "trust": {"applianceRoleArn": "arn:aws:iam::111111111111:role/VeeamImpersonation"},
            "permissions": {"delivery": "Managed" if index % 2 else "Inline"},
        },
    }


def wait_all(api: CustomObjectsApi, count: int, ready_after: str = "") -> list[dict[str, Any]]:
    while True:
        items = api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
        done = [
            i for i in items if _ready(i) and i["status"].get("lastCheckedTime", "") > ready_after
        ]
        if len(done) == count:
            return list(items)
        time.sleep(0.2)


def _ready(item: dict[str, Any]) -> bool:
    conditions = (item.get("status") or {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def aws_calls(operator: OperatorProcess) -> dict[str, float]:
    calls: dict[str, float] = {}
    for family in text_string_to_metric_families(operator.metrics()):
        for sample in family.samples:
            if sample.name == "dynamobackup_aws_api_calls_total":
                op = sample.labels["operation"]
                calls[op] = calls.get(op, 0) + sample.value
    return calls


def mutating_calls(calls: dict[str, float]) -> float:
    return sum(mutating(calls).values())


def main(count: int) -> None:
    binaries.ensure(("etcd", "kube-apiserver"))
    with ControlPlane() as cluster, MotoServer() as moto:
        kubectl(cluster.kubeconfig, "apply", "--server-side", "-f", str(CRD_FILE))
        kubectl(
            cluster.kubeconfig,
            "wait",
            "--for=condition=Established",
            "crd/dynamobackuproles.dynamobackup.io",
        )
        client = cluster.api_client()
        kube.create_namespace(client, NAMESPACE)
        api = CustomObjectsApi(client)
        with OperatorProcess(cluster.kubeconfig, moto.environment(), drift_tick=5) as operator:
            started = time.monotonic()
            for index in range(count):
                api.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, manifest(index)
                )
            created = wait_all(api, count)
            converge_seconds = time.monotonic() - started
            after_create = aws_calls(operator)

            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            time.sleep(1)  # lastCheckedTime has whole-second precision
            recheck_started = time.monotonic()
            for item in created:
                api.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    NAMESPACE,
                    PLURAL,
                    item["metadata"]["name"],
                    {"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: stamp}}},
                )
            rechecked = wait_all(api, count, ready_after=stamp)
            recheck_seconds = time.monotonic() - recheck_started
            after_recheck = aws_calls(operator)

    create_calls = [i["status"]["awsCalls"] for i in created]
    steady_calls = [i["status"]["awsCalls"] for i in rechecked]
    steady_mutating = mutating_calls(after_recheck) - mutating_calls(after_create)
    print(f"| resources | {count} |")
    print(
        f"| seconds to converge {count} new resources (create to all Ready) | {converge_seconds:.1f} |"
    )
    print(f"| seconds for an on-demand re-check of all {count} | {recheck_seconds:.1f} |")
    print(
        f"| AWS calls per creating reconcile (median, min-max) | {statistics.median(create_calls):.0f} "
        f"({min(create_calls)}-{max(create_calls)}) |"
    )
    print(
        f"| AWS calls per re-check of a correct role (median, min-max) | {statistics.median(steady_calls):.0f} "
        f"({min(steady_calls)}-{max(steady_calls)}) |"
    )
    print(f"| mutating AWS calls during the re-check of all {count} | {steady_mutating:.0f} |")
    print(f"| AWS calls in total, create phase | {sum(after_create.values()):.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
