"""A throttled account waits alone: its token bucket paces it, its thread share bounds it."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dynamobackup.aws.ratelimit import TokenBucket
from dynamobackup.handlers.batch import AccountBatches

pytestmark = pytest.mark.unit


def test_the_bucket_lets_a_burst_through_then_paces_at_its_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=10, burst=3, clock=lambda: now[0])
    assert [bucket.take(sleep) for _ in range(3)] == [0, 0, 0]  # the burst
    waits = [bucket.take(sleep) for _ in range(5)]
    assert waits == pytest.approx([0.1] * 5)  # then one every 1/rate seconds
    now[0] += 10  # idle time saves up no more than the burst
    assert [bucket.take(sleep) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(sleep) == pytest.approx(0.1)


def test_a_stuck_account_holds_only_its_share_of_the_workers() -> None:
    stuck = threading.Event()
    done: list[str] = []

    async def main() -> None:
        with ThreadPoolExecutor(4) as pool:
            batches = AccountBatches(pool, per_account=2)
            throttled = [
                asyncio.ensure_future(batches.run("throttled", lambda: stuck.wait(10)))
                for _ in range(6)
            ]
            await asyncio.sleep(0.1)
            started = time.monotonic()
            # Every other account's work still finds free workers while the first is stuck.
            await asyncio.wait_for(
                asyncio.gather(
                    *(batches.run(f"a{i}", lambda i=i: done.append(f"a{i}")) for i in range(8))
                ),
                timeout=5,
            )
            assert time.monotonic() - started < 5
            stuck.set()
            await asyncio.gather(*throttled)

    asyncio.run(main())
    assert sorted(done) == sorted(f"a{i}" for i in range(8))
