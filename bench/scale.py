"""The operator at scale: N DynamoBackupRoles in A accounts, against a plain client doing the minimum.

Starts the local control plane, a moto server and the operator (`dbr run`, a separate process), makes
A accounts reachable through `assumeRoleArn`, then:

1. creates N objects (Inline and Managed alternating, one to three operations) and waits until all
   are Ready;
2. asks for an on-demand re-check of all of them (the `reconcile-requested-at` annotation) and
   waits until every one has been checked again;
3. stops the operator and runs the bound: a plain client with the same concurrency making the
   operator's minimal call mix (create: GetRole, CreateRole, PutRolePolicy or CreatePolicy +
   AttachRolePolicy, and one status PATCH; re-check: IAM's account-wide reads per account and one
   status PATCH per object), one AssumeRole per account.

It prints a table: seconds and the ratio to the bound, AWS calls and Kubernetes writes per object
(counted by the operator's botocore hooks and by kube-apiserver's own /metrics), and the operator's
RSS (idle after start, peak while creating and re-checking, from /proc). Counts and memory do not
depend on the machine's load; seconds do, so compare the ratios of one run.

    .venv/bin/python bench/scale.py 200            # N objects, 10 accounts
    .venv/bin/python bench/scale.py 1000 --accounts 10 --json out.json
    .venv/bin/python bench/scale.py 500 --memray op.bin   # the operator under memray (profile)
    .venv/bin/python bench/memray_peak.py op.bin           # what it held at its high-water mark
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from kubernetes.client import ApiClient, CustomObjectsApi

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION, Delivery, DynamoBackupRoleSpec
from dynamobackup.api.v1alpha1.lifecycle import RECONCILE_REQUEST_ANNOTATION
from dynamobackup.reconcile.desired import (
    INLINE_POLICY_NAME,
    MANAGED_POLICY_PATH,
    DesiredRole,
    desired_role,
)
from dynamobackup.reconcile.ownership import Owner
from dynamobackup_devenv import binaries, fleet, kube
from dynamobackup_devenv.aws_calls import mutating
from dynamobackup_devenv.controlplane import ControlPlane
from dynamobackup_devenv.demo import CRD_DIR, kubectl
from dynamobackup_devenv.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

NAMESPACES = tuple(f"scale-{index}" for index in range(4))
MIB = 1024 * 1024


def main() -> int:
    args = _arguments()
    binaries.ensure(("etcd", "kube-apiserver"))
    with ControlPlane() as cluster, MotoServer() as moto:
        kubectl(cluster.kubeconfig, "apply", "--server-side", "-f", str(CRD_DIR))
        kubectl(cluster.kubeconfig, "wait", "--for=condition=Established", "crd", "--all")
        api = cluster.api_client()
        for namespace in NAMESPACES:
            kube.create_namespace(api, namespace)
        roles = fleet.create_operator_roles(moto.url, fleet.account_ids(args.accounts))
        manifests = [
            fleet.manifest(
                i, NAMESPACES[i % len(NAMESPACES)], roles, drift_check_interval=args.drift
            )
            for i in range(args.count)
        ]
        with OperatorProcess(
            cluster.kubeconfig,
            moto.environment(),
            drift_tick=args.drift_tick,
            retry_delay=5.0,
            extra_args=tuple(args.operator_arg),
            launcher=_memray_launcher(args.memray),
            stop_grace=600.0 if args.memray else 10.0,  # memray writes its aggregate on exit
        ) as operator:
            result = measure_operator(api, operator, manifests, args)
        result["bound"] = measure_bound(api, moto.url, roles, manifests, args.workers)
    result["settings"] = {"count": args.count, "accounts": args.accounts, "workers": args.workers}
    print_table(result)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2, sort_keys=True)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=200, help="objects (default 200)")
    parser.add_argument("--accounts", type=int, default=10, help="AWS accounts (default 10)")
    parser.add_argument(
        "--workers", type=int, default=8, help="the bound's concurrency (the operator's: 8)"
    )
    parser.add_argument("--drift-tick", type=float, default=10.0, help="the operator's drift tick")
    parser.add_argument(
        "--drift", default="2m", help="the objects' driftCheckInterval (default 2m)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per phase")
    parser.add_argument(
        "--operator-arg", action="append", default=[], help="extra argument for `dbr run`"
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--memray",
        metavar="PATH",
        help="run the operator under memray, writing its capture to PATH (RSS then includes"
        " memray's own overhead; read the capture with bench/memray_peak.py)",
    )
    return parser.parse_args()


def _memray_launcher(path: str | None) -> tuple[str, ...]:
    """Every allocation, pymalloc's included, aggregated in the process: the file stays small and
    holds what was live at the high-water mark."""
    if path is None:
        return ()
    return (
        "-m",
        "memray",
        "run",
        "--aggregate",
        "--trace-python-allocators",
        "-q",
        "-f",
        "-o",
        path,
    )


# -- the operator --------------------------------------------------------------------------------


def measure_operator(
    api: ApiClient, operator: OperatorProcess, manifests: list[dict[str, Any]], args: Any
) -> dict[str, Any]:
    pid = operator.process.pid
    assert pid is not None
    idle = fleet.settle_rss(pid)
    sampler = fleet.MemorySampler(pid).start()
    objects = CustomObjectsApi(api)
    names = [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in manifests]

    writes0, calls0 = fleet.apiserver_writes(api), fleet.aws_calls(operator.metrics())
    started = time.monotonic()
    _in_parallel(
        lambda m: objects.create_namespaced_custom_object(
            GROUP, VERSION, m["metadata"]["namespace"], PLURAL, m
        ),
        manifests,
    )
    posted = time.monotonic()
    ready = fleet.wait_all_ready(api, names, args.timeout)
    create_end = time.monotonic()
    time.sleep(2)  # late writes of the create phase (Events) land before the counters are read
    writes1, calls1 = fleet.apiserver_writes(api), fleet.aws_calls(operator.metrics())
    created = _statuses(objects)

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)  # lastCheckedTime has whole-second precision: later checks compare greater
    recheck_started = time.monotonic()
    annotation = {"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: stamp}}}
    _in_parallel(
        lambda key: objects.patch_namespaced_custom_object(
            GROUP, VERSION, key[0], PLURAL, key[1], annotation
        ),
        names,
    )
    rechecked_at = fleet.wait_all_ready(api, names, args.timeout, after=stamp)
    time.sleep(2)
    writes2, calls2 = fleet.apiserver_writes(api), fleet.aws_calls(operator.metrics())
    rechecked = _statuses(objects)

    # 3. The drift sweep: every object again, once its interval has passed, untouched by us.
    after_recheck = max(s["lastCheckedTime"] for s in rechecked)
    swept_at = fleet.wait_all_ready(api, names, args.timeout, after=after_recheck)
    time.sleep(2)
    writes3, calls3 = fleet.apiserver_writes(api), fleet.aws_calls(operator.metrics())
    sampler.stop()
    count = len(manifests)
    own_create = {f"POST {PLURAL}": count}
    own_recheck = {f"PATCH {PLURAL}": count}
    sweep = {
        "seconds": swept_at - rechecked_at,
        "aws_calls": dict(fleet.subtract(calls3, calls2)),
        "kube_writes": dict(fleet.subtract(writes3, writes2)),
        "peak_rss": sampler.peak_between(rechecked_at, swept_at),
    }
    return {
        "sweep": sweep,
        "create": {
            "seconds": ready - started,
            "post_seconds": posted - started,
            "aws_calls": dict(fleet.subtract(calls1, calls0)),
            "kube_writes": dict(fleet.subtract(writes1, writes0, own_create)),
            "calls_per_object": _per_object(created, "awsCalls"),
            "peak_rss": sampler.peak_between(started, create_end),
        },
        "recheck": {
            "seconds": rechecked_at - recheck_started,
            "aws_calls": dict(fleet.subtract(calls2, calls1)),
            "kube_writes": dict(fleet.subtract(writes2, writes1, own_recheck)),
            "calls_per_object": _per_object(rechecked, "awsCalls"),
            "peak_rss": sampler.peak_between(recheck_started, time.monotonic()),
        },
        "idle_rss": idle,
        "peak_rss": fleet.process_memory(pid).get("VmHWM", 0),
    }


def _statuses(objects: CustomObjectsApi) -> list[dict[str, Any]]:
    listing = objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    return [item.get("status") or {} for item in listing["items"]]


def _per_object(statuses: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [int(s.get(key, 0)) for s in statuses]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _in_parallel(action: Callable[[Any], Any], items: Iterable[Any], workers: int = 8) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(action, items):
            pass


# -- the bound: a plain client making the operator's minimal call mix ----------------------------


class PlainClient:
    """One botocore loader, one AssumeRole per account, one IAM client per account."""

    def __init__(self, endpoint_url: str, operator_roles: Mapping[str, str]) -> None:
        self.session = boto3.Session(region_name=REGION, **DUMMY_CREDENTIALS)
        config = Config(retries={"mode": "standard"}, max_pool_connections=32)
        sts = self.session.client("sts", endpoint_url=endpoint_url, config=config)
        self.calls: Counter[str] = Counter()
        self.iam: dict[str, Any] = {}
        for account, arn in operator_roles.items():
            credentials = sts.assume_role(RoleArn=arn, RoleSessionName="bound")["Credentials"]
            self.calls["AssumeRole"] += 1
            client = self.session.client(
                "iam",
                endpoint_url=endpoint_url,
                config=config,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
            client.meta.events.register("before-call.iam", self._count)
            self.iam[account] = client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def create(self, desired: DesiredRole) -> None:
        iam = self.iam[desired.account_id]
        with contextlib.suppress(ClientError):  # NoSuchEntity: the pre-read of a new role
            iam.get_role(RoleName=desired.name)
        tags = [{"Key": k, "Value": v} for k, v in sorted(desired.role_tags.items())]
        iam.create_role(
            RoleName=desired.name,
            Path=desired.path,
            AssumeRolePolicyDocument=desired.trust.to_json(),
            Description=desired.settings.description,
            MaxSessionDuration=desired.settings.max_session_duration,
            Tags=tags,
        )
        if desired.delivery is Delivery.INLINE:
            (document,) = desired.permissions
            iam.put_role_policy(
                RoleName=desired.name,
                PolicyName=INLINE_POLICY_NAME,
                PolicyDocument=document.to_json(),
            )
            return
        for index, document in enumerate(desired.permissions):
            iam.create_policy(
                PolicyName=desired.managed_policy_name(index),
                Path=MANAGED_POLICY_PATH,
                PolicyDocument=document.to_json(),
                Tags=tags,
            )
            iam.attach_role_policy(
                RoleName=desired.name, PolicyArn=desired.managed_policy_arn(index)
            )

    def read_account(self, account: str) -> None:
        """IAM's account-wide reads: every role with its policies, trust and tags; then ListRoles."""
        iam = self.iam[account]
        details = iam.get_paginator("get_account_authorization_details")
        for _ in details.paginate(Filter=["Role", "LocalManagedPolicy"]):
            pass
        for _ in iam.get_paginator("list_roles").paginate():
            pass


