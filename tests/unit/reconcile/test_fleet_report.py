"""What the fleet report (`dbr report`, its JSON and HTML) says of a listing with one role of each
kind of verdict and three role sets: the grid cells, the summary counts, the most-missing ranking,
the trust findings, and every role and set row, compared whole."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dynamobackup.api.v1alpha1.roleset import SET_LABEL
from dynamobackup.policy.profiles import load_profile
from dynamobackup.reconcile.fleet import fleet_report

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CHECKED = "2026-01-02T02:59:05Z"  # five minutes before NOW, as the API server writes it
UNSHIPPED = "12"  # a profile version this dbr does not ship (the operator may be newer)


def _backup_policy_only() -> list[str]:
    """Actions BackupPolicy needs and neither ManualBackup nor Restore does (profile 11)."""
    profile = load_profile("11")
    others = set(profile.required_actions(["ManualBackup", "Restore"]))
    return sorted(set(profile.required_actions(["BackupPolicy"])) - others)


BP1, BP2, BP3 = _backup_policy_only()[:3]  # alphabetical: BP1 < BP2 < BP3


def role(
    account: str, name: str, ops: list[str], status: dict[str, Any] | None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "dynamobackup.io/v1alpha1",
        "kind": "DynamoBackupRole",
        "metadata": {"name": name, "namespace": "backup", **spec.pop("metadata", {})},
        "spec": {
            "account": {"id": account},
            "roleName": "VeeamBackup",
            "scope": {"operations": ops},
            **spec,
        },
        **({"status": status} if status is not None else {}),
    }


def ready(state: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": "Ready", "status": str(state), "reason": reason, "message": message}


def checked(
    state: bool, reason: str, compliant: bool | None, message: str, **fields: Any
) -> dict[str, Any]:
    return {
        "conditions": [ready(state, reason, message)],
        "compliant": compliant,
        "lastCheckedTime": CHECKED,
        **fields,
    }


def role_set(namespace: str, name: str, status: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "apiVersion": "dynamobackup.io/v1alpha1",
        "kind": "DynamoBackupRoleSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"roleName": f"{name}-role"}},
        **({"status": status} if status is not None else {}),
    }


WARNING = {"severity": "warning", "code": "NoExternalId", "message": "no sts:ExternalId condition"}
TRUST_ERROR = {"severity": "error", "code": "ApplianceNotTrusted", "message": "no appliance"}

ROLES = [
    role(
        "111111111111",
        "a-ready",
        ["Restore", "BackupPolicy"],
        {
            # Ready is not the first condition: the report finds it by type.
            "conditions": [
                {"type": "Compliant", "status": "True", "reason": "Compliant"},
                ready(True, "Audited", "in line with profile 11"),
            ],
            "compliant": True,
            "lastCheckedTime": CHECKED,
            "profile": {"version": "11"},
            "trustFindings": [WARNING],
        },
        mode="Audit",
        metadata={"labels": {SET_LABEL: "fleet"}},
    ),
    role("111111111111", "a-unchecked", ["Restore"], None),
    role(
        "222222222222",
        "b-drift",
        ["BackupPolicy", "ManualBackup"],
        checked(False, "DriftDetected", False, "1 action missing", missingActions=[BP2]),
        permissions={"profileVersion": "11"},
    ),
    role(
        "222222222222",
        "b-failing",
        ["Restore", "BackupPolicy"],
        checked(False, "AccessDenied", None, "cannot assume role"),
    ),
    role(
        "333333333333",
        "c-trust",
        ["Restore"],
        checked(
            False,
            "NotCompliant",
            False,
            "trust policy errors",
            deniedActions=[BP3],
            trustFindings=[TRUST_ERROR, WARNING],
            profile={"version": "11"},
        ),
    ),
    role(
        "333333333333",
        "c-unshipped",
        ["ManualBackup", "BackupPolicy"],
        checked(
            False,
            "NotCompliant",
            False,
            "1 action missing",
            missingActions=[BP2],
            profile={"version": UNSHIPPED},
        ),
    ),
    role(
        "444444444444",
        "d-newer",
        ["ManualBackup", "Restore"],
        checked(False, "NotCompliant", False, "1 action denied", deniedActions=[BP1]),
        permissions={"profileVersion": UNSHIPPED},
    ),
    role(
        "555555555555",
        "e-newer",
        ["Restore"],
        checked(True, "Reconciled", True, "compliant", profile={"version": UNSHIPPED}),
        permissions={"profileVersion": "11"},
    ),
]

SETS = [
    role_set(
        "team-a",
        "alpha",
        {
            "selected": 2,
            "ready": 2,
            "compliant": 2,
            "nonCompliant": 0,
            "failing": 0,
            "conditions": [ready(True, "AllReady", "all 2 roles are ready")],
        },
    ),
    role_set("backup", "zeta", None),
    role_set(
        "backup",
        "fleet",
        {
            "selected": 5,
            "ready": 4,
            "compliant": 3,
            "nonCompliant": 2,
            "failing": 1,
            "conditions": [
                ready(False, "RolesFailing", "1 of 5 roles failing"),
                {"type": "Compliant", "status": "False", "reason": "RolesNotCompliant"},
            ],
        },
    ),
]


def report_json() -> dict[str, Any]:
    listed = [SETS[0], *ROLES[::-1], *SETS[1:]]  # any order in, sorted out
    return fleet_report(listed, NOW).to_json()


@pytest.mark.parametrize(
    ("account", "cells", "why"),
    [
        (
            "111111111111",
            {"BackupPolicy": "ready", "ManualBackup": "none", "Restore": "unknown"},
            "a trust warning does not count against a role; an unchecked role's unknown is worse "
            "than another role's ready",
        ),
        (
            "222222222222",
            {"BackupPolicy": "failing", "ManualBackup": "ready", "Restore": "failing"},
            "a missing action counts only against the operations that need it; failing is worst",
        ),
        (
            "333333333333",
            {"BackupPolicy": "missing", "ManualBackup": "missing", "Restore": "missing"},
            "a trust error makes every operation missing; an unshipped profile (from the status) "
            "is judged as a whole",
        ),
        (
            "444444444444",
            {"BackupPolicy": "none", "ManualBackup": "missing", "Restore": "missing"},
            "an unshipped profile from the spec is judged as a whole",
        ),
        (
            "555555555555",
            {"BackupPolicy": "none", "ManualBackup": "none", "Restore": "ready"},
            "an unshipped profile (from the status, over the spec's) without a missing action is "
            "ready",
        ),
    ],
)
def test_each_grid_cell(account: str, cells: dict[str, str], why: str) -> None:
    grid = {row["accountId"]: row["operations"] for row in report_json()["grid"]}
    assert grid[account] == cells, why


def test_the_grid_lists_every_account_once_in_order() -> None:
    report = report_json()
    assert [row["accountId"] for row in report["grid"]] == [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
        "555555555555",
    ]
    assert report["operations"] == ["BackupPolicy", "ManualBackup", "Restore"]


def test_the_summary_counts_every_state() -> None:
    report = report_json()
    assert report["generatedAt"] == "2026-01-02T03:04:05+00:00"
    assert report["summary"] == {
        "roles": 8,
        "accounts": 5,
        "sets": 3,
        "compliant": 2,
        "notCompliant": 4,
        "failing": 1,
        "unknown": 1,
        "trustErrors": 1,  # warnings are not errors
    }


def test_most_missing_ranks_by_roles_then_name() -> None:
    # BP2 is missed by two roles; BP1 and BP3 by one each (BP3 seen first, BP1 first by name).
    assert report_json()["mostMissing"] == [
        {"action": BP2, "roles": 2},
        {"action": BP1, "roles": 1},
        {"action": BP3, "roles": 1},
    ]


def test_trust_findings_name_their_role() -> None:
    assert report_json()["trustFindings"] == [
        {"accountId": "111111111111", "namespace": "backup", "name": "a-ready", **WARNING},
        {"accountId": "333333333333", "namespace": "backup", "name": "c-trust", **TRUST_ERROR},
        {"accountId": "333333333333", "namespace": "backup", "name": "c-trust", **WARNING},
    ]


def test_role_rows_whole() -> None:
    roles = {row["name"]: row for row in report_json()["roles"]}
    assert list(roles) == [
        "a-ready",
        "a-unchecked",
        "b-drift",
        "b-failing",
        "c-trust",
        "c-unshipped",
        "d-newer",
        "e-newer",
    ]
    assert roles["a-ready"] == {
        "namespace": "backup",
        "name": "a-ready",
        "accountId": "111111111111",
        "roleName": "VeeamBackup",
        "roleSet": "fleet",
        "mode": "Audit",
        "operations": ["BackupPolicy", "Restore"],
        "state": "compliant",
        "ready": "True",
        "reason": "Audited",
        "message": "in line with profile 11",
        "compliant": True,
        "missingActions": [],
        "deniedActions": [],
        "lastCheckedTime": "2026-01-02T02:59:05+00:00",
        "lastCheckAgeSeconds": 300,
    }
    assert roles["a-unchecked"] == {
        "namespace": "backup",
        "name": "a-unchecked",
        "accountId": "111111111111",
        "roleName": "VeeamBackup",
        "roleSet": None,
        "mode": "Enforce",
        "operations": ["Restore"],
        "state": "unknown",
        "ready": None,
        "reason": None,
        "message": None,
        "compliant": None,
        "missingActions": [],
        "deniedActions": [],
        "lastCheckedTime": None,
        "lastCheckAgeSeconds": None,
    }


@pytest.mark.parametrize(
    ("name", "state", "ready", "reason", "message", "missing", "denied"),
    [
        ("b-drift", "not-compliant", "False", "DriftDetected", "1 action missing", [BP2], []),
        ("b-failing", "failing", "False", "AccessDenied", "cannot assume role", [], []),
        ("c-trust", "not-compliant", "False", "NotCompliant", "trust policy errors", [], [BP3]),
        ("c-unshipped", "not-compliant", "False", "NotCompliant", "1 action missing", [BP2], []),
        ("d-newer", "not-compliant", "False", "NotCompliant", "1 action denied", [], [BP1]),
        ("e-newer", "compliant", "True", "Reconciled", "compliant", [], []),
    ],
)
def test_verdict_of_each_role_row(
    name: str,
    state: str,
    ready: str,
    reason: str,
    message: str,
    missing: list[str],
    denied: list[str],
) -> None:
    row = next(r for r in report_json()["roles"] if r["name"] == name)
    verdict = {k: row[k] for k in ("state", "ready", "reason", "message")}
    assert verdict == {"state": state, "ready": ready, "reason": reason, "message": message}
    assert (row["missingActions"], row["deniedActions"]) == (missing, denied)
    assert (row["mode"], row["roleSet"], row["lastCheckAgeSeconds"]) == ("Enforce", None, 300)


def test_set_rows_whole_in_namespace_order() -> None:
    assert report_json()["sets"] == [
        {
            "namespace": "backup",
            "name": "fleet",
            "roleName": "fleet-role",
            "selected": 5,
            "ready": 4,
            "compliant": 3,
            "nonCompliant": 2,
            "failing": 1,
            "reason": "RolesFailing",
        },
        {
            # Just created: no status yet, every count zero, no reason.
            "namespace": "backup",
            "name": "zeta",
            "roleName": "zeta-role",
            "selected": 0,
            "ready": 0,
            "compliant": 0,
            "nonCompliant": 0,
            "failing": 0,
            "reason": None,
        },
        {
            "namespace": "team-a",
            "name": "alpha",
            "roleName": "alpha-role",
            "selected": 2,
            "ready": 2,
            "compliant": 2,
            "nonCompliant": 0,
            "failing": 0,
            "reason": "AllReady",
        },
    ]


def test_objects_without_fields_give_empty_rows_never_none() -> None:
    """Hand-edited input may lack metadata, spec or status: the rows say empty, not "None"."""
    bare = [{"kind": "DynamoBackupRole"}, {"kind": "DynamoBackupRoleSet"}]
    report = fleet_report(bare, NOW).to_json()
    assert report["roles"] == [
        {
            "namespace": "",
            "name": "",
            "accountId": "",
            "roleName": "",
            "roleSet": None,
            "mode": "Enforce",
            "operations": [],
            "state": "unknown",
            "ready": None,
            "reason": None,
            "message": None,
            "compliant": None,
            "missingActions": [],
            "deniedActions": [],
            "lastCheckedTime": None,
            "lastCheckAgeSeconds": None,
        }
    ]
    assert report["sets"] == [
        {
            "namespace": "",
            "name": "",
            "roleName": "",
            "selected": 0,
            "ready": 0,
            "compliant": 0,
            "nonCompliant": 0,
            "failing": 0,
            "reason": None,
        }
    ]
    assert report["grid"] == [
        {
            "accountId": "",
            "operations": {"BackupPolicy": "none", "ManualBackup": "none", "Restore": "none"},
        }
    ]
