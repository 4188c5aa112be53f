"""Counting AWS API calls per reconcile and per operation, through botocore's event hooks.

Counting at the client, not in our code, means nothing is missed: pagination, STS and retries
all go through these hooks. The Prometheus counters they move are the `Metrics` the client was
instrumented with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from dynamobackup.metrics import Metrics

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
    }
)


@dataclass
class CallLog:
    """The calls made inside a `counting()` block (nested blocks also count in the outer ones)."""

    calls: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    parent: CallLog | None = None

    def record(self, operation: str) -> None:
        self.calls += 1
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
        if self.parent is not None:
            self.parent.record(operation)


_current: ContextVar[CallLog | None] = ContextVar("dynamobackup_call_log", default=None)


@contextmanager
def counting() -> Iterator[CallLog]:
    """Counts every AWS call made in this context (thread or task) until the block ends."""
    log = CallLog(parent=_current.get())
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


def instrument(client: Any, metrics: Metrics) -> Any:
    """Registers the counting hooks on a boto3 client and returns it."""
    service = client.meta.service_model.service_name
    observer = CallObserver(metrics)
    events = client.meta.events
    events.register(f"before-call.{service}", _before_call)
    events.register(f"after-call.{service}", observer.after_call)
    events.register(f"needs-retry.{service}", observer.needs_retry)
    return client


def _before_call(model: Any, **_: Any) -> None:
    log = _current.get()
    if log is not None:
        log.record(model.name)


_LABEL_SAFE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,63}$")


class CallObserver:
    """botocore's answers to each call, counted in `metrics` by operation and outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def after_call(self, model: Any, parsed: Any, http_response: Any = None, **_: Any) -> None:
        code = _error_code(parsed)
        if code is not None and not _LABEL_SAFE_CODE.match(str(code)):
            code = "error"  # a garbled body's text never becomes a metric label
        outcome = code or (
            "success" if http_response is None or http_response.status_code < 400 else "error"
        )
        self.metrics.aws_calls.labels(model.service_model.service_name, model.name, outcome).inc()

    def needs_retry(self, response: Any = None, operation: Any = None, **_: Any) -> None:
        if not response or operation is None:
            return
        _, parsed = response
        if _error_code(parsed) in THROTTLING_CODES:
            service = operation.service_model.service_name
            self.metrics.aws_throttled.labels(service, operation.name).inc()


def _error_code(parsed: Any) -> Any:
    return (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
