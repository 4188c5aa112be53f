"""Trust findings, each with its stable code."""

from __future__ import annotations

from typing import Any

import pytest
from trust_builders import APPLIANCE, ROLE, SERVICE, SERVICES, analyze, codes, trust, trusting

from dynamobackup.policy.least_privilege import trust_document
from dynamobackup.policy.trust import Appliance, FindingCode


def test_rendered_trust_is_clean() -> None:
    report = analyze(
        trust_document(APPLIANCE, external_id="x1", services=SERVICES),
        APPLIANCE,
        external_id="x1",
        strict=True,
    )
    assert report.findings == () and report.compliant


def test_seed_statement_alone_lacks_the_appliance() -> None:
    report = analyze(trust(SERVICE), APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "not a trusted principal" in report.findings[0].message


def test_missing_backup_service() -> None:
    assert codes(analyze(trust(trusting({"AWS": ROLE})), APPLIANCE)) == ["BackupServiceNotTrusted"]


@pytest.mark.parametrize(
    "action", ["sts:*", "STS:AssumeRole", "*", ["sts:TagSession", "sts:Assume*"]]
)
def test_wildcard_actions_count(action: Any) -> None:
    document = trust(trusting({"Service": "backup.amazonaws.com", "AWS": ROLE}, action=action))
    assert analyze(document, APPLIANCE).compliant


def test_not_action_that_excludes_assume_role_does_not_count() -> None:
    document = trust(
        {
            "Effect": "Allow",
            "Principal": {"Service": "backup.amazonaws.com", "AWS": ROLE},
            "NotAction": "sts:AssumeRole",
        }
    )
    assert codes(analyze(document, APPLIANCE)) == [
        "BackupServiceNotTrusted",
        "ApplianceNotTrusted",
    ]


@pytest.mark.parametrize("principal", ["111111111111", "arn:aws:iam::111111111111:root"])
def test_account_root_or_bare_id_covers_the_appliance_role(principal: str) -> None:
    report = analyze(trust(SERVICE, trusting({"AWS": principal})), APPLIANCE, strict=True)
    assert report.findings == ()


def test_account_appliance_needs_the_account_not_one_role() -> None:
    appliance = Appliance.parse("111111111111")
    assert analyze(trust(SERVICE, trusting({"AWS": "111111111111"})), appliance).findings == ()
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE})), appliance)
    assert codes(report) == ["ApplianceNotTrusted", "ExcessPrincipal"]


def test_other_account_does_not_cover_the_appliance() -> None:
    report = analyze(trust(SERVICE, trusting({"AWS": "222222222222"})), APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted", "ExcessPrincipal"]


@pytest.mark.parametrize(
    "deny",
    [
        {"Effect": "Deny", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "111111111111"}, "Action": "sts:*"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"},
        {
            "Effect": "Deny",
            "NotPrincipal": {"Service": "backup.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
    ],
)
def test_explicit_deny_removes_appliance_trust(deny: dict[str, Any]) -> None:
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE}), deny), APPLIANCE)
    assert "ApplianceNotTrusted" in codes(report)
    assert "explicit Deny" in next(
        f.message for f in report.findings if f.code is FindingCode.APPLIANCE_NOT_TRUSTED
    )


def test_deny_to_another_principal_or_a_deny_decided_false_keeps_trust() -> None:
    other = {
        "Effect": "Deny",
        "Principal": {"AWS": "arn:aws:iam::111111111111:role/other"},
        "Action": "sts:AssumeRole",
    }
    # The appliance's account is known, so a Deny for principals of another account never applies.
    decided = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": "999999999999"}},
    }
    assert analyze(trust(SERVICE, trusting({"AWS": ROLE}), other, decided), APPLIANCE).compliant


def test_a_deny_under_an_undecidable_condition_makes_trust_conditional() -> None:
    # Evaluation logic: an explicit Deny wins; whether this one applies depends on the session.
    conditional = {
        "Effect": "Deny",
        "Principal": {"AWS": ROLE},
        "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
    }
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE}), conditional), APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "aws:MultiFactorAuthPresent" in report.findings[0].message


def test_deny_on_backup_service() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": {"Service": "backup.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE}), deny), APPLIANCE)
    assert codes(report) == ["BackupServiceNotTrusted"]


def test_external_id_required() -> None:
    without = trust(SERVICE, trusting({"AWS": ROLE}))
    assert codes(analyze(without, APPLIANCE, external_id="abc")) == ["ExternalIdMismatch"]
    wrong = trust(
        SERVICE, trusting({"AWS": ROLE}, Condition={"StringEquals": {"sts:ExternalId": "abd"}})
    )
    assert codes(analyze(wrong, APPLIANCE, external_id="abc")) == ["ExternalIdMismatch"]
    anything = trust(
        SERVICE, trusting({"AWS": ROLE}, Condition={"StringLike": {"sts:ExternalId": "*"}})
    )
    assert codes(analyze(anything, APPLIANCE, external_id="abc")) == ["ExternalIdMismatch"]
    right = trust(
        SERVICE, trusting({"AWS": ROLE}, Condition={"StringEquals": {"sts:externalid": ["abc"]}})
    )
    assert analyze(right, APPLIANCE, external_id="abc").findings == ()


