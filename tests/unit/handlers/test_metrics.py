"""The operator's metrics are an instance the runtime holds, not module-level state: two
runtimes (tests, shards in one process) count apart, and the aws layer counts in the runtime's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dynamobackup.handlers.runtime import OperatorConfig, Runtime
from dynamobackup.metrics import Metrics


def test_two_metrics_on_two_registries_do_not_share_counts() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.reconciles.labels("create", "ready").inc()
    first.aws_calls.labels("iam", "GetRole", "success").inc(3)
    labels = {"trigger": "create", "outcome": "ready"}
    assert first.registry.get_sample_value("dynamobackup_reconciles_total", labels) == 1.0
    assert second.registry.get_sample_value("dynamobackup_reconciles_total", labels) is None
    calls = {"service": "iam", "operation": "GetRole", "outcome": "success"}
    assert first.registry.get_sample_value("dynamobackup_aws_api_calls_total", calls) == 3.0
    assert second.registry.get_sample_value("dynamobackup_aws_api_calls_total", calls) is None


def test_a_runtime_counts_in_its_own_metrics_and_hands_them_to_the_aws_layer() -> None:
    mine, other = Metrics.unexported(), Metrics.unexported()
    runtime = Runtime(OperatorConfig(metrics_port=None), metrics=mine)
    Runtime(OperatorConfig(metrics_port=None), metrics=other)
    assert runtime.manager.metrics is mine and runtime.manager.sessions.metrics is mine
    runtime.record_compliance("uid-1", "team-a", False)
    series = {"namespace": "team-a", "compliant": "false"}
    assert mine.registry.get_sample_value("dynamobackup_resources", series) == 1.0
    assert other.registry.get_sample_value("dynamobackup_resources", series) is None


def test_forgetting_a_resource_removes_its_series_and_keeps_the_others() -> None:
    metrics = Metrics.unexported()
    for name in ("gone", "kept"):
        metrics.last_successful_check.labels("team-a", name).set(1.0)
        metrics.drift_check_interval.labels("team-a", name).set(3600)
    metrics.deletion_blocked.labels("team-a", "gone").set(1)
    metrics.forget_resource("team-a", "gone")
    metrics.forget_resource("team-a", "never-seen")  # no series: nothing to remove, no error
    read = metrics.registry.get_sample_value
    for series in (
        "dynamobackup_last_successful_check_timestamp_seconds",
        "dynamobackup_drift_check_interval_seconds",
        "dynamobackup_deletion_blocked",
    ):
        assert read(series, {"namespace": "team-a", "name": "gone"}) is None
    assert read(
        "dynamobackup_drift_check_interval_seconds", {"namespace": "team-a", "name": "kept"}
    )
