"""Kubernetes Events: at most one per reconcile, as reconcile.event decides."""

from __future__ import annotations

import kopf

from dynamobackup.api.v1alpha1 import ConditionType, DynamoBackupRoleStatus, find_condition
from dynamobackup.reconcile.event import event_for
from dynamobackup.reconcile.outcome import Outcome


def post_outcome_events(
    body: kopf.Body, previous: DynamoBackupRoleStatus, outcome: Outcome
) -> None:
    ready = find_condition(previous.conditions or [], ConditionType.READY)
    note = event_for(outcome, ready.reason if ready else None, previous.compliant)
    if note is None:
        return
    post = kopf.warn if note.warning else kopf.info
    post(body, reason=note.reason, message=note.message)
