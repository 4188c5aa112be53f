"""Issue 8 in the pure layer: unknown is not non-compliant; the status follows the life-cycle
table; deletions blocked say why; backoff is capped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dynamobackup.api.v1alpha1 import ConditionStatus, DynamoBackupRoleStatus, find_condition
from dynamobackup.api.v1alpha1.lifecycle import ABANDON_ANNOTATION, TRANSITIONS, Cause, transition
from dynamobackup.reconcile.desired import DesiredRole
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.schedule import retry_backoff
from dynamobackup.reconcile.status import build_status, cause_of, deletion_blocked_status

from .conftest import observed_from
from .test_status import T0, outcome_for

LATER = datetime(2026, 11, 28, 13, 0, 0, tzinfo=UTC)


def state(status: DynamoBackupRoleStatus, kind: str) -> ConditionStatus:
    found = find_condition(status.conditions or [], kind)
    assert found is not None
    return found.status


def test_an_unreadable_role_keeps_the_last_verdict(desired: DesiredRole) -> None:
    compliant = build_status(
        DynamoBackupRoleStatus(), outcome_for(desired, observed_from(desired)), 1
    )
    unreachable = Failure("AwsUnreachable", "cannot reach AWS", retryable=True)
    # What the manager returns when the role could not be read: no report, no role.
    outage = Outcome(checked_at=LATER, desired=desired, failure=unreachable)
    status = build_status(compliant, outage, 1)
    patch = status.to_patch()
    assert "compliant" not in patch and "missingActions" not in patch  # kept on the server
    assert status.last_checked_time == T0  # the time of the verdict that is kept
    assert find_condition(status.conditions or [], "Ready").reason == "AwsUnreachable"  # type: ignore[union-attr]
    for kind in ("Compliant", "PermissionsCompliant", "TrustCompliant"):
        found = find_condition(status.conditions or [], kind)
        assert found is not None and (found.status, found.reason) == (
            ConditionStatus.UNKNOWN,
            "AwsUnreachable",
        )


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (None, Cause.COMPLIANT),
        (Failure("AwsThrottled", "slow down", retryable=True), Cause.TRANSIENT_FAILURE),
        (Failure("AccessDenied", "no"), Cause.BLOCKING_FAILURE),
        (Failure("RoleOwnedByAnotherResource", "theirs"), Cause.NOT_OURS),
    ],
)
def test_the_conditions_follow_the_life_cycle_table(
    desired: DesiredRole, failure: Failure | None, cause: Cause
) -> None:
    outcome = Outcome(checked_at=T0, desired=desired, failure=failure)
    if failure is None:
        outcome = outcome_for(desired, observed_from(desired))
    assert cause_of(outcome) is cause
    row = transition(cause)
    status = build_status(DynamoBackupRoleStatus(), outcome, 1)
    assert (state(status, "Ready"), state(status, "Reconciling"), state(status, "Stalled")) == (
        row.ready,
        row.reconciling,
        row.stalled,
    )


def test_every_cause_has_one_row() -> None:
    assert sorted(t.cause for t in TRANSITIONS) == sorted(Cause)


def test_a_blocked_deletion_says_why_and_how_to_opt_out() -> None:
    failure = Failure("AwsUnreachable", "cannot reach AWS while deleting the role", retryable=True)
    status = deletion_blocked_status(DynamoBackupRoleStatus(), failure, 40, 2, T0)
    ready = find_condition(status.conditions or [], "Ready")
    assert ready is not None and ready.reason == "DeletionBlocked"
    assert ready.message is not None
    assert "AwsUnreachable" in ready.message and ABANDON_ANNOTATION in ready.message
    assert "retrying in 40s" in ready.message
    assert state(status, "Reconciling") == ConditionStatus.TRUE


def test_retry_backoff_is_exponential_and_capped() -> None:
    delays = [retry_backoff(retry, 30, 300) for retry in range(8)]
    assert delays == [30, 60, 120, 240, 300, 300, 300, 300]
    assert retry_backoff(10_000, 1, 8) == 8
