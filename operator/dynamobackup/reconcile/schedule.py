"""When a drift check is due: a pure decision, so the kopf timer only asks and acts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

# A check: when it ran, and the metadata.generation it saw.
Check = tuple[datetime, int | None]


def latest_check(checks: Iterable[Check | None]) -> Check | None:
    """The most recent of several records of the last check (status, operator memory)."""
    known = [check for check in checks if check is not None]
    return max(known, key=lambda check: check[0]) if known else None


# How far past its interval a drift check may be put off, as a fraction of the interval.
JITTER = 0.1
# How far before it a check joins a sweep that reads its account anyway.
EARLY = 0.5


def drift_check_due(
    last: Check | None,
    generation: int | None,
    period: timedelta,
    now: datetime,
    jitter: float = 0.0,
    *,
    early: float = 0.0,
) -> bool:
    """Due once `period` (stretched by `jitter`, a fraction of JITTER) passed since `last`.

    `early`, a fraction of the period, brings the check forward: a sweep that reads an account
    anyway checks its roles that would fall due soon, so the account's checks align and later
    sweeps read it once per interval.
    """
    # The create, update and resume handlers own first checks and spec changes.
    if last is None:
        return False
    if last[1] != generation:
        # ... but kopf calls no handler when a spec returns to the last configuration it
        # handled: a change undone while it was failing left that failure in the status, with
        # nothing to check the object again. A full interval after the last check, the timer
        # takes over; at worst it repeats a check a retrying handler also makes.
        return now - last[0] >= period * (1 + JITTER * jitter)
    return now - last[0] >= period * (1 + JITTER * jitter - early)


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by `key`: the same in every process and after every restart.

    Drift checks of one account share it, so they stay together and one account-wide read
    serves them all, while different accounts are spread over a tenth of the interval instead
    of all falling due in the same second.
    """
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32


def retry_backoff(retry: int, base: float, cap: float) -> float:
    """Capped exponential backoff: base, 2*base, 4*base, ... never more than cap (nor below base)."""
    return float(max(base, min(cap, base * 2.0 ** min(retry, 30))))
