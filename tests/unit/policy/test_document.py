"""Every legal spelling of an IAM document parses; malformed ones give one clear line."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from dynamobackup.policy.document import PolicyDocumentError, parse_document, parse_statement

TRUST = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Principal": {"Service": "backup.amazonaws.com", "AWS": ["123456789012"]},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"sts:ExternalId": "abc"},
            "Bool": {"aws:MultiFactorAuthPresent": True},
        },
    },
}


def test_statement_object_and_string_values_become_lists() -> None:
    document = parse_document(TRUST)
    (statement,) = document.statement
    assert statement.action == ("sts:AssumeRole",)
    assert statement.principal == {"Service": ("backup.amazonaws.com",), "AWS": ("123456789012",)}
    assert statement.condition == {
        "StringEquals": {"sts:ExternalId": ("abc",)},
        "Bool": {"aws:MultiFactorAuthPresent": ("true",)},
    }


def test_url_encoded_json_as_iam_returns_it() -> None:
    encoded = quote(json.dumps(TRUST))
    assert encoded.startswith("%7B")
    assert parse_document(encoded) == parse_document(TRUST)


def test_json_text_and_bytes() -> None:
    text = json.dumps(TRUST)
    assert parse_document(text) == parse_document(text.encode()) == parse_document(TRUST)


def test_principal_star_not_elements_and_numbers() -> None:
    document = parse_document(
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "NotPrincipal": {"AWS": "arn:aws:iam::1:role/x"},
                    "NotAction": "s3:*",
                    "NotResource": ["arn:aws:s3:::b"],
                },
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["sts:AssumeRole"],
                    "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}},
                },
            ]
        }
    )
    deny, allow = document.statement
    assert deny.not_action == ("s3:*",) and deny.not_resource == ("arn:aws:s3:::b",)
    assert allow.principal == "*"
    assert allow.condition == {"NumericLessThan": {"aws:MultiFactorAuthAge": ("3600",)}}


def test_round_trip_through_iam_json() -> None:
    document = parse_document(TRUST)
    assert parse_document(document.to_json()) == document


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "policy: invalid JSON at line 1 column 2"),
        ("[]", "policy: a policy document must be a JSON object"),
        ('{"Version": "2012-10-17"}', "policy: Statement: Field required"),
        (
            '{"Statement": [{"Effect": "allow", "Action": "s3:*"}]}',
            "Statement.0.Effect: Input should be 'Allow' or 'Deny'",
        ),
        (
            '{"Statement": [{"Effect": "Allow"}]}',
            "Statement.0: a statement needs exactly one of Action or NotAction",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "a", "NotAction": "b"}]}',
            "exactly one of Action or NotAction",
        ),
        ('{"Statement": [{"Effect": "Allow", "Action": []}]}', "must not be an empty list"),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "a", "Principal": {"Role": "x"}}]}',
            "unknown principal type 'Role'",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": 3}]}',
            "must be a string or a list of strings",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "a", "Resourse": "*"}]}',
            "Statement.0.Resourse: Extra inputs are not permitted",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "a", "Condition": {"StringEquals": "x"}}]}',
            "must map operators",
        ),
    ],
)
def test_malformed_documents_give_one_line(raw: str, message: str) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        parse_document(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # Every problem is counted; the first named follows the grammar's order, unknown keys last.
        (
            {"Statement": [{"Resourse": "*", "Action": 3}]},
            "policy: Statement.0.Effect: Field required (and 2 more problems)",
        ),
        (
            {"Other": 1, "Statement": [{"Effect": "Allow", "Action": "a"}], "Id": 7},
            "policy: Id: Input should be a valid string (and 1 more problems)",
        ),
        (
            {"Statement": 1, "Other": 2},
            "policy: Statement: must be a statement object or a list of them (and 1 more problems)",
        ),
        ({"Statement": ["s3:*"]}, "policy: Statement.0: a statement must be a JSON object"),
        (
            {"Statement": [{"Effect": "Allow"}, {"Effect": "Deny", "Action": []}]},
            "policy: Statement.0: a statement needs exactly one of Action or NotAction (and 1 more problems)",
        ),
        # IAM's element names, exactly: a lower-case `effect` is not the Effect element.
        (
            {"Statement": [{"effect": "Allow", "Action": "a"}]},
            "policy: Statement.0.Effect: Field required (and 1 more problems)",
        ),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "a", "Condition": {"Bool": {"k": [None]}}}
                ]
            },
            "policy: Statement.0.Condition: condition values must be strings, numbers or booleans",
        ),
    ],
)
def test_the_whole_message_names_the_first_problem_and_counts_the_rest(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        parse_document(raw)
    assert str(caught.value) == message


def test_one_statement_parses_on_its_own_and_its_errors_name_the_element() -> None:
    statement = parse_statement({"Effect": "Deny", "NotAction": "s3:*", "Resource": ["a", "b"]})
    assert (statement.effect, statement.not_action, statement.resource) == (
        "Deny",
        ("s3:*",),
        ("a", "b"),
    )
    with pytest.raises(PolicyDocumentError) as caught:
        parse_statement({"Effect": "Allow", "Action": "a", "Principal": {"Role": "x"}})
    assert str(caught.value) == "Principal: unknown principal type 'Role'"
