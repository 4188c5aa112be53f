"""One Event per reconcile that changed or found something; none for a clean re-check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import desired_role
from dynamobackup.reconcile.event import event_for
from dynamobackup.reconcile.outcome import Failure, Outcome

from .conftest import OWNER, make_spec, observed_from

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def outcome(*, drift: bool = False, applied: tuple[p.Change, ...] = (), **extra: object) -> Outcome:
    desired = desired_role(make_spec(), OWNER)
    role = observed_from(desired, inline_policies={}) if drift else observed_from(desired)
    report = assess(desired, role, default_catalog())
    fields: dict[str, object] = {"desired": desired, "role": role, "report": report}
    fields.update(extra)
    return Outcome(checked_at=NOW, applied=applied, **fields)  # type: ignore[arg-type]


def test_a_clean_recheck_posts_nothing() -> None:
    assert event_for(outcome(), "Reconciled", True) is None


def test_a_create_is_one_event_naming_every_write() -> None:
    desired = desired_role(make_spec(), OWNER)
    changes = p.plan_changes(desired, None).changes
    note = event_for(outcome(applied=changes), None, None)
    assert note is not None and note.reason == "RoleCreated" and not note.warning
    assert all(change.summary in note.message for change in changes)
    assert note.message.endswith("compliant")


def test_a_repair_is_one_event() -> None:
    change = p.TagRole("veeam-dynamodb-backup", {"a": "b"})
    note = event_for(outcome(applied=(change,)), "Reconciled", True)
    assert note is not None and note.reason == "RoleRepaired"


def test_drift_found_is_one_warning_when_the_verdict_turns() -> None:
    note = event_for(outcome(drift=True), "Reconciled", True)
    assert note is not None and note.warning and note.reason == "NotCompliant"
    assert event_for(outcome(drift=True), "DriftDetected", False) is None  # already said
    back = event_for(outcome(), "DriftDetected", False)
    assert back is not None and back.reason == "Compliant"


def test_a_failure_is_a_warning_once_per_reason() -> None:
    failed = Outcome(checked_at=NOW, failure=Failure("AccessDenied", "no iam:GetRole"))
    note = event_for(failed, "Reconciled", True)
    assert note is not None and note.warning and note.reason == "AccessDenied"
    assert event_for(failed, "AccessDenied", None) is None
