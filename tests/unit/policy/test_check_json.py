"""The verdict as `dbr check --output json` prints it (a contract: keys are added, never renamed),
whole, for a role with a finding of every kind and for a compliant one."""

from __future__ import annotations

from typing import Any

from dynamobackup.policy.catalog import ActionCatalog
from dynamobackup.policy.document import PolicyDocument, parse_document
from dynamobackup.policy.profiles import OperationProfile, Profile
from dynamobackup.policy.trust import Appliance
from dynamobackup.policy.verdict import Expectation, PolicySource, RoleDocuments, judge

RESTORE_PAGE = "https://helpcenter.veeam.com/docs/vbaws/guide/dynamodb_restore_permissions.html"
EXPORT_PAGE = "https://helpcenter.veeam.com/docs/vbaws/guide/dynamodb_export_permissions.html"
RESTORE = ("dynamodb:DescribeTable", "dynamodb:RestoreTableFromBackup", "kms:Decrypt")
PROFILE = Profile(
    version="12",
    product="Veeam Backup for AWS",
    product_build="9.0.0.1",
    trusted_services=("backup.amazonaws.com",),
    operations={
        "Restore": OperationProfile("restore", RESTORE_PAGE, RESTORE),
        "Export": OperationProfile("export", EXPORT_PAGE, ("s3:PutObject",)),
    },
)
OPERATIONS = ("Restore", "Export")
APPLIANCE = "arn:aws:iam::111111111111:role/Veeam"
SERVICE = {
    "Effect": "Allow",
    "Principal": {"Service": "backup.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


def document(*statements: dict[str, Any]) -> PolicyDocument:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)})


def expectation(*, strict: bool = False) -> Expectation:
    return Expectation(
        PROFILE,
        OPERATIONS,
        PROFILE.required_actions(OPERATIONS),
        appliance=Appliance.parse(APPLIANCE),
        strict=strict,
    )


def test_a_role_with_a_finding_of_every_kind() -> None:
    granted = document(
        {
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable", "s3:*", "kms:Decrpyt", "dynamodb:ListTabls"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        },
        {"Effect": "Deny", "Action": "dynamodb:DescribeTable", "Resource": "*"},
    )
    role = RoleDocuments(
        policies=(
            PolicySource("inline:Granted", granted, foreign=True),
            PolicySource("inline:Broken", None, error="not JSON"),
        ),
        trust=PolicySource("trust", document(SERVICE)),
    )
    assert judge(expectation(), role).to_json() == {
        "compliant": False,
        "profile": {
            "version": "12",
            "product": "Veeam Backup for AWS",
            "productBuild": "9.0.0.1",
            "operations": ["Restore", "Export"],
            "actionCount": 4,
            "sources": [EXPORT_PAGE, RESTORE_PAGE],
        },
        "permissions": {
            "compliant": False,
            "missing": ["dynamodb:RestoreTableFromBackup"],
            "denied": ["dynamodb:DescribeTable"],
            "conditional": ["kms:Decrypt"],
            "excess": ["dynamodb:ListTabls", "kms:Decrpyt", "s3:*"],
            "dangerous": ["s3:*"],
            "unreadable": ["inline:Broken"],
            "foreign": ["inline:Granted"],
            "unknown": ["dynamodb:ListTabls", "kms:Decrpyt"],
        },
        "trust": {
            "compliant": False,
            "findings": [
                {
                    "code": "ApplianceNotTrusted",
                    "message": f"the Veeam appliance ({APPLIANCE}) cannot call sts:AssumeRole: "
                    "it is not a trusted principal",
                    "severity": "error",
                }
            ],
        },
    }


def test_a_compliant_role_whose_trust_is_not_checked() -> None:
    granted = document({"Effect": "Allow", "Action": [*RESTORE, "s3:PutObject"], "Resource": "*"})
    role = RoleDocuments(policies=(PolicySource("inline:Granted", granted),))
    assert judge(expectation(strict=True), role).to_json() == {
        "compliant": True,
        "profile": {
            "version": "12",
            "product": "Veeam Backup for AWS",
            "productBuild": "9.0.0.1",
            "operations": ["Restore", "Export"],
            "actionCount": 4,
            "sources": [EXPORT_PAGE, RESTORE_PAGE],
        },
        "permissions": {
            "compliant": True,
            "missing": [],
            "denied": [],
            "conditional": [],
            "excess": [],
            "dangerous": [],
            "unreadable": [],
            "foreign": [],
            "unknown": [],
        },
        "trust": None,
    }


def test_trust_is_checked_only_against_an_appliance() -> None:
    role = RoleDocuments(policies=(), trust=PolicySource("trust", document(SERVICE)))
    without_appliance = Expectation(PROFILE, OPERATIONS, PROFILE.required_actions(OPERATIONS))
    assert judge(without_appliance, role).to_json()["trust"] is None


def test_a_trust_policy_iam_returned_unreadable_without_a_reason() -> None:
    role = RoleDocuments(policies=(), trust=PolicySource("trust", None))
    assert judge(expectation(), role).to_json()["trust"] == {
        "compliant": False,
        "findings": [
            {
                "code": "TrustPolicyUnreadable",
                "message": "the trust policy cannot be read: unknown error",
                "severity": "error",
            }
        ],
    }


def test_excess_dangerous_and_unknown_follow_the_catalog_given() -> None:
    # A catalog in which s3 has only the action the profile needs, and dynamodb no ListTables.
    catalog = ActionCatalog(
        {
            "dynamodb": ["DescribeTable", "RestoreTableFromBackup"],
            "kms": ["Decrypt"],
            "s3": ["PutObject"],
        }
    )
    granted = document(
        {"Effect": "Allow", "Action": [*RESTORE, "s3:*", "dynamodb:ListTables"], "Resource": "*"}
    )
    verdict = judge(
        expectation(), RoleDocuments((PolicySource("inline:Granted", granted),)), catalog
    )
    permissions = verdict.to_json()["permissions"]
    assert (permissions["excess"], permissions["dangerous"], permissions["unknown"]) == (
        ["dynamodb:ListTables"],
        [],
        ["dynamodb:ListTables"],
    )
