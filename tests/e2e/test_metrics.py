"""The operator's Prometheus endpoint moves with the work it does."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from dynamobackup_devenv.moto_server import AwsHelper
from dynamobackup_devenv.operator_process import OperatorProcess

from .conftest import DbrClient, condition, wait_for

APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"


def samples(operator: OperatorProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    scraped = {}
    for family in text_string_to_metric_families(operator.metrics()):
        for sample in family.samples:
            scraped[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return scraped


def total(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], metric_name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(
        value for (metric, got), value in scraped.items() if metric == metric_name and wanted <= got
    )


def test_metrics_move_during_a_reconcile(
    dbr: DbrClient, aws: AwsHelper, operator: OperatorProcess
) -> None:
    before = samples(operator)
    name = f"veeam-{uuid.uuid4().hex[:10]}"
    dbr.create(
        "metered",
        {
            "account": {"id": "123456789012"},
            "roleName": name,
            "scope": {"operations": ["ManualBackup"]},
            "trust": {"applianceAccountId": "111111111111"},
        },
    )
    dbr.wait_status(
        "metered", lambda s: condition(s, "Ready").get("status") == "True", what="Ready=True"
    )
    after = samples(operator)

    def grew(metric: str, **labels: str) -> float:
        return total(after, metric, **labels) - total(before, metric, **labels)

    assert grew("dynamobackup_reconciles_total", trigger="create", outcome="ready") >= 1
    assert (
        grew("dynamobackup_reconcile_duration_seconds_count", trigger="create", mode="Enforce") >= 1
    )
    assert (
        grew(
            "dynamobackup_aws_api_calls_total",
            service="iam",
            operation="CreateRole",
            outcome="success",
        )
        == 1
    )
    assert (
        grew(
            "dynamobackup_aws_api_calls_total",
            service="iam",
            operation="GetRole",
            outcome="NoSuchEntity",
        )
        == 1
    )
    assert grew("dynamobackup_aws_changes_total", change="PutRolePolicy") == 1
    assert total(after, "dynamobackup_resources", namespace=dbr.namespace, compliant="true") == 1
    checked = {"namespace": dbr.namespace, "name": "metered"}
    assert total(after, "dynamobackup_last_successful_check_timestamp_seconds", **checked) > 0


def test_a_deleted_object_leaves_no_staleness_series(
    dbr: DbrClient, aws: AwsHelper, operator: OperatorProcess
) -> None:
    # An alert on "no successful check for twice the drift interval" would fire forever if the
    # per-object series outlived its object.
    spec = {
        "account": {"id": "123456789012"},
        "roleName": f"veeam-{uuid.uuid4().hex[:10]}",
        "scope": {"operations": ["ManualBackup"]},
        "trust": {"applianceAccountId": "111111111111"},
    }
    assert operator.healthy()  # a probe, as the kubelet's; it must not reach the INFO log
    dbr.create("short-lived", spec)
    dbr.wait_status(
        "short-lived", lambda s: condition(s, "Ready").get("status") == "True", what="Ready=True"
    )
    series = "dynamobackup_last_successful_check_timestamp_seconds"
    checked = {"namespace": dbr.namespace, "name": "short-lived"}
    assert total(samples(operator), series, **checked) > 0
    dbr.delete("short-lived")
    wait_for(lambda: not dbr.exists("short-lived"), 60, "short-lived to be deleted")
    wait_for(
        lambda: total(samples(operator), series, **checked) == 0,
        30,
        f"{series} of the deleted object to disappear",
    )
    # By now every probe made so far (the fixture's start-up polling, the one above) was handled
    # long ago: none of them is in the log, which is at INFO.
    assert "/healthz" not in operator.log()
