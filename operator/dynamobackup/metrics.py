"""Prometheus metrics of the operator, defined in one place; the aws and handlers layers update them.

One `Metrics` per operator, built with the runtime and handed to what updates it. In production
its collectors live on prometheus_client's default registry, the one /metrics serves; a test (or
a second runtime in one process) gets a registry of its own, so counts are never shared.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The operator's collectors, registered on `registry` (each name once per registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.reconcile_seconds = Histogram(
            "dynamobackup_reconcile_duration_seconds",
            "Time to reconcile one DynamoBackupRole, from reading AWS to the verdict.",
            ["trigger", "mode"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.reconciles = Counter(
            "dynamobackup_reconciles_total",
            "Reconciles by outcome (ready, not_compliant, failed).",
            ["trigger", "outcome"],
            registry=registry,
        )
        self.aws_calls = Counter(
            "dynamobackup_aws_api_calls_total",
            "AWS API calls by service, operation and outcome (success or the AWS error code).",
            ["service", "operation", "outcome"],
            registry=registry,
        )
        self.aws_throttled = Counter(
            "dynamobackup_aws_api_throttled_total",
            "AWS API responses that said the caller was throttled (botocore retries them with "
            "backoff).",
            ["service", "operation"],
            registry=registry,
        )
        self.aws_changes = Counter(
            "dynamobackup_aws_changes_total",
            "Mutating IAM changes the operator made, by kind.",
            ["change"],
            registry=registry,
        )
        self.resources = Gauge(
            "dynamobackup_resources",
            "DynamoBackupRole objects by namespace and compliance (true, false, unknown).",
            ["namespace", "compliant"],
            registry=registry,
        )
        self.last_successful_check = Gauge(
            "dynamobackup_last_successful_check_timestamp_seconds",
            "Unix time of the last reconcile that reached a verdict, per resource.",
            ["namespace", "name"],
            registry=registry,
        )
        self.drift_check_interval = Gauge(
            "dynamobackup_drift_check_interval_seconds",
            "The driftCheckInterval of each resource: a check older than twice this is stale.",
            ["namespace", "name"],
            registry=registry,
        )
        self.roles_missing_action = Gauge(
            "dynamobackup_roles_missing_action",
            "How many DynamoBackupRoles lack each required action (missing or denied), by "
            "namespace.",
            ["namespace", "action"],
            registry=registry,
        )
        self.deletion_blocked = Gauge(
            "dynamobackup_deletion_blocked",
            "1 while the deletion of a resource waits for an IAM deletion that failed (it is "
            "retried).",
            ["namespace", "name"],
            registry=registry,
        )
        self.deletions_abandoned = Counter(
            "dynamobackup_deletions_abandoned_total",
            "Deletions given up after repeated failures: the finalizer is lifted, the IAM role "
            "stays.",
            ["reason"],
            registry=registry,
        )

    @classmethod
    def unexported(cls) -> Metrics:
        """Metrics on a registry of their own, which no endpoint serves."""
        return cls(CollectorRegistry())

    def forget_resource(self, namespace: str, name: str) -> None:
        """Removes the series of one resource: one left behind would read as "never checked
        again" to a staleness alert."""
        for gauge in (self.last_successful_check, self.drift_check_interval, self.deletion_blocked):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, name)
