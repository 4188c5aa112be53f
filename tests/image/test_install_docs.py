"""Every shell command of docs/install.md and the chart's README, run as copied, in bash, in the
repository, against a control plane of its own (the last block deletes the CRDs).

What the machine lacks is supplied, never the commands changed: `docker` is buildah (build on the
local Python base, push into an OCI archive), `aws eks create-pod-identity-association` (no EKS
here) checks that it names the ServiceAccount and namespace the chart created, and since the local
control plane has no controller-manager or kubelet, a thread stands in for the Deployment
controller and marks each new generation rolled out, so `kubectl rollout status` answers.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException

from dynamobackup_devenv import binaries, image
from dynamobackup_devenv.controlplane import ControlPlane

REPO = Path(__file__).parents[2]
INSTALL_DOC = REPO / "docs" / "install.md"
CHART_README = REPO / "charts" / "dynamo-backup-role-operator" / "README.md"
NAMESPACE, RELEASE = "dynamobackup-system", "dynamo-backup-role-operator"

DOCKER = """#!/bin/sh
# docker build/push for the install docs: buildah on the locally made Python base.
set -eu
command=$1; shift
case "$command" in
  build) exec buildah bud --isolation chroot --layers --build-arg PYTHON_IMAGE="$DBR_BASE_IMAGE" \
           $DBR_BUILD_VOLUMES "$@" ;;
  push) exec buildah push "$1" "oci-archive:$DBR_PUSHED/pushed.tar" ;;
  *) echo "docker $command: not available here" >&2; exit 2 ;;
esac
"""
AWS = """#!/bin/sh
# aws eks create-pod-identity-association: there is no EKS here; the call must name what exists.
set -eu
echo "$@" > "$DBR_AWS_CALLS"
"""


def shell_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(), flags=re.S)


class DeploymentController(threading.Thread):
    """Marks every generation of every Deployment rolled out, as the real controller would once
    its pods are ready."""

    def __init__(self, k8s: ApiClient) -> None:
        super().__init__(name="deployment-controller", daemon=True)
        self.apps = AppsV1Api(k8s)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                for deployment in self.apps.list_deployment_for_all_namespaces().items:
                    self._roll_out(deployment)
            except ApiException:
                continue

    def _roll_out(self, deployment: object) -> None:
        meta, spec, status = deployment.metadata, deployment.spec, deployment.status  # type: ignore[attr-defined]
        if status is not None and status.observed_generation == meta.generation:
            return
        replicas = spec.replicas or 1
        self.apps.patch_namespaced_deployment_status(
            meta.name,
            meta.namespace,
            {
                "status": {
                    "observedGeneration": meta.generation,
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "reason": "MinimumReplicasAvailable",
                        },
                        {
                            "type": "Progressing",
                            "status": "True",
                            "reason": "NewReplicaSetAvailable",
                        },
                    ],
                }
            },
        )


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[ControlPlane]:
    binaries.ensure(("etcd", "kube-apiserver"))
    with ControlPlane() as cluster:
        yield cluster


@pytest.fixture
def shell(own_cluster: ControlPlane, tmp_path: Path) -> Iterator[dict[str, str]]:
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, script in (("docker", DOCKER), ("aws", AWS)):
        (tools / name).write_text(script)
        (tools / name).chmod(0o755)
    tool_dirs = [
        str(binaries.binary_path("helm").parent),
        str(binaries.kubectl_path().parent),
        str(tools),
    ]
    env = {
        **os.environ,
        "PATH": os.pathsep.join([*tool_dirs, os.environ["PATH"]]),
        "KUBECONFIG": str(own_cluster.kubeconfig),
        "HOME": str(tmp_path / "home"),
        "DBR_BASE_IMAGE": image.ensure_base_image(),
        "DBR_BUILD_VOLUMES": " ".join(image.build_volumes()),
        "DBR_PUSHED": str(tmp_path),
        "DBR_AWS_CALLS": str(tmp_path / "aws-calls"),
    }
    client = own_cluster.api_client()
    controller = DeploymentController(client)
    controller.start()
    try:
        yield env
    finally:
        controller.done.set()
        controller.join()
        client.close()


def run(block: str, env: dict[str, str]) -> str:
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{block}\n--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    )
    return completed.stdout


def test_every_documented_command_runs_as_copied(
    own_cluster: ControlPlane, shell: dict[str, str], tmp_path: Path
) -> None:
    build, pod_identity, install, upgrade, uninstall, remove_all = shell_blocks(INSTALL_DOC)
    (reinstall,) = shell_blocks(CHART_README)
    client = own_cluster.api_client()
    core = CoreV1Api(client)
    try:
        run(build, shell)
        assert (tmp_path / "pushed.tar").stat().st_size > 50 * 2**20

        assert "rolled out" in run(install, shell)
        account = core.read_namespaced_service_account(RELEASE, NAMESPACE)
        assert account.metadata.annotations["eks.amazonaws.com/role-arn"] == (
            "arn:aws:iam::111122223333:role/dynamobackup-operator"
        )
        run(pod_identity, shell)
        call = shlex.split((tmp_path / "aws-calls").read_text())
        assert call[call.index("--namespace") + 1] == NAMESPACE
        assert call[call.index("--service-account") + 1] == account.metadata.name

        run(upgrade, shell)
        deployment = AppsV1Api(client).read_namespaced_deployment(RELEASE, NAMESPACE)
        (container,) = deployment.spec.template.spec.containers
        assert container.image.endswith(":0.1.1")

        run(uninstall, shell)
        assert RELEASE not in run("helm list --all-namespaces --short", shell)
        run(reinstall, shell)
        run(remove_all, shell)
        crds = run("kubectl get crd -o name", shell)
        assert "dynamobackuproles.dynamobackup.io" not in crds
    finally:
        client.close()
