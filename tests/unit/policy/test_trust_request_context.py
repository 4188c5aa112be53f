"""Trust conditioned on each key AWS puts in the request: the service's and the appliance's.

A trust policy may narrow a principal with any global condition key (aws:SourceAccount against
the confused deputy, aws:PrincipalArn to one role of an account, ...). Each key here is set in
the request exactly as AWS sets it, so a policy that holds for the real caller is trusted and a
policy that names another value is not: the verdict a user reads follows the key's value.
"""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.document import parse_document
from dynamobackup.policy.trust import Appliance, TrustReport, analyze_trust

OWN_ACCOUNT = "222222222222"
OTHER_ACCOUNT = "333333333333"
APPLIANCE_ROLE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
APPLIANCE = Appliance.parse(APPLIANCE_ROLE)
BACKUP = "backup.amazonaws.com"
ID = "e8b9c1d0"


def report(
    service_condition: dict[str, Any] | None = None,
    appliance_condition: dict[str, Any] | None = None,
    *,
    appliance: Appliance = APPLIANCE,
    appliance_principal: str = APPLIANCE_ROLE,
    external_id: str | None = ID,
    account_id: str | None = OWN_ACCOUNT,
) -> TrustReport:
    """The verdict on a two-statement trust policy: the service and the appliance, each with the
    given condition (the appliance's external ID is always required when one is expected)."""
    id_condition = {"StringEquals": {"sts:ExternalId": external_id}} if external_id else {}
    service: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": BACKUP},
        "Action": "sts:AssumeRole",
    }
    appliance_statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": appliance_principal},
        "Action": "sts:AssumeRole",
        "Condition": _merged(id_condition, appliance_condition or {}),
    }
    if service_condition:
        service["Condition"] = service_condition
    if not appliance_statement["Condition"]:
        del appliance_statement["Condition"]
    document = parse_document(
        {"Version": "2012-10-17", "Statement": [service, appliance_statement]}
    )
    return analyze_trust(
        document, appliance, external_id=external_id, services=[BACKUP], account_id=account_id
    )


def _merged(*blocks: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {}
    for block in blocks:
        for operator, keys in block.items():
            merged.setdefault(operator, {}).update(keys)
    return merged


def messages(verdict: TrustReport) -> list[str]:
    return [f"{f.code.value}: {f.message}" for f in verdict.findings]


SERVICE_REFUSED = (
    "BackupServiceNotTrusted: the AWS Backup service (backup.amazonaws.com) cannot call "
    "sts:AssumeRole: the conditions of the statements trusting it do not hold for it"
)
APPLIANCE_REFUSED = (
    f"ApplianceNotTrusted: the Veeam appliance ({APPLIANCE_ROLE}) cannot call sts:AssumeRole: "
    "the conditions of the statements trusting it do not hold for it"
)

SOURCE_ARN = "aws:SourceArn"


@pytest.mark.parametrize(
    "condition",
    [
        {"Bool": {"aws:PrincipalIsAWSService": "true"}},
        # AWS sends booleans as the strings "true"/"false": a string test of one works too.
        {"StringEquals": {"aws:PrincipalIsAWSService": "true"}},
        {"StringEquals": {"aws:PrincipalServiceName": BACKUP}},
        {"StringEquals": {"aws:SourceAccount": OWN_ACCOUNT}},
        {"ArnLike": {SOURCE_ARN: f"arn:aws:backup:*:{OWN_ACCOUNT}:*"}},
        {"ArnEquals": {SOURCE_ARN: f"arn:aws:backup:eu-west-1:{OWN_ACCOUNT}:backup-vault:v1"}},
        {"Null": {"sts:ExternalId": "true"}},
        {"Null": {"aws:PrincipalArn": "true"}},
        {"Null": {"aws:PrincipalAccount": "true"}},
        {"Null": {"aws:SourceAccount": "false", SOURCE_ARN: "false"}},
    ],
    ids=lambda c: next(iter(next(iter(c.values())))),
)
def test_the_service_is_trusted_under_a_condition_its_request_meets(
    condition: dict[str, Any],
) -> None:
    assert messages(report(condition)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"Bool": {"aws:PrincipalIsAWSService": "false"}},
        {"StringEquals": {"aws:PrincipalServiceName": "ec2.amazonaws.com"}},
        {"StringEquals": {"aws:SourceAccount": OTHER_ACCOUNT}},
        {"ArnLike": {SOURCE_ARN: f"arn:aws:backup:*:{OTHER_ACCOUNT}:*"}},
        {"ArnLike": {SOURCE_ARN: f"arn:aws:ec2:*:{OWN_ACCOUNT}:*"}},
        {"ArnLike": {SOURCE_ARN: f"arn:aws-cn:backup:*:{OWN_ACCOUNT}:*"}},
        {"Null": {"aws:PrincipalArn": "false"}},
        {"Null": {"aws:PrincipalAccount": "false"}},
        {"Null": {"aws:SourceAccount": "true"}},
        {"Null": {SOURCE_ARN: "true"}},
        {"Null": {"aws:PrincipalIsAWSService": "true"}},
        {"Null": {"aws:PrincipalServiceName": "true"}},
    ],
    ids=lambda c: f"{next(iter(c))}-{next(iter(next(iter(c.values()))))}",
)
def test_the_service_is_refused_under_a_condition_its_request_fails(
    condition: dict[str, Any],
) -> None:
    assert messages(report(condition)) == [SERVICE_REFUSED]


