"""The fleet compliance report: every DynamoBackupRole and DynamoBackupRoleSet of a cluster,
summed up for the person accountable ("is every account ready for backup, and if not, what is
missing where?").

Pure: built from the objects as the API server returns them (a live list, or the JSON of
`kubectl get -o json`), judged from their status alone. The account x operation grid says, for
each account and Veeam operation, whether a role there can serve the operation now: its verdict
covers the operation's own actions from the permission profile and the trust policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dynamobackup.api.v1alpha1 import Operation
from dynamobackup.api.v1alpha1.roleset import SET_LABEL
from dynamobackup.policy.profiles import UnknownProfileError, load_profile

ROLE_KIND = "DynamoBackupRole"
SET_KIND = "DynamoBackupRoleSet"
VERDICT_REASONS = frozenset({"NotCompliant", "DriftDetected", "Reconciled", "Audited"})
MOST_MISSING = 20


class CellVerdict(StrEnum):
    """What the grid shows for one account and operation, best first."""

    READY = "ready"
    UNKNOWN = "unknown"
    MISSING = "missing"
    FAILING = "failing"
    NONE = "none"  # no role in the account serves the operation


_WORST_FIRST = (CellVerdict.FAILING, CellVerdict.MISSING, CellVerdict.UNKNOWN, CellVerdict.READY)


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    message: str


@dataclass(frozen=True)
class RoleRow:
    namespace: str
    name: str
    account_id: str
    role_name: str
    role_set: str | None
    mode: str
    operations: tuple[str, ...]
    ready: str | None
    reason: str | None
    message: str | None
    compliant: bool | None
    missing: tuple[str, ...]
    denied: tuple[str, ...]
    trust_findings: tuple[Finding, ...]
    last_checked: datetime | None
    profile_version: str | None

    @property
    def failing(self) -> bool:
        return self.ready not in (None, "True") and self.reason not in VERDICT_REASONS

    @property
    def state(self) -> str:
        """compliant, not-compliant, failing or unknown."""
        if self.failing:
            return "failing"
        if self.compliant is None:
            return "unknown"
        return "compliant" if self.compliant else "not-compliant"

    def age_seconds(self, now: datetime) -> float | None:
        return None if self.last_checked is None else (now - self.last_checked).total_seconds()


@dataclass(frozen=True)
class SetRow:
    namespace: str
    name: str
    role_name: str
    selected: int
    ready: int
    compliant: int
    non_compliant: int
    failing: int
    reason: str | None


@dataclass(frozen=True)
class FleetReport:
    generated_at: datetime
    roles: tuple[RoleRow, ...]
    sets: tuple[SetRow, ...]
    operations: tuple[str, ...]
    grid: Mapping[str, Mapping[str, CellVerdict]]  # account -> operation -> verdict
    most_missing: tuple[tuple[str, int], ...]  # action, number of roles missing it
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def trust_findings(self) -> tuple[tuple[RoleRow, Finding], ...]:
        return tuple((row, f) for row in self.roles for f in row.trust_findings)

    def to_json(self) -> dict[str, Any]:
        now = self.generated_at
        return {
            "generatedAt": now.isoformat(),
            "summary": dict(self.counts),
            "operations": list(self.operations),
            "grid": [
                {"accountId": account, "operations": {op: str(v) for op, v in cells.items()}}
                for account, cells in self.grid.items()
            ],
            "mostMissing": [{"action": a, "roles": n} for a, n in self.most_missing],
            "trustFindings": [
                {
                    "accountId": row.account_id,
                    "namespace": row.namespace,
                    "name": row.name,
                    "severity": f.severity,
                    "code": f.code,
                    "message": f.message,
                }
                for row, f in self.trust_findings
            ],
            "roles": [_role_json(row, now) for row in self.roles],
            "sets": [
                {
                    "namespace": s.namespace,
                    "name": s.name,
                    "roleName": s.role_name,
                    "selected": s.selected,
                    "ready": s.ready,
                    "compliant": s.compliant,
                    "nonCompliant": s.non_compliant,
                    "failing": s.failing,
                    "reason": s.reason,
                }
                for s in self.sets
            ],
        }


def _role_json(row: RoleRow, now: datetime) -> dict[str, Any]:
    age = row.age_seconds(now)
    return {
        "namespace": row.namespace,
        "name": row.name,
        "accountId": row.account_id,
        "roleName": row.role_name,
        "roleSet": row.role_set,
        "mode": row.mode,
        "operations": list(row.operations),
        "state": row.state,
        "ready": row.ready,
        "reason": row.reason,
        "message": row.message,
        "compliant": row.compliant,
        "missingActions": list(row.missing),
        "deniedActions": list(row.denied),
        "lastCheckedTime": row.last_checked.isoformat() if row.last_checked else None,
        "lastCheckAgeSeconds": None if age is None else int(age),
    }


def objects_of(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The objects in `kubectl get -o json` outputs: Lists are unpacked, other kinds dropped."""
    found: list[Mapping[str, Any]] = []
    for document in documents:
        if isinstance(document.get("items"), list):
            found.extend(objects_of(document["items"]))
        elif document.get("kind") in (ROLE_KIND, SET_KIND):
            found.append(document)
    return found


