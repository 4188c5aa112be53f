"""Drift checks: one sweep over every object per tick, due checks grouped by account.

A kopf timer per object cost a task per object, a wake-up per object per tick, and a finalizer on
every object (kopf must stop a timer before its object goes). Instead the objects are followed
through their watch events (`observe`), and one loop per operator looks every `tick` seconds for
the checks that are due (`roles.drift_check_is_due`, jittered per account) and hands them to
the account batches, so that the checks of one account falling due together share one read.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from dynamobackup.handlers import roles
from dynamobackup.handlers.runtime import Runtime
from dynamobackup.reconcile.schedule import EARLY

logger = logging.getLogger(__name__)

# An object as its last watch event showed it, with the indices it came with.
_Followed = tuple[kopf.Body, Mapping[str, Any], Mapping[str, Any]]


class DriftSweeper:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._objects: dict[str, _Followed] = {}
        self._context: contextvars.Context | None = None
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, kind: str | None, body: kopf.Body, bindings: Any, namespaces: Any) -> None:
        """Follows one watch event: the latest body of each object, forgotten once deleted."""
        uid = body.meta.uid
        if kind == "DELETED":
            self._objects.pop(uid, None)
            self.runtime.forget(uid, body.meta.namespace or "", body.meta.name or "")
        elif body.meta.get("deletionTimestamp"):
            self._objects.pop(uid, None)  # the delete handler's now: no more drift checks
        else:
            if self._context is None:
                # A handler's context: kopf posts Events through context variables it sets
                # there. One for all objects: a copy per object kept each object's last kopf
                # cause (bodies, diffs) alive, about 0.4 MiB per object.
                self._context = contextvars.copy_context()
            self._objects[uid] = (body, bindings, namespaces)

    async def run(self, stopped: asyncio.Event) -> None:
        tick = self.runtime.config.drift_tick_seconds
        while not stopped.is_set():
            self.sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), timeout=tick)
        for task in list(self._tasks):
            task.cancel()

    def sweep(self) -> int:
        """Starts the checks that are due and not already running; returns how many."""
        started, loop = 0, asyncio.get_running_loop()
        followed = [(uid, f) for uid, f in self._objects.items() if uid not in self._running]
        # Accounts with a check due now are read anyway: their checks due soon come along.
        accounts = {
            roles.account_key(f[0])
            for _, f in followed
            if roles.drift_check_is_due(self.runtime, f[0])
        }
        for uid, (body, bindings, namespaces) in followed:
            if roles.account_key(body) not in accounts or not roles.drift_check_is_due(
                self.runtime, body, early=EARLY
            ):
                continue
            self._running.add(uid)
            check = self._check(uid, body, bindings, namespaces)
            task = loop.create_task(check, context=self._context)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _check(self, uid: str, body: kopf.Body, bindings: Any, namespaces: Any) -> None:
        runtime = self.runtime
        try:
            # Linger 0: every check of this sweep has already joined its account's batch.
            await runtime.batches.check(
                roles.account_key(body),
                lambda: roles.read_account(runtime, body, bindings, namespaces),
                lambda snapshot: roles.check_drift(runtime, body, bindings, namespaces, snapshot),
                linger=0.0,
            )
        except Exception as error:
            # check_drift reports in the status; what escapes it is retried on the next tick.
            logger.warning("drift check of %s failed: %s", uid, type(error).__name__)
        finally:
            self._running.discard(uid)
