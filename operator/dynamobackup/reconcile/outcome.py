"""The result of one reconcile, whatever happened: the input of the status and of the Events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dynamobackup.reconcile.compliance import ComplianceReport
from dynamobackup.reconcile.desired import DesiredRole
from dynamobackup.reconcile.observed import ObservedRole
from dynamobackup.reconcile.plan import Change


@dataclass(frozen=True)
class Failure:
    """Why the reconcile could not finish; `reason` is CamelCase, `message` one line for a person."""

    reason: str
    message: str
    retryable: bool = False


@dataclass(frozen=True)
class Outcome:
    checked_at: datetime
    desired: DesiredRole | None = None
    role: ObservedRole | None = None
    report: ComplianceReport | None = None
    applied: tuple[Change, ...] = field(default_factory=tuple)
    failure: Failure | None = None
    aws_calls: int = 0

    @property
    def compliant(self) -> bool | None:
        return None if self.report is None else self.report.compliant

    @property
    def ready(self) -> bool:
        return self.failure is None and self.compliant is True