def measure_bound(
    api: ApiClient,
    endpoint_url: str,
    operator_roles: Mapping[str, str],
    manifests: list[dict[str, Any]],
    workers: int,
) -> dict[str, Any]:
    objects = CustomObjectsApi(api)
    statuses = {
        (i["metadata"]["namespace"], i["metadata"]["name"]): i.get("status") or {}
        for i in objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    }
    # The documents are the operator's own, computed before the clock starts: the bound does no work.
    work = []
    for index, original in enumerate(manifests):
        bound = fleet.manifest(index, original["metadata"]["namespace"], operator_roles, "bound")
        spec = DynamoBackupRoleSpec.parse(bound["spec"])
        key = (original["metadata"]["namespace"], original["metadata"]["name"])
        work.append((desired_role(spec, Owner(*key)), key, statuses[key]))

    def patch_status(key: tuple[str, str], status: dict[str, Any]) -> None:
        objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, key[0], PLURAL, key[1], {"status": status}
        )

    started = time.monotonic()
    client = PlainClient(endpoint_url, operator_roles)

    def create(item: tuple[DesiredRole, tuple[str, str], dict[str, Any]]) -> None:
        client.create(item[0])
        patch_status(item[1], item[2])

    _in_parallel(create, work, workers)
    create_seconds = time.monotonic() - started
    create_calls = dict(client.calls)

    client.calls.clear()
    started = time.monotonic()
    by_account: dict[str, list[tuple[tuple[str, str], dict[str, Any]]]] = {}
    for desired, key, status in work:
        by_account.setdefault(desired.account_id, []).append((key, status))

    with ThreadPoolExecutor(workers) as pool:

        def sweep(account: str) -> list[Any]:
            client.read_account(account)
            return [pool.submit(patch_status, key, status) for key, status in by_account[account]]

        for patches in list(pool.map(sweep, by_account)):
            for future in patches:
                future.result()
    recheck_seconds = time.monotonic() - started
    return {
        "create": {"seconds": create_seconds, "aws_calls": create_calls},
        "recheck": {"seconds": recheck_seconds, "aws_calls": dict(client.calls)},
    }