def test_a_service_required_to_send_an_external_id_is_refused_for_that_reason() -> None:
    """AWS Backup never sends sts:ExternalId: a statement requiring one locks the service out."""
    assert messages(report({"Null": {"sts:ExternalId": "false"}})) == [
        "BackupServiceNotTrusted: the AWS Backup service (backup.amazonaws.com) cannot call "
        "sts:AssumeRole: the statements trusting it require sts:ExternalId, and no external ID "
        "is expected"
    ]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": OTHER_ACCOUNT}},
        {"ArnLike": {SOURCE_ARN: "arn:aws:backup:*:444444444444:*"}},
    ],
)
def test_without_the_role_account_the_source_keys_are_accepted(condition: dict[str, Any]) -> None:
    """`dbr check` without an account cannot know the role's account; the confused-deputy guard
    is then taken as met rather than reported as a failure nobody can act on."""
    assert messages(report(condition, account_id=None)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalArn": APPLIANCE_ROLE}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Veeam*"}},
        {"StringEquals": {"aws:PrincipalAccount": "111111111111"}},
        {"Bool": {"aws:PrincipalIsAWSService": "false"}},
        {"StringEquals": {"aws:PrincipalIsAWSService": "false"}},
        {"Null": {"aws:SourceAccount": "true"}},
        {"Null": {SOURCE_ARN: "true"}},
        {"Null": {"aws:PrincipalServiceName": "true"}},
        {"Null": {"aws:PrincipalArn": "false", "aws:PrincipalAccount": "false"}},
    ],
    ids=lambda c: f"{next(iter(c))}-{next(iter(next(iter(c.values()))))}",
)
def test_the_appliance_is_trusted_under_a_condition_its_request_meets(
    condition: dict[str, Any],
) -> None:
    root = "arn:aws:iam::111111111111:root"
    assert messages(report(appliance_condition=condition, appliance_principal=root)) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Other"}},
        {"StringEquals": {"aws:PrincipalAccount": OTHER_ACCOUNT}},
        {"Bool": {"aws:PrincipalIsAWSService": "true"}},
        {"Null": {"aws:SourceAccount": "false"}},
        {"Null": {SOURCE_ARN: "false"}},
        {"Null": {"aws:PrincipalServiceName": "false"}},
        {"Null": {"aws:PrincipalArn": "true"}},
        {"Null": {"aws:PrincipalAccount": "true"}},
        {"Null": {"aws:PrincipalIsAWSService": "true"}},
    ],
    ids=lambda c: f"{next(iter(c))}-{next(iter(next(iter(c.values()))))}",
)
def test_the_appliance_is_refused_under_a_condition_its_request_fails(
    condition: dict[str, Any],
) -> None:
    root = "arn:aws:iam::111111111111:root"
    verdict = report(appliance_condition=condition, appliance_principal=root)
    assert messages(verdict) == [APPLIANCE_REFUSED]


