"""Kopf glue for DynamoBackupRole objects: one check (converge or audit) or deletion, in status,
Events, metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from dynamobackup.api.v1alpha1 import (
    ApiError,
    ConditionType,
    DynamoBackupRoleSpec,
    DynamoBackupRoleStatus,
    find_condition,
)
from dynamobackup.api.v1alpha1.lifecycle import ABANDON_ANNOTATION, Cause
from dynamobackup.aws.account import AccountSnapshot
from dynamobackup.handlers.events import post_outcome_events
from dynamobackup.handlers.kube import StatusNotWritten
from dynamobackup.handlers.runtime import Runtime
from dynamobackup.handlers.tenancy import grant_for
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.ownership import Owner
from dynamobackup.reconcile.schedule import (
    drift_check_due,
    latest_check,
    retry_backoff,
    stable_fraction,
)
from dynamobackup.reconcile.status import build_status, deletion_blocked_status
from dynamobackup.reconcile.tenancy import Grant

logger = logging.getLogger(__name__)


Index = Mapping[str, Any]


def converge_object(
    runtime: Runtime,
    body: kopf.Body,
    trigger: str,
    bindings: Index,
    namespaces: Index,
    *,
    snapshot: AccountSnapshot | None = None,
) -> None:
    with runtime.lock_for(body.meta.uid):
        _converge_locked(runtime, body, trigger, bindings, namespaces, snapshot=snapshot)


def _being_deleted(runtime: Runtime, body: kopf.Body) -> bool:
    """The deletion owns the object now: a check would recreate what it removes."""
    return bool(body.meta.get("deletionTimestamp")) or runtime.is_deleting(body.meta.uid)


def check_drift(
    runtime: Runtime,
    body: kopf.Body,
    bindings: Index,
    namespaces: Index,
    snapshot: AccountSnapshot | None = None,
) -> None:
    """The per-object timer: re-check once driftCheckInterval has passed since the last check."""
    if not drift_check_is_due(runtime, body):
        return
    lock = runtime.lock_for(body.meta.uid)
    if not lock.acquire(blocking=False):
        return  # a change handler is reconciling this object right now
    try:
        _converge_locked(runtime, body, "timer", bindings, namespaces, snapshot=snapshot)
    except kopf.TemporaryError as error:
        # The next tick retries: the check is still due, as nothing remembered it.
        logger.warning("drift check of %s/%s: %s", body.meta.namespace, body.meta.name, error)
    finally:
        lock.release()


def delete_object(
    runtime: Runtime, body: kopf.Body, retry: int, bindings: Index, namespaces: Index
) -> None:
    """Never gives up: the finalizer stays until the role is gone, or a person opts out."""
    namespace, name = body.meta.namespace or "", body.meta.name or ""
    spec = _parse_spec(body)
    if spec is None:
        runtime.forget(body.meta.uid, namespace, name)
        return
    previous = DynamoBackupRoleStatus.parse(body.get("status"))
    if _abandon_requested(body):
        kopf.warn(
            body,
            reason="DeletionAbandoned",
            message=f"{ABANDON_ANNOTATION}=true: the IAM role {spec.role_name} is left in place",
        )
        runtime.metrics.deletions_abandoned.labels("AbandonRequested").inc()
        runtime.forget(body.meta.uid, namespace, name)
        return
    granted = _grant(runtime, body, spec, bindings, namespaces)
    if isinstance(granted, Failure) and not granted.retryable:
        # The namespace may no longer act in that account: nothing is done there on its behalf.
        kopf.warn(
            body,
            reason="DeletionAbandoned",
            message=f"IAM role {spec.role_name} left in place: {granted.reason}: {granted.message}",
        )
        runtime.metrics.deletions_abandoned.labels(granted.reason).inc()
        runtime.forget(body.meta.uid, namespace, name)
        return
    owner = Owner(namespace, name)
    runtime.begin_deletion(body.meta.uid)
    # Waits for a check already under way: it started before the deletion and may still write.
    with runtime.lock_for(body.meta.uid):
        outcome = (
            Outcome(checked_at=datetime.now(UTC), failure=granted)
            if isinstance(granted, Failure)
            else runtime.manager.delete(spec, owner, granted)
        )
    failure = outcome.failure
    if failure is None or failure.reason in ("RoleNotOwned", "RoleOwnedByAnotherResource"):
        post_outcome_events(body, previous, outcome)
        runtime.forget(body.meta.uid, namespace, name)
        return
    delay = retry_backoff(
        retry, runtime.config.retry_delay_seconds, runtime.config.max_retry_delay_seconds
    )
    for change in outcome.applied:
        kopf.info(body, reason=change.operation, message=change.summary)
    if not _already_reported(previous, failure):
        kopf.warn(body, reason="DeletionBlocked", message=f"{failure.reason}: {failure.message}")
    status = deletion_blocked_status(
        previous, failure, delay, body.meta.get("generation"), datetime.now(UTC)
    )
    _write_status(runtime, body, status)
    runtime.metrics.deletion_blocked.labels(namespace, name).set(1)
    raise kopf.TemporaryError(f"deletion blocked by {failure.reason}", delay=delay)


def _abandon_requested(body: kopf.Body) -> bool:
    return str(body.meta.annotations.get(ABANDON_ANNOTATION, "")).lower() == "true"


def _already_reported(previous: DynamoBackupRoleStatus, failure: Failure) -> bool:
    """One DeletionBlocked Warning per cause, not one per retry."""
    ready = find_condition(previous.conditions or [], ConditionType.READY)
    if ready is None or ready.reason != Cause.DELETION_BLOCKED.value:
        return False
    return (ready.message or "").startswith(f"deletion blocked by {failure.reason}:")


def account_key(body: kopf.Body) -> str | None:
    """Objects with the same key reach IAM the same way and can share one account-wide read."""
    account = (body.get("spec") or {}).get("account")
    if not isinstance(account, Mapping):
        return None
    return f"{body.meta.namespace}/{json.dumps(dict(account), sort_keys=True)}"


def read_account(
    runtime: Runtime, body: kopf.Body, bindings: Index, namespaces: Index
) -> AccountSnapshot | None:
    """The account of `body` read at once, for a batch of re-checks; None if it cannot be."""
    try:
        spec = DynamoBackupRoleSpec.parse(body.get("spec") or {})
    except ApiError:
        return None
    granted = _grant(runtime, body, spec, bindings, namespaces)
    return None if isinstance(granted, Failure) else runtime.manager.observe_account(spec, granted)


def _converge_locked(
    runtime: Runtime,
    body: kopf.Body,
    trigger: str,
    bindings: Index,
    namespaces: Index,
    *,
    snapshot: AccountSnapshot | None = None,
) -> None:
    if _being_deleted(runtime, body):
        return
    started = time.monotonic()
    previous = DynamoBackupRoleStatus.parse(body.get("status"))
    spec = _parse_spec(body)
    granted: Grant | Failure = Failure(
        "InvalidSpec", "the spec does not satisfy the DynamoBackupRole API"
    )
    if spec is not None:
        granted = _grant(runtime, body, spec, bindings, namespaces)
    if spec is None or isinstance(granted, Failure):
        # Refused (or a Secret unreadable) before any AWS call: nothing is read or written there.
        assert isinstance(granted, Failure)
        outcome = Outcome(checked_at=datetime.now(UTC), failure=granted)
    else:
        owner = Owner(body.meta.namespace or "", body.meta.name or "")
        managed_tags = previous.managed_tags or ()
        outcome = runtime.manager.converge(spec, owner, granted, snapshot, managed_tags)
    status = build_status(previous, outcome, body.meta.get("generation"))
    _write_status(runtime, body, status)
    runtime.remember_check(body.meta.uid, outcome.checked_at, body.meta.get("generation"))
    post_outcome_events(body, previous, outcome)
    _record_metrics(runtime, body, spec, outcome, trigger=trigger, started=started)
    if outcome.failure is not None and outcome.failure.retryable:
        raise kopf.TemporaryError(outcome.failure.message, delay=runtime.config.retry_delay_seconds)


def _grant(
    runtime: Runtime,
    body: kopf.Body,
    spec: DynamoBackupRoleSpec,
    bindings: Index,
    namespaces: Index,
) -> Grant | Failure:
    config = runtime.config
    return grant_for(
        spec,
        body.meta.namespace or "",
        bindings,
        namespaces,
        settings=config.tenancy,
        secrets=runtime.secrets,
    )


def _write_status(runtime: Runtime, body: kopf.Body, status: DynamoBackupRoleStatus) -> None:
    """A reconcile whose status did not land is not done: kopf retries the handler."""
    try:
        runtime.status_writer.write(
            body.meta.namespace or "", body.meta.name or "", status.to_patch()
        )
    except StatusNotWritten as error:
        raise kopf.TemporaryError(
            f"the status could not be written: {error}", delay=runtime.config.retry_delay_seconds
        ) from None


def _parse_spec(body: kopf.Body) -> DynamoBackupRoleSpec | None:
    try:
        return DynamoBackupRoleSpec.parse(body.get("spec") or {})
    except ApiError as error:
        # The API server validates the same rules; this only happens with a stale or older CRD.
        kopf.warn(body, reason="InvalidSpec", message=str(error))
        return None


def drift_check_is_due(runtime: Runtime, body: kopf.Body, early: float = 0.0) -> bool:
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
    jitter = stable_fraction(account_key(body) or "")
    generation = body.meta.get("generation")
    return drift_check_due(last, generation, period, datetime.now(UTC), jitter, early=early)


def _record_metrics(
    runtime: Runtime,
    body: kopf.Body,
    spec: DynamoBackupRoleSpec | None,
    outcome: Outcome,
    *,
    trigger: str,
    started: float,
) -> None:
    mode = str(outcome.desired.mode) if outcome.desired is not None else "unknown"
    runtime.metrics.reconcile_seconds.labels(trigger, mode).observe(time.monotonic() - started)
    result = "failed" if outcome.failure else ("ready" if outcome.ready else "not_compliant")
    runtime.metrics.reconciles.labels(trigger, result).inc()
    namespace, name = body.meta.namespace or "", body.meta.name or ""
    runtime.record_compliance(body.meta.uid, namespace, outcome.compliant)
    if spec is not None:
        period = spec.drift_check_period.total_seconds()
        runtime.metrics.drift_check_interval.labels(namespace, name).set(period)
    if outcome.report is not None:
        runtime.metrics.last_successful_check.labels(namespace, name).set(
            outcome.checked_at.timestamp()
        )
        lacking = (*outcome.report.permissions.missing, *outcome.report.permissions.denied)
        runtime.record_missing(body.meta.uid, namespace, lacking)
