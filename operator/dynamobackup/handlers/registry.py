"""The kopf registry: which handler runs for which cause. Decorators only; the work is elsewhere."""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import kopf

from dynamobackup.api.v1alpha1 import ACCOUNT, GROUP, PLURAL, VERSION
from dynamobackup.handlers import reconcile
from dynamobackup.handlers.runtime import FINALIZER, KOPF_ANNOTATION_PREFIX, Runtime
from dynamobackup.handlers.tenancy import binding_of
from dynamobackup.reconcile.tenancy import Binding

logger = logging.getLogger(__name__)

# Who `kubectl describe` and `kubectl events` say reported an Event (kopf's default is "kopf").
EVENT_COMPONENT = "dynamobackup-operator"


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A private registry gets no default login: use the kubernetes client (kubeconfig or in-cluster).
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_settings(settings)

    # kopf fills both indices before any handler runs, so no role is judged without its
    # account's bindings (a binding that was not seen yet would let a role through).
    @kopf.index(GROUP, VERSION, ACCOUNT.plural, id="account_bindings", registry=registry)
    def account_bindings(*, name: str, spec: kopf.Spec, **_: Any) -> dict[str, Binding]:
        binding = binding_of(name, dict(spec))
        return {binding.account_id: binding} if binding is not None else {}

    @kopf.index("", "v1", "namespaces", id="namespace_labels", registry=registry)
    def namespace_labels(*, name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
        return {name: dict(labels)}

    def on_change(*, body: kopf.Body, reason: str, **indices: Any) -> None:
        # on.update also fires when the reconcile-requested-at annotation changes.
        _contained(
            runtime,
            lambda: reconcile.reconcile_object(runtime, body, str(reason), *_tenancy(indices)),
        )

    for cause in (kopf.on.resume, kopf.on.create, kopf.on.update):
        cause(GROUP, VERSION, PLURAL, id=f"reconcile-{cause.__name__}", registry=registry)(
            on_change
        )

    @kopf.timer(
        GROUP, VERSION, PLURAL, interval=runtime.config.drift_tick_seconds, registry=registry
    )
    def on_timer(*, body: kopf.Body, **indices: Any) -> None:
        _contained(runtime, lambda: reconcile.check_drift(runtime, body, *_tenancy(indices)))

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def on_delete(*, body: kopf.Body, retry: int, **indices: Any) -> None:
        _contained(
            runtime, lambda: reconcile.delete_object(runtime, body, retry, *_tenancy(indices))
        )

    return registry


def _contained(runtime: Runtime, call: Callable[[], None]) -> None:
    """kopf stores the text of an exception that escapes a handler in an annotation on the
    object: only kopf's own errors, whose messages we wrote, may escape."""
    try:
        call()
    except (kopf.TemporaryError, kopf.PermanentError):
        raise
    except Exception as error:
        logger.exception("handler failed")  # the log is redacted; the annotation gets the class
        raise kopf.TemporaryError(
            f"unexpected {type(error).__name__}; see the operator's log",
            delay=runtime.config.retry_delay_seconds,
        ) from None


def _tenancy(indices: dict[str, Any]) -> tuple[Any, Any]:
    """The two indices kopf passes as keyword arguments named after their functions."""
    return indices["account_bindings"], indices["namespace_labels"]


def configure_settings(settings: kopf.OperatorSettings) -> None:
    """Our own annotation prefix and finalizer; no handler state in the status."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=KOPF_ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = DigestingDiffBaseStorage(
        prefix=KOPF_ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = EVENT_COMPONENT
    # The pod's name (its hostname in Kubernetes): which replica reported the Event.
    settings.posting.reporting_instance = socket.gethostname()
    settings.posting.event_name_prefix = f"{EVENT_COMPONENT}-"
    # Sync handlers call boto3; a pool sized for IAM's per-account rate limits, not for CPUs.
    settings.execution.max_workers = 8
    settings.watching.server_timeout = 300


# Spec fields whose values are secrets: kopf's copy of the last handled spec (an annotation) keeps
# a digest of them instead, which still changes when they change, so updates are still noticed.
SECRET_SPEC_FIELDS = (("account", "externalId"), ("trust", "externalId"))


class DigestingDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        essence = super().build(body=body, extra_fields=extra_fields)
        spec = essence.get("spec")
        for parent, name in SECRET_SPEC_FIELDS:
            section = spec.get(parent) if isinstance(spec, dict) else None
            if isinstance(section, dict) and isinstance(section.get(name), str):
                digest = hashlib.sha256(section[name].encode()).hexdigest()[:16]
                section[name] = f"sha256:{digest}"
        return essence
