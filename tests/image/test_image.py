"""The operator's image, built from the repository's Dockerfile with buildah on a Python base made
from Debian packages, and run as a pod would run it: uid 65532, read-only root, a fresh /tmp.

The build is the Dockerfile users build; only its PYTHON_IMAGE argument differs (dynamobackup_devenv.
image explains why and how the base is made). The first run on a machine makes the base (minutes).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient, CustomObjectsApi

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup_devenv import image, kube
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import MotoServer
from dynamobackup_devenv.processes import free_ports

REPO = Path(__file__).parents[2]
CHART_VALUES = yaml.safe_load((REPO / "charts/dynamo-backup-role-operator/values.yaml").read_text())
EXAMPLE_POLICY = REPO / "tests" / "data" / "seed-backup-policy.json"


@pytest.fixture(scope="session")
def built() -> str:
    image.require_tools()
    return image.build(f"{image.OPERATOR_IMAGE}:test-{uuid.uuid4().hex[:8]}")


def test_dbr_version_is_the_project_version(built: str) -> None:
    result = image.run_once(built, image.RunSpec(args=["--version"], entrypoint=["dbr"]))
    assert (result.returncode, result.stdout) == (0, f"dbr {image.project_version()}\n")


def test_dbr_check_judges_an_example_policy(built: str) -> None:
    spec = image.RunSpec(
        entrypoint=["dbr"],
        args=["check", "--operations=BackupPolicy", "--policy=/tmp/policy.json", "--output=json"],
        files={"policy.json": EXAMPLE_POLICY.read_bytes()},
    )
    result = image.run_once(built, spec)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["compliant"] is True


def test_the_image_runs_as_the_charts_user_on_a_read_only_root(built: str) -> None:
    config = image.image_config(built)
    pod = CHART_VALUES["podSecurityContext"]
    assert config["User"] == f"{pod['runAsUser']}:{pod['runAsGroup']}"
    probe = "id -u; id -g; touch /opt/venv/x 2>&1 || true; touch /tmp/x && echo tmp writable"
    result = image.run_once(built, image.RunSpec(entrypoint=["sh", "-c", probe]))
    assert result.stdout.splitlines() == [
        "65532",
        "65532",
        "touch: cannot touch '/opt/venv/x': Read-only file system",
        "tmp writable",
    ]


def test_the_image_carries_only_what_dbr_needs(built: str) -> None:
    # What `dbr run`, `check` and `render` never load stays out: the development environment,
    # packaging tools, botocore's models of services other than IAM, STS and Organizations
    # (discovery), kubernetes.aio.
    def listing(command: str) -> list[str]:
        script = f"cd /opt/venv/lib/python3*/site-packages && {command}"
        result = image.run_once(built, image.RunSpec(entrypoint=["sh", "-c", script]))
        return result.stdout.split()

    names = {entry.rstrip("/") for entry in listing("ls -d */")}
    assert {"dynamobackup", "kopf", "botocore", "kubernetes"} <= names
    for absent in ("dynamobackup_devenv", "moto", "cryptography", "pip", "policy_sentry"):
        assert absent not in names
    models = listing("ls botocore/data")
    assert sorted(entry for entry in models if "." not in entry) == ["iam", "organizations", "sts"]
    assert "aio" not in listing("ls kubernetes")
    assert listing("python3 -m pip 2>&1 | tail -1")[-2:] == ["named", "pip"]


@pytest.fixture
def smoke_namespace(k8s: ApiClient) -> Iterator[str]:
    # Not test-*: the e2e tier's operator watches those and would reconcile these objects too.
    name = f"image-smoke-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(k8s, name)
    try:
        yield name
    finally:
        kube.delete_namespace(k8s, name)


@pytest.mark.usefixtures("crd_installed")
def test_dbr_run_in_the_image_serves_healthz_and_reconciles(
    built: str,
    control_plane: Cluster,
    moto_server: MotoServer,
    k8s: ApiClient,
    smoke_namespace: str,
    tmp_path: Path,
) -> None:
    health_port, metrics_port = free_ports(2)
    args = [
        f"--health-port={health_port}",
        f"--metrics-port={metrics_port}",
        f"--namespace={smoke_namespace}",
        f"--aws-endpoint-url={moto_server.url}",
        "--drift-tick=1",
        "--log-format=json",
    ]
    env = {**moto_server.environment(), "KUBECONFIG": "/tmp/kubeconfig"}
    files = {"kubeconfig": control_plane.kubeconfig.read_bytes()}
    spec = image.RunSpec(args=args, env=env, files=files)
    with image.ImageRun(built, spec, tmp_path / "operator.log") as running:
        wait_for(lambda: http_status(f"http://127.0.0.1:{health_port}/healthz") == 200, running)
        objects = CustomObjectsApi(k8s)
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DynamoBackupRole",
            "metadata": {"name": "smoke"},
            "spec": {
                "account": {"id": "123456789012"},
                "roleName": f"veeam-smoke-{uuid.uuid4().hex[:8]}",
                "scope": {"operations": ["ManualBackup"]},
                "trust": {"applianceAccountId": "111111111111"},
            },
        }
        objects.create_namespaced_custom_object(GROUP, VERSION, smoke_namespace, PLURAL, body)

        def ready() -> bool:
            got = objects.get_namespaced_custom_object(
                GROUP, VERSION, smoke_namespace, PLURAL, "smoke"
            )
            return ready_status(got) == "True"

        wait_for(ready, running)
        assert "dynamobackup_reconciles_total" in http_text(
            f"http://127.0.0.1:{metrics_port}/metrics"
        )
        # JSON logs, one object a line, and no probe among them.
        lines = [line for line in running.log().splitlines() if line.startswith("{")]
        assert lines and all(isinstance(json.loads(line), dict) for line in lines)
        assert "/healthz" not in running.log()


def ready_status(body: dict[str, Any]) -> str | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conditions if c["type"] == "Ready"), None)


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except (OSError, urllib.error.URLError):
        return None


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def wait_for(predicate: Any, running: image.ImageRun, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert running.process is not None and running.process.running(), running.log()
        assert time.monotonic() < deadline, f"timed out; the operator's log:\n{running.log()}"
        time.sleep(0.25)
