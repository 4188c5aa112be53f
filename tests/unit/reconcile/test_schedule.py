"""The drift timer's decision: re-check a handled generation once its interval has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dynamobackup.reconcile.schedule import drift_check_due, latest_check

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
PERIOD = timedelta(minutes=10)


def test_due_only_after_the_interval() -> None:
    assert not drift_check_due((T0, 3), 3, PERIOD, T0 + timedelta(minutes=9, seconds=59))
    assert drift_check_due((T0, 3), 3, PERIOD, T0 + PERIOD)


def test_first_checks_and_spec_changes_are_left_to_the_change_handlers() -> None:
    assert not drift_check_due(None, 1, PERIOD, T0 + timedelta(days=1))
    assert not drift_check_due((T0, 2), 3, PERIOD, T0 + PERIOD - timedelta(seconds=1))
    assert not drift_check_due((T0, 2), 3, PERIOD, T0 + PERIOD / 2, early=0.5)


def test_a_spec_change_no_handler_took_is_checked_after_an_interval() -> None:
    # kopf skips a spec that returned to the configuration it last handled.
    assert drift_check_due((T0, 2), 3, PERIOD, T0 + PERIOD)


def test_the_newest_record_of_the_last_check_wins() -> None:
    stale_status = (T0, 1)
    memory = (T0 + timedelta(minutes=5), 1)
    assert latest_check((stale_status, memory)) == memory
    assert latest_check((None, memory)) == memory
    assert latest_check((None, None)) is None
    assert not drift_check_due(latest_check((stale_status, memory)), 1, PERIOD, T0 + PERIOD)


def test_jitter_puts_a_check_off_by_at_most_a_tenth_of_its_interval() -> None:
    from dynamobackup.reconcile.schedule import drift_check_due, stable_fraction

    start = datetime(2026, 1, 1, tzinfo=UTC)
    period = timedelta(minutes=10)
    fractions = {stable_fraction(f"account-{i}") for i in range(50)}
    assert all(0 <= f < 1 for f in fractions) and len(fractions) == 50
    assert stable_fraction("account-1") == stable_fraction("account-1")
    jitter = 0.5
    assert not drift_check_due((start, 1), 1, period, start + timedelta(minutes=10), jitter)
    assert drift_check_due((start, 1), 1, period, start + timedelta(minutes=10, seconds=30), jitter)


def test_a_check_comes_early_only_when_asked() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    period = timedelta(minutes=10)
    six_minutes = start + timedelta(minutes=6)
    assert not drift_check_due((start, 1), 1, period, six_minutes)
    assert drift_check_due((start, 1), 1, period, six_minutes, early=0.5)
    assert not drift_check_due((start, 1), 1, period, start + timedelta(minutes=4), early=0.5)
