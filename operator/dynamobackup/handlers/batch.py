"""Re-checks of many roles of one account share one account-wide read.

Each re-check (a drift check that is due, an on-demand request, a resume after a restart) joins
the batch of its account. A batch waits `linger` seconds for others to join, then, when it holds
at least `min_batch` checks, reads the whole account once (`RoleManager.observe_account`) and
runs every check with that snapshot, each in a worker thread; a lone check reads its role on its
own, which is cheaper than the account. Checks that arrive while a batch is being read form the
next batch. Only the event loop touches the batches, so they need no lock.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from dynamobackup.aws.account import AccountSnapshot

Check = Callable[[AccountSnapshot | None], None]
Reader = Callable[[], AccountSnapshot | None]


@dataclass
class _Batch:
    reader: Reader
    context: contextvars.Context
    checks: list[tuple[Check, contextvars.Context, asyncio.Future[None]]] = field(
        default_factory=list
    )


class AccountBatches:
    """Batches per account, and at most `per_account` worker threads busy with one account.

    The bound keeps a throttled account (its calls backing off, its token bucket empty) from
    holding every worker: the others' work goes on in the threads it may not take.
    """

    def __init__(self, executor: Executor, min_batch: int = 2, per_account: int = 4) -> None:
        self.executor = executor
        self.min_batch = min_batch
        self.per_account = per_account
        self._open: dict[Hashable, _Batch] = {}
        self._slots: dict[Hashable, asyncio.Semaphore] = {}

    async def run(self, account: Hashable | None, work: Callable[[], Any]) -> Any:
        """Runs `work` in a worker thread, in the caller's context, within the account's share."""
        context = contextvars.copy_context()
        return await self._in_thread(account, context, work)

    async def _in_thread(
        self,
        account: Hashable | None,
        context: contextvars.Context,
        work: Callable[..., Any],
        *args: Any,
    ) -> Any:
        loop = asyncio.get_running_loop()
        if account is None:
            return await loop.run_in_executor(self.executor, context.run, work, *args)
        slots = self._slots.setdefault(account, asyncio.Semaphore(self.per_account))
        async with slots:
            return await loop.run_in_executor(self.executor, context.run, work, *args)

    async def check(
        self, account: Hashable | None, reader: Reader, check: Check, linger: float
    ) -> None:
        """Runs `check` with a snapshot of `account` shared with the checks that join it."""
        loop = asyncio.get_running_loop()
        # Work runs in threads with its caller's context: kopf's Event posting and our call
        # counting live in context variables, which run_in_executor does not carry over.
        context = contextvars.copy_context()
        if account is None:
            await self._in_thread(None, context, check, None)
            return
        done: asyncio.Future[None] = loop.create_future()
        batch = self._open.get(account)
        if batch is None:
            batch = self._open[account] = _Batch(reader, context)
            loop.call_later(linger, lambda: asyncio.ensure_future(self._run(account)))
        batch.checks.append((check, context, done))
        await done

    async def _run(self, account: Hashable) -> None:
        batch = self._open.pop(account)
        snapshot = None
        if len(batch.checks) >= self.min_batch:
            try:
                snapshot = await self._in_thread(account, batch.context, batch.reader)
            except Exception:
                snapshot = None  # every check then reads its own role and reports what fails
        runs = [
            self._in_thread(account, context, check, snapshot) for check, context, _ in batch.checks
        ]
        for (_, _, done), result in zip(
            batch.checks, await asyncio.gather(*runs, return_exceptions=True), strict=True
        ):
            _settle(done, result)


def _settle(done: asyncio.Future[None], result: Any) -> None:
    if done.cancelled():
        return
    if isinstance(result, BaseException):
        done.set_exception(result)
    else:
        done.set_result(None)
