"""The README's demo: the operator on the local control plane and moto, reconciling examples/.

Seeds moto with what the examples expect to find (a hand-made, drifted role for the Audit example
and an operator role in a second account for the cross-account one), applies every manifest in
examples/, waits until each object has a verdict and prints the table.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes.client import ApiClient, CustomObjectsApi

from dynamobackup.api.v1alpha1 import GROUP, KINDS, PLURAL, VERSION
from dynamobackup_devenv.background import OPERATOR_PID_FILE, EnvInfo, start_environment
from dynamobackup_devenv.binaries import kubectl_path
from dynamobackup_devenv.controlplane import api_client_from_kubeconfig
from dynamobackup_devenv.moto_server import create_cross_account_role, moto_client
from dynamobackup_devenv.operator_process import OperatorProcess
from dynamobackup_devenv.processes import pid_alive

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CRD_DIR = REPO / "crds"
LEGACY_SEED = EXAMPLES / "aws-seed" / "legacy-veeam-backup.json"
LEGACY_ROLE = "legacy-veeam-backup"
CROSS_ACCOUNT = ("222222222222", "dynamobackup-operator", "dynamobackup-operator-ext")
EXAMPLE_BINDINGS = ("backup-123456789012", "restore-222222222222")
# The operator runs as the Helm chart runs it: bindings required, external IDs read from Secrets
# of one name, the bindings' Secrets in its own namespace.
OPERATOR_ARGS = (
    "--require-account-bindings",
    "--operator-namespace=dynamobackup-system",
    "--external-id-secret-name=dynamobackup-external-ids",
)


def seed_aws(endpoint_url: str) -> None:
    """What the examples expect in AWS; idempotent, so a second demo run finds it in place."""
    iam = moto_client(endpoint_url, "iam")
    if LEGACY_ROLE not in [role["RoleName"] for role in iam.list_roles()["Roles"]]:
        _create_legacy_role(iam)
    account, name, external_id = CROSS_ACCOUNT
    target = moto_client(endpoint_url, "iam", account=account)
    if name not in [role["RoleName"] for role in target.list_roles()["Roles"]]:
        create_cross_account_role(endpoint_url, account, name, external_id=external_id)


def _create_legacy_role(iam: Any) -> None:
    """The Audit example's subject, from examples/aws-seed/ (data, like every permission list)."""
    seed = json.loads(LEGACY_SEED.read_text())
    iam.create_role(
        RoleName=seed["roleName"],
        Description=seed["description"],
        AssumeRolePolicyDocument=json.dumps(seed["trustPolicy"]),
    )
    for name, document in seed["inlinePolicies"].items():
        iam.put_role_policy(
            RoleName=seed["roleName"], PolicyName=name, PolicyDocument=json.dumps(document)
        )


def kubectl(kubeconfig: Path, *args: str) -> str:
    command = [str(kubectl_path()), "--kubeconfig", str(kubeconfig), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def install_crds(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR))
    names = [f"crd/{kind.crd_name}" for kind in KINDS]
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", *names)


def apply_examples(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "apply", "-f", str(EXAMPLES / "namespace.yaml"))
    kubectl(kubeconfig, "apply", "-f", str(EXAMPLES))


def wait_for_verdicts(api: ApiClient, timeout: float = 120.0) -> list[Mapping[str, Any]]:
    """Every DynamoBackupRole once it carries a Ready condition for its current generation."""
    objects = CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    while True:
        listed: dict[str, Any] = objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)  # type: ignore[assignment]
        items: list[dict[str, Any]] = listed["items"]
        if items and all(_has_verdict(item) for item in items):
            return list(items)
        if time.monotonic() > deadline:
            pending = [i["metadata"]["name"] for i in items if not _has_verdict(i)]
            raise TimeoutError(f"no verdict after {timeout:.0f}s for: {', '.join(pending)}")
        time.sleep(0.5)


def _has_verdict(item: Mapping[str, Any]) -> bool:
    status = item.get("status") or {}
    ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
    return bool(ready) and status.get("observedGeneration") == item["metadata"].get("generation")


def summary(items: list[Mapping[str, Any]]) -> str:
    """What to read in the table: why each non-ready object is not ready, and what is missing."""
    lines = []
    for item in sorted(items, key=lambda i: i["metadata"]["name"]):
        status = item["status"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        name = f"{item['metadata']['namespace']}/{item['metadata']['name']}"
        lines.append(
            f"{name}: Ready={ready['status']} ({ready.get('reason')}) {ready.get('message', '')}"
        )
        missing = status.get("missingActions") or []
        if missing:
            lines.append(f"  missing ({len(missing)}): {', '.join(missing)}")
        for finding in status.get("trustFindings") or []:
            lines.append(f"  trust {finding['severity']}: {finding['code']}: {finding['message']}")
        if status.get("excessActions"):
            lines.append(f"  excess: {', '.join(status['excessActions'])}")
        if status.get("dangerousActions"):
            lines.append(f"  dangerous: {', '.join(status['dangerousActions'])}")
    return "\n".join(lines)


def start_operator(info: EnvInfo) -> int:
    """The operator as a detached process that `dbr dev down` stops; reused if already running."""
    state_dir = Path(info.state_dir)
    pid_file = state_dir / OPERATOR_PID_FILE
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().strip())
        if pid_alive(pid):
            return pid
    operator = OperatorProcess(
        Path(info.kubeconfig),
        info.env,
        drift_tick=5.0,
        log_path=state_dir / "logs" / "operator.log",
        extra_args=OPERATOR_ARGS,
        die_with_parent=False,  # it outlives this command, like the control plane
    )
    operator.start()
    assert operator.process.pid is not None
    pid_file.write_text(f"{operator.process.pid}\n")
    return operator.process.pid


def run(state_dir: Path, timeout: float = 180.0) -> int:
    """The README's `make demo`: environment, CRD, seeded AWS, operator, examples, verdicts."""
    started = time.monotonic()
    info = start_environment(state_dir, timeout=timeout)
    say(f"control plane {info.kube_server} and moto {info.aws_endpoint_url} are up")
    seed_aws(info.aws_endpoint_url)
    # Before the operator starts: kopf may give up on a resource whose CRD appears while it scans.
    install_crds(Path(info.kubeconfig))
    pid = start_operator(info)
    say(f"operator running (pid {pid}, log {state_dir / 'logs' / 'operator.log'})")
    apply_examples(Path(info.kubeconfig))
    client = api_client_from_kubeconfig(Path(info.kubeconfig))
    try:
        items = wait_for_verdicts(client)
    finally:
        client.close()  # type: ignore[no-untyped-call]
    say(
        f"all {len(items)} DynamoBackupRoles have a verdict, {time.monotonic() - started:.0f}s after start\n"
    )
    print(kubectl(Path(info.kubeconfig), "get", "dynamobackuproles", "--all-namespaces"))
    print(summary(items))
    print(
        f"\nExplore with: . {state_dir / 'env'} && kubectl describe dbr -n veeam-backup legacy-audit"
    )
    print("Stop everything with: .venv/bin/dbr dev down")
    return 0


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)
