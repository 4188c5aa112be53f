"""The scale targets that do not depend on the machine: AWS calls and Kubernetes writes per object.

A small fleet (20 objects over 2 accounts reached through assumeRoleArn) on a control plane,
moto and operator of its own, so that kube-apiserver's own request counters see no other
client. Counts, never times: `bench/scale.py` measures seconds and memory at N = 200 and 1,000.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes.client import ApiClient, CustomObjectsApi

from dynamobackup.api import crdgen
from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup_devenv import binaries, fleet, kube
from dynamobackup_devenv.controlplane import ControlPlane
from dynamobackup_devenv.moto_server import MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e

COUNT, ACCOUNTS, NAMESPACE = 20, 2, "fleet"
# Short enough for a quick sweep, long enough that no sweep (which may start half an interval
# early for roles of an account it reads anyway) falls into the create phase.
INTERVAL = "30s"


@dataclass
class Fleet:
    api: ApiClient
    operator: OperatorProcess
    manifests: list[dict[str, Any]]

    @property
    def names(self) -> list[tuple[str, str]]:
        return [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in self.manifests]

    def counters(self) -> tuple[Any, Any]:
        return fleet.apiserver_writes(self.api), fleet.aws_calls(self.operator.metrics())


@pytest.fixture(scope="module")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    binaries.ensure(("etcd", "kube-apiserver"))
    log = tmp_path_factory.mktemp("fleet") / "operator.log"
    with ControlPlane() as cluster, MotoServer() as moto:
        api = cluster.api_client()
        for crd in crdgen.crds():
            kube.install_crd(api, crd)
        kube.create_namespace(api, NAMESPACE)
        roles = fleet.create_operator_roles(moto.url, fleet.account_ids(ACCOUNTS))
        with OperatorProcess(
            cluster.kubeconfig, moto.environment(), drift_tick=2.0, log_path=log
        ) as operator:
            manifests = [
                fleet.manifest(i, NAMESPACE, roles, drift_check_interval=INTERVAL)
                for i in range(COUNT)
            ]
            yield Fleet(api, operator, manifests)
            print(f"operator log: {log}")


def per_object(counts: Any) -> float:
    return sum(v for k, v in counts.items() if not k.endswith(" leases")) / COUNT


def test_creates_checks_and_sweeps_cost_what_the_issue_allows(small_fleet: Fleet) -> None:
    objects = CustomObjectsApi(small_fleet.api)
    writes0, calls0 = small_fleet.counters()
    for body in small_fleet.manifests:
        objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    fleet.wait_all_ready(small_fleet.api, small_fleet.names, timeout=120)
    statuses = [
        i["status"]
        for i in objects.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
    ]
    writes1, calls1 = small_fleet.counters()

    # Creates: the pre-read and the writes (3 Inline, 4 Managed), one AssumeRole per account.
    created = fleet.subtract(calls1, calls0)
    assert created.pop("AssumeRole") == ACCOUNTS, created
    created.pop("GetCallerIdentity", None)
    inline = managed = COUNT // 2
    assert sum(created.values()) == 3 * inline + 4 * managed, created
    # At most 3 Kubernetes writes per new object: kopf's record, the status, one Event.
    made = fleet.subtract(writes1, writes0, {f"POST {PLURAL}": COUNT})
    assert per_object(made) <= 3, made
    assert made[f"PATCH {PLURAL}/status"] == COUNT and made["POST events"] == COUNT, made

    # The drift sweep, 10 s later: account-wide reads, one status PATCH each, no Event.
    after = max(status["lastCheckedTime"] for status in statuses)
    fleet.wait_all_ready(small_fleet.api, small_fleet.names, timeout=120, after=after)
    writes2, calls2 = small_fleet.counters()
    swept, sweep_writes = fleet.subtract(calls2, calls1), fleet.subtract(writes2, writes1)
    # Early objects may have been checked twice by now: count per check, not per object.
    checks = sweep_writes.pop(f"PATCH {PLURAL}/status")
    sweep_writes.pop("PUT leases", None)
    assert checks >= COUNT and sweep_writes == {}, sweep_writes  # no other write, no Event
    # Account-wide reads carry the sweep (a role due alone in its account is read on its own,
    # four calls); checking each role on its own would cost four calls per check.
    account_reads = swept["GetAccountAuthorizationDetails"] + swept["ListRoles"]
    assert account_reads >= sum(swept.values()) - account_reads, swept
    assert sum(swept.values()) / checks < 1, (swept, checks)
