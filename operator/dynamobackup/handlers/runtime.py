"""What the handlers share for the life of the operator: configuration, the manager, locks."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dynamobackup.api.v1alpha1 import GROUP
from dynamobackup.aws.manager import RoleManager
from dynamobackup.aws.session import AwsSettings, SessionProvider
from dynamobackup.handlers.batch import AccountBatches
from dynamobackup.handlers.kube import StatusWriter
from dynamobackup.handlers.tenancy import SecretReader
from dynamobackup.metrics import Metrics
from dynamobackup.reconcile.shard import Shard
from dynamobackup.reconcile.tenancy import TenancySettings

# kopf's bookkeeping gets a prefix of its own: kopf hides every annotation under its storage
# prefix from change detection, and RECONCILE_REQUEST_ANNOTATION (api.v1alpha1.lifecycle) must
# stay visible.
KOPF_ANNOTATION_PREFIX = f"operator.{GROUP}"
FINALIZER = f"{GROUP}/finalizer"


DELETIONS_REMEMBERED = 10_000


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()
    aws: AwsSettings = field(default_factory=AwsSettings)
    # How often each object's timer wakes to see whether its driftCheckInterval has elapsed.
    drift_tick_seconds: float = 10.0
    retry_delay_seconds: float = 30.0
    # The cap of the exponential backoff of deletions blocked by AWS.
    max_retry_delay_seconds: float = 300.0
    # How long an on-demand or resumed re-check waits for others of its account to share a read.
    batch_linger_seconds: float = 1.0
    # Worker threads for AWS and status I/O: sized for IAM's per-account rate limits, not CPUs.
    workers: int = 8
    # How many of them one account may hold: a throttled account never starves the others.
    account_concurrency: int = 4
    # The objects this process owns when several share the fleet (reconcile/shard.py).
    shard: Shard = field(default_factory=Shard)
    health_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    metrics_port: int | None = 9090
    tenancy: TenancySettings = field(default_factory=TenancySettings)
    # The only Secret names external IDs are read from (empty: any name RBAC lets it read).
    external_id_secret_names: tuple[str, ...] = ()
    # How often each DynamoBackupRoleSet is recomputed from the in-memory indices.
    role_set_resync_seconds: float = 10.0
    # Whether this operator reads AWS Organizations for DynamoBackupOrganization objects.
    discover_organizations: bool = True


class Runtime:
    def __init__(
        self,
        config: OperatorConfig,
        manager: RoleManager | None = None,
        status_writer: StatusWriter | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        # One set of metrics for the handlers and the aws layer: `metrics` (the exported ones in
        # production), else a given manager's, else metrics no endpoint serves.
        self.metrics = metrics or (manager.metrics if manager else Metrics.unexported())
        self.manager = manager or RoleManager(
            SessionProvider(config.aws, metrics=self.metrics), metrics=self.metrics
        )
        self.status_writer = status_writer or StatusWriter()
        self.secrets = SecretReader(config.external_id_secret_names)
        self.executor = ThreadPoolExecutor(config.workers, thread_name_prefix="converge")
        self.batches = AccountBatches(self.executor, per_account=config.account_concurrency)
        self.sweep_task: Any = None  # the drift sweeper's task, once kopf started it
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._compliance: dict[str, tuple[str, str]] = {}
        self._missing: dict[str, tuple[str, frozenset[str]]] = {}
        self._namespaces: set[str] = set()
        self._missing_counts: Counter[tuple[str, str]] = Counter()
        # The timer may see a body older than our last status patch; this memory is never stale.
        self._last_checked: dict[str, tuple[datetime, int | None]] = {}
        # Objects whose deletion began. A check that started from an older body (a sweep, a
        # batched re-check) must not recreate the role the deletion removes; uids are never
        # reused, so a bounded memory of the latest ones is enough.
        self._deleting: OrderedDict[str, None] = OrderedDict()

    def begin_deletion(self, uid: str) -> None:
        with self._guard:
            self._deleting[uid] = None
            while len(self._deleting) > DELETIONS_REMEMBERED:
                self._deleting.popitem(last=False)

    def is_deleting(self, uid: str) -> bool:
        with self._guard:
            return uid in self._deleting

    def lock_for(self, uid: str) -> threading.Lock:
        """One reconcile at a time per object: the timer and change handlers run concurrently."""
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())

    def remember_check(self, uid: str, at: datetime, generation: int | None) -> None:
        with self._guard:
            self._last_checked[uid] = (at, generation)

    def last_check(self, uid: str) -> tuple[datetime, int | None] | None:
        with self._guard:
            return self._last_checked.get(uid)

    def forget(self, uid: str, namespace: str, name: str) -> None:
        """Drops what the operator holds on a deleted object, its per-object metric series too."""
        with self._guard:
            self._locks.pop(uid, None)
            self._last_checked.pop(uid, None)
            self._count(self._compliance.pop(uid, None), -1)
            self._count_missing(self._missing.pop(uid, None), -1)
            self.metrics.forget_resource(namespace, name)

    def record_compliance(self, uid: str, namespace: str, compliant: bool | None) -> None:
        state = "unknown" if compliant is None else str(compliant).lower()
        with self._guard:
            previous = self._compliance.get(uid)
            if previous == (namespace, state):
                return
            if namespace not in self._namespaces:
                for known in ("true", "false", "unknown"):  # every series of a namespace exists
                    self.metrics.resources.labels(namespace, known).set(0)
                self._namespaces.add(namespace)
            self._count(previous, -1)
            self._compliance[uid] = (namespace, state)
            self._count((namespace, state), +1)

    def record_missing(self, uid: str, namespace: str, actions: Iterable[str]) -> None:
        """The actions a role lacks, counted per action across roles for the dashboard."""
        missing = (namespace, frozenset(actions))
        with self._guard:
            previous = self._missing.get(uid)
            if previous == missing:
                return
            self._count_missing(previous, -1)
            self._missing[uid] = missing
            self._count_missing(missing, +1)

    def _count_missing(self, entry: tuple[str, frozenset[str]] | None, delta: int) -> None:
        if entry is None:
            return
        namespace, actions = entry
        for action in actions:
            key = (namespace, action)
            self._missing_counts[key] += delta
            if self._missing_counts[key] > 0:
                self.metrics.roles_missing_action.labels(*key).set(self._missing_counts[key])
            else:  # an action no role lacks any more leaves the dashboard
                del self._missing_counts[key]
                with contextlib.suppress(KeyError):
                    self.metrics.roles_missing_action.remove(*key)

    def _count(self, key: tuple[str, str] | None, delta: int) -> None:
        """The gauges move by one object: constant work per reconcile, whatever the fleet's size."""
        if key is not None:
            self.metrics.resources.labels(*key).inc(delta)
