"""What a user reads about a policy document: each refusal word for word (with where it is), and
the document written back to IAM exactly (Version, Id, condition values as IAM spells them).

`dbr check` prints these messages, the status carries them ("the trust policy cannot be read:
..."), and the operator writes `to_iam()`/`to_json()` to AWS.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dynamobackup.policy.document import PolicyDocumentError, parse_document, parse_statement

ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
PRINCIPAL_SHAPE = 'must be "*" or an object such as {"AWS": "arn:..."}'


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"Statement": [{**ALLOW, "Action": []}]},
            "policy: Statement.0.Action: must not be an empty list",
        ),
        (
            {"Statement": [{**ALLOW, "Action": 5}]},
            "policy: Statement.0.Action: must be a string or a list of strings",
        ),
        (
            {"Statement": [{**ALLOW, "Condition": {"StringEquals": "x"}}]},
            'policy: Statement.0.Condition: must map operators to {"key": value} objects',
        ),
        (
            {"Statement": [{**ALLOW, "NotResource": "*"}]},
            "policy: Statement.0: a statement cannot have both Resource and NotResource",
        ),
        (
            {"Statement": [{**ALLOW, "Principal": "*", "NotPrincipal": {"AWS": "x"}}]},
            "policy: Statement.0: a statement cannot have both Principal and NotPrincipal",
        ),
        (
            {"Statement": [{**ALLOW, "Principal": {}}]},
            f"policy: Statement.0.Principal: {PRINCIPAL_SHAPE}",
        ),
        (
            {"Statement": [{**ALLOW, "Principal": 5}]},
            f"policy: Statement.0.Principal: {PRINCIPAL_SHAPE}",
        ),
        (
            {"Statement": [ALLOW, {**ALLOW, "NotPrincipal": []}]},
            "policy: Statement.1.NotPrincipal: " + PRINCIPAL_SHAPE,
        ),
        (
            {"Statement": [ALLOW, {**ALLOW, "NotAction": 5, "Action": None}]},
            "policy: Statement.1.NotAction: must be a string or a list of strings",
        ),
        (
            {"Version": 5, "Statement": [ALLOW]},
            "policy: Version: Input should be a valid string",
        ),
        ({"Id": 5, "Statement": [ALLOW]}, "policy: Id: Input should be a valid string"),
        ({"Foo": 1, "Statement": [ALLOW]}, "policy: Foo: Extra inputs are not permitted"),
        (
            {"Statement": [ALLOW, {**ALLOW, "Sid": 5}]},
            "policy: Statement.1.Sid: Input should be a valid string",
        ),
        (
            {"Statement": [ALLOW, {**ALLOW, "Bar": 1}]},
            "policy: Statement.1.Bar: Extra inputs are not permitted",
        ),
    ],
)
def test_a_malformed_document_is_refused_with_where_and_why(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyDocumentError) as refused:
        parse_document(document)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({**ALLOW, "Sid": 5}, "Sid: Input should be a valid string"),
        ({**ALLOW, "Action": []}, "Action: must not be an empty list"),
        ({**ALLOW, "Principal": {}}, f"Principal: {PRINCIPAL_SHAPE}"),
    ],
)
def test_a_malformed_statement_alone_is_refused_with_its_element(
    statement: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyDocumentError) as refused:
        parse_statement(statement)
    assert str(refused.value) == message


CONDITIONED = {
    **ALLOW,
    "Condition": {"Bool": {"aws:SecureTransport": False, "aws:ViaAWSService": True}},
}


def test_version_id_and_boolean_condition_values_are_written_back_as_iam_spells_them() -> None:
    document = parse_document({"Version": "2008-10-17", "Id": "my-id", "Statement": [CONDITIONED]})
    assert document.to_iam() == {
        "Version": "2008-10-17",
        "Id": "my-id",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": ["*"],
                "Condition": {
                    "Bool": {"aws:SecureTransport": ["false"], "aws:ViaAWSService": ["true"]}
                },
            }
        ],
    }


def test_a_document_without_version_or_id_is_written_with_the_current_version_only() -> None:
    assert parse_document({"Statement": [ALLOW]}).to_iam() == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}],
    }


def test_json_is_compact_unless_indented() -> None:
    document = parse_document({"Version": "2012-10-17", "Id": "x", "Statement": [ALLOW]})
    assert document.to_json() == (
        '{"Version":"2012-10-17","Id":"x","Statement":'
        '[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}'
    )
    assert document.to_json(indent=2) == json.dumps(document.to_iam(), indent=2)
    assert '"Version": "2012-10-17"' in document.to_json(indent=2)
