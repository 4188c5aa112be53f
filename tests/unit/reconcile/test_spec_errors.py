"""What a spec the schema cannot judge becomes: the Ready message word for word, and the role's
description and permission document in the order IAM will show them."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.guardrails import dangerous_actions
from dynamobackup.policy.least_privilege import ROLE_INLINE_POLICIES_MAX_CHARS, policy_size
from dynamobackup.reconcile.desired import SpecError, desired_role

from .conftest import OWNER, make_spec


@pytest.mark.parametrize(
    ("permissions", "reason", "message"),
    [
        (
            {"additionalActions": ["s3:NoSuch", "ec2:Nope"]},
            "UnknownAction",
            "permissions.additionalActions: ec2:Nope, s3:NoSuch match no action in the AWS "
            "action catalog",
        ),
        (
            {"additionalActions": ["iam:*", "sts:AssumeRole"]},
            "ForbiddenAction",
            "permissions.additionalActions: iam:*, sts:AssumeRole grant actions a "
            "DynamoBackupRole may not add (dangerous, or forbidden for this account); an "
            "administrator can allow them in the account's DynamoBackupAccount guardrails",
        ),
        (
            {"profileVersion": "9"},
            "UnknownProfileVersion",
            "unknown profile version '9' (shipped: 10, 11)",
        ),
    ],
)
def test_a_spec_that_cannot_be_satisfied_says_why_in_full(
    permissions: dict[str, Any], reason: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        desired_role(make_spec(permissions=permissions), OWNER)
    assert (caught.value.reason, str(caught.value)) == (reason, message)


def test_added_actions_are_listed_and_written_ignoring_case() -> None:
    # IAM action names ignore case; a person reads them alphabetically, not by code point.
    desired = desired_role(
        make_spec(permissions={"additionalActions": ["s3:PutObject", "s3:getObject"]}), OWNER
    )
    assert desired.additional_actions == ("s3:getObject", "s3:PutObject")
    written = desired.permissions[0].to_iam()["Statement"][0]["Action"]
    s3 = written.index("s3:getObject")
    assert written[s3 - 1 : s3 + 3] == [
        "kms:Decrypt",
        "s3:getObject",
        "s3:PutObject",
        "sns:CreateTopic",
    ]


def test_the_default_description_names_every_operation() -> None:
    desired = desired_role(make_spec(scope={"operations": ["ManualBackup", "BackupPolicy"]}), OWNER)
    assert desired.settings.description == (
        "Veeam Backup for AWS 11 DynamoDB role (BackupPolicy, ManualBackup)"
    )


def filling(target: int) -> list[str]:
    """Harmless EC2 actions that bring the inline permissions policy to exactly `target`
    characters: the longest first while 40 characters remain, then two that fill the rest."""
    profile = desired_role(make_spec(), OWNER)
    taken = {action.lower() for action in profile.required_actions}
    candidates = sorted(
        action
        for action in default_catalog().expand("ec2:*")
        if action.lower() not in dangerous_actions() and action.lower() not in taken
    )
    size, chosen = policy_size(profile.permissions[0]), []
    for action in sorted(candidates, key=len, reverse=True):
        if size + len(action) + 3 <= target - 40:  # "action", in the Action list
            chosen.append(action)
            size += len(action) + 3
    left = [action for action in candidates if action not in chosen]
    pair = next((a, b) for a, b in combinations(left, 2) if len(a) + len(b) + 6 == target - size)
    return [*chosen, *pair]


def test_an_inline_policy_of_exactly_the_quota_is_written_inline() -> None:
    actions = filling(ROLE_INLINE_POLICIES_MAX_CHARS)
    exact = desired_role(make_spec(permissions={"additionalActions": actions}), OWNER)
    assert [policy_size(document) for document in exact.permissions] == [10_240]
    with pytest.raises(SpecError) as caught:
        over = [*actions[:-1], f"{actions[-1]}*"]  # one character more
        desired_role(make_spec(permissions={"additionalActions": over}), OWNER)
    assert caught.value.reason == "PolicyTooLarge"
