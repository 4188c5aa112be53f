"""The Lease decision (pure) of the leader election."""

from __future__ import annotations

from dynamobackup.handlers.leader import Observed, may_acquire


def seen(holder: str | None, at: float) -> Observed:
    return Observed(holder=holder, renew_time="t", resource_version="1", seen_at=at)


def test_a_free_or_own_lease_may_be_taken() -> None:
    assert may_acquire(None, "me", 15, 0)
    assert may_acquire(seen(None, 0), "me", 15, 1)
    assert may_acquire(seen("me", 0), "me", 15, 1)


def test_another_holders_lease_only_once_unrenewed_for_its_duration() -> None:
    assert not may_acquire(seen("other", 100), "me", 15, 114.9)
    assert may_acquire(seen("other", 100), "me", 15, 115)
