"""Account bindings decide which namespace reaches which account, how, and for what."""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import ApiError, DynamoBackupAccountSpec
from dynamobackup.policy.guardrails import Guardrails
from dynamobackup.policy.trust import Appliance
from dynamobackup.reconcile.desired import SpecError, desired_role
from dynamobackup.reconcile.tenancy import (
    AccountAccess,
    Admission,
    Binding,
    Grant,
    Refusal,
    Route,
    SecretRef,
    TenancySettings,
    admit,
    binding_permits,
    grant,
    legacy_grant,
    secrets_needed,
)

from .conftest import APPLIANCE, OWNER, make_spec

ACCOUNT = "123456789012"
ACCESS = f"arn:aws:iam::{ACCOUNT}:role/dynamobackup-operator"
SETTINGS = TenancySettings(bindings_required=True, operator_namespace="dbr-system")


def binding(name: str = "prod", **overrides: Any) -> Binding:
    spec: dict[str, Any] = {
        "account": {"id": ACCOUNT, "assumeRoleArn": ACCESS},
        "namespaces": {"names": ["team-a"]},
        "operations": ["BackupPolicy", "Restore"],
        "appliances": {"roleArns": [APPLIANCE]},
    }
    spec.update(overrides)
    return Binding(name, ACCOUNT, DynamoBackupAccountSpec.parse(spec))


def role(**overrides: Any) -> Any:
    overrides.setdefault("trust", {"applianceRoleArn": APPLIANCE, "externalId": None})
    return make_spec(**overrides)


def refusal(result: Admission | Refusal) -> str:
    assert isinstance(result, Refusal), result
    return result.reason


def test_a_bound_namespace_reaches_the_account_the_binding_way() -> None:
    admitted = admit(role(), "team-a", {}, [binding()], SETTINGS)
    assert isinstance(admitted, Admission) and admitted.binding == "prod"
    assert admitted.route.assume_role_arn == ACCESS


def test_another_namespace_is_refused() -> None:
    assert refusal(admit(role(), "team-b", {}, [binding()], SETTINGS)) == "AccountNotAllowed"


