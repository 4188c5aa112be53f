"""The fix `dbr check` suggests for an action AWS does not have ("did you mean ...?")."""

from __future__ import annotations

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.policy.evaluate import closest_action, evaluate_permissions, find_unknown


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [
        ("dynamodb:ListTabls", "dynamodb:ListTables"),
        ("DYNAMODB:describetabel", "dynamodb:DescribeTable"),
        ("kms:Decrpyt", "kms:Decrypt"),
        ("dynamodb:DescribeTable:", "dynamodb:DescribeTable"),
        # Nothing of the service is spelled closely enough (dynamodb:Query is 71% alike).
        ("dynamodb:Xyzzy", None),
        ("madeup:Thing", None),
    ],
)
def test_the_closest_action_of_the_same_service_is_suggested(
    written: str, suggestion: str | None
) -> None:
    assert closest_action(written, default_catalog()) == suggestion


def test_unknown_actions_are_listed_once_each_in_case_insensitive_order() -> None:
    document = parse_document(
        {
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObjekt", "s3:Put_Object"], "Resource": "*"},
                {"Effect": "Deny", "NotAction": ["S3:PUTOBJEKT", "dynamodb:Scna"], "Resource": "*"},
            ]
        }
    )
    assert find_unknown([document], default_catalog()) == (
        "dynamodb:Scna",
        "s3:Put_Object",
        "s3:PutObjekt",
    )


def test_a_pattern_without_a_colon_matches_nothing_unless_it_is_all_stars() -> None:
    document = parse_document(
        {"Statement": [{"Effect": "Allow", "Action": ["s3*", "*", "**"], "Resource": "*"}]}
    )
    assert find_unknown([document], default_catalog()) == ("s3*",)


def test_excess_is_listed_once_each_in_case_insensitive_order() -> None:
    document = parse_document(
        {
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObjekt", "s3:Put_Object"], "Resource": "*"},
                {"Effect": "Allow", "NotAction": ["s3:PutObjekt"], "Resource": "*"},
                {"Effect": "Allow", "NotAction": ["s3:Put_Object"], "Resource": "*"},
            ]
        }
    )
    report = evaluate_permissions(["dynamodb:DescribeTable"], [document])
    assert report.excess == (
        "NotAction: s3:Put_Object",
        "NotAction: s3:PutObjekt",
        "s3:Put_Object",
        "s3:PutObjekt",
    )
