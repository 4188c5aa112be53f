"""Kubernetes Events: one per change made in AWS, and one per transition of compliance."""

from __future__ import annotations

import kopf

from dynamobackup.api.v1alpha1 import ConditionType, DynamoBackupRoleStatus, find_condition
from dynamobackup.reconcile.outcome import Outcome


def post_outcome_events(
    body: kopf.Body, previous: DynamoBackupRoleStatus, outcome: Outcome
) -> None:
    for change in outcome.applied:
        kopf.info(body, reason=change.operation, message=change.summary)
    previous_ready = find_condition(previous.conditions or [], ConditionType.READY)
    previous_reason = previous_ready.reason if previous_ready else None
    # One Warning per new failure reason, not one per drift check that meets it again.
    if outcome.failure is not None and outcome.failure.reason != previous_reason:
        kopf.warn(body, reason=outcome.failure.reason, message=outcome.failure.message)
    _post_compliance_transition(body, previous.compliant, outcome)


def _post_compliance_transition(body: kopf.Body, before: bool | None, outcome: Outcome) -> None:
    after = outcome.compliant
    if after is None or after == before:
        return
    if after:
        kopf.info(body, reason="Compliant", message="the role is compliant with the spec")
        return
    report = outcome.report
    assert report is not None
    p = report.permissions
    details = [
        f"{len(p.missing)} missing",
        f"{len(p.denied)} denied",
        f"{len(p.conditional)} conditional",
        f"{sum(f.severity == 'error' for f in report.trust.findings)} trust errors",
    ]
    kopf.warn(
        body, reason="NotCompliant", message="the role drifted from the spec: " + ", ".join(details)
    )
