"""Benchmark of a DynamoBackupRoleSet's recompute: what one resync tick costs for N accounts.

Every `--role-set-resync` seconds the operator recomputes each set from its in-memory indices
(selection over the bindings, the child plan, the tally). This measures that pure work, and the
writes it plans, at rest (children current), after a template change (every child differs) and
after one account joined; the same run, the same machine, so the ratios hold. It makes no API call:
the counts are what the handler would send.

    .venv/bin/python bench/role_sets.py 300 1000
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dynamobackup.api.v1alpha1 import (
    DynamoBackupAccountSpec,
    DynamoBackupRoleSetSpec,
    DynamoBackupRoleSetStatus,
)
from dynamobackup.api.v1alpha1.organization import ACCOUNT_STATUS_LABEL
from dynamobackup.reconcile.roleset import (
    Child,
    child_name,
    child_spec,
    plan_children,
    select_accounts,
    set_status,
    tally,
)
from dynamobackup.reconcile.tenancy import Binding

APPLIANCE = "arn:aws:iam::444455556666:role/VeeamImpersonation"
OU_LABEL = "ou.dynamobackup.io/ou-ab12-prod0001"


def role_set(max_session: int = 3600) -> DynamoBackupRoleSetSpec:
    return DynamoBackupRoleSetSpec.parse(
        {
            "template": {
                "roleName": "VeeamBackup",
                "scope": {"operations": ["BackupPolicy", "Restore"]},
                "trust": {"applianceRoleArn": APPLIANCE},
                "maxSessionDuration": max_session,
            },
            "accountSelector": {
                "labelSelector": {"matchExpressions": [{"key": OU_LABEL, "operator": "Exists"}]}
            },
        }
    )


def bindings(count: int) -> list[Binding]:
    made = []
    for n in range(count):
        account = f"{100000000000 + n:012d}"
        spec = DynamoBackupAccountSpec.parse(
            {
                "account": {"id": account},
                "namespaces": {"names": ["backup"]},
                "operations": ["BackupPolicy", "Restore"],
                "appliances": {"roleArns": [APPLIANCE]},
            }
        )
        labels = {OU_LABEL: "Prod", ACCOUNT_STATUS_LABEL: "Active"}
        made.append(Binding(f"acme-{account}", account, spec, labels=labels))
    return made


def tick(spec: DynamoBackupRoleSetSpec, known: list[Binding], children: list[Child]) -> int:
    selection = select_accounts(spec, "backup", {}, known)
    plan = plan_children("set", spec, selection, children)
    counts = tally(selection, children, {})
    set_status(DynamoBackupRoleSetStatus(), counts, selection, 1, datetime.now(UTC))
    return plan.writes


def median_ms(work: Callable[[], int], repeat: int = 5) -> tuple[float, int]:
    times, writes = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        writes = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), writes


def measure(count: int) -> list[tuple[str, float, int]]:
    spec, known = role_set(), bindings(count)
    current = [
        Child(
            child_name("set", b.account_id),
            b.account_id,
            child_spec(spec, b.account_id, "aws"),
            1,
            1,
            "True",
            "Reconciled",
            None,
            True,
        )
        for b in known
    ]
    changed = role_set(max_session=7200)
    joined = [*known, *bindings(count + 1)[count:]]
    return [
        ("at rest", *median_ms(lambda: tick(spec, known, current))),
        ("one account joined", *median_ms(lambda: tick(spec, joined, current))),
        ("template changed", *median_ms(lambda: tick(changed, known, current))),
    ]


def main(counts: list[int]) -> None:
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}"
    )
    print()
    print("| accounts | tick | ms per tick (median of 5) | child writes planned |")
    print("| ---: | --- | ---: | ---: |")
    for count in counts:
        for what, ms, writes in measure(count):
            print(f"| {count} | {what} | {ms:.1f} | {writes} |")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [300])
