"""Desired state from a spec, and the compliance verdict on observed roles."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.policy.guardrails import dangerous_actions
from dynamobackup.policy.trust import Appliance
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, SpecError, desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy
from veeam_sources import documented_count

from .conftest import OWNER, make_spec, observed_from


def test_desired_role_unions_operations_and_additional_actions() -> None:
    desired = desired_role(
        make_spec(
            scope={"operations": ["BackupPolicy", "ManualBackup"]},
            permissions={"additionalActions": ["s3:GetObject", "backup:Describe*"]},
        ),
        OWNER,
    )
    assert len(desired.required_actions) == documented_count("BackupPolicy", "ManualBackup") + 2
    assert desired.operations == ("BackupPolicy", "ManualBackup")
    granted = desired.permissions[0].statement[0].action
    assert granted is not None and "backup:Describe*" in granted
    # Both grant more than the profile: reported, so the extra is never silent.
    assert desired.additional_actions == ("backup:Describe*", "s3:GetObject")
    assert desired.arn == "arn:aws:iam::123456789012:role/veeam-dynamodb-backup"
    assert desired.role_tags["dynamobackup.io/name"] == "backup-role"


def test_trust_for_an_appliance_account_in_another_partition() -> None:
    desired = desired_role(
        make_spec(
            account={"id": "123456789012", "partition": "aws-cn"},
            trust={
                "applianceAccountId": "111111111111",
                "applianceRoleArn": None,
                "externalId": None,
            },
        ),
        OWNER,
    )
    assert desired.appliance == Appliance("111111111111", partition="aws-cn")
    principals = [s.principal for s in desired.trust.statement]
    assert {"AWS": ("arn:aws-cn:iam::111111111111:root",)} in principals


@pytest.mark.parametrize(
    ("permissions", "reason"),
    [
        ({"profileVersion": "9"}, "UnknownProfileVersion"),
        ({"additionalActions": ["dynamodb:NoSuchThing", "s3:GetObject"]}, "UnknownAction"),
        ({"additionalActions": ["nosuchservice:*"]}, "UnknownAction"),
    ],
)
def test_unsatisfiable_specs_are_spec_errors(permissions: dict[str, object], reason: str) -> None:
    with pytest.raises(SpecError) as caught:
        desired_role(make_spec(permissions=permissions), OWNER)
    assert caught.value.reason == reason


def test_inline_policy_over_the_quota_asks_for_managed_delivery() -> None:
    # The 256 longest action names (the most additionalActions allows) far exceed 10,240 characters.
    catalog = default_catalog()
    harmless = [a for a in catalog.expand("*:*") if a.lower() not in dangerous_actions()]
    long_actions = sorted(harmless, key=len)[-256:]
    with pytest.raises(SpecError) as caught:
        desired_role(make_spec(permissions={"additionalActions": long_actions}), OWNER)
    assert caught.value.reason == "PolicyTooLarge" and "delivery: Managed" in str(caught.value)
    managed = desired_role(
        make_spec(permissions={"additionalActions": long_actions, "delivery": "Managed"}), OWNER
    )
    assert len(managed.permissions) >= 2


def test_correct_role_is_compliant(desired: DesiredRole) -> None:
    report = assess(desired, observed_from(desired), default_catalog())
    assert report.compliant
    assert report.permissions.allowed == desired.required_actions
    assert report.foreign_policies == () and report.drifted_settings == ()


def test_drift_is_reported_precisely(desired: DesiredRole) -> None:
    narrowed = desired.permissions[0].to_iam()
    narrowed["Statement"][0]["Action"].remove("kms:Decrypt")
    trust = desired.trust.to_iam()
    trust["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
        }
    )
    role = observed_from(
        desired,
        inline_policies={INLINE_POLICY_NAME: ObservedDocument(parse_document(narrowed))},
        trust=ObservedDocument(parse_document(trust)),
        description="changed",
    )
    report = assess(desired, role, default_catalog())
    assert report.permissions.missing == ("kms:Decrypt",)
    assert [f.code.value for f in report.trust.findings] == ["ExcessPrincipal"]
    assert report.trust_compliant  # an extra principal is a warning unless exclusive
    assert report.drifted_settings == ("description",)
    assert not report.compliant


def test_exclusive_makes_foreign_policies_and_excess_non_compliant() -> None:
    desired = desired_role(make_spec(permissions={"exclusive": True}), OWNER)
    extra = ObservedDocument(
        parse_document({"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})
    )
    role = observed_from(desired)
    role = replace(role, inline_policies={**role.inline_policies, "extra": extra})
    report = assess(desired, role, default_catalog())
    assert report.foreign_policies == ("inline:extra",)
    assert report.permissions.excess == ("s3:Get*",)
    assert not report.permissions_compliant
    relaxed = desired_role(make_spec(), OWNER)
    assert assess(relaxed, role, default_catalog()).compliant


def test_boundary_and_unreadable_policies_count(desired: DesiredRole) -> None:
    boundary = ObservedManagedPolicy(
        arn="arn:aws:iam::123456789012:policy/boundary",
        name="boundary",
        path="/",
        document=ObservedDocument(
            parse_document(
                {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}
            )
        ),
    )
    role = observed_from(desired, boundary=boundary, permissions_boundary_arn=boundary.arn)
    report = assess(desired, role, default_catalog())
    assert all(a.startswith("dynamodb:") for a in report.permissions.allowed)
    assert "sns:Subscribe" in report.permissions.missing
    unreadable = observed_from(
        desired, inline_policies={"broken": ObservedDocument(None, "bad JSON")}
    )
    report = assess(desired, unreadable, default_catalog())
    assert report.unreadable_policies == ("inline:broken",)
    assert not report.permissions_compliant


def test_unreadable_trust_is_a_finding(desired: DesiredRole) -> None:
    report = assess(
        desired,
        observed_from(desired, trust=ObservedDocument(None, "invalid JSON")),
        default_catalog(),
    )
    assert [f.code.value for f in report.trust.findings] == ["TrustPolicyUnreadable"]
    assert not report.trust_compliant


def test_missing_ownership_tags_are_not_drift_but_user_tags_are() -> None:
    desired = desired_role(make_spec(mode="Audit", tags={"team": "backup"}), OWNER)
    assert assess(
        desired, observed_from(desired, tags={"team": "backup"}), default_catalog()
    ).compliant
    report = assess(desired, observed_from(desired, tags={}), default_catalog())
    assert report.drifted_settings == ("tags",)


def test_a_role_that_does_not_exist_misses_everything_and_nothing_else(
    desired: DesiredRole,
) -> None:
    report = assess(desired, None, default_catalog())
    assert report.permissions.missing == desired.required_actions
    assert [f.code.value for f in report.trust.findings] == [
        "BackupServiceNotTrusted",
        "ApplianceNotTrusted",
    ]
    assert report.drifted_settings == () and report.foreign_policies == ()
