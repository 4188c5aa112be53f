"""The cached binaries are the pinned releases, and the cache is not rebuilt when it is complete."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kubernetes import client
from kubernetes.client import ApiClient

from dynamobackup_devenv import binaries
from dynamobackup_devenv.controlplane import Cluster, ControlPlane


def _output(*args: str) -> str:
    completed = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return completed.stdout + completed.stderr


def test_binaries_report_the_pinned_versions() -> None:
    paths = binaries.ensure()
    assert f"Kubernetes {binaries.KUBERNETES_VERSION}" in _output(
        str(paths["kube-apiserver"]), "--version"
    )
    assert f"etcd Version: {binaries.ETCD_VERSION.removeprefix('v')}" in _output(
        str(paths["etcd"]), "--version"
    )
    assert _output(str(paths["helm"]), "version", "--short").startswith(binaries.HELM_VERSION)
    # kubectl comes from the venv and stays within one minor version of the API server.
    kubectl = _output(str(binaries.kubectl_path()), "version", "--client")
    assert "Client Version: v1.37." in kubectl


def test_ensure_is_a_no_op_when_cached() -> None:
    binaries.ensure()
    started = time.monotonic()
    paths = binaries.ensure()
    assert time.monotonic() - started < 1.0
    for name, path in paths.items():
        assert path == binaries.cache_root() / f"{name}-{binaries._component(name).version}" / name


def test_api_server_version_endpoint(control_plane: Cluster, k8s: ApiClient) -> None:
    version = client.VersionApi(k8s).get_code()
    if isinstance(control_plane, ControlPlane):
        assert version.git_version == binaries.KUBERNETES_VERSION
        assert (version.major, version.minor) == ("1", "37")
    else:
        assert version.git_version


def test_kubectl_and_helm_reach_the_control_plane(control_plane: Cluster, tmp_path: Path) -> None:
    # HOME in tmp_path: helm and kubectl write their caches there, not into the user's home.
    env = {"KUBECONFIG": str(control_plane.kubeconfig), "HOME": str(tmp_path)}
    kubectl = subprocess.run(
        [str(binaries.kubectl_path()), "auth", "can-i", "create", "customresourcedefinitions"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert kubectl.stdout.strip() == "yes", kubectl.stderr
    helm = subprocess.run(
        [str(binaries.binary_path("helm")), "list", "--all-namespaces", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert helm.returncode == 0, helm.stderr
    assert helm.stdout.strip() == "[]"
