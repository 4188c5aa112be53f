"""A fleet of DynamoBackupRoles over many AWS accounts, and the counters that judge the operator.

Shared by `bench/scale.py` (the scale benchmark) and the e2e regression test that pins the call and
write counts. Everything is counted where it cannot be missed or faked:

- AWS calls by the operator's own botocore hooks (`dynamobackup_aws_api_calls_total` on /metrics);
- Kubernetes writes by kube-apiserver itself (`apiserver_request_total` by verb and resource);
- memory by the kernel (`VmRSS` and `VmHWM` in /proc/PID/status).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import watch
from kubernetes.client import ApiClient, CustomObjectsApi
from prometheus_client.parser import text_string_to_metric_families

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup_devenv.moto_server import create_cross_account_role

OPERATOR_ROLE = "dynamobackup-operator"
APPLIANCE_ROLE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
OPERATIONS = ("BackupPolicy", "ManualBackup", "Restore")
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})


def account_ids(count: int) -> list[str]:
    """Target accounts, all different from moto's default account (the operator's own)."""
    return [f"{200000000000 + index:012d}" for index in range(count)]


def create_operator_roles(endpoint_url: str, accounts: Iterable[str]) -> dict[str, str]:
    """In each account, the role the operator assumes (trusting the default account); by account."""
    return {
        account: create_cross_account_role(endpoint_url, account, OPERATOR_ROLE)
        for account in accounts
    }


def manifest(
    index: int,
    namespace: str,
    operator_roles: Mapping[str, str],
    prefix: str = "role",
    drift_check_interval: str = "10m",
) -> dict[str, Any]:
    """Object `index`: accounts round-robin, Inline and Managed alternating, one to three operations."""
    accounts = sorted(operator_roles)
    account = accounts[index % len(accounts)]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DynamoBackupRole",
        "metadata": {"name": f"{prefix}-{index:04d}", "namespace": namespace},
        "spec": {
            "account": {"id": account, "assumeRoleArn": operator_roles[account]},
            "roleName": f"veeam-{prefix}-{index:04d}",
            "scope": {"operations": list(OPERATIONS[: 1 + index % 3])},
            "trust": {"applianceRoleArn": APPLIANCE_ROLE},
            "permissions": {"delivery": "Managed" if index % 2 else "Inline"},
            "driftCheckInterval": drift_check_interval,
        },
    }


def is_ready(item: Mapping[str, Any], after: str = "") -> bool:
    """Ready=True, from a check whose lastCheckedTime is later than `after` (RFC 3339, UTC)."""
    status = item.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and str(status.get("lastCheckedTime", "")) > after


def wait_all_ready(
    api: ApiClient,
    names: Iterable[tuple[str, str]],
    timeout: float,
    after: str = "",
    on_ready: Callable[[str, str], None] | None = None,
) -> float:
    """Watches every DynamoBackupRole until each (namespace, name) is ready; returns monotonic time."""
    pending = set(names)
    objects = CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    while pending:
        listing: Any = objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        _drop_ready(pending, listing["items"], after, on_ready)
        version = listing["metadata"]["resourceVersion"]
        stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{len(pending)} objects not ready, e.g. {sorted(pending)[:3]}")
        for event in stream.stream(
            objects.list_cluster_custom_object,
            GROUP,
            VERSION,
            PLURAL,
            resource_version=version,
            timeout_seconds=max(1, int(min(remaining, 30))),
        ):
            _drop_ready(pending, [event["object"]], after, on_ready)
            if not pending:
                stream.stop()
    return time.monotonic()


def _drop_ready(
    pending: set[tuple[str, str]],
    items: Iterable[Mapping[str, Any]],
    after: str,
    on_ready: Callable[[str, str], None] | None,
) -> None:
    for item in items:
        key = (item["metadata"]["namespace"], item["metadata"]["name"])
        if key in pending and is_ready(item, after):
            pending.discard(key)
            if on_ready is not None:
                on_ready(*key)


def metric_samples(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                yield sample.labels, sample.value


def aws_calls(metrics_text: str) -> Counter[str]:
    """The operator's AWS calls so far, by operation."""
    calls: Counter[str] = Counter()
    for labels, value in metric_samples(metrics_text, "dynamobackup_aws_api_calls_total"):
        calls[labels["operation"]] += int(value)
    return calls


def apiserver_writes(api: ApiClient) -> Counter[str]:
    """Writes kube-apiserver has served so far, by 'VERB resource[/subresource]'."""
    writes: Counter[str] = Counter()
    text = raw_get(api, "/metrics")
    for labels, value in metric_samples(text, "apiserver_request_total"):
        if labels.get("verb") in WRITE_VERBS:
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            writes[f"{labels['verb']} {resource}"] += int(value)
    return writes


def raw_get(api: ApiClient, path: str) -> str:
    method, url, headers, body, _ = api.param_serialize(
        method="GET", resource_path=path, header_params={"Accept": "text/plain"}
    )
    response: Any = api.call_api(method, url, header_params=headers, body=body)
    response.read()
    return str(response.data.decode())


def subtract(after: Counter[str], before: Counter[str], *also: Mapping[str, int]) -> Counter[str]:
    """after - before - each of `also` (the writes the benchmark made itself), zeros dropped."""
    result = Counter(after)
    result.subtract(before)
    for own in also:
        result.subtract(own)
    return Counter({key: value for key, value in result.items() if value})


@dataclass
class MemorySampler:
    """Samples a process's resident set size until stopped; the kernel keeps the peak (VmHWM)."""

    pid: int
    interval: float = 0.25
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = process_memory(self.pid).get("VmRSS")
            if rss is not None:
                self.samples.append((time.monotonic(), rss))

    def peak_between(self, start: float, end: float) -> int:
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and friends of `pid`, in bytes; empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.startswith("Vm") and rest.strip().endswith("kB"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def settle_rss(pid: int, quiet: float = 3.0, timeout: float = 60.0) -> int:
    """RSS once it has not grown for `quiet` seconds (an idle process after start-up)."""
    deadline = time.monotonic() + timeout
    last, since = process_memory(pid).get("VmRSS", 0), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = process_memory(pid).get("VmRSS", 0)
        if now > last + 256 * 1024:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return process_memory(pid).get("VmRSS", 0)
