"""The one Kubernetes Event a reconcile posts, if any: what changed, what failed, what was found.

One Event per reconcile that changed or found something, and none for a clean re-check: at 1,000
objects the Events of a create were more writes (3.5 per object) than everything else together,
and the API server stores each one. A new failure is a Warning once, not once per retry; a
compliance verdict is an Event when it changes, not on every check that confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dynamobackup.reconcile.outcome import Outcome
from dynamobackup.reconcile.plan import CreateRole


@dataclass(frozen=True)
class Note:
    """An Event to post: `warning` selects the Warning type over Normal."""

    reason: str
    message: str
    warning: bool = False


def event_for(
    outcome: Outcome, previous_reason: str | None, previous_compliant: bool | None
) -> Note | None:
    """The Event of this reconcile, given the Ready reason and verdict the status held before."""
    changes = "; ".join(change.summary for change in outcome.applied)
    failure = outcome.failure
    if failure is not None and failure.reason != previous_reason:
        message = f"{failure.message} (after: {changes})" if changes else failure.message
        return Note(failure.reason, message, warning=True)
    if changes:
        created = any(isinstance(change, CreateRole) for change in outcome.applied)
        verdict = _verdict(outcome)
        return Note(
            "RoleCreated" if created else "RoleRepaired",
            f"{changes}{'; ' + verdict if verdict else ''}",
            warning=outcome.compliant is False,
        )
    after = outcome.compliant
    if after is None or after == previous_compliant:
        return None
    if after:
        return Note("Compliant", "the role is compliant with the spec")
    return Note("NotCompliant", f"the role drifted from the spec: {_findings(outcome)}", True)


def _verdict(outcome: Outcome) -> str:
    if outcome.compliant is None:
        return ""
    return "compliant" if outcome.compliant else f"still not compliant: {_findings(outcome)}"


def _findings(outcome: Outcome) -> str:
    report = outcome.report
    assert report is not None
    p = report.permissions
    trust_errors = sum(f.severity == "error" for f in report.trust.findings)
    return (
        f"{len(p.missing)} missing, {len(p.denied)} denied, {len(p.conditional)} conditional, "
        f"{trust_errors} trust errors"
    )
