"""Dangerous actions (one data file) and what a role may add; excess counts what is granted."""

from __future__ import annotations

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.policy.evaluate import evaluate_permissions
from dynamobackup.policy.guardrails import Guardrails, dangerous_actions, dangerous_excess
from dynamobackup.policy.profiles import load_profile

PROFILE = load_profile().required_actions(["BackupPolicy"])
CATALOG = default_catalog()


def allow(*actions: str) -> object:
    return parse_document(
        {"Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "*:*",
        "iam:*",
        "iam:CreateUser",
        "iam:AttachRolePolicy",
        "sts:*",
        "sts:AssumeRole",
        "organizations:*",
        "kms:*",
        "kms:CreateKey",
        "s3:PutBucketPolicy",
    ],
)
def test_the_safe_defaults_refuse_dangerous_additions(entry: str) -> None:
    assert Guardrails().refused([entry], PROFILE, CATALOG) == (entry,)


@pytest.mark.parametrize(
    "entry", ["s3:GetObject", "dynamodb:List*", "organizations:ListAccounts", "kms:DescribeKey"]
)
def test_harmless_additions_pass(entry: str) -> None:
    assert Guardrails().refused([entry], PROFILE, CATALOG) == ()


def test_what_the_profile_already_needs_is_never_refused() -> None:
    # iam:PassRole is an IAM write, but every backup-policy role needs it.
    assert Guardrails().refused(["iam:PassRole"], PROFILE, CATALOG) == ()


def test_an_admin_allow_list_lifts_the_refusal_only_for_what_it_covers() -> None:
    allowed = Guardrails(allowed=("iam:CreateServiceLinkedRole",))
    assert allowed.refused(["iam:CreateServiceLinkedRole", "iam:*"], PROFILE, CATALOG) == ("iam:*",)


def test_forbidden_patterns_add_to_the_defaults() -> None:
    guardrails = Guardrails(forbidden=("s3:*",))
    assert guardrails.refused(["s3:GetObject", "s3:Get*", "ec2:Describe*"], PROFILE, CATALOG) == (
        "s3:Get*",
        "s3:GetObject",
    )


def test_dangerous_excess_from_any_policy() -> None:
    policies = [allow(*PROFILE), allow("iam:*", "s3:GetObject"), allow("iam:Future*")]
    assert dangerous_excess(PROFILE, policies, CATALOG) == ("iam:*", "iam:Future*")
    not_action = parse_document(
        {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
    )
    assert dangerous_excess(PROFILE, [not_action], CATALOG) == ("NotAction: s3:*",)
    assert len(dangerous_actions()) > 500


@pytest.mark.parametrize("pattern", ["madeup:*", "dynamodb:FutureAction*"])
def test_a_wildcard_matching_no_catalogued_action_is_excess(pattern: str) -> None:
    # Before: such a pattern expanded to nothing, so it vanished from excess and strict passed it.
    report = evaluate_permissions(PROFILE, [allow(*PROFILE, pattern)], catalog=CATALOG)
    assert report.excess == (pattern,)
    assert not report.is_compliant(strict=True)


def test_a_wildcard_covered_by_a_required_wildcard_is_not_excess() -> None:
    report = evaluate_permissions(
        (*PROFILE, "backup:*"), [allow(*PROFILE, "backup:Future*")], catalog=CATALOG
    )
    assert report.excess == ()


def test_the_committed_dangerous_actions_follow_the_definition() -> None:
    from dynamobackup_devenv import catalog as generator

    committed = generator.dangerous_path().read_text(encoding="utf-8")
    assert committed == generator.generate_dangerous(), "stale: run `make catalog`"
