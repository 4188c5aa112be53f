"""When a drift check is due: a pure decision, so the kopf timer only asks and acts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

# A check: when it ran, and the metadata.generation it saw.
Check = tuple[datetime, int | None]


def latest_check(checks: Iterable[Check | None]) -> Check | None:
    """The most recent of several records of the last check (status, operator memory)."""
    known = [check for check in checks if check is not None]
    return max(known, key=lambda check: check[0]) if known else None


def drift_check_due(
    last: Check | None, generation: int | None, period: timedelta, now: datetime
) -> bool:
    # The create, update and resume handlers own first checks and spec changes; the timer only
    # re-checks a generation that was already handled, once its interval has passed.
    if last is None or last[1] != generation:
        return False
    return now - last[0] >= period


def retry_backoff(retry: int, base: float, cap: float) -> float:
    """Capped exponential backoff: base, 2*base, 4*base, ... never more than cap (nor below base)."""
    return float(max(base, min(cap, base * 2.0 ** min(retry, 30))))
