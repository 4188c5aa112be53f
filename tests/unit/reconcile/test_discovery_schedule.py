"""When an organisation's discovery is due, and the conditions a discovery reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dynamobackup.api.v1alpha1 import Condition
from dynamobackup.reconcile.discovery import discovery_conditions, discovery_due
from dynamobackup.reconcile.outcome import Failure

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)
RETRY = timedelta(seconds=30)


def due(
    *,
    generation: int | None = 2,
    period: timedelta = HOUR,
    recorded: tuple[datetime | None, int | None] = (NOW - timedelta(minutes=5), 2),
    remembered: tuple[datetime | None, int | None] | None = None,
    failed_at: datetime | None = None,
    retry_delay: timedelta = RETRY,
) -> bool:
    return discovery_due(
        NOW,
        generation=generation,
        period=period,
        recorded=recorded,
        remembered=remembered,
        failed_at=failed_at,
        retry_delay=retry_delay,
    )


def test_not_due_within_the_period_of_a_discovery_of_this_generation() -> None:
    assert not due(recorded=(NOW - HOUR + timedelta(seconds=1), 2))


def test_due_once_the_period_has_passed() -> None:
    assert due(recorded=(NOW - HOUR, 2))


def test_due_when_never_discovered() -> None:
    assert due(recorded=(None, None))
    assert due(recorded=(None, 2))


def test_due_at_once_when_the_generation_changed() -> None:
    assert due(generation=3, recorded=(NOW - timedelta(seconds=1), 2))


def test_the_operators_memory_wins_over_a_status_that_predates_its_patch() -> None:
    stale_status = (NOW - 2 * HOUR, 1)
    assert not due(recorded=stale_status, remembered=(NOW - timedelta(minutes=1), 2))
    assert due(recorded=(NOW - timedelta(minutes=1), 2), remembered=(NOW - HOUR, 2))


@pytest.mark.parametrize(
    ("period", "retry_delay", "wait"),
    [
        (HOUR, RETRY, RETRY),  # the retry delay when it is shorter
        (timedelta(seconds=10), RETRY, timedelta(seconds=10)),  # the period when that is
    ],
)
def test_after_a_failure_due_only_after_the_shorter_of_period_and_retry_delay(
    period: timedelta, retry_delay: timedelta, wait: timedelta
) -> None:
    early = NOW - wait + timedelta(seconds=1)
    assert not due(period=period, retry_delay=retry_delay, failed_at=early)
    assert due(period=period, retry_delay=retry_delay, failed_at=NOW - wait)


def test_after_a_failure_neither_a_new_generation_nor_a_passed_period_hurries_the_retry() -> None:
    just_failed = NOW - timedelta(seconds=1)
    assert not due(generation=3, recorded=(None, 2), failed_at=just_failed)


def triples(conditions: list[Condition]) -> dict[str, tuple[str, str | None, str | None]]:
    return {c.type: (str(c.status), c.reason, c.message) for c in conditions}


def test_a_successful_discovery_is_ready_neither_reconciling_nor_stalled() -> None:
    ready = (True, "Discovered", "3 active accounts bound, 1 marked")
    conditions = discovery_conditions([], ready, None, 4, NOW)
    assert [c.type for c in conditions] == ["Ready", "Reconciling", "Stalled"]
    assert triples(conditions) == {
        "Ready": ("True", "Discovered", "3 active accounts bound, 1 marked"),
        "Reconciling": ("False", "DiscoveryFinished", "the last discovery finished"),
        "Stalled": ("False", "NotStalled", "nothing blocks discovery"),
    }
    assert {c.observed_generation for c in conditions} == {4}
    assert {c.last_transition_time for c in conditions} == {NOW.replace(microsecond=0)}


def test_a_retryable_failure_is_reconciling_not_stalled() -> None:
    failure = Failure("AccessDenied", "cannot assume the role", retryable=True)
    conditions = discovery_conditions([], (False, failure.reason, failure.message), failure, 1, NOW)
    assert triples(conditions) == {
        "Ready": ("False", "AccessDenied", "cannot assume the role"),
        "Reconciling": ("True", "AccessDenied", "cannot assume the role"),
        "Stalled": ("False", "NotStalled", "nothing blocks discovery"),
    }


def test_a_final_failure_is_stalled_not_reconciling() -> None:
    failure = Failure("InvalidSpec", "interval: too short")
    conditions = discovery_conditions([], (False, failure.reason, failure.message), failure, 1, NOW)
    assert triples(conditions) == {
        "Ready": ("False", "InvalidSpec", "interval: too short"),
        "Reconciling": ("False", "DiscoveryFinished", "the last discovery finished"),
        "Stalled": ("True", "InvalidSpec", "interval: too short"),
    }


def test_previous_conditions_are_replaced_in_place_and_keep_their_time_while_unchanged() -> None:
    earlier = NOW - HOUR
    first = discovery_conditions([], (True, "Discovered", "1 bound"), None, 1, earlier)
    other = Condition.make("Custom", True, "Kept", "not discovery's", now=earlier)
    failure = Failure("Throttled", "slow down", retryable=True)
    later = discovery_conditions(
        [other, *first], (False, "Throttled", "slow down"), failure, 2, NOW
    )
    assert [c.type for c in later] == ["Custom", "Ready", "Reconciling", "Stalled"]
    times = {c.type: c.last_transition_time for c in later}
    assert times == {
        "Custom": earlier.replace(microsecond=0),
        "Ready": NOW,  # True -> False
        "Reconciling": NOW,  # False -> True
        "Stalled": earlier.replace(microsecond=0),  # stayed False
    }
    assert {c.observed_generation for c in later if c.type != "Custom"} == {2}
