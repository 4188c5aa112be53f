"""Turn an Outcome into the DynamoBackupRole status, following Kubernetes condition conventions."""

from __future__ import annotations

from dynamobackup.api.v1alpha1 import (
    Condition,
    ConditionStatus,
    ConditionType,
    DynamoBackupRoleStatus,
    Mode,
    ProfileStatus,
    TrustFinding,
    set_condition,
)
from dynamobackup.reconcile.compliance import ComplianceReport, is_own_managed_policy
from dynamobackup.reconcile.outcome import Outcome


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
        last_checked_time=outcome.checked_at.replace(microsecond=0),
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
        TrustFinding(code=f.code.value, message=f.message, severity=f.severity)
        for f in report.trust.findings
    ]
    status.foreign_policies = list(report.foreign_policies)
    status.drifted_settings = list(report.drifted_settings)


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

    report = outcome.report
    ready_reason = _ready_reason(outcome)
    conditions = [
        make(ConditionType.READY, outcome.ready, *ready_reason),
        make(ConditionType.RECONCILING, *_reconciling(outcome)),
        make(ConditionType.STALLED, *_stalled(outcome, ready_reason)),
    ]
    if report is None:
        unknown = ConditionStatus.UNKNOWN
        why = outcome.failure.message if outcome.failure else "not checked yet"
        for kind in (
            ConditionType.COMPLIANT,
            ConditionType.PERMISSIONS_COMPLIANT,
            ConditionType.TRUST_COMPLIANT,
        ):
            conditions.append(make(kind, unknown, "NotChecked", why))
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


def _reconciling(outcome: Outcome) -> tuple[bool, str, str]:
    """kstatus InProgress: a transient failure that the operator retries on its own."""
    failure = outcome.failure
    if failure is not None and failure.retryable:
        return True, failure.reason, f"retrying: {failure.message}"
    return False, "ReconcileFinished", "the last reconcile finished"


def _stalled(outcome: Outcome, ready_reason: tuple[str, str]) -> tuple[bool, str, str]:
    """kstatus Failed: not Ready, and waiting will not change that without someone acting."""
    retrying = outcome.failure is not None and outcome.failure.retryable
    if outcome.ready or retrying:
        return False, "NotStalled", "nothing blocks the role"
    return True, *ready_reason


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
