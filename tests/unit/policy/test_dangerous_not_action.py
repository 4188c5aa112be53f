"""An Allow with NotAction grants everything it does not exclude: it is dangerous excess when
that includes a dangerous action the profile does not need, named as written."""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import PolicyDocument, parse_document
from dynamobackup.policy.guardrails import dangerous_excess
from dynamobackup.policy.profiles import load_profile

# Needs iam:PassRole, kms:Decrypt and sns/sqs writes, all dangerous in themselves.
PROFILE = load_profile().required_actions(["BackupPolicy"])
CATALOG = default_catalog()


def policy(*statements: dict[str, Any]) -> PolicyDocument:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow_all_but(*excluded: str) -> dict[str, Any]:
    return {"Effect": "Allow", "NotAction": list(excluded), "Resource": "*"}


@pytest.mark.parametrize(
    ("excluded", "found"),
    [
        (("*",), ()),
        (("*:*",), ()),
        (("iam:PassRole",), ("NotAction: iam:PassRole",)),
        (("iam:PassRole", "S3:*"), ("NotAction: iam:PassRole, S3:*",)),
        # Every dangerous action the profile needs is excluded; iam:CreateUser and more are not.
        (
            ("iam:PassRole", "kms:*", "sns:*", "sqs:*"),
            ("NotAction: iam:PassRole, kms:*, sns:*, sqs:*",),
        ),
        (
            ("iam:*", "sts:*", "organizations:*", "kms:*", "account:*", "*:Put*Policy"),
            ("NotAction: *:Put*Policy, account:*, iam:*, kms:*, organizations:*, sts:*",),
        ),
    ],
)
def test_a_not_action_grant_is_dangerous_when_what_it_leaves_is(
    excluded: tuple[str, ...], found: tuple[str, ...]
) -> None:
    assert dangerous_excess(PROFILE, [policy(allow_all_but(*excluded))], CATALOG) == found


def test_statements_after_a_deny_or_a_not_action_grant_are_judged_too() -> None:
    document = policy(
        {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
        allow_all_but("*"),
        allow_all_but("iam:PassRole"),
        {"Effect": "Allow", "Action": ["iam:CreateUser", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    )
    assert dangerous_excess(PROFILE, [document], CATALOG) == (
        "iam:CreateUser",
        "NotAction: iam:PassRole",
        "sts:AssumeRole",
    )
