"""boto3 against the moto server over HTTP, including the cross-account recipe the operator relies on."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from dynamobackup_devenv.moto_server import DEFAULT_ACCOUNT_ID, AwsHelper

OTHER_ACCOUNT = "222233334444"
THIRD_ACCOUNT = "555566667777"


def test_create_iam_role_over_http(aws: AwsHelper) -> None:
    iam = aws.client("iam")
    assert iam.meta.endpoint_url == aws.endpoint_url
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    created = iam.create_role(RoleName="dbr-it-role", AssumeRolePolicyDocument=json.dumps(policy))
    assert created["Role"]["Arn"] == f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/dbr-it-role"
    fetched = iam.get_role(RoleName="dbr-it-role")["Role"]
    assert fetched["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"


def test_reset_between_tests_leaves_no_roles(aws: AwsHelper) -> None:
    # Runs after test_create_iam_role_over_http in file order: the fixture's reset emptied moto.
    assert aws.client("iam").list_roles()["Roles"] == []


def test_ambient_boto3_clients_land_in_moto(aws: AwsHelper) -> None:
    # The fixture points AWS_ENDPOINT_URL and dummy keys at moto for code that builds its own clients.
    identity = boto3.client("sts").get_caller_identity()
    assert identity["Account"] == DEFAULT_ACCOUNT_ID


def test_accounts_are_separate(aws: AwsHelper) -> None:
    aws.client("iam", account=OTHER_ACCOUNT).create_role(
        RoleName="only-in-other", AssumeRolePolicyDocument="{}"
    )
    assert _role_names(aws.client("iam", account=OTHER_ACCOUNT)) == ["only-in-other"]
    assert _role_names(aws.client("iam")) == []
    with pytest.raises(ClientError):
        aws.client("iam", account=THIRD_ACCOUNT).get_role(RoleName="only-in-other")


def test_assume_role_into_another_account(aws: AwsHelper) -> None:
    role_arn = aws.create_cross_account_role(OTHER_ACCOUNT, "veeam-backup", external_id="ext-123")
    assert role_arn == f"arn:aws:iam::{OTHER_ACCOUNT}:role/veeam-backup"
    trust = aws.client("iam", account=OTHER_ACCOUNT).get_role(RoleName="veeam-backup")["Role"]
    statement = trust["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-123"}}

    # The operator's own identity lives in the default account ...
    assert aws.client("sts").get_caller_identity()["Account"] == DEFAULT_ACCOUNT_ID
    credentials = aws.assume_role(role_arn, external_id="ext-123", session_name="dbr-operator")

    # ... and the assumed-role credentials act in the other account, with no header involved.
    identity = aws.client("sts", **credentials).get_caller_identity()
    assert identity["Account"] == OTHER_ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/veeam-backup/dbr-operator"
    other_iam = aws.client("iam", **credentials)
    assert _role_names(other_iam) == ["veeam-backup"]
    other_iam.create_role(RoleName="made-by-operator", AssumeRolePolicyDocument="{}")
    assert "made-by-operator" in _role_names(aws.client("iam", account=OTHER_ACCOUNT))
    assert "made-by-operator" not in _role_names(aws.client("iam"))


def _role_names(iam: object) -> list[str]:
    roles = iam.list_roles()["Roles"]  # type: ignore[attr-defined]
    return sorted(role["RoleName"] for role in roles)