def test_a_label_selector_admits_namespaces() -> None:
    selected = binding(namespaces={"selector": {"matchLabels": {"tier": "prod"}}})
    assert isinstance(admit(role(), "team-x", {"tier": "prod"}, [selected], SETTINGS), Admission)
    assert refusal(admit(role(), "team-x", {"tier": "dev"}, [selected], SETTINGS)) == (
        "AccountNotAllowed"
    )
    expressions = binding(
        namespaces={"selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}
    )
    assert isinstance(admit(role(), "any", {"tier": "x"}, [expressions], SETTINGS), Admission)


def test_an_unbound_account_is_refused_only_when_bindings_are_required() -> None:
    assert refusal(admit(role(), "team-a", {}, [], SETTINGS)) == "AccountNotAllowed"
    relaxed = admit(role(), "team-a", {}, [], TenancySettings())
    assert isinstance(relaxed, Admission) and relaxed.binding is None


def test_a_binding_governs_its_account_even_when_bindings_are_optional() -> None:
    optional = TenancySettings()
    assert refusal(admit(role(), "team-b", {}, [binding()], optional)) == "AccountNotAllowed"


def test_a_binding_admits_its_partition_only() -> None:
    china = role(account={"id": ACCOUNT, "partition": "aws-cn"})
    assert refusal(admit(china, "team-a", {}, [binding()], SETTINGS)) == "AccountNotAllowed"


def test_a_role_may_not_name_its_own_access_where_a_binding_governs() -> None:
    own = role(account={"id": ACCOUNT, "assumeRoleArn": ACCESS})
    assert refusal(admit(own, "team-a", {}, [binding()], SETTINGS)) == "AssumeRoleArnNotAllowed"


def test_operations_and_appliances_are_limited() -> None:
    restore_only = binding(operations=["Restore"])
    assert refusal(admit(role(), "team-a", {}, [restore_only], SETTINGS)) == "OperationNotAllowed"
    other = role(
        trust={"applianceAccountId": "999999999999", "applianceRoleArn": None, "externalId": None}
    )
    assert refusal(admit(other, "team-a", {}, [binding()], SETTINGS)) == "ApplianceNotAllowed"
    # Listing a role does not admit its whole account; listing the account admits its roles.
    account = role(
        trust={"applianceAccountId": "111111111111", "applianceRoleArn": None, "externalId": None}
    )
    assert refusal(admit(account, "team-a", {}, [binding()], SETTINGS)) == "ApplianceNotAllowed"
    by_account = binding(appliances={"accountIds": ["111111111111"]})
    assert isinstance(admit(role(), "team-a", {}, [by_account], SETTINGS), Admission)


def test_the_first_binding_by_name_that_permits_wins_and_invalid_ones_fail_closed() -> None:
    other = binding("a-other", namespaces={"names": ["team-b"]})
    admitted = admit(role(), "team-a", {}, [binding("z-prod"), other], SETTINGS)
    assert isinstance(admitted, Admission) and admitted.binding == "z-prod"
    broken = Binding("broken", ACCOUNT, None, "spec.operations: Field required")
    assert (
        refusal(
            admit(
                role(),
                "team-b",
                {},
                [broken, other.__class__("x", ACCOUNT, binding().spec)],
                SETTINGS,
            )
        )
        == "BindingInvalid"
    )


def test_secrets_are_read_from_fixed_namespaces() -> None:
    secret = {"name": "ids", "key": ACCOUNT}
    bound = binding(account={"id": ACCOUNT, "assumeRoleArn": ACCESS, "externalIdSecretRef": secret})
    spec = make_spec(
        trust={"externalId": None, "externalIdSecretRef": {"name": "ids", "key": "veeam"}}
    )
    admitted = admit(spec, "team-a", {}, [bound], SETTINGS)
    assert isinstance(admitted, Admission)
    # The binding's Secret lives in the operator's namespace, the role's in the role's own.
    assert admitted.route.external_id_secret == SecretRef("dbr-system", "ids", ACCOUNT)
    assert admitted.trust_external_id_secret == SecretRef("team-a", "ids", "veeam")
    values = {admitted.route.external_id_secret: "op-id", admitted.trust_external_id_secret: "t-id"}
    granted = grant(admitted, spec, values)
    assert granted.access.external_id == "op-id" and granted.trust_external_id == "t-id"
    assert "op-id" not in repr(granted) and "t-id" not in repr(granted)  # never logged by repr
    desired = desired_role(spec, OWNER, grant=granted)
    assert desired.trust.statement[1].condition == {"StringEquals": {"sts:ExternalId": ("t-id",)}}


def test_forbidden_additions_are_refused_before_anything_else() -> None:
    spec = make_spec(permissions={"additionalActions": ["iam:*", "s3:GetObject"]})
    with pytest.raises(SpecError) as caught:
        desired_role(spec, OWNER)
    assert caught.value.reason == "ForbiddenAction" and "iam:*" in str(caught.value)
    assert "s3:GetObject" not in str(caught.value)
    allowed = admit(
        spec, "team-a", {}, [binding(guardrails={"allowedActions": ["iam:*"]})], SETTINGS
    )
    assert isinstance(allowed, Admission) and allowed.guardrails == Guardrails(allowed=("iam:*",))
    desired = desired_role(spec, OWNER, grant=grant(allowed, spec, {}))
    assert desired.additional_actions == ("iam:*", "s3:GetObject")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"namespaces": {}}, "name namespaces, select them by label, or both"),
        ({"appliances": {}}, "list at least one appliance role ARN or account id"),
        (
            {"account": {"id": ACCOUNT, "assumeRoleArn": "arn:aws:iam::999999999999:role/x"}},
            "assumeRoleArn must be a role in the account id and partition",
        ),
        ({"operations": []}, "at least 1 item"),
    ],
)
def test_invalid_bindings_are_rejected_with_one_line(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError, match=message):
        binding(**change)


# --- what the user reads: every refusal's whole message, every admission's whole route ---------


def test_each_refusal_tells_the_user_what_to_change() -> None:
    def refused(spec: Any, namespace: str, bindings: list[Binding], **settings: Any) -> Refusal:
        result = admit(spec, namespace, {}, bindings, TenancySettings(**settings))
        assert isinstance(result, Refusal), result
        return result

    assert refused(role(), "team-a", [], bindings_required=True) == Refusal(
        "AccountNotAllowed",
        f"no DynamoBackupAccount binds account {ACCOUNT}, and the operator requires one",
    )
    assert refused(role(), "team-b", [binding()]) == Refusal(
        "AccountNotAllowed", f"namespace team-b is not bound to account {ACCOUNT}"
    )
    assert refused(role(), "team-a", [binding(operations=["Restore"])]) == Refusal(
        "OperationNotAllowed", f"account {ACCOUNT} does not allow the operations BackupPolicy"
    )
    both = role(scope={"operations": ["BackupPolicy", "ManualBackup", "Restore"]})
    assert refused(both, "team-a", [binding(operations=["Restore"])]).message == (
        f"account {ACCOUNT} does not allow the operations BackupPolicy, ManualBackup"
    )
    other = role(
        trust={"applianceAccountId": "999999999999", "applianceRoleArn": None, "externalId": None}
    )
    assert refused(other, "team-a", [binding()]) == Refusal(
        "ApplianceNotAllowed",
        f"account {ACCOUNT} does not allow the appliance account 999999999999",
    )
    own = role(account={"id": ACCOUNT, "assumeRoleArn": ACCESS})
    assert refused(own, "team-a", [binding("b"), binding("a")]) == Refusal(
        "AssumeRoleArnNotAllowed",
        f"account {ACCOUNT} is governed by DynamoBackupAccount a, b, which says how the operator "
        "reaches it: remove spec.account.assumeRoleArn and its external ID",
    )
    china = role(account={"id": ACCOUNT, "partition": "aws-cn"})
    assert refused(china, "team-a", [binding()]) == Refusal(
        "AccountNotAllowed",
        f"DynamoBackupAccount prod binds account {ACCOUNT} in partition aws, not aws-cn",
    )
    broken = Binding("broken", ACCOUNT, None, "spec.operations: Field required")
    assert refused(role(), "team-a", [broken]) == Refusal(
        "BindingInvalid", "DynamoBackupAccount broken: spec.operations: Field required"
    )


