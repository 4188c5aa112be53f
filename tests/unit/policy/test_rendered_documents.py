"""The documents `dbr render` prints and Enforce writes, as IAM stores them (JSON without
whitespace, the text IAM's size quotas count)."""

from __future__ import annotations

import pytest

from dynamobackup.policy.least_privilege import (
    MANAGED_POLICY_MAX_CHARS,
    PolicyTooLargeError,
    permission_documents,
    trust_document,
)
from dynamobackup.policy.trust import Appliance

ACTIONS = ["dynamodb:DescribeTable", "kms:Decrypt"]
ONE = (
    '{"Version":"2012-10-17","Statement":[{"Sid":"VeeamDynamoDBBackup","Effect":"Allow",'
    '"Action":["dynamodb:DescribeTable","kms:Decrypt"],"Resource":["*"]}]}'
)
FIRST = (
    '{"Version":"2012-10-17","Statement":[{"Sid":"VeeamDynamoDBBackup1","Effect":"Allow",'
    '"Action":["dynamodb:DescribeTable"],"Resource":["*"]}]}'
)
SECOND = (
    '{"Version":"2012-10-17","Statement":[{"Sid":"VeeamDynamoDBBackup2","Effect":"Allow",'
    '"Action":["kms:Decrypt"],"Resource":["*"]}]}'
)


def rendered(
    actions: list[str], resource: str = "*", max_chars: int = MANAGED_POLICY_MAX_CHARS
) -> list[str]:
    documents = permission_documents(actions, resource=resource, max_chars=max_chars)
    return [document.to_json() for document in documents]


def test_the_actions_in_one_statement_on_every_resource() -> None:
    assert rendered(ACTIONS) == [ONE]


def test_the_profiles_resource_when_it_names_one() -> None:
    assert rendered(["dynamodb:DescribeTable"], resource="arn:aws:dynamodb:*:*:table/*") == [
        '{"Version":"2012-10-17","Statement":[{"Sid":"VeeamDynamoDBBackup","Effect":"Allow",'
        '"Action":["dynamodb:DescribeTable"],"Resource":["arn:aws:dynamodb:*:*:table/*"]}]}'
    ]


@pytest.mark.parametrize(
    ("max_chars", "documents"),
    [
        # A part is sized with its number in the Sid, so that it still fits if a split follows.
        (len(ONE) + 1, [ONE]),
        (len(ONE), [FIRST, SECOND]),
        (len(FIRST), [FIRST, SECOND]),
    ],
)
def test_split_into_numbered_parts_only_when_one_does_not_fit(
    max_chars: int, documents: list[str]
) -> None:
    assert rendered(ACTIONS, max_chars=max_chars) == documents


def test_an_action_that_fits_no_document_is_a_clear_error() -> None:
    with pytest.raises(PolicyTooLargeError) as caught:
        rendered(ACTIONS, max_chars=len(FIRST) - 1)
    assert str(caught.value) == f"dynamodb:DescribeTable alone exceeds {len(FIRST) - 1} characters"


def test_no_actions_no_document() -> None:
    assert rendered([]) == []


def test_trust_for_the_services_and_the_appliance_role_under_its_external_id() -> None:
    document = trust_document(
        Appliance.parse("arn:aws:iam::111111111111:role/Veeam"),
        external_id="x1",
        services=["backup.amazonaws.com"],
    )
    assert document.to_json() == (
        '{"Version":"2012-10-17","Statement":[{"Sid":"AwsBackupService","Effect":"Allow",'
        '"Principal":{"Service":["backup.amazonaws.com"]},"Action":["sts:AssumeRole"]},'
        '{"Sid":"VeeamBackupAppliance","Effect":"Allow",'
        '"Principal":{"AWS":["arn:aws:iam::111111111111:role/Veeam"]},"Action":["sts:AssumeRole"],'
        '"Condition":{"StringEquals":{"sts:ExternalId":["x1"]}}}]}'
    )


def test_trust_for_an_appliance_known_by_its_account_without_an_external_id() -> None:
    document = trust_document(
        Appliance.parse("111111111111"),
        services=["backup.amazonaws.com", "dynamodb.amazonaws.com"],
    )
    assert document.to_json() == (
        '{"Version":"2012-10-17","Statement":[{"Sid":"AwsBackupService","Effect":"Allow",'
        '"Principal":{"Service":["backup.amazonaws.com","dynamodb.amazonaws.com"]},'
        '"Action":["sts:AssumeRole"]},{"Sid":"VeeamBackupAppliance","Effect":"Allow",'
        '"Principal":{"AWS":["arn:aws:iam::111111111111:root"]},"Action":["sts:AssumeRole"]}]}'
    )