def fleet_report(objects: Iterable[Mapping[str, Any]], now: datetime) -> FleetReport:
    listed = list(objects)
    roles = tuple(
        sorted(
            (_role_row(o) for o in listed if o.get("kind") == ROLE_KIND),
            key=lambda r: (r.account_id, r.namespace, r.name),
        )
    )
    sets = tuple(
        sorted(
            (_set_row(o) for o in listed if o.get("kind") == SET_KIND),
            key=lambda s: (s.namespace, s.name),
        )
    )
    operations = tuple(str(op) for op in Operation)
    grid: dict[str, dict[str, CellVerdict]] = {}
    for row in roles:
        cells = grid.setdefault(row.account_id, dict.fromkeys(operations, CellVerdict.NONE))
        for operation in row.operations:
            cells[operation] = _worse(cells[operation], _cell(row, operation))
    missing = Counter(action for row in roles for action in {*row.missing, *row.denied})
    counts = Counter(row.state for row in roles)
    summary = {
        "roles": len(roles),
        "accounts": len(grid),
        "sets": len(sets),
        "compliant": counts["compliant"],
        "notCompliant": counts["not-compliant"],
        "failing": counts["failing"],
        "unknown": counts["unknown"],
        "trustErrors": sum(f.severity == "error" for r in roles for f in r.trust_findings),
    }
    ranked = tuple(sorted(missing.items(), key=lambda item: (-item[1], item[0]))[:MOST_MISSING])
    return FleetReport(now, roles, sets, operations, dict(sorted(grid.items())), ranked, summary)


def _worse(current: CellVerdict, new: CellVerdict) -> CellVerdict:
    if current is CellVerdict.NONE:
        return new
    return min(current, new, key=_WORST_FIRST.index)


def _cell(row: RoleRow, operation: str) -> CellVerdict:
    if row.failing:
        return CellVerdict.FAILING
    if row.compliant is None:
        return CellVerdict.UNKNOWN
    if any(f.severity == "error" for f in row.trust_findings):
        return CellVerdict.MISSING
    needed = _operation_actions(row.profile_version, operation)
    lacking = {*row.missing, *row.denied}
    if needed is None:  # an unknown profile: judge by the role as a whole
        return CellVerdict.MISSING if lacking else CellVerdict.READY
    return CellVerdict.MISSING if lacking & needed else CellVerdict.READY


def _operation_actions(version: str | None, operation: str) -> set[str] | None:
    try:
        return set(load_profile(version).required_actions([operation]))
    except (UnknownProfileError, KeyError, ValueError):
        return None


def _role_row(obj: Mapping[str, Any]) -> RoleRow:
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    status = obj.get("status") or {}
    ready = _ready(status)
    findings = tuple(
        Finding(str(f.get("severity")), str(f.get("code")), str(f.get("message")))
        for f in status.get("trustFindings") or []
    )
    return RoleRow(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        account_id=str((spec.get("account") or {}).get("id", "")),
        role_name=str(spec.get("roleName", "")),
        role_set=(metadata.get("labels") or {}).get(SET_LABEL),
        mode=str(spec.get("mode", "Enforce")),
        operations=tuple(sorted((spec.get("scope") or {}).get("operations") or [])),
        ready=ready.get("status"),
        reason=ready.get("reason"),
        message=ready.get("message"),
        compliant=status.get("compliant"),
        missing=tuple(status.get("missingActions") or []),
        denied=tuple(status.get("deniedActions") or []),
        trust_findings=findings,
        last_checked=_time(status.get("lastCheckedTime")),
        profile_version=(status.get("profile") or {}).get("version")
        or (spec.get("permissions") or {}).get("profileVersion"),
    )


def _set_row(obj: Mapping[str, Any]) -> SetRow:
    metadata, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = _ready(status)
    return SetRow(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        role_name=str(((obj.get("spec") or {}).get("template") or {}).get("roleName", "")),
        selected=int(status.get("selected") or 0),
        ready=int(status.get("ready") or 0),
        compliant=int(status.get("compliant") or 0),
        non_compliant=int(status.get("nonCompliant") or 0),
        failing=int(status.get("failing") or 0),
        reason=ready.get("reason"),
    )


def _ready(status: Mapping[str, Any]) -> Mapping[str, Any]:
    conditions = status.get("conditions") or []
    found: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return found


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:  # Python 3.11 reads the "Z" the API server writes
        return datetime.fromisoformat(value)
    except ValueError:
        return None
