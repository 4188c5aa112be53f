"""A DynamoBackupRoleSet's status as `kubectl get -o yaml` shows it: the counts, the listed
accounts and the four conditions, for each state its children can be in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import (
    Condition,
    DynamoBackupRoleSetStatus,
    dump,
    set_condition,
)
from dynamobackup.api.v1alpha1.roleset import MAX_LISTED_ACCOUNTS, AccountVerdict
from dynamobackup.reconcile.roleset import Child, Selection, set_status, status_changed, tally

# Microseconds the API server would not store: the status keeps whole seconds.
NOW = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
STAMP = "2026-01-02T03:04:05Z"
A, B, C, D = "111111111111", "222222222222", "333333333333", "444444444444"


def child(
    account: str,
    ready: str | None,
    reason: str | None = None,
    compliant: bool | None = None,
    generation: int = 2,
    observed: int = 2,
) -> Child:
    message = f"{reason} in {account}" if reason else None
    return Child(
        f"set-{account}", account, {}, generation, observed, ready, reason, message, compliant
    )


def status_of(
    accounts: list[str],
    children: list[Child],
    failures: dict[str, tuple[str, str]] | None = None,
    previous: DynamoBackupRoleSetStatus | None = None,
    now: datetime = NOW,
) -> DynamoBackupRoleSetStatus:
    selection = Selection(dict.fromkeys(accounts, "aws"))
    counts = tally(selection, children, failures or {})
    return set_status(previous or DynamoBackupRoleSetStatus(), counts, selection, 7, now)


def shown(status: DynamoBackupRoleSetStatus) -> dict[str, Any]:
    return dump(status)


def conditions(status: DynamoBackupRoleSetStatus) -> list[tuple[str, str, str, str]]:
    return [(c.type, c.status, c.reason, c.message) for c in status.conditions or []]


def counts(status: DynamoBackupRoleSetStatus) -> tuple[int | None, ...]:
    return (
        status.selected,
        status.ready,
        status.compliant,
        status.non_compliant,
        status.failing,
        status.pending,
    )


def test_a_set_that_selects_nothing_is_shown_ready_compliant_and_finished() -> None:
    condition = {"lastTransitionTime": STAMP, "observedGeneration": 7}
    assert shown(status_of([], [])) == {
        "observedGeneration": 7,
        "selected": 0,
        "ready": 0,
        "compliant": 0,
        "nonCompliant": 0,
        "failing": 0,
        "pending": 0,
        "nonCompliantAccounts": [],
        "failingAccounts": [],
        "skippedAccounts": [],
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "NoAccountsSelected",
                "message": "no account matches the selector among the bindings this namespace "
                "may use",
                **condition,
            },
            {
                "type": "Compliant",
                "status": "True",
                "reason": "AllCompliant",
                "message": "all 0 roles are compliant",
                **condition,
            },
            {
                "type": "Reconciling",
                "status": "False",
                "reason": "ReconcileFinished",
                "message": "every role is current",
                **condition,
            },
            {
                "type": "Stalled",
                "status": "False",
                "reason": "NotStalled",
                "message": "no role is failing",
                **condition,
            },
        ],
        "lastUpdateTime": STAMP,
    }


def test_every_child_ready_and_compliant() -> None:
    status = status_of(
        [A, B, C],
        [
            child(A, "True", "Reconciled", True),
            child(B, "True", "Reconciled", True),
            child(C, "True", "Audited", True),
        ],
    )
    assert counts(status) == (3, 3, 3, 0, 0, 0)
    assert conditions(status) == [
        ("Ready", "True", "AllReady", "all 3 roles are ready"),
        ("Compliant", "True", "AllCompliant", "all 3 roles are compliant"),
        ("Reconciling", "False", "ReconcileFinished", "every role is current"),
        ("Stalled", "False", "NotStalled", "no role is failing"),
    ]


def test_failing_children_and_failed_writes_are_counted_listed_and_stall_the_set() -> None:
    status = status_of(
        [A, B, C, D],
        [
            child(A, "False", "AccessDenied"),
            child(B, "True", "Reconciled", True),
            child(C, "False", "DriftDetected", False),
            child(D, "True", "Reconciled", True),  # its update was refused
        ],
        failures={D: ("ChildInvalid", "spec.roleName: too long")},
    )
    assert counts(status) == (4, 1, 1, 1, 2, 0)
    assert shown(status)["failingAccounts"] == [
        {
            "accountId": A,
            "role": f"set-{A}",
            "reason": "AccessDenied",
            "message": f"AccessDenied in {A}",
        },
        {
            "accountId": D,
            "role": f"set-{D}",
            "reason": "ChildInvalid",
            "message": "spec.roleName: too long",
        },
    ]
    assert shown(status)["nonCompliantAccounts"] == [
        {
            "accountId": C,
            "role": f"set-{C}",
            "reason": "DriftDetected",
            "message": f"DriftDetected in {C}",
        }
    ]
    assert conditions(status) == [
        (
            "Ready",
            "False",
            "RolesFailing",
            f"2 of 4 roles failing, first: {A} (AccessDenied: AccessDenied in {A})",
        ),
        ("Compliant", "False", "RolesNotCompliant", "1 of 4 roles not compliant"),
        ("Reconciling", "False", "ReconcileFinished", "every role is current"),
        ("Stalled", "True", "RolesFailing", "2 roles failing"),
    ]


def test_a_child_not_yet_written_is_failing_with_no_role_name() -> None:
    status = status_of([A, B], [], failures={A: ("ChildNameTaken", "set-a is not ours")})
    assert shown(status)["failingAccounts"] == [
        {"accountId": A, "reason": "ChildNameTaken", "message": "set-a is not ours"}
    ]
    # The write that failed first does not hide the accounts after it.
    assert counts(status) == (2, 0, 0, 0, 1, 1)


def test_not_compliant_children_keep_the_set_not_ready_without_stalling_it() -> None:
    status = status_of(
        [A, B, C],
        [
            child(A, "True", "Reconciled", True),
            child(B, "False", "NotCompliant", False),
            child(C, "False", "DriftDetected", False),
        ],
    )
    assert counts(status) == (3, 1, 1, 2, 0, 0)
    assert [v.account_id for v in status.non_compliant_accounts or []] == [B, C]
    assert conditions(status) == [
        (
            "Ready",
            "False",
            "RolesNotCompliant",
            f"2 of 3 roles not compliant, first: {B} (NotCompliant: NotCompliant in {B})",
        ),
        ("Compliant", "False", "RolesNotCompliant", "2 of 3 roles not compliant"),
        ("Reconciling", "False", "ReconcileFinished", "every role is current"),
        ("Stalled", "False", "NotStalled", "no role is failing"),
    ]


def test_an_audited_role_that_is_not_compliant_is_ready_but_not_compliant() -> None:
    status = status_of(
        [A, B], [child(A, "True", "Audited", False), child(B, "True", "Audited", True)]
    )
    assert counts(status) == (2, 2, 1, 1, 0, 0)
    assert conditions(status)[:2] == [
        ("Ready", "True", "AllReady", "all 2 roles are ready"),
        ("Compliant", "False", "RolesNotCompliant", "1 of 2 roles not compliant"),
    ]


def test_children_without_a_verdict_yet_are_pending_and_converging() -> None:
    status = status_of(
        [A, B, C, D],
        [
            child(A, "True", "Reconciled", True),
            child(B, None),  # created, no status yet
            child(D, "True", "Reconciled", None),  # ready, no compliance verdict yet
        ],  # C: not created yet
    )
    assert counts(status) == (4, 2, 1, 0, 0, 3)
    assert conditions(status) == [
        ("Ready", "False", "RolesPending", "2 of 4 roles not checked yet"),
        ("Compliant", "Unknown", "RolesNotChecked", "3 of 4 roles have no verdict"),
        (
            "Reconciling",
            "True",
            "RolesConverging",
            "2 roles not reconciled with the current template yet",
        ),
        ("Stalled", "False", "NotStalled", "no role is failing"),
    ]


def test_children_whose_status_is_for_an_older_spec_are_converging() -> None:
    status = status_of(
        [A, B, C],
        [
            child(A, "True", "Reconciled", True, generation=3, observed=2),
            child(B, "True", "Reconciled", True, generation=5, observed=4),
            child(C, "True", "Reconciled", True),
        ],
    )
    assert counts(status) == (3, 3, 3, 0, 0, 0)
    assert conditions(status)[2] == (
        "Reconciling",
        "True",
        "RolesConverging",
        "2 roles not reconciled with the current template yet",
    )


def test_a_child_with_no_generation_yet_is_converging() -> None:
    fresh = Child(f"set-{A}", A, {}, 1, None, "True", "Reconciled", "ok", True)
    assert conditions(status_of([A], [fresh]))[2][:3] == (
        "Reconciling",
        "True",
        "RolesConverging",
    )


@pytest.mark.parametrize(
    ("ready", "reason", "compliant", "listed"),
    [
        ("False", "AccessDenied", None, "failing"),
        ("Unknown", "AccountNotBound", None, "failing"),
        ("False", "NotCompliant", False, "nonCompliant"),
        ("False", "DriftDetected", False, "nonCompliant"),
        ("True", "Audited", False, "nonCompliant"),
        ("False", "Reconciled", None, "pending"),  # a verdict reason, no verdict yet
        ("True", "Reconciled", None, "pending"),
        ("True", "Reconciled", True, None),
    ],
)
def test_where_one_child_is_counted(
    ready: str, reason: str, compliant: bool | None, listed: str | None
) -> None:
    status = shown(status_of([A], [child(A, ready, reason, compliant)]))
    places = {key: status[key] for key in ("failing", "nonCompliant", "pending")}
    assert places == {key: int(key == listed) for key in places}


def test_the_listed_accounts_stop_at_the_limit_the_counts_do_not() -> None:
    accounts = [f"{n:012d}" for n in range(MAX_LISTED_ACCOUNTS + 5)]
    failing = [child(a, "False", "AccessDenied") for a in accounts]
    status = status_of(accounts, failing)
    assert status.failing == MAX_LISTED_ACCOUNTS + 5
    assert [v.account_id for v in status.failing_accounts or []] == accounts[:MAX_LISTED_ACCOUNTS]
    drifted = [child(a, "False", "DriftDetected", False) for a in accounts]
    status = status_of(accounts, drifted)
    assert status.non_compliant == MAX_LISTED_ACCOUNTS + 5
    assert len(status.non_compliant_accounts or []) == MAX_LISTED_ACCOUNTS


def test_skipped_accounts_are_listed_up_to_the_limit() -> None:
    skipped = tuple(
        AccountVerdict(account_id=f"{n:012d}", reason="AccountNotActive", message="marked Left")
        for n in range(MAX_LISTED_ACCOUNTS + 1)
    )
    selection = Selection({}, skipped)
    status = set_status(DynamoBackupRoleSetStatus(), tally(selection, [], {}), selection, 7, NOW)
    assert status.skipped_accounts == list(skipped[:MAX_LISTED_ACCOUNTS])


def test_conditions_carry_the_sets_generation_and_the_time_they_became_true() -> None:
    first = status_of([A], [child(A, None)])
    assert {(c.observed_generation, c.last_transition_time) for c in first.conditions or []} == {
        (7, NOW.replace(microsecond=0))
    }
    assert first.observed_generation == 7 and first.last_update_time == NOW.replace(microsecond=0)
    later = NOW + timedelta(minutes=3)
    done = status_of([A], [child(A, "True", "Reconciled", True)], previous=first, now=later)
    times = {c.type: c.last_transition_time for c in done.conditions or []}
    # Stalled stayed False: its time is the first one; the others changed status.
    assert times == {
        "Ready": later.replace(microsecond=0),
        "Compliant": later.replace(microsecond=0),
        "Reconciling": later.replace(microsecond=0),
        "Stalled": NOW.replace(microsecond=0),
    }


def test_conditions_other_than_the_sets_own_are_kept() -> None:
    foreign = Condition.make("Progressing", True, "Rollout", "someone else's", now=NOW)
    previous = DynamoBackupRoleSetStatus(conditions=set_condition([], foreign))
    status = status_of([A], [child(A, "True", "Reconciled", True)], previous=previous)
    assert [c.type for c in status.conditions or []] == [
        "Progressing",
        "Ready",
        "Compliant",
        "Reconciling",
        "Stalled",
    ]


def test_the_update_time_moves_only_when_what_the_status_says_changes() -> None:
    children = [child(A, "True", "Reconciled", True)]
    first = status_of([A], children)
    later = NOW + timedelta(minutes=5)
    again = status_of([A], children, previous=first, now=later)
    assert again == first and not status_changed(first, again)
    moved = status_of([A], [child(A, "True", "Reconciled", True, generation=3)], first, now=later)
    assert status_changed(first, moved) and moved.last_update_time == later.replace(microsecond=0)
    # A message alone is a change too: Reconciling says how many roles are converging.
    one = [child(A, "True", "Reconciled", True, generation=3), child(B, "True", "Reconciled", True)]
    two = [
        child(A, "True", "Reconciled", True, generation=3),
        child(B, "True", "Reconciled", True, 3),
    ]
    assert status_changed(status_of([A, B], one), status_of([A, B], two))


def test_a_status_that_differs_only_in_its_times_is_not_rewritten() -> None:
    first = status_of([A], [child(A, "True", "Reconciled", True)])
    later = NOW + timedelta(hours=1)
    retimed = first.model_copy(
        update={
            "last_update_time": later,
            "conditions": [
                c.model_copy(update={"last_transition_time": later}) for c in first.conditions or []
            ],
        }
    )
    assert not status_changed(first, retimed)
    regenerated = first.model_copy(
        update={
            "conditions": [
                c.model_copy(update={"observed_generation": 8}) for c in first.conditions or []
            ]
        }
    )
    assert status_changed(first, regenerated)


def test_a_status_read_back_without_an_update_time_gets_one() -> None:
    first = status_of([A], [child(A, "True", "Reconciled", True)])
    stored = first.model_copy(update={"last_update_time": None})
    again = status_of([A], [child(A, "True", "Reconciled", True)], previous=stored)
    assert again.last_update_time == NOW.replace(microsecond=0)
