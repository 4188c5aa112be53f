"""One active writer: a coordination.k8s.io Lease held before kopf starts handling anything.

kopf's peering is no leader election (it pauses operators of equal priority only after it saw
them work), so replicas elect a leader the way Kubernetes' own controllers do (client-go's
leaderelection): the holder renews the Lease every `renew` seconds; a candidate takes it over once
it has seen the same record, unrenewed, for `duration` seconds by its own clock (no clock skew
between pods matters). A holder that could not renew for `deadline` seconds (< duration) exits at
once, before any candidate may take over, so two processes never write at the same time. A holder
that stops normally releases the Lease, so a rolling update hands over without waiting.

Costs: one PUT per `renew` seconds while leading (a GET only after a conflict), one GET per
`retry` seconds while standing by; one thread; no state beyond the last record seen.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dynamobackup.handlers.kube import REQUEST_TIMEOUT_SECONDS

logger = logging.getLogger(__name__)

LOST_LEASE_EXIT_CODE = 3


@dataclass(frozen=True)
class LeaseTiming:
    duration: float = 15.0
    deadline: float = 10.0
    renew: float = 3.0
    retry: float = 2.0


@dataclass(frozen=True)
class Observed:
    """A Lease as last read: who held it, and when this process saw its record change."""

    holder: str | None
    renew_time: str | None
    resource_version: str | None
    seen_at: float
    transitions: int = 0
    acquired: datetime | None = None


def may_acquire(observed: Observed | None, identity: str, duration: float, now: float) -> bool:
    """Whether `identity` may write itself into the Lease (pure: all times are monotonic)."""
    if observed is None or observed.holder in (None, "", identity):
        return True
    return now - observed.seen_at >= duration


class LeaderElection:
    def __init__(
        self,
        api: client.CoordinationV1Api,
        namespace: str,
        name: str,
        identity: str,
        *,
        timing: LeaseTiming = LeaseTiming(),
        on_lost: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api, self.namespace, self.name, self.identity = api, namespace, name, identity
        self.timing = timing
        self.on_lost = on_lost or _exit_now
        self.clock = clock
        self._observed: Observed | None = None
        self._last_renewal = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------------------

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Blocks until this process holds the Lease (True), or `stop` is set (False)."""
        logger.info(
            "waiting for leadership of Lease %s/%s as %s", self.namespace, self.name, self.identity
        )
        while not (stop and stop.is_set()):
            if self._try_acquire():
                logger.info("became the leader (Lease %s/%s)", self.namespace, self.name)
                return True
            (stop or self._stop).wait(self.timing.retry)
        return False

    def keep_renewing(self) -> None:
        """Renews in a background thread; calls `on_lost` once renewal failed past the deadline."""
        self._thread = threading.Thread(target=self._renew_loop, name="lease-renewal", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stops renewing and hands the Lease over at once (a normal shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timing.retry + REQUEST_TIMEOUT_SECONDS)
        observed = self._observed
        if observed is None or observed.holder != self.identity:
            return
        try:
            self._write(None, observed.resource_version)
            logger.info("released the Lease %s/%s", self.namespace, self.name)
        except Exception as error:
            logger.warning("could not release the Lease: %s", _describe(error))

    # -- steps ----------------------------------------------------------------------------------

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.timing.renew):
            if self._try_renew():
                continue
            taken = self._observed is not None and self._observed.holder != self.identity
            if taken or self.clock() - self._last_renewal >= self.timing.deadline:
                logger.error(
                    "lost the Lease %s/%s (%s): stopping all writes",
                    self.namespace,
                    self.name,
                    "another process holds it" if taken else "not renewed in time",
                )
                self.on_lost()
                return

    def _try_renew(self) -> bool:
        observed = self._observed
        try:
            if observed is not None and observed.holder == self.identity:
                self._write(self.identity, observed.resource_version)
                return True
        except ApiException as error:
            if error.status != 409:
                logger.warning("Lease renewal failed: %s", error.status)
                return False
        except Exception as error:  # the API server is unreachable
            logger.warning("Lease renewal failed: %s", type(error).__name__)
            return False
        # A conflict: read the Lease again; still ours only if nobody else wrote it.
        return self._try_acquire(renewing=True)

    def _try_acquire(self, renewing: bool = False) -> bool:
        lease = self._read()
        if lease is None:
            return False
        if lease is _ABSENT:
            return not renewing and self._create()
        self._observe(lease)
        observed = self._observed
        assert observed is not None
        if renewing and observed.holder != self.identity:
            return False
        if not may_acquire(observed, self.identity, self.timing.duration, self.clock()):
            return False
        try:
            self._write(self.identity, observed.resource_version, transitions=1)
            return True
        except Exception as error:  # 409: another candidate was faster; else unreachable
            logger.debug("taking the Lease failed: %s", _describe(error))
            return False

    def _read(self) -> Any:
        """The Lease, _ABSENT when there is none, None when it could not be read."""
        try:
            return self.api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except Exception as error:
            if isinstance(error, ApiException) and error.status == 404:
                return _ABSENT
            logger.warning("reading the Lease failed: %s", _describe(error))
            return None

    def _observe(self, lease: Any) -> None:
        spec = lease.spec
        renew = spec.renew_time.isoformat() if spec and spec.renew_time else None
        holder = spec.holder_identity if spec else None
        previous = self._observed
        changed = previous is None or (previous.holder, previous.renew_time) != (holder, renew)
        seen_at = self.clock() if changed or previous is None else previous.seen_at
        self._observed = Observed(
            holder,
            renew,
            lease.metadata.resource_version,
            seen_at,
            (spec.lease_transitions or 0) if spec else 0,
            spec.acquire_time if spec else None,
        )

    def _create(self) -> bool:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=self._spec(self.identity, 0, None),
        )
        try:
            lease = self.api.create_namespaced_lease(
                self.namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except Exception as error:
            logger.warning("creating the Lease failed: %s", _describe(error))
            return False
        self._accept(lease)
        return True

    def _write(
        self, holder: str | None, resource_version: str | None, transitions: int = 0
    ) -> None:
        """Replaces the Lease; `transitions` is 1 when the holder changes to this process."""
        observed = self._observed
        count = (observed.transitions if observed else 0) + transitions
        acquired = None if transitions or observed is None else observed.acquired
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=self.name, namespace=self.namespace, resource_version=resource_version
            ),
            spec=self._spec(holder, count, acquired),
        )
        written = self.api.replace_namespaced_lease(
            self.name, self.namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
        self._accept(written)

    def _accept(self, lease: Any) -> None:
        self._observe(lease)
        if lease.spec and lease.spec.holder_identity == self.identity:
            self._last_renewal = self.clock()

    def _spec(
        self, holder: str | None, transitions: int, acquired: datetime | None
    ) -> client.V1LeaseSpec:
        now = datetime.now(UTC)
        return client.V1LeaseSpec(
            holder_identity=holder,
            lease_duration_seconds=int(self.timing.duration),
            acquire_time=acquired or now,
            renew_time=now if holder else None,
            lease_transitions=transitions,
        )


_ABSENT = object()


def _describe(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return type(error).__name__


def _exit_now() -> None:
    # Not sys.exit: no cleanup, no finalizers, no last write; the pod restarts as a candidate.
    logging.shutdown()
    os._exit(LOST_LEASE_EXIT_CODE)


def default_identity() -> str:
    """The pod's name in a cluster (the Downward API's POD_NAME), else host and process id."""
    return os.environ.get("POD_NAME") or f"{os.uname().nodename}-{os.getpid()}"
