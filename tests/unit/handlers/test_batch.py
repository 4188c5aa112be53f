"""Re-checks of one account share one account-wide read; a lone one reads its own role."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dynamobackup.handlers.batch import AccountBatches

pytestmark = pytest.mark.unit


def run(checks: list[tuple[str | None, Any]], linger: float = 0.05) -> tuple[list[str], list[Any]]:
    reads: list[str] = []
    seen: list[Any] = []

    async def main() -> None:
        with ThreadPoolExecutor(4) as pool:
            batches = AccountBatches(pool)

            def reader(account: str | None) -> Any:
                def read() -> Any:
                    reads.append(str(account))
                    return f"snapshot of {account}"

                return read

            def checker(fail: Any) -> Any:
                def check(snapshot: Any) -> None:
                    seen.append(snapshot)
                    if fail:
                        raise fail

                return check

            results = await asyncio.gather(
                *(batches.check(a, reader(a), checker(f), linger) for a, f in checks),
                return_exceptions=True,
            )
            for (_, fail), result in zip(checks, results, strict=True):
                assert result is fail

    asyncio.run(main())
    return reads, seen


def test_checks_of_one_account_share_one_read() -> None:
    reads, seen = run([("a", None)] * 5 + [("b", None)] * 3)
    assert sorted(reads) == ["a", "b"]
    assert sorted(seen) == ["snapshot of a"] * 5 + ["snapshot of b"] * 3


def test_a_lone_check_reads_its_own_role() -> None:
    reads, seen = run([("a", None), (None, None)])
    assert reads == [] and seen == [None, None]


def test_a_failing_check_fails_alone() -> None:
    error = RuntimeError("status not written")
    reads, seen = run([("a", error), ("a", None)])
    assert reads == ["a"] and len(seen) == 2
