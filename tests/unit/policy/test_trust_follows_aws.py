"""The trust verdict follows AWS's documented evaluation; each test names the page its rule is from.

Pages of the IAM User Guide (docs.aws.amazon.com/IAM/latest/UserGuide/...):
- EVALUATION: reference_policies_evaluation-logic.html (an explicit Deny wins; default deny)
- OPERATORS: reference_policies_elements_condition_operators.html (a key absent from the request
  makes a positive operator false and a negated one true; ...IfExists; Null)
- MULTIVALUE: reference_policies_condition-logic-multiple-context-keys-or-values.html (operators
  and keys are ANDed, the values of one key ORed; negated operators NOR their values)
- MULTIVALUED_KEYS: reference_policies_condition-single-vs-multi-valued-context-keys.html
  (ForAllValues is true when the key is absent, ForAnyValue false)
- GLOBAL_KEYS: reference_policies_condition-keys.html (aws:PrincipalArn is the role's ARN for a
  role session; aws:PrincipalAccount; aws:SourceAccount/aws:SourceArn only on service requests)
- CONFUSED_DEPUTY: confused-deputy.html (require the external ID from third parties; use
  aws:SourceAccount/aws:SourceArn on service principals)
- EXTERNAL_ID: id_roles_common-scenarios_third-party.html (the external ID in the trust policy)
"""

from __future__ import annotations

from typing import Any

import pytest
from trust_builders import APPLIANCE, ROLE, SERVICE, analyze, trust

from dynamobackup.policy.iam_conditions import RequestContext, Truth, evaluate
from dynamobackup.policy.trust import Appliance, TrustReport

OWN_ACCOUNT = "123456789012"


