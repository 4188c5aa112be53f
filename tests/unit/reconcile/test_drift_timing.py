"""When the drift timer re-checks a role, to the second: the interval, stretched by the account's
jitter, brought forward by a sweep, and the same whether or not the spec changed unhandled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dynamobackup.reconcile.schedule import drift_check_due, latest_check, stable_fraction

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
PERIOD = timedelta(minutes=10)


def at(minutes: int, seconds: int) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


@pytest.mark.parametrize(
    ("seen", "early", "not_yet", "due"),
    [
        # Half the maximum jitter puts the check off by 5% of its interval: 30 s.
        (3, 0.0, at(10, 29), at(10, 30)),
        # A generation no handler took: a full (jittered) interval, never brought forward.
        (2, 0.0, at(10, 29), at(10, 30)),
        (2, 0.5, at(10, 29), at(10, 30)),
        # A sweep reading the account anyway takes the check half an interval early.
        (3, 0.5, at(5, 29), at(5, 30)),
    ],
    ids=["jittered", "unhandled spec change", "unhandled change, sweep", "sweep"],
)
def test_a_drift_check_falls_due_to_the_second(
    seen: int, early: float, not_yet: datetime, due: datetime
) -> None:
    assert not drift_check_due((T0, seen), 3, PERIOD, not_yet, 0.5, early=early)
    assert drift_check_due((T0, seen), 3, PERIOD, due, 0.5, early=early)


def test_one_check_recorded_twice_at_the_same_second_is_still_a_check() -> None:
    # An older operator's status has no observedGeneration; the memory of the same check has.
    last = latest_check(((T0, None), (T0, 3)))
    assert last is not None and last[0] == T0
    assert not drift_check_due(last, 3, PERIOD, at(9, 59))
    assert drift_check_due(last, 3, PERIOD, at(10, 0))


def test_accounts_are_spread_over_the_whole_jitter_window() -> None:
    # Two hundred accounts: their checks fall due across the whole tenth of the interval,
    # not bunched in part of it.
    fractions = sorted(stable_fraction(f"team-{i}/123456789{i:03d}") for i in range(200))
    assert fractions[0] < 0.05 and fractions[-1] > 0.95
    assert 0.4 < fractions[100] < 0.6