def test_orphaned_unique_id() -> None:
    document = trust(SERVICE, trusting({"AWS": [ROLE, "AROA3XFRBF535PLBIFPI4"]}))
    report = analyze(document, APPLIANCE)
    assert codes(report) == ["OrphanedPrincipal"]
    assert not report.compliant


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*", ROLE]}])
def test_public_principal_without_conditions(principal: Any) -> None:
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE}), trusting(principal)), APPLIANCE)
    assert codes(report) == ["PublicPrincipal"]
    assert not report.compliant


def test_public_principal_with_conditions_is_not_public() -> None:
    conditioned = trusting("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE}), conditioned), APPLIANCE)
    assert "PublicPrincipal" not in codes(report)


def test_excess_principal_is_a_warning_unless_strict() -> None:
    document = trust(
        SERVICE,
        trusting({"AWS": ROLE}),
        trusting(
            {"Federated": "cognito-identity.amazonaws.com"}, action="sts:AssumeRoleWithWebIdentity"
        ),
    )
    relaxed = analyze(document, APPLIANCE)
    assert codes(relaxed) == ["ExcessPrincipal"] and relaxed.compliant
    assert relaxed.findings[0].severity == "warning"
    strict = analyze(document, APPLIANCE, strict=True)
    assert strict.findings[0].severity == "error" and not strict.compliant


def test_appliance_parse_errors() -> None:
    with pytest.raises(ValueError, match="IAM role ARN or a 12-digit account ID"):
        Appliance.parse("arn:aws:iam::111111111111:user/bob")
    assert (
        Appliance.parse("arn:aws-cn:iam::111111111111:role/x").root_arn
        == "arn:aws-cn:iam::111111111111:root"
    )


def test_a_deny_on_everyone_but_the_expected_principals_keeps_them_trusted() -> None:
    # A common guard: Deny with NotPrincipal listing whom the role is for.
    account = Appliance.parse("111111111111")
    guard = {
        "Effect": "Deny",
        "NotPrincipal": {"Service": "backup.amazonaws.com", "AWS": "111111111111"},
        "Action": "sts:AssumeRole",
    }
    document = trust(SERVICE, trusting({"AWS": "111111111111"}), guard)
    assert analyze(document, account).findings == ()
    # Without the appliance in NotPrincipal, the guard denies it and only it.
    guard["NotPrincipal"] = {"Service": "backup.amazonaws.com"}
    report = analyze(trust(SERVICE, trusting({"AWS": "111111111111"}), guard), account)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "an explicit Deny removes its trust" in report.findings[0].message


@pytest.mark.parametrize(
    ("statements", "why"),
    [
        (
            [trusting({"AWS": ROLE}), {**trusting({"AWS": ROLE}), "Effect": "Deny"}],
            "an explicit Deny removes its trust",
        ),
        (
            [
                trusting(
                    {"AWS": ROLE},
                    Condition={
                        "StringEquals": {"aws:PrincipalTag/team": "a", "aws:RequestTag/x": "b"}
                    },
                )
            ],
            "it is trusted only under conditions that cannot be checked "
            "(aws:PrincipalTag/team, aws:RequestTag/x)",
        ),
        (
            [trusting({"AWS": ROLE}, Condition={"StringEquals": {"sts:ExternalId": "abc"}})],
            "the statements trusting it require sts:ExternalId, and no external ID is expected",
        ),
        (
            [
                trusting(
                    {"AWS": ROLE},
                    Condition={"StringEquals": {"aws:PrincipalAccount": "999999999999"}},
                )
            ],
            "the conditions of the statements trusting it do not hold for it",
        ),
    ],
)
def test_an_untrusted_appliance_is_told_why(statements: list[dict[str, Any]], why: str) -> None:
    (finding,) = analyze(trust(SERVICE, *statements), APPLIANCE).findings
    assert finding.code == FindingCode.APPLIANCE_NOT_TRUSTED
    assert finding.message == f"the Veeam appliance ({ROLE}) cannot call sts:AssumeRole: {why}"


def test_a_statement_bypassing_the_external_id_is_named_by_its_sid() -> None:
    document = trust(
        SERVICE,
        trusting({"AWS": ROLE}, Condition={"StringEquals": {"sts:ExternalId": "abc"}}),
        trusting({"AWS": ROLE}, Sid="LegacyAccess"),
    )
    (finding,) = analyze(document, APPLIANCE, external_id="abc").findings
    assert finding.code == FindingCode.EXTERNAL_ID_MISMATCH
    assert finding.message.startswith("statement 'LegacyAccess' let the appliance")
