"""DBR_USE_EXISTING_CLUSTER accepts only contexts that look like test clusters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dynamobackup_devenv.controlplane import (
    ControlPlane,
    ExistingCluster,
    UnsafeClusterError,
    cluster_from_environment,
    existing_cluster_from_environment,
)


def _kubeconfig(tmp_path: Path, context: str) -> Path:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": context})
    )
    return path


@pytest.mark.parametrize(
    "context", ["kind-dbr", "k3d-dev", "minikube", "docker-desktop", "ci-test-1"]
)
def test_test_cluster_contexts_are_accepted(tmp_path: Path, context: str) -> None:
    path = _kubeconfig(tmp_path, context)
    cluster = existing_cluster_from_environment(
        {"DBR_USE_EXISTING_CLUSTER": "1", "KUBECONFIG": str(path)}
    )
    assert isinstance(cluster, ExistingCluster)
    assert (cluster.kubeconfig, cluster.context) == (path, context)


@pytest.mark.parametrize("context", ["prod-eu-1", "arn:aws:eks:us-east-1:1:cluster/main", "kind"])
def test_other_contexts_are_refused(tmp_path: Path, context: str) -> None:
    path = _kubeconfig(tmp_path, context)
    with pytest.raises(UnsafeClusterError, match="refusing to run tests"):
        existing_cluster_from_environment(
            {"DBR_USE_EXISTING_CLUSTER": "1", "KUBECONFIG": str(path)}
        )


def test_kubeconfig_is_required() -> None:
    with pytest.raises(UnsafeClusterError, match="needs KUBECONFIG"):
        existing_cluster_from_environment({"DBR_USE_EXISTING_CLUSTER": "1"})


def test_first_kubeconfig_with_a_context_wins(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    path = _kubeconfig(tmp_path, "kind-dbr")
    cluster = existing_cluster_from_environment(
        {"DBR_USE_EXISTING_CLUSTER": "1", "KUBECONFIG": f"{empty}:{path}"}
    )
    assert isinstance(cluster, ExistingCluster)
    assert cluster.kubeconfig == path


def test_local_control_plane_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBR_USE_EXISTING_CLUSTER", raising=False)
    assert existing_cluster_from_environment() is None
    assert isinstance(cluster_from_environment(), ControlPlane)