def test_a_binding_with_a_secret_needs_the_operators_namespace() -> None:
    secret = {"name": "ids", "key": ACCOUNT}
    bound = binding(account={"id": ACCOUNT, "assumeRoleArn": ACCESS, "externalIdSecretRef": secret})
    result = admit(role(), "team-a", {}, [bound], TenancySettings(bindings_required=True))
    assert result == Refusal(
        "SecretNotReadable",
        "DynamoBackupAccount prod names an external ID Secret, but the operator was not told its "
        "own namespace (--operator-namespace)",
    )


def test_an_admission_carries_the_bindings_route_and_guardrails() -> None:
    settings = TenancySettings(operator_namespace="dbr-system", forbidden_actions=("s3:*",))
    guarded = binding(
        guardrails={"forbiddenActions": ["sqs:*", "ec2:*"], "allowedActions": ["b:*", "a:*"]}
    )
    admitted = admit(role(), "team-a", {}, [guarded], settings)
    assert admitted == Admission(
        binding="prod",
        route=Route(ACCOUNT, "aws", ACCESS, None, None),
        trust_external_id_secret=None,
        guardrails=Guardrails(forbidden=("s3:*", "ec2:*", "sqs:*"), allowed=("a:*", "b:*")),
    )
    assert secrets_needed(admitted) == ()
    assert grant(admitted, role(), {}) == Grant(
        AccountAccess(ACCOUNT, "aws", ACCESS, None), None, admitted.guardrails
    )


def test_without_a_binding_the_role_reaches_its_account_its_own_way() -> None:
    cross = "arn:aws-cn:iam::123456789012:role/access"
    spec = make_spec(
        account={
            "id": ACCOUNT,
            "partition": "aws-cn",
            "assumeRoleArn": cross,
            "externalIdSecretRef": {"name": "access", "key": "id"},
        },
        trust={
            "applianceRoleArn": None,
            "applianceAccountId": "111111111111",
            "externalId": "veeam-id",
        },
    )
    settings = TenancySettings(forbidden_actions=("s3:*",))
    admitted = admit(spec, "team-a", {}, [], settings)
    secret = SecretRef("team-a", "access", "id")
    assert admitted == Admission(
        None, Route(ACCOUNT, "aws-cn", cross, None, secret), None, Guardrails(("s3:*",))
    )
    assert secrets_needed(admitted) == (secret,)
    assert grant(admitted, spec, {secret: "op-id"}) == Grant(
        AccountAccess(ACCOUNT, "aws-cn", cross, "op-id"), "veeam-id", Guardrails(("s3:*",))
    )
    plain = make_spec(account={"id": ACCOUNT, "assumeRoleArn": ACCESS, "externalId": "op"})
    assert admit(plain, "team-a", {}, [], TenancySettings()) == Admission(
        None, Route(ACCOUNT, "aws", ACCESS, "op", None), None, Guardrails()
    )
    assert legacy_grant(plain) == Grant(AccountAccess(ACCOUNT, "aws", ACCESS, "op"), "ext-123")


def test_an_appliance_role_is_admitted_by_its_arn_or_its_account() -> None:
    by_arn = binding(appliances={"roleArns": ["arn:aws:iam::111111111111:role/Other"]})
    arn_role = role()
    assert binding_permits(by_arn.spec, "team-a", {}, ["BackupPolicy"], _appliance(arn_role)) == (
        Refusal(
            "ApplianceNotAllowed", f"account {ACCOUNT} does not allow the appliance {APPLIANCE}"
        )
    )
    by_account = binding(appliances={"accountIds": ["111111111111"]})
    assert binding_permits(by_account.spec, "team-a", {}, ["Restore"], _appliance(arn_role)) is None


def _appliance(spec: Any) -> Appliance:
    return Appliance.parse(spec.trust.appliance_role_arn or spec.trust.appliance_account_id)
