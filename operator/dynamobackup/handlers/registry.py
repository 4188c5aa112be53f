"""The kopf registry: which handler runs for which cause. Decorators only; the work is elsewhere."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup.handlers import reconcile
from dynamobackup.handlers.runtime import FINALIZER, KOPF_ANNOTATION_PREFIX, Runtime


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A private registry gets no default login: use the kubernetes client (kubeconfig or in-cluster).
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_settings(settings)

    def on_change(body: kopf.Body, reason: str, **_: Any) -> None:
        # on.update also fires when the reconcile-requested-at annotation changes.
        reconcile.reconcile_object(runtime, body, trigger=str(reason))

    for cause in (kopf.on.resume, kopf.on.create, kopf.on.update):
        cause(GROUP, VERSION, PLURAL, id=f"reconcile-{cause.__name__}", registry=registry)(
            on_change
        )

    @kopf.timer(
        GROUP, VERSION, PLURAL, interval=runtime.config.drift_tick_seconds, registry=registry
    )
    def on_timer(body: kopf.Body, **_: Any) -> None:
        reconcile.check_drift(runtime, body)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def on_delete(body: kopf.Body, retry: int, **_: Any) -> None:
        reconcile.delete_object(runtime, body, retry)

    return registry


def configure_settings(settings: kopf.OperatorSettings) -> None:
    """Our own annotation prefix and finalizer; no handler state in the status."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=KOPF_ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    # Sync handlers call boto3; a pool sized for IAM's per-account rate limits, not for CPUs.
    settings.execution.max_workers = 8
    settings.watching.server_timeout = 300
