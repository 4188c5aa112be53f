"""Turn an Outcome into the DynamoBackupRole status, following Kubernetes condition conventions."""

from __future__ import annotations

from datetime import datetime

from dynamobackup.api.v1alpha1 import (
    Condition,
    ConditionStatus,
    ConditionType,
    DynamoBackupRoleStatus,
    Mode,
    ProfileStatus,
    TrustFindingStatus,
    set_condition,
)
from dynamobackup.api.v1alpha1.lifecycle import (
    ABANDON_ANNOTATION,
    NOT_OURS_REASONS,
    Cause,
    transition,
)
from dynamobackup.reconcile.compliance import (
    ComplianceReport,
    is_own_managed_policy,
    managed_tags,
)
from dynamobackup.reconcile.outcome import Failure, Outcome


def build_status(
    previous: DynamoBackupRoleStatus, outcome: Outcome, generation: int | None
) -> DynamoBackupRoleStatus:
    """The new status; conditions keep their lastTransitionTime while their status holds."""
    conditions = list(previous.conditions or [])
    for condition in _conditions(outcome, generation):
        conditions = set_condition(conditions, condition)
    status = DynamoBackupRoleStatus(
        role_arn=outcome.role.arn if outcome.role else previous.role_arn,
        role_id=outcome.role.role_id if outcome.role else previous.role_id,
        observed_generation=generation,
        compliant=outcome.compliant,
        conditions=conditions,
        # The last time the role was actually read: a failed check keeps the last verdict's time.
        last_checked_time=(
            outcome.checked_at.replace(microsecond=0)
            if outcome.report is not None
            else previous.last_checked_time
        ),
        aws_calls=outcome.aws_calls,
        mode=str(outcome.desired.mode) if outcome.desired else previous.mode,
        last_changes=[change.summary for change in outcome.applied],
    )
    if outcome.desired is not None:
        desired = outcome.desired
        status.profile = ProfileStatus(
            version=desired.profile.version,
            operations=list(desired.operations),
            action_count=len(desired.required_actions),
        )
        status.managed_policy_arns = _managed_policy_arns(outcome)
        status.added_actions = list(desired.additional_actions)
        if outcome.failure is None and outcome.role is not None:
            # After a failure the record stays as it was (None leaves the field unchanged).
            status.managed_tags = list(managed_tags(desired, outcome.role))
    if outcome.report is not None:
        _fill_findings(status, outcome.report)
    return status


def _managed_policy_arns(outcome: Outcome) -> list[str]:
    if outcome.role is None or outcome.desired is None:
        return []
    return sorted(
        p.arn for p in outcome.role.attached_policies if is_own_managed_policy(outcome.desired, p)
    )


def _fill_findings(status: DynamoBackupRoleStatus, report: ComplianceReport) -> None:
    permissions = report.permissions
    status.missing_actions = list(permissions.missing)
    status.missing_count = len(permissions.missing)
    status.denied_actions = list(permissions.denied)
    status.conditional_actions = list(permissions.conditional)
    status.excess_actions = list(permissions.excess)
    status.trust_findings = [
        TrustFindingStatus(code=f.code.value, message=f.message, severity=f.severity)
        for f in report.trust.findings
    ]
    status.foreign_policies = list(report.foreign_policies)
    status.drifted_settings = list(report.drifted_settings)
    status.dangerous_actions = list(report.dangerous)


def cause_of(outcome: Outcome) -> Cause:
    """Which row of the life-cycle table (api.v1alpha1.lifecycle) this outcome is."""
    failure = outcome.failure
    if failure is None:
        return Cause.COMPLIANT if outcome.compliant else Cause.NOT_COMPLIANT
    if failure.reason in NOT_OURS_REASONS:
        return Cause.NOT_OURS
    return Cause.TRANSIENT_FAILURE if failure.retryable else Cause.BLOCKING_FAILURE


def _conditions(outcome: Outcome, generation: int | None) -> list[Condition]:
    def make(
        kind: ConditionType, state: ConditionStatus | bool, reason: str, message: str
    ) -> Condition:
        return Condition.make(
            kind.value,
            state,
            reason,
            message,
            observed_generation=generation,
            now=outcome.checked_at,
        )

    row = transition(cause_of(outcome))
    ready_reason = _ready_reason(outcome)
    failure = outcome.failure
    retrying = (failure.reason, f"retrying: {failure.message}") if failure else None
    conditions = [
        make(ConditionType.READY, row.ready, *ready_reason),
        make(
            ConditionType.RECONCILING,
            row.reconciling,
            *(retrying if row.reconciling is ConditionStatus.TRUE and retrying else _FINISHED),
        ),
        make(
            ConditionType.STALLED,
            row.stalled,
            *(ready_reason if row.stalled is ConditionStatus.TRUE else _NOT_STALLED),
        ),
    ]
    report = outcome.report
    if report is None:
        # Unknown is not non-compliant: without a reading of the role there is no verdict.
        reason = failure.reason if failure else "NotChecked"
        why = failure.message if failure else "not checked yet"
        for kind in _VERDICT_CONDITIONS:
            conditions.append(make(kind, ConditionStatus.UNKNOWN, reason, why))
        return conditions
    conditions.append(make(ConditionType.COMPLIANT, report.compliant, *_compliant_reason(report)))
    conditions.append(
        make(
            ConditionType.PERMISSIONS_COMPLIANT,
            report.permissions_compliant,
            *_permissions_reason(report),
        )
    )
    conditions.append(
        make(ConditionType.TRUST_COMPLIANT, report.trust_compliant, *_trust_reason(report))
    )
    return conditions


