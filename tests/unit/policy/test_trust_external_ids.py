"""Which external IDs a trust policy accepts from the appliance, and what the findings say."""

from __future__ import annotations

from typing import Any

from trust_builders import APPLIANCE, ROLE, SERVICE, analyze, codes, trust, trusting

from dynamobackup.policy.trust import (
    Appliance,
    FindingCode,
    Severity,
    TrustReport,
)

MUST_REQUIRE = 'every statement trusting it must require StringEquals {"sts:ExternalId": ...}'


def with_id(condition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return trusting({"AWS": ROLE}, Condition=condition, **extra)


def check(*statements: dict[str, Any]) -> TrustReport:
    return analyze(trust(SERVICE, *statements), APPLIANCE, external_id="abc")


def test_only_another_id_required_says_so() -> None:
    (finding,) = check(with_id({"StringEquals": {"sts:ExternalId": "abd"}})).findings
    assert finding.code == FindingCode.EXTERNAL_ID_MISMATCH
    assert finding.message == (
        f"the statements trusting the appliance ({ROLE}) require an external ID "
        "other than the expected one"
    )


def test_every_statement_that_bypasses_the_id_is_listed() -> None:
    (finding,) = check(trusting({"AWS": ROLE}), trusting({"AWS": ROLE})).findings
    assert finding.message == (
        f"statement 2, statement 3 let the appliance ({ROLE}) assume the role without the "
        f"external ID: {MUST_REQUIRE}"
    )


def test_other_accepted_ids_are_counted_over_every_statement() -> None:
    report = check(
        with_id({"StringEquals": {"sts:ExternalId": ["abc", "x1"]}}),
        with_id({"StringEquals": {"sts:ExternalId": ["abc", "x2", "x3"]}}),
    )
    (finding,) = report.findings
    assert finding.code == FindingCode.EXCESS_EXTERNAL_ID
    assert finding.message == (
        "the trust policy accepts 3 external ID value(s) besides the expected one from the appliance"
    )
    assert finding.severity is Severity.WARNING and report.compliant


def test_ids_accepted_through_any_value_or_ignoring_case_are_other_ids() -> None:
    any_value = check(with_id({"ForAnyValue:StringEquals": {"sts:ExternalId": ["abc", "zzz"]}}))
    assert codes(any_value) == ["ExcessExternalId"]
    ignoring_case = check(with_id({"StringEqualsIgnoreCase": {"sts:ExternalId": "abc"}}))
    assert codes(ignoring_case) == ["ExcessExternalId"]


def test_a_negated_test_or_a_like_without_wildcards_accepts_no_other_id() -> None:
    negated = with_id(
        {"StringEquals": {"sts:ExternalId": "abc"}, "StringNotEquals": {"sts:ExternalId": "zzz"}}
    )
    assert check(negated).findings == ()
    assert check(with_id({"StringLike": {"sts:ExternalId": "abc"}})).findings == ()


def test_an_appliance_account_named_by_its_id_is_trusted_in_its_partition() -> None:
    appliance = Appliance.parse("111111111111", partition="aws-cn")
    report = analyze(trust(SERVICE, trusting({"AWS": "111111111111"})), appliance)
    assert report.findings == ()


def test_principal_star_in_a_deny_covers_services_too_and_not_principal_star_covers_no_one() -> (
    None
):
    everyone = {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}
    report = analyze(trust(SERVICE, trusting({"AWS": ROLE}), everyone), APPLIANCE)
    assert codes(report) == ["BackupServiceNotTrusted", "ApplianceNotTrusted"]
    no_one = {"Effect": "Deny", "NotPrincipal": "*", "Action": "sts:AssumeRole"}
    assert analyze(trust(SERVICE, trusting({"AWS": ROLE}), no_one), APPLIANCE).findings == ()


def test_public_and_orphaned_principals_are_explained() -> None:
    orphan = "AROA3XFRBF535PLBIFPI4"
    document = trust(
        SERVICE,
        trusting({"AWS": ROLE}),
        trusting({"AWS": ["*", orphan, "arn:aws:iam::222222222222:root"]}),
    )
    messages = {f.code.value: f.message for f in analyze(document, APPLIANCE).findings}
    assert messages == {
        "PublicPrincipal": 'the trust policy lets any AWS principal assume the role (Principal "*" '
        "without conditions)",
        "OrphanedPrincipal": f"trusted principal {orphan} is a unique ID: the user or role it "
        "named was deleted, and recreating it does not restore trust",
        "ExcessPrincipal": "AWS principal arn:aws:iam::222222222222:root may also assume the role",
    }


def test_a_second_statement_under_another_id_alone_is_an_excess_id() -> None:
    expected = with_id({"StringEquals": {"sts:ExternalId": "abc"}})
    other = with_id({"StringEquals": {"sts:ExternalId": "zzz"}})
    (finding,) = check(expected, other).findings
    assert finding.code == FindingCode.EXCESS_EXTERNAL_ID
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith("the trust policy accepts 1 external ID value(s)")
    strict = analyze(trust(SERVICE, expected, other), APPLIANCE, external_id="abc", strict=True)
    assert [f.severity for f in strict.findings] == [Severity.ERROR]
    # Under another ID, but for another principal only: it never admits the appliance.
    elsewhere = with_id(
        {
            "StringEquals": {
                "sts:ExternalId": "zzz",
                "aws:PrincipalArn": "arn:aws:iam::111111111111:role/Other",
            }
        }
    )
    assert check(expected, elsewhere).findings == ()
