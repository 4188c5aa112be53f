"""The kopf registry: which handler runs for which cause. Decorators only; the work is elsewhere."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import kopf

from dynamobackup.api.v1alpha1 import ACCOUNT, GROUP, ORGANIZATION, PLURAL, ROLE_SET, VERSION
from dynamobackup.handlers import roles
from dynamobackup.handlers.discovery import Discovery
from dynamobackup.handlers.roleset import RoleSets, child_of
from dynamobackup.handlers.runtime import FINALIZER, KOPF_ANNOTATION_PREFIX, Runtime
from dynamobackup.handlers.sweep import DriftSweeper
from dynamobackup.handlers.tenancy import binding_of
from dynamobackup.reconcile.roleset import Child
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
    def account_bindings(
        *, name: str, spec: kopf.Spec, labels: kopf.Labels, **_: Any
    ) -> dict[str, Binding]:
        binding = binding_of(name, dict(spec), dict(labels))
        return {binding.account_id: binding} if binding is not None else {}

    @kopf.index("", "v1", "namespaces", id="namespace_labels", registry=registry)
    def namespace_labels(*, name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
        return {name: dict(labels)}

    def owned(body: kopf.Body, **_: Any) -> bool:
        """This process's share of the objects (all of them unless sharded)."""
        return runtime.config.shard.owns(body.meta.namespace or "", body.meta.name or "")

    def owned_and_deleting_the_role(**kwargs: Any) -> bool:
        return owned(**kwargs) and deletes_the_role(**kwargs)

    @kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile-create", registry=registry, when=owned)
    async def on_create(*, body: kopf.Body, reason: str, **indices: Any) -> None:
        # A new role is read on its own: its pre-read is one GetRole, cheaper than the account.
        bindings, namespaces = _tenancy(indices)
        await runtime.batches.run(
            roles.account_key(body),
            lambda: _contained(
                runtime,
                lambda: roles.converge_object(runtime, body, str(reason), bindings, namespaces),
            ),
        )

    async def on_recheck(*, body: kopf.Body, reason: str, **indices: Any) -> None:
        # on.update also fires when the reconcile-requested-at annotation changes; after a
        # restart every object resumes at once: both share account-wide reads.
        bindings, namespaces = _tenancy(indices)
        await runtime.batches.check(
            roles.account_key(body),
            lambda: roles.read_account(runtime, body, bindings, namespaces),
            lambda snapshot: _contained(
                runtime,
                lambda: roles.converge_object(
                    runtime, body, str(reason), bindings, namespaces, snapshot=snapshot
                ),
            ),
            linger=runtime.config.batch_linger_seconds,
        )

    for cause in (kopf.on.resume, kopf.on.update):
        cause(
            GROUP, VERSION, PLURAL, id=f"reconcile-{cause.__name__}", registry=registry, when=owned
        )(on_recheck)

    sweeper = DriftSweeper(runtime)
    stopped = asyncio.Event()

    @kopf.on.event(GROUP, VERSION, PLURAL, id="follow", registry=registry, when=owned)
    async def on_event(*, type: str | None, body: kopf.Body, **indices: Any) -> None:
        sweeper.observe(type, body, *_tenancy(indices))

    @kopf.on.startup(registry=registry)
    async def start_sweeping(**_: Any) -> None:
        # Drift checks: one loop for all objects instead of a kopf timer per object.
        runtime.sweep_task = asyncio.ensure_future(sweeper.run(stopped))

    @kopf.on.cleanup(registry=registry)
    async def stop_sweeping(**_: Any) -> None:
        stopped.set()

    # Only an object whose deletion deletes the role gets the finalizer: the others cost no
    # finalizer PATCH on creation and are forgotten when their deletion is seen (on_event).
    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, when=owned_and_deleting_the_role)
    def on_delete(*, body: kopf.Body, retry: int, **indices: Any) -> None:
        _contained(runtime, lambda: roles.delete_object(runtime, body, retry, *_tenancy(indices)))

    _register_role_sets(registry, runtime)
    if runtime.config.discover_organizations:
        _register_discovery(registry, runtime)
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


def _shard_owns(runtime: Runtime) -> Any:
    """A `when=` filter: this process's share of sets and organisations, like of roles (the
    children of a set are roles of their own and go to whichever shard owns each)."""

    def owned(body: kopf.Body, **_: Any) -> bool:
        return runtime.config.shard.owns(body.meta.namespace or "", body.meta.name or "")

    return owned


def _register_discovery(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    discovery = Discovery(runtime)
    owned = _shard_owns(runtime)

    def now(*, body: kopf.Body, **_: Any) -> None:
        # Created, changed, or annotated with reconcile-requested-at: read the organisation now.
        _contained(runtime, lambda: discovery.discover(body))

    for cause in (kopf.on.create, kopf.on.update):
        cause(
            GROUP,
            VERSION,
            ORGANIZATION.plural,
            id=f"discover-{cause.__name__}",
            registry=registry,
            when=owned,
        )(now)

    @kopf.timer(
        GROUP,
        VERSION,
        ORGANIZATION.plural,
        id="discover-when-due",
        interval=runtime.config.drift_tick_seconds,
        registry=registry,
        when=owned,
    )
    def when_due(*, body: kopf.Body, **_: Any) -> None:
        _contained(runtime, lambda: discovery.on_tick(body))


def _register_role_sets(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    sets = RoleSets()
    owned = _shard_owns(runtime)

    @kopf.index(GROUP, VERSION, PLURAL, id="role_set_children", registry=registry)
    def role_set_children(*, body: kopf.Body, **_: Any) -> dict[str, Child] | None:
        return child_of(body)

    def on_set(*, body: kopf.Body, **indices: Any) -> None:
        children = indices["role_set_children"]
        _contained(runtime, lambda: sets.converge(body, *_tenancy(indices), children))

    for cause in (kopf.on.resume, kopf.on.create, kopf.on.update):
        cause(
            GROUP,
            VERSION,
            ROLE_SET.plural,
            id=f"role-set-{cause.__name__}",
            registry=registry,
            when=owned,
        )(on_set)
    # Level-based: bindings, namespace labels and the children's statuses change without the
    # set changing; each tick recomputes from the in-memory indices and writes only what differs.
    kopf.timer(
        GROUP,
        VERSION,
        ROLE_SET.plural,
        id="role-set-resync",
        interval=runtime.config.role_set_resync_seconds,
        registry=registry,
        when=owned,
    )(on_set)


def _tenancy(indices: dict[str, Any]) -> tuple[Any, Any]:
    """The two indices kopf passes as keyword arguments named after their functions."""
    return indices["account_bindings"], indices["namespace_labels"]


def deletes_the_role(spec: kopf.Spec, **_: Any) -> bool:
    """deletionPolicy Delete in Enforce mode: the only case where deletion waits for AWS."""
    return spec.get("deletionPolicy") == "Delete" and spec.get("mode", "Enforce") == "Enforce"


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