def appliance(principal: Any = ROLE, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def with_id(external_id: Any = "abc", principal: Any = ROLE, **more: Any) -> dict[str, Any]:
    return appliance(principal, StringEquals={"sts:ExternalId": external_id}, **more)


def codes(report: TrustReport) -> list[str]:
    return [f.code.value for f in report.findings]


# --- CONFUSED_DEPUTY, EXTERNAL_ID: every statement admitting the appliance requires the ID ------


def test_one_statement_without_the_external_id_makes_it_bypassable() -> None:
    # Before: any statement requiring the ID satisfied the check, so the second one went unseen.
    document = trust(SERVICE, with_id(), appliance("111111111111"))
    report = analyze(document, APPLIANCE, external_id="abc")
    assert codes(report) == ["ExternalIdMismatch"]
    assert "statement 3" in report.findings[0].message
    assert "abc" not in report.findings[0].message  # the ID itself is never repeated


def test_every_statement_requiring_the_id_is_compliant() -> None:
    document = trust(SERVICE, with_id(), with_id(principal="111111111111"))
    assert analyze(document, APPLIANCE, external_id="abc", strict=True).findings == ()


def test_a_wildcard_external_id_is_no_external_id() -> None:
    document = trust(SERVICE, appliance(StringLike={"sts:ExternalId": "*"}))
    assert codes(analyze(document, APPLIANCE, external_id="abc")) == ["ExternalIdMismatch"]


# --- MULTIVALUE: the values of one key are ORed ------------------------------------------------


def test_several_external_ids_are_satisfied_by_one_and_warn_about_the_others() -> None:
    # Before: only exactly {"abc"} counted, so this trust was an ExternalIdMismatch error.
    document = trust(SERVICE, with_id(["zzz", "abc", "yyy"]))
    relaxed = analyze(document, APPLIANCE, external_id="abc")
    assert codes(relaxed) == ["ExcessExternalId"] and relaxed.compliant
    assert relaxed.findings[0].severity == "warning"
    assert "2 external ID" in relaxed.findings[0].message
    assert "zzz" not in relaxed.findings[0].message  # another tenant's ID is not shown
    strict = analyze(document, APPLIANCE, external_id="abc", strict=True)
    assert not strict.compliant and strict.findings[0].severity == "error"


def test_negated_operators_nor_their_values() -> None:
    context = RequestContext({"aws:principalaccount": ("111111111111",)})
    block = {"StringNotEquals": {"aws:PrincipalAccount": ("222222222222", "111111111111")}}
    assert evaluate(block, context) is Truth.FALSE
    block = {"StringNotEquals": {"aws:PrincipalAccount": ("222222222222", "333333333333")}}
    assert evaluate(block, context) is Truth.TRUE


# --- GLOBAL_KEYS: keys whose value is known are decided ----------------------------------------


def test_account_root_limited_to_another_principal_arn_does_not_admit_the_appliance() -> None:
    # Before: conditions on Allow statements were ignored, so the root made the appliance trusted.
    other = "arn:aws:iam::111111111111:role/SomethingElse"
    document = trust(SERVICE, appliance("111111111111", ArnEquals={"aws:PrincipalArn": other}))
    report = analyze(document, APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "do not hold" in report.findings[0].message


def test_account_root_limited_to_the_appliance_arn_admits_it() -> None:
    limited = appliance("111111111111", ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:role/Veeam*"})
    assert analyze(trust(SERVICE, limited), APPLIANCE).findings == ()


def test_principal_account_is_decided_for_an_account_appliance() -> None:
    account = Appliance.parse("111111111111")
    same = appliance("*", StringEquals={"aws:PrincipalAccount": "111111111111"})
    assert analyze(trust(SERVICE, same), account).compliant
    other = appliance("*", StringEquals={"aws:PrincipalAccount": "999999999999"})
    assert codes(analyze(trust(SERVICE, other), account)) == ["ApplianceNotTrusted"]


def test_an_account_appliance_limited_to_one_role_is_conditional() -> None:
    # Which principal of the account Veeam uses is not known: trusting only one is not decided.
    account = Appliance.parse("111111111111")
    limited = appliance("111111111111", ArnEquals={"aws:PrincipalArn": ROLE})
    report = analyze(trust(SERVICE, limited), account)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "aws:PrincipalArn" in report.findings[0].message


# --- OPERATORS, CONFUSED_DEPUTY: conditions on trust statements are never ignored --------------


def test_an_appliance_trusted_only_from_an_ip_range_is_not_trusted() -> None:
    # Before: judged compliant.
    document = trust(SERVICE, appliance(IpAddress={"aws:SourceIp": "203.0.113.0/24"}))
    report = analyze(document, APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted"] and not report.compliant
    assert "cannot be checked (aws:SourceIp)" in report.findings[0].message


def source_account(account: str) -> dict[str, Any]:
    return {**SERVICE, "Condition": {"StringEquals": {"aws:SourceAccount": account}}}


def test_backup_service_trusted_only_for_another_account_is_not_trusted() -> None:
    # Before: judged compliant.
    document = trust(source_account("999999999999"), appliance())
    report = analyze(document, APPLIANCE, account_id=OWN_ACCOUNT)
    assert codes(report) == ["BackupServiceNotTrusted"]


def test_backup_service_guarded_for_the_roles_own_account_is_trusted() -> None:
    source_arn = {
        **SERVICE,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": OWN_ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:backup:*:{OWN_ACCOUNT}:backup-vault:*"},
        },
    }
    for statement in (source_account(OWN_ACCOUNT), source_arn):
        report = analyze(trust(statement, appliance()), APPLIANCE, account_id=OWN_ACCOUNT)
        assert report.findings == (), statement


def test_without_the_account_the_confused_deputy_keys_are_accepted() -> None:
    document = trust(source_account("999999999999"), appliance())
    assert analyze(document, APPLIANCE).findings == ()


def test_a_source_arn_of_another_service_never_matches() -> None:
    statement = {**SERVICE, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket"}}}
    report = analyze(trust(statement, appliance()), APPLIANCE, account_id=OWN_ACCOUNT)
    assert codes(report) == ["BackupServiceNotTrusted"]


def test_the_backup_service_never_presents_an_external_id() -> None:
    statement = {**SERVICE, "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}
    report = analyze(trust(statement, with_id()), APPLIANCE, external_id="abc")
    assert codes(report) == ["BackupServiceNotTrusted"]


@pytest.mark.parametrize(
    ("block", "truth"),
    [
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, Truth.TRUE),
        ({"StringNotLike": {"aws:SourceAccount": "1*"}}, Truth.TRUE),
        ({"StringLike": {"aws:SourceAccount": "*"}}, Truth.FALSE),
        ({"Null": {"aws:SourceAccount": "true"}}, Truth.TRUE),
        ({"Null": {"aws:SourceAccount": "false"}}, Truth.FALSE),
        ({"ForAllValues:StringEquals": {"aws:SourceAccount": "1"}}, Truth.TRUE),
        ({"ForAnyValue:StringEquals": {"aws:SourceAccount": "1"}}, Truth.FALSE),
        ({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, Truth.UNKNOWN),
    ],
)
def test_absent_keys_follow_the_operators_page(block: dict[str, Any], truth: Truth) -> None:
    # OPERATORS and MULTIVALUED_KEYS: how each operator treats a key the request does not carry.
    parsed = {op: {key: (value,) for key, value in keys.items()} for op, keys in block.items()}
    assert evaluate(parsed, RequestContext(absent=frozenset({"aws:sourceaccount"}))) is truth


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}
    report = analyze(trust(SERVICE, appliance(), deny), APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "explicit Deny" in report.findings[0].message


# --- every trusted service of the profile is checked -------------------------------------------


def test_every_trusted_service_is_checked() -> None:
    services = ("backup.amazonaws.com", "dynamodb.amazonaws.com")
    document = trust(SERVICE, appliance())
    report = analyze(document, APPLIANCE, services=services)
    assert codes(report) == ["BackupServiceNotTrusted"]
    assert "dynamodb.amazonaws.com" in report.findings[0].message


def test_no_external_id_expected_but_required() -> None:
    report = analyze(trust(SERVICE, with_id()), APPLIANCE)
    assert codes(report) == ["ApplianceNotTrusted"]
    assert "no external ID is expected" in report.findings[0].message
