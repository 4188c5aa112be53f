"""What a condition on a trust statement does to the trust findings `dbr check` prints."""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.document import parse_document
from dynamobackup.policy.trust import Appliance, analyze_trust

OWN_ACCOUNT = "123456789012"
APPLIANCE_ACCOUNT = "111111111111"
SERVICE_NOT_TRUSTED = (
    "BackupServiceNotTrusted",
    "error",
    "the AWS Backup service (backup.amazonaws.com) cannot call sts:AssumeRole: "
    "the conditions of the statements trusting it do not hold for it",
)


def findings(
    service_condition: dict[str, Any] | None,
    appliance_condition: dict[str, Any] | None = None,
    appliance: str = APPLIANCE_ACCOUNT,
) -> list[tuple[str, str, str]]:
    statements = [
        {"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}},
        {"Effect": "Allow", "Principal": {"AWS": APPLIANCE_ACCOUNT}},
    ]
    for statement, condition in zip(
        statements, (service_condition, appliance_condition), strict=True
    ):
        statement["Action"] = "sts:AssumeRole"
        if condition:
            statement["Condition"] = condition
    report = analyze_trust(
        parse_document({"Version": "2012-10-17", "Statement": statements}),
        Appliance.parse(appliance),
        services=("backup.amazonaws.com",),
        account_id=OWN_ACCOUNT,
    )
    return [(f.code.value, f.severity.value, f.message) for f in report.findings]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"ArnLike": {"aws:SourceArn": f"arn:aws:backup:*:{OWN_ACCOUNT}:*"}}, []),
        ({"StringLike": {"aws:SourceArn": f"arn:aws:backup:*:{OWN_ACCOUNT}:*"}}, []),
        # StringEquals compares literally: AWS Backup's source ARN names a region and a resource.
        (
            {"StringEquals": {"aws:SourceArn": f"arn:aws:backup:*:{OWN_ACCOUNT}:*"}},
            [SERVICE_NOT_TRUSTED],
        ),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:backup:*:444455556666:*"}}, [SERVICE_NOT_TRUSTED]),
        ({"Bool": {"aws:PrincipalIsAWSService": "true"}}, []),
        ({"Bool": {"aws:PrincipalIsAWSService": "false"}}, [SERVICE_NOT_TRUSTED]),
        ({"StringEquals": {"aws:SourceAccount": OWN_ACCOUNT}}, []),
        ({"StringNotEquals": {"aws:SourceAccount": OWN_ACCOUNT}}, [SERVICE_NOT_TRUSTED]),
        ({"Null": {"aws:SourceAccount": "false"}}, []),
    ],
)
def test_a_condition_on_the_backup_services_statement(
    condition: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    assert findings(condition) == expected


def appliance_not_trusted(why: str) -> tuple[str, str, str]:
    return (
        "ApplianceNotTrusted",
        "error",
        f"the Veeam appliance (account {APPLIANCE_ACCOUNT}) cannot call sts:AssumeRole: {why}",
    )


UNDECIDED = appliance_not_trusted(
    "it is trusted only under conditions that cannot be checked (aws:PrincipalArn)"
)
FAILS = appliance_not_trusted("the conditions of the statements trusting it do not hold for it")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"Bool": {"aws:PrincipalIsAWSService": "false"}}, []),
        ({"Bool": {"aws:PrincipalIsAWSService": "true"}}, [FAILS]),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{APPLIANCE_ACCOUNT}:*"}}, []),
        (
            {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{APPLIANCE_ACCOUNT}:role/V*"}},
            [UNDECIDED],
        ),
        (
            {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{APPLIANCE_ACCOUNT}:role/X"}},
            [UNDECIDED],
        ),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::444455556666:*"}}, [FAILS]),
        ({"StringEquals": {"aws:PrincipalAccount": APPLIANCE_ACCOUNT}}, []),
        ({"Null": {"aws:SourceArn": "true"}}, []),
    ],
)
def test_a_condition_on_an_appliance_known_by_its_account(
    condition: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    assert findings({"Bool": {"aws:PrincipalIsAWSService": "true"}}, condition) == expected