# -- the table -----------------------------------------------------------------------------------


def print_table(result: dict[str, Any]) -> None:
    count = result["settings"]["count"]
    print(f"| measure (N = {count}, {result['settings']['accounts']} accounts) | value |")
    print("| --- | ---: |")
    for phase, title in (("create", "create to all Ready"), ("recheck", "re-check of all")):
        ours, bound = result[phase], result["bound"][phase]
        calls = ours["aws_calls"]
        # Lease renewals (kube-apiserver's own, a leader's) are per process and time, not per object.
        writes = {k: v for k, v in ours["kube_writes"].items() if not k.endswith(" leases")}
        writes_to_aws = sum(mutating(calls).values())
        rows = [
            (f"{title}: seconds (bound)", f"{ours['seconds']:.1f} ({bound['seconds']:.1f})"),
            (f"{title}: ratio to the bound", f"{ours['seconds'] / bound['seconds']:.2f}"),
            (f"{title}: AWS calls per object", f"{sum(calls.values()) / count:.2f}"),
            (
                f"{title}: bound's AWS calls per object",
                f"{sum(bound['aws_calls'].values()) / count:.2f}",
            ),
            (f"{title}: AssumeRole calls", str(calls.get("AssumeRole", 0))),
            (f"{title}: mutating AWS calls", str(writes_to_aws)),
            (f"{title}: Kubernetes writes per object", f"{sum(writes.values()) / count:.2f}"),
            (f"{title}: Kubernetes writes", _spelled(writes)),
            (f"{title}: AWS calls", _spelled(calls)),
            (f"{title}: peak RSS MiB", f"{ours['peak_rss'] / MIB:.0f}"),
        ]
        if phase == "create":
            rows.insert(1, ("create: seconds to POST the objects", f"{ours['post_seconds']:.1f}"))
        for name, value in rows:
            print(f"| {name} | {value} |")
    sweep = result["sweep"]
    writes = {k: v for k, v in sweep["kube_writes"].items() if not k.endswith(" leases")}
    for name, value in (
        ("drift sweep: seconds after the re-check", f"{sweep['seconds']:.1f}"),
        ("drift sweep: AWS calls per object", f"{sum(sweep['aws_calls'].values()) / count:.3f}"),
        ("drift sweep: AWS calls", _spelled(sweep["aws_calls"])),
        ("drift sweep: Kubernetes writes per object", f"{sum(writes.values()) / count:.2f}"),
        ("drift sweep: Kubernetes writes", _spelled(writes)),
    ):
        print(f"| {name} | {value} |")
    print(f"| RSS idle after start, MiB | {result['idle_rss'] / MIB:.0f} |")
    print(f"| peak RSS (VmHWM), MiB | {result['peak_rss'] / MIB:.0f} |")


def _spelled(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items(), key=lambda i: -i[1]))


if __name__ == "__main__":
    sys.exit(main())
