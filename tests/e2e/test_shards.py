"""Two shards on one control plane: every object is reconciled by exactly one of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient, CustomObjectsApi

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup.reconcile.shard import shard_of
from dynamobackup_devenv import fleet, kube
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e
COUNT = 16


@pytest.fixture
def shard_namespace(k8s: ApiClient) -> Iterator[str]:
    # Not test-*: the shared e2e operator must not reconcile these objects too.
    name = f"shards-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(k8s, name)
    try:
        yield name
    finally:
        kube.delete_namespace(k8s, name)


def checked_objects(operator: OperatorProcess) -> set[str]:
    """The objects this process reached a verdict on, from its per-object metric."""
    metric = "dynamobackup_last_successful_check_timestamp_seconds"
    return {labels["name"] for labels, _ in fleet.metric_samples(operator.metrics(), metric)}


def test_each_object_is_reconciled_by_exactly_one_of_two_shards(
    control_plane: Cluster,
    moto_server: MotoServer,
    crd_installed: None,
    k8s: ApiClient,
    shard_namespace: str,
) -> None:
    moto_server.reset()
    roles = fleet.create_operator_roles(moto_server.url, fleet.account_ids(2))
    shards = [
        OperatorProcess(
            control_plane.kubeconfig,
            moto_server.environment(),
            namespaces=(shard_namespace,),
            extra_args=("--shard", f"{index}/2"),
        )
        for index in range(2)
    ]
    with shards[0], shards[1]:
        objects = CustomObjectsApi(k8s)
        manifests = [fleet.manifest(i, shard_namespace, roles) for i in range(COUNT)]
        for body in manifests:
            objects.create_namespaced_custom_object(GROUP, VERSION, shard_namespace, PLURAL, body)
        names = [m["metadata"]["name"] for m in manifests]
        fleet.wait_all_ready(k8s, [(shard_namespace, n) for n in names], timeout=120)
        first, second = (checked_objects(shard) for shard in shards)

    assert first | second == set(names)
    assert first.isdisjoint(second)  # no object was reconciled twice
    assert first and second  # and the work was shared
    assert first == {n for n in names if shard_of(shard_namespace, n, 2) == 0}
