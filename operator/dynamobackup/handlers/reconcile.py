"""Handler bodies: one reconcile or deletion of an object, reported in status, Events and metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import kopf

from dynamobackup import metrics
from dynamobackup.api.v1alpha1 import ApiError, DynamoBackupRoleSpec, DynamoBackupRoleStatus
from dynamobackup.handlers.events import post_outcome_events
from dynamobackup.handlers.runtime import Runtime
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.ownership import Owner
from dynamobackup.reconcile.schedule import drift_check_due, latest_check
from dynamobackup.reconcile.status import build_status


def reconcile_object(runtime: Runtime, body: kopf.Body, patch: kopf.Patch, trigger: str) -> None:
    with runtime.lock_for(body.meta.uid):
        _reconcile_locked(runtime, body, patch, trigger)


def check_drift(runtime: Runtime, body: kopf.Body, patch: kopf.Patch) -> None:
    """The per-object timer: re-check once driftCheckInterval has passed since the last check."""
    if not _drift_check_due(runtime, body):
        return
    lock = runtime.lock_for(body.meta.uid)
    if not lock.acquire(blocking=False):
        return  # a change handler is reconciling this object right now
    try:
        _reconcile_locked(runtime, body, patch, "timer")
    finally:
        lock.release()


def delete_object(runtime: Runtime, body: kopf.Body, retry: int) -> None:
    spec = _parse_spec(body)
    if spec is None:
        return
    outcome = runtime.manager.delete(spec, Owner(body.meta.namespace or "", body.meta.name or ""))
    post_outcome_events(body, DynamoBackupRoleStatus.parse(body.get("status")), outcome)
    runtime.forget(body.meta.uid)
    failure = outcome.failure
    if failure is None or failure.reason == "RoleNotOwned":
        return
    # Keep the finalizer while there is hope (AWS hiccups, a permission being fixed); give up later.
    if retry < 5:
        raise kopf.TemporaryError(failure.message, delay=runtime.config.retry_delay_seconds)
    kopf.warn(
        body, reason="DeletionAbandoned", message=f"IAM role left in place: {failure.message}"
    )


def _reconcile_locked(runtime: Runtime, body: kopf.Body, patch: kopf.Patch, trigger: str) -> None:
    started = time.monotonic()
    previous = DynamoBackupRoleStatus.parse(body.get("status"))
    spec = _parse_spec(body)
    if spec is None:
        failure = Failure("InvalidSpec", "the spec does not satisfy the DynamoBackupRole API")
        outcome = Outcome(checked_at=datetime.now(UTC), failure=failure)
    else:
        outcome = runtime.manager.reconcile(
            spec, Owner(body.meta.namespace or "", body.meta.name or "")
        )
    status = build_status(previous, outcome, body.meta.get("generation"))
    runtime.remember_check(body.meta.uid, outcome.checked_at, body.meta.get("generation"))
    patch["status"] = status.to_patch()
    post_outcome_events(body, previous, outcome)
    _record_metrics(runtime, body, outcome, trigger, started)
    if outcome.failure is not None and outcome.failure.retryable:
        raise kopf.TemporaryError(outcome.failure.message, delay=runtime.config.retry_delay_seconds)


def _parse_spec(body: kopf.Body) -> DynamoBackupRoleSpec | None:
    try:
        return DynamoBackupRoleSpec.parse(body.get("spec") or {})
    except ApiError as error:
        # The API server validates the same rules; this only happens with a stale or older CRD.
        kopf.warn(body, reason="InvalidSpec", message=str(error))
        return None


def _drift_check_due(runtime: Runtime, body: kopf.Body) -> bool:
    status = DynamoBackupRoleStatus.parse(body.get("status"))
    from_status = (
        (status.last_checked_time, status.observed_generation) if status.last_checked_time else None
    )
    # Our memory is never older than our last patch; the body the timer sees may be.
    last = latest_check((from_status, runtime.last_check(body.meta.uid)))
    try:
        period = DynamoBackupRoleSpec.parse(body.get("spec") or {}).drift_check_period
    except ApiError:
        return False
    return drift_check_due(last, body.meta.get("generation"), period, datetime.now(UTC))


def _record_metrics(
    runtime: Runtime, body: kopf.Body, outcome: Outcome, trigger: str, started: float
) -> None:
    mode = str(outcome.desired.mode) if outcome.desired is not None else "unknown"
    metrics.RECONCILE_SECONDS.labels(trigger, mode).observe(time.monotonic() - started)
    result = "failed" if outcome.failure else ("ready" if outcome.ready else "not_compliant")
    metrics.RECONCILE_TOTAL.labels(trigger, result).inc()
    namespace, name = body.meta.namespace or "", body.meta.name or ""
    runtime.record_compliance(body.meta.uid, namespace, outcome.compliant)
    if outcome.report is not None:
        metrics.LAST_SUCCESSFUL_CHECK.labels(namespace, name).set(outcome.checked_at.timestamp())
