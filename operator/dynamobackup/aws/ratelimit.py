"""A token bucket per AWS account: the operator's own IAM request rate stays under IAM's quota.

IAM throttles per account, and the throttling of one account must not spill into the others: every
IAM client of an account takes a token from that account's bucket before each request (a botocore
`before-call` hook, so retries and pages are paced too). A caller waits for its token in its own
worker thread; how many threads one account may hold at once is bounded one level up
(handlers' per-account concurrency), so a throttled account waits alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; `take()` blocks until one is there."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, max(1.0, burst), clock
        self._tokens, self._stamp = self.burst, clock()
        self._lock = threading.Lock()
        self.taken = 0  # tokens handed out so far

    def take(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Takes a token, waiting for it if needed; returns the seconds waited.

        A token not there yet is reserved (the count goes below zero) and waited for, so callers
        are served in the order they asked and never spin.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            self.taken += 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            sleep(wait)
        return wait


class AccountRateLimits:
    """One bucket per account; rate 0 turns pacing off."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, account: str) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(account)
            if bucket is None:
                bucket = self._buckets[account] = TokenBucket(self.rate, self.burst)
            return bucket

    def pace(self, client: Any, account: str) -> Any:
        """Makes every request of `client` wait for a token of `account`; returns the client."""
        if self.rate > 0:
            bucket = self.bucket(account)

            def wait_for_token(**_: Any) -> None:
                # Returns None: a before-call handler that returns a value replaces the response.
                bucket.take()

            service = client.meta.service_model.service_name
            client.meta.events.register(f"before-call.{service}", wait_for_token)
        return client
