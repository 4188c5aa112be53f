"""The evaluator follows AWS's identity-policy logic for each required action on all resources."""

from __future__ import annotations

from typing import Any

from dynamobackup.policy.catalog import ActionCatalog, default_catalog
from dynamobackup.policy.document import PolicyDocument, parse_document
from dynamobackup.policy.evaluate import PermissionReport, evaluate_permissions

REQUIRED = ("dynamodb:DescribeTable", "dynamodb:ListTables", "backup:StartBackupJob")
CONDITION = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}


def policy(*statements: dict[str, Any]) -> PolicyDocument:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def deny(actions: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resource, **extra}


def judge(*policies: PolicyDocument, boundary: PolicyDocument | None = None) -> PermissionReport:
    return evaluate_permissions(REQUIRED, policies, boundary, default_catalog())


def test_exact_grant_is_allowed_and_compliant() -> None:
    report = judge(policy(allow(list(REQUIRED))))
    assert report.allowed == REQUIRED
    assert report.is_compliant(strict=True)


def test_nothing_granted_is_missing() -> None:
    report = judge(policy(allow("s3:GetObject")))
    assert report.missing == REQUIRED
    assert report.excess == ("s3:GetObject",)


def test_matching_is_case_insensitive_with_star_and_question_mark() -> None:
    report = judge(policy(allow(["DYNAMODB:describe?able", "dynamodb:List*", "backup:Start*Job"])))
    assert report.allowed == REQUIRED


def test_grants_spread_over_policies_and_statements_add_up() -> None:
    report = judge(
        policy(allow("dynamodb:DescribeTable")),
        policy(allow(["dynamodb:ListTables", "backup:StartBackupJob"])),
    )
    assert report.is_compliant()


def test_unconditional_deny_anywhere_wins_on_any_resource() -> None:
    report = judge(
        policy(allow(list(REQUIRED))),
        policy(deny("dynamodb:ListTables", resource="arn:aws:dynamodb:*:*:table/secret")),
    )
    assert report.denied == ("dynamodb:ListTables",)
    assert report.allowed == ("dynamodb:DescribeTable", "backup:StartBackupJob")


def test_not_action_deny_denies_everything_else() -> None:
    report = judge(
        policy(allow("*"), {"Effect": "Deny", "NotAction": "dynamodb:*", "Resource": "*"})
    )
    assert report.denied == ("backup:StartBackupJob",)
    assert report.allowed == ("dynamodb:DescribeTable", "dynamodb:ListTables")


def test_not_action_allow_grants_and_is_excess() -> None:
    report = judge(
        policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
    )
    assert report.allowed == REQUIRED
    assert report.excess == ("NotAction: iam:*, organizations:*",)


def test_conditional_allow_is_conditional_never_allowed() -> None:
    report = judge(policy(allow(list(REQUIRED), Condition=CONDITION)))
    assert report.conditional == REQUIRED
    assert not report.is_compliant()


def test_conditional_deny_over_an_allow_is_conditional() -> None:
    report = judge(policy(allow(list(REQUIRED)), deny("backup:*", Condition=CONDITION)))
    assert report.conditional == ("backup:StartBackupJob",)
    assert report.allowed == ("dynamodb:DescribeTable", "dynamodb:ListTables")


def test_conditional_deny_without_allow_is_missing() -> None:
    report = judge(policy(deny("backup:*", Condition=CONDITION)))
    assert report.missing == REQUIRED


def test_allow_on_narrower_resources_is_missing() -> None:
    report = judge(
        policy(
            allow("dynamodb:DescribeTable", resource="arn:aws:dynamodb:*:*:table/*"),
            {
                "Effect": "Allow",
                "Action": "dynamodb:ListTables",
                "NotResource": "arn:aws:dynamodb:*:*:table/x",
            },
            allow("backup:StartBackupJob", resource=["arn:aws:backup:*", "*"]),
        )
    )
    assert report.missing == ("dynamodb:DescribeTable", "dynamodb:ListTables")
    assert report.allowed == ("backup:StartBackupJob",)


def test_boundary_must_allow_too() -> None:
    identity = policy(allow("*"))
    boundary = policy(allow("dynamodb:*"))
    report = judge(identity, boundary=boundary)
    assert report.allowed == ("dynamodb:DescribeTable", "dynamodb:ListTables")
    assert report.missing == ("backup:StartBackupJob",)


def test_boundary_deny_and_conditional_boundary() -> None:
    identity = policy(allow(list(REQUIRED)))
    boundary = policy(allow("*"), deny("dynamodb:ListTables"), allow("backup:*"))
    assert judge(identity, boundary=boundary).denied == ("dynamodb:ListTables",)
    conditional_boundary = policy(allow("*", Condition=CONDITION))
    assert judge(identity, boundary=conditional_boundary).conditional == REQUIRED


def test_boundary_alone_grants_nothing() -> None:
    report = judge(policy(allow("s3:ListBucket")), boundary=policy(allow("*")))
    assert report.missing == REQUIRED


def test_excess_is_reported_as_written_and_wildcards_are_expanded() -> None:
    report = judge(
        policy(
            allow(list(REQUIRED)),
            allow(["backup:*", "dynamodb:ListTab*", "iam:CreateUser", "*"]),
            deny("iam:*"),
        )
    )
    # dynamodb:ListTab* only expands to required actions; iam:CreateUser is excess even though denied.
    assert report.excess == ("*", "backup:*", "iam:CreateUser")
    assert report.is_compliant() and not report.is_compliant(strict=True)


def test_excess_uses_the_given_catalog() -> None:
    tiny = ActionCatalog(
        {"dynamodb": ["DescribeTable", "ListTables"], "backup": ["StartBackupJob"]}
    )
    report = evaluate_permissions(
        REQUIRED, [policy(allow(["dynamodb:*", "backup:*"]))], catalog=tiny
    )
    assert report.excess == ()


def test_unknown_literal_action_outside_the_profile_is_excess() -> None:
    report = judge(policy(allow([*REQUIRED, "madeup:DoThing"])))
    assert report.excess == ("madeup:DoThing",)


def test_required_wildcards_are_not_excess_of_themselves() -> None:
    required = (*REQUIRED, "backup:*")
    document = policy(allow([*REQUIRED, "backup:*", "backup:Describe*"]), allow("sns:*"))
    report = evaluate_permissions(required, [document], catalog=default_catalog())
    assert report.allowed == required
    assert report.excess == ("sns:*",)
