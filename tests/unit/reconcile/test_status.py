"""The status written back: conditions by Kubernetes conventions, findings, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dynamobackup.api.v1alpha1 import DynamoBackupRoleStatus, find_condition
from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedDocument
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.plan import PutRolePolicy
from dynamobackup.reconcile.status import build_status
from veeam_sources import documented_count

from .conftest import OWNER, make_spec, observed_from

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def condition(status: DynamoBackupRoleStatus, kind: str) -> tuple[str, str | None]:
    found = find_condition(status.conditions or [], kind)
    assert found is not None
    return found.status.value, found.reason


def outcome_for(desired: DesiredRole, role: object, at: datetime = T0, **extra: object) -> Outcome:
    report = assess(desired, role, default_catalog())  # type: ignore[arg-type]
    return Outcome(checked_at=at, desired=desired, role=role, report=report, aws_calls=4, **extra)  # type: ignore[arg-type]


def test_compliant_role_is_ready(desired: DesiredRole) -> None:
    change = PutRolePolicy(desired.name, INLINE_POLICY_NAME, desired.permissions[0])
    status = build_status(
        DynamoBackupRoleStatus(), outcome_for(desired, observed_from(desired), applied=(change,)), 3
    )
    assert status.compliant is True and status.observed_generation == 3
    assert condition(status, "Ready") == ("True", "Reconciled")
    assert condition(status, "Reconciling") == ("False", "ReconcileFinished")
    assert condition(status, "Stalled") == ("False", "NotStalled")
    assert condition(status, "PermissionsCompliant") == ("True", "AllActionsAllowed")
    assert condition(status, "TrustCompliant") == ("True", "Trusted")
    assert status.missing_actions == [] and status.missing_count == 0
    assert status.profile is not None and status.profile.action_count == documented_count(
        "BackupPolicy"
    )
    assert status.aws_calls == 4 and status.role_arn == desired.arn
    assert status.last_changes == [change.summary]
    patch = status.to_patch()
    assert patch["missingActions"] == [] and patch["lastCheckedTime"] == "2026-11-28T12:00:00Z"


def test_audit_drift_is_not_ready_with_the_missing_actions() -> None:
    desired = desired_role(make_spec(mode="Audit"), OWNER)
    narrowed = desired.permissions[0].to_iam()
    narrowed["Statement"][0]["Action"].remove("sns:Subscribe")
    role = observed_from(
        desired, inline_policies={INLINE_POLICY_NAME: ObservedDocument(parse_document(narrowed))}
    )
    status = build_status(DynamoBackupRoleStatus(), outcome_for(desired, role), 1)
    assert status.compliant is False
    assert condition(status, "Ready") == ("False", "DriftDetected")
    assert condition(status, "Stalled") == ("True", "DriftDetected")  # kstatus: Failed
    assert condition(status, "PermissionsCompliant") == ("False", "ActionsMissing")
    assert condition(status, "Compliant") == ("False", "Drifted")
    assert status.missing_actions == ["sns:Subscribe"] and status.missing_count == 1


def test_failure_before_any_verdict_leaves_compliance_unknown(desired: DesiredRole) -> None:
    failure = Failure("AccessDenied", "the operator is not allowed to call iam:GetRole")
    status = build_status(
        DynamoBackupRoleStatus(), Outcome(checked_at=T0, desired=desired, failure=failure), 2
    )
    assert condition(status, "Ready") == ("False", "AccessDenied")
    assert condition(status, "Compliant") == ("Unknown", "AccessDenied")
    assert condition(status, "Stalled") == ("True", "AccessDenied")
    assert condition(status, "Reconciling") == ("False", "ReconcileFinished")
    assert status.compliant is None
    message = find_condition(status.conditions or [], "Ready").message  # type: ignore[union-attr]
    assert message == failure.message and "Traceback" not in message


def test_transition_time_moves_only_when_status_changes(desired: DesiredRole) -> None:
    first = build_status(DynamoBackupRoleStatus(), outcome_for(desired, observed_from(desired)), 1)
    later = T0 + timedelta(minutes=10)
    second = build_status(first, outcome_for(desired, observed_from(desired), at=later), 1)
    ready = find_condition(second.conditions or [], "Ready")
    assert ready is not None and ready.last_transition_time == T0
    assert second.last_checked_time == later
    broken = observed_from(desired, inline_policies={})
    third = build_status(second, outcome_for(desired, broken, at=later + timedelta(minutes=10)), 1)
    ready = find_condition(third.conditions or [], "Ready")
    assert ready is not None and ready.status.value == "False"
    assert ready.last_transition_time == later + timedelta(minutes=10)
    assert len(third.conditions or []) == 6


def test_retryable_failures_are_reconciling_not_stalled(desired: DesiredRole) -> None:
    failure = Failure("AwsThrottled", "GetRole failed after retries", retryable=True)
    status = build_status(
        DynamoBackupRoleStatus(), Outcome(checked_at=T0, desired=desired, failure=failure), 1
    )
    assert condition(status, "Reconciling") == ("True", "AwsThrottled")  # kstatus: InProgress
    assert condition(status, "Stalled") == ("False", "NotStalled")
    assert condition(status, "Ready") == ("False", "AwsThrottled")
