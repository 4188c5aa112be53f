"""Prometheus metrics of the operator, defined in one place; the aws and handlers layers update them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILE_SECONDS = Histogram(
    "dynamobackup_reconcile_duration_seconds",
    "Time to reconcile one DynamoBackupRole, from reading AWS to the verdict.",
    ["trigger", "mode"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RECONCILE_TOTAL = Counter(
    "dynamobackup_reconciles_total",
    "Reconciles by outcome (ready, not_compliant, failed).",
    ["trigger", "outcome"],
)
AWS_CALLS = Counter(
    "dynamobackup_aws_api_calls_total",
    "AWS API calls by service, operation and outcome (success or the AWS error code).",
    ["service", "operation", "outcome"],
)
AWS_THROTTLED = Counter(
    "dynamobackup_aws_api_throttled_total",
    "AWS API responses that said the caller was throttled (botocore retries them with backoff).",
    ["service", "operation"],
)
AWS_CHANGES = Counter(
    "dynamobackup_aws_changes_total",
    "Mutating IAM changes the operator made, by kind.",
    ["change"],
)
RESOURCES = Gauge(
    "dynamobackup_resources",
    "DynamoBackupRole objects by namespace and compliance (true, false, unknown).",
    ["namespace", "compliant"],
)
LAST_SUCCESSFUL_CHECK = Gauge(
    "dynamobackup_last_successful_check_timestamp_seconds",
    "Unix time of the last reconcile that reached a verdict, per resource.",
    ["namespace", "name"],
)
DRIFT_CHECK_INTERVAL = Gauge(
    "dynamobackup_drift_check_interval_seconds",
    "The driftCheckInterval of each resource: a check older than twice this is stale.",
    ["namespace", "name"],
)
ROLES_MISSING_ACTION = Gauge(
    "dynamobackup_roles_missing_action",
    "How many DynamoBackupRoles lack each required action (missing or denied), by namespace.",
    ["namespace", "action"],
)
DELETION_BLOCKED = Gauge(
    "dynamobackup_deletion_blocked",
    "1 while the deletion of a resource waits for an IAM deletion that failed (it is retried).",
    ["namespace", "name"],
)
DELETIONS_ABANDONED = Counter(
    "dynamobackup_deletions_abandoned_total",
    "Deletions given up after repeated failures: the finalizer is lifted, the IAM role stays.",
    ["reason"],
)

# Series of one resource, removed when the resource is deleted.
PER_RESOURCE = (LAST_SUCCESSFUL_CHECK, DRIFT_CHECK_INTERVAL, DELETION_BLOCKED)