_FINISHED = ("ReconcileFinished", "the last reconcile finished")
_NOT_STALLED = ("NotStalled", "nothing blocks the role")
_VERDICT_CONDITIONS = (
    ConditionType.COMPLIANT,
    ConditionType.PERMISSIONS_COMPLIANT,
    ConditionType.TRUST_COMPLIANT,
)


def _ready_reason(outcome: Outcome) -> tuple[str, str]:
    if outcome.failure is not None:
        return outcome.failure.reason, outcome.failure.message
    audit = outcome.desired is not None and outcome.desired.mode is Mode.AUDIT
    if outcome.compliant:
        verb = "audited" if audit else "reconciled"
        changed = f"; {len(outcome.applied)} changes made" if outcome.applied else ""
        return ("Audited" if audit else "Reconciled"), f"role {verb} and compliant{changed}"
    if audit:
        return "DriftDetected", "Audit mode: the role differs from the spec and was left unchanged"
    return (
        "NotCompliant",
        "the role is still not compliant after reconciling; see the other conditions",
    )


def _compliant_reason(report: ComplianceReport) -> tuple[str, str]:
    if report.compliant:
        return "Compliant", "permissions, trust and settings match the spec"
    parts = []
    if not report.permissions_compliant:
        parts.append("permissions")
    if not report.trust_compliant:
        parts.append("trust policy")
    if report.drifted_settings:
        parts.append("settings (" + ", ".join(report.drifted_settings) + ")")
    return "Drifted", "the role's " + " and ".join(parts) + " differ from the spec"


def _permissions_reason(report: ComplianceReport) -> tuple[str, str]:
    p = report.permissions
    if report.permissions_compliant:
        return "AllActionsAllowed", f"all {len(p.allowed)} required actions are allowed"
    problems = [
        ("DangerousActions", len(report.dangerous), "dangerous grants"),
        ("ActionsDenied", len(p.denied), "denied"),
        ("ActionsMissing", len(p.missing), "missing"),
        ("ActionsConditional", len(p.conditional), "allowed only under conditions"),
        ("UnreadablePolicy", len(report.unreadable_policies), "policies unreadable"),
        (
            "ForeignPolicies",
            len(report.foreign_policies) if report.exclusive else 0,
            "foreign policies",
        ),
        ("ExcessActions", len(p.excess) if report.exclusive else 0, "excess grants"),
    ]
    present = [(reason, count, text) for reason, count, text in problems if count]
    message = ", ".join(f"{count} {text}" for _, count, text in present)
    return present[0][0], message


def _trust_reason(report: ComplianceReport) -> tuple[str, str]:
    errors = [f for f in report.trust.findings if f.severity == "error"]
    if not errors:
        warnings = len(report.trust.findings)
        note = f" ({warnings} warnings)" if warnings else ""
        return "Trusted", f"AWS Backup and the Veeam appliance can assume the role{note}"
    return errors[0].code.value, "; ".join(f.message for f in errors)


def deletion_blocked_status(
    previous: DynamoBackupRoleStatus,
    failure: Failure,
    retry_in: float,
    generation: int | None,
    now: datetime,
) -> DynamoBackupRoleStatus:
    """The status of an object whose role could not be deleted yet: the finalizer stays."""
    message = (
        f"deletion blocked by {failure.reason}: {failure.message}; retrying in {retry_in:.0f}s. "
        f"To release the object without deleting the role, annotate it "
        f"{ABANDON_ANNOTATION}=true"
    )
    row = transition(Cause.DELETION_BLOCKED)
    conditions = list(previous.conditions or [])
    for kind, state in (
        (ConditionType.READY, row.ready),
        (ConditionType.RECONCILING, row.reconciling),
        (ConditionType.STALLED, row.stalled),
    ):
        condition = Condition.make(
            kind.value,
            state,
            Cause.DELETION_BLOCKED.value,
            message,
            observed_generation=generation,
            now=now,
        )
        conditions = set_condition(conditions, condition)
    return DynamoBackupRoleStatus(conditions=conditions)