def test_no_external_id_expected_means_the_request_carries_none() -> None:
    without_id = {"Null": {"sts:ExternalId": "true"}}
    with_id = {"Null": {"sts:ExternalId": "false"}}
    assert messages(report(appliance_condition=without_id, external_id=None)) == []
    assert messages(report(appliance_condition=with_id, external_id=None)) == [
        f"ApplianceNotTrusted: the Veeam appliance ({APPLIANCE_ROLE}) cannot call "
        "sts:AssumeRole: the statements trusting it require sts:ExternalId, and no external ID "
        "is expected"
    ]


def test_an_appliance_known_by_account_only_cannot_be_checked_against_one_role() -> None:
    """Only the appliance's account is known, so which role calls is not: a trust narrowed to
    a role name is undecidable, and the finding names the key that could not be checked."""
    by_account = Appliance.parse("111111111111")
    verdict = report(
        appliance_condition={
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Veeam*"},
            "StringEquals": {"aws:PrincipalAccount": "111111111111"},
        },
        appliance=by_account,
        appliance_principal="111111111111",
    )
    assert messages(verdict) == [
        "ApplianceNotTrusted: the Veeam appliance (account 111111111111) cannot call "
        "sts:AssumeRole: it is trusted only under conditions that cannot be checked "
        "(aws:PrincipalArn)"
    ]


def test_any_role_of_the_appliance_account_is_decidable_for_an_account_only_appliance() -> None:
    by_account = Appliance.parse("111111111111")
    verdict = report(
        appliance_condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:*"}},
        appliance=by_account,
        appliance_principal="111111111111",
    )
    assert messages(verdict) == []


def test_a_deny_under_an_undecidable_key_names_that_key() -> None:
    """A Deny the check cannot decide may remove the trust; the finding says which key."""
    by_account = Appliance.parse("111111111111")
    document = parse_document(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": BACKUP, "AWS": "111111111111"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": "111111111111"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Temp*"}
                    },
                },
            ],
        }
    )
    verdict = analyze_trust(document, by_account, services=[BACKUP], account_id=OWN_ACCOUNT)
    assert messages(verdict) == [
        "ApplianceNotTrusted: the Veeam appliance (account 111111111111) cannot call "
        "sts:AssumeRole: it is trusted only under conditions that cannot be checked "
        "(aws:PrincipalArn)"
    ]


def test_an_account_only_appliance_is_refused_where_its_account_cannot_match() -> None:
    """Even with only the account known, a role ARN pattern naming another account is decided:
    no role of the appliance's account can match it."""
    by_account = Appliance.parse("111111111111")
    verdict = report(
        appliance_condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::999999999999:*"}},
        appliance=by_account,
        appliance_principal="111111111111",
    )
    assert messages(verdict) == [
        "ApplianceNotTrusted: the Veeam appliance (account 111111111111) cannot call "
        "sts:AssumeRole: the conditions of the statements trusting it do not hold for it"
    ]


def test_a_condition_that_fails_outright_is_named_rather_than_an_undecidable_one() -> None:
    """When one condition of the only Allow is decided false, nothing the check could not decide
    would change the answer: the finding says the conditions do not hold, not that they cannot
    be checked."""
    by_account = Appliance.parse("111111111111")
    verdict = report(
        appliance_condition={
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Veeam*"},
            "StringEquals": {"aws:PrincipalAccount": OTHER_ACCOUNT},
        },
        appliance=by_account,
        appliance_principal="111111111111",
    )
    assert messages(verdict) == [
        "ApplianceNotTrusted: the Veeam appliance (account 111111111111) cannot call "
        "sts:AssumeRole: the conditions of the statements trusting it do not hold for it"
    ]
