"""pytest fixtures for the local environment: a Kubernetes control plane and a moto server.

Registered from tests/conftest.py (`pytest_plugins = ("envfixtures",)`). Session fixtures start their
processes on first use, so unit tests never pay for them, and build missing binaries themselves (the
first build on a machine takes minutes and prints its progress). With DBR_USE_EXISTING_CLUSTER=1 and
KUBECONFIG, `control_plane` is that (test) cluster instead of a local one.

    control_plane  session  Cluster: .kubeconfig (Path), .server (str), .api_client() -> new ApiClient
    k8s            session  kubernetes.client.ApiClient, cluster admin, shared
    namespace      test     str: a fresh namespace, deleted with its contents after the test
    crd_installed  session  the generated CRDs of every kind, installed (and left installed)
    moto_server    session  MotoServer: .url, .pid, .environment(), .reset(), .helper()
    aws            test     AwsHelper on a reset moto, AWS_* variables pointed at it for the test
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient

from dynamobackup.api import crdgen
from dynamobackup_devenv import binaries, kube
from dynamobackup_devenv.controlplane import Cluster, ControlPlane, cluster_from_environment
from dynamobackup_devenv.moto_server import AwsHelper, MotoServer


@pytest.fixture(scope="session")
def control_plane(pytestconfig: pytest.Config) -> Iterator[Cluster]:
    cluster = cluster_from_environment()
    if isinstance(cluster, ControlPlane):
        with _output_shown(pytestconfig):
            # Build output goes to the terminal: a first build is minutes long, not a hang.
            binaries.ensure(("etcd", "kube-apiserver"))
        with cluster:
            _report(pytestconfig, f"control plane healthy in {cluster.startup_seconds:.1f}s")
            yield cluster
    else:
        yield cluster


@pytest.fixture(scope="session")
def k8s(control_plane: Cluster) -> Iterator[ApiClient]:
    client = control_plane.api_client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace(k8s: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    name = namespace_name(request.node.name)
    kube.create_namespace(k8s, name, labels={"dbr.test/namespace": "true"})
    try:
        yield name
    finally:
        kube.delete_namespace(k8s, name)


@pytest.fixture(scope="session")
def crd_installed(k8s: ApiClient) -> None:
    for crd in crdgen.crds():
        kube.install_crd(k8s, crd)


@pytest.fixture(scope="session")
def moto_server(pytestconfig: pytest.Config) -> Iterator[MotoServer]:
    with MotoServer() as server:
        _report(pytestconfig, f"moto server ready in {server.startup_seconds:.1f}s")
        yield server


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AwsHelper:
    moto_server.reset()
    # Code under test that builds its own boto3 clients lands in moto, never in a real account.
    for key, value in moto_server.environment().items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(key, raising=False)
    return moto_server.helper()


def namespace_name(test_name: str) -> str:
    """A DNS-label namespace name from the test's name plus a random suffix (at most 63 chars)."""
    stem = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:48].rstrip("-") or "test"
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def _output_shown(config: pytest.Config) -> contextlib.AbstractContextManager[None]:
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return contextlib.nullcontext()
    return capture.global_and_fixture_disabled()  # type: ignore[no-any-return]


def _report(config: pytest.Config, message: str) -> None:
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"envfixtures: {message}")
