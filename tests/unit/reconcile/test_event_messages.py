"""The Event a reconcile posts, whole: its reason, its type and every word of its message.

test_event.py checks which reconciles post an Event; here each case compares the whole Note,
so a message that loses the changes made, a count, or the verdict is noticed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, desired_role
from dynamobackup.reconcile.event import Note, event_for
from dynamobackup.reconcile.observed import ObservedDocument, ObservedRole
from dynamobackup.reconcile.outcome import Failure, Outcome

from .conftest import OWNER, make_spec, observed_from

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DESIRED = desired_role(make_spec(), OWNER)
NAME = DESIRED.name
TAGGED = p.TagRole(NAME, {"team": "backup"})
SETTINGS = p.UpdateRole(NAME, "wanted", 3600)
CREATED = f"created IAM role /{NAME}; wrote inline policy dynamobackup-permissions of {NAME}"
REPAIRED = f"tagged {NAME} with team; set the description and maximum session duration of {NAME}"
THROTTLED = Failure("AwsThrottled", "GetRole failed after 5 retries", retryable=True)


def document(*statements: dict[str, Any]) -> ObservedDocument:
    return ObservedDocument(
        parse_document({"Version": "2012-10-17", "Statement": list(statements)})
    )


def allow(*actions: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return {**statement, "Condition": condition} if condition else statement


def drifted(desired: DesiredRole) -> ObservedRole:
    """3 actions missing, 2 denied, 1 conditional; the backup service not trusted (an error)
    and two other accounts trusted too (warnings, not counted)."""
    left_out = {"sns:Subscribe", "sns:Unsubscribe", "sqs:ListQueues", "kms:Decrypt"}
    granted = [a for a in desired.required_actions if a not in left_out]
    appliance = desired.trust.to_iam()["Statement"][1]
    others = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sts:AssumeRole",
        }
        for account in ("222222222222", "333333333333")
    ]
    role = observed_from(desired, trust=document(appliance, *others))
    policies = {
        INLINE_POLICY_NAME: document(
            allow(*granted), allow("kms:Decrypt", Bool={"aws:SecureTransport": "true"})
        ),
        "guard": document(
            {"Effect": "Deny", "Action": ["iam:GetRole", "iam:PassRole"], "Resource": "*"}
        ),
    }
    return replace(role, inline_policies=policies)


DRIFT = "3 missing, 2 denied, 1 conditional, 1 trust errors"


def checked(role: ObservedRole | None, *applied: p.Change, **extra: Any) -> Outcome:
    report = assess(DESIRED, role, default_catalog()) if role is not None else None
    return Outcome(
        checked_at=NOW, desired=DESIRED, role=role, report=report, applied=applied, **extra
    )


def cases() -> list[tuple[str, Outcome, str | None, bool | None, Note | None]]:
    """(case, the outcome, Ready's reason and the verdict before, the Event)."""
    compliant = observed_from(DESIRED)
    created = p.plan_changes(DESIRED, None).changes
    return [
        (
            "a create",
            checked(compliant, *created),
            None,
            None,
            Note("RoleCreated", f"{CREATED}; compliant"),
        ),
        (
            "a repair that did not make the role compliant",
            checked(drifted(DESIRED), TAGGED, SETTINGS),
            "NotCompliant",
            False,
            Note("RoleRepaired", f"{REPAIRED}; still not compliant: {DRIFT}", warning=True),
        ),
        (
            "changes made before a failure already reported",
            checked(None, TAGGED, SETTINGS, failure=THROTTLED),
            "AwsThrottled",
            None,
            Note("RoleRepaired", REPAIRED),
        ),
        (
            "a new failure after changes",
            checked(None, TAGGED, SETTINGS, failure=THROTTLED),
            "Reconciled",
            True,
            Note("AwsThrottled", f"GetRole failed after 5 retries (after: {REPAIRED})", True),
        ),
        (
            "a new failure",
            checked(None, failure=THROTTLED),
            "Reconciled",
            True,
            Note("AwsThrottled", "GetRole failed after 5 retries", warning=True),
        ),
        (
            "drift found",
            checked(drifted(DESIRED)),
            "Reconciled",
            True,
            Note("NotCompliant", f"the role drifted from the spec: {DRIFT}", warning=True),
        ),
        (
            "compliant again",
            checked(compliant),
            "NotCompliant",
            False,
            Note("Compliant", "the role is compliant with the spec"),
        ),
    ]


@pytest.mark.parametrize(
    ("outcome", "previous_reason", "previous_compliant", "note"),
    [case[1:] for case in cases()],
    ids=[case[0] for case in cases()],
)
def test_the_event_of_a_reconcile(
    outcome: Outcome,
    previous_reason: str | None,
    previous_compliant: bool | None,
    note: Note | None,
) -> None:
    assert event_for(outcome, previous_reason, previous_compliant) == note
