"""Which accounts a DynamoBackupRoleSet selects (and in which partition), which child
DynamoBackupRoles it creates, updates and deletes, and their names."""

from __future__ import annotations

from typing import Any

from dynamobackup.api.v1alpha1 import DynamoBackupAccountSpec, DynamoBackupRoleSetSpec
from dynamobackup.api.v1alpha1.roleset import AccountVerdict
from dynamobackup.reconcile.roleset import (
    Child,
    ChildWrite,
    Selection,
    child_name,
    child_spec,
    plan_children,
    select_accounts,
)
from dynamobackup.reconcile.tenancy import Binding

APPLIANCE = "arn:aws:iam::444455556666:role/VeeamImpersonation"
A, B, C = "111111111111", "222222222222", "333333333333"
STATUS = "dynamobackup.io/account-status"
PROD = {"matchLabels": {"env": "prod"}}


def role_set(**selector: Any) -> DynamoBackupRoleSetSpec:
    return DynamoBackupRoleSetSpec.parse(
        {
            "template": {
                "roleName": "VeeamBackup",
                "scope": {"operations": ["BackupPolicy"]},
                "trust": {"applianceRoleArn": APPLIANCE},
            },
            "accountSelector": selector,
        }
    )


def binding(
    name: str,
    account: str,
    labels: dict[str, str] | None = None,
    partition: str = "aws",
    namespaces: dict[str, Any] | None = None,
) -> Binding:
    spec = {
        "account": {"id": account, "partition": partition},
        "namespaces": namespaces or {"names": ["team-a"]},
        "operations": ["BackupPolicy"],
        "appliances": {"roleArns": [APPLIANCE]},
    }
    return Binding(name, account, DynamoBackupAccountSpec.parse(spec), labels=labels or {})


def test_a_binding_may_admit_the_namespace_by_its_labels() -> None:
    by_label = binding("b-a", A, {"env": "prod"}, namespaces={"selector": PROD})
    selected = select_accounts(role_set(labelSelector=PROD), "team-z", {"env": "prod"}, [by_label])
    assert selected == Selection({A: "aws"})
    other = select_accounts(role_set(labelSelector=PROD), "team-z", {"env": "dev"}, [by_label])
    assert other == Selection({})


def test_of_several_matching_bindings_of_an_account_the_first_by_name_gives_the_partition() -> None:
    bindings = [
        binding("b-2", A, {"env": "prod"}, partition="aws"),
        binding("b-1", A, {"env": "prod"}, partition="aws-cn"),
        binding("b-3", A, {"env": "prod"}, partition="aws-us-gov"),
    ]
    assert select_accounts(role_set(labelSelector=PROD), "team-a", {}, bindings) == Selection(
        {A: "aws-cn"}
    )
    assert select_accounts(role_set(accountIds=[A]), "team-a", {}, bindings) == Selection(
        {A: "aws-cn"}
    )


def test_a_listed_account_takes_its_active_bindings_partition_or_aws_without_one() -> None:
    bindings = [
        binding("b-1", A, {STATUS: "Left"}, partition="aws-us-gov"),
        binding("b-2", A, {STATUS: "Active"}, partition="aws-cn"),
    ]
    selection = select_accounts(role_set(accountIds=[A, B]), "team-a", {}, bindings)
    assert selection == Selection({A: "aws-cn", B: "aws"})


def test_a_listed_account_whose_binding_cannot_be_read_is_selected_in_aws() -> None:
    broken = Binding("b-1", A, None, error="spec.account.id: not an account ID")
    # Its child is created; the child's own status then says the binding refuses it.
    assert select_accounts(role_set(accountIds=[A]), "team-a", {}, [broken]) == Selection(
        {A: "aws"}
    )
    assert select_accounts(role_set(labelSelector={}), "team-a", {}, [broken]) == Selection({})


def test_the_label_selector_and_the_listed_ids_add_up_in_account_order() -> None:
    bindings = [binding("b-c", C, {"env": "prod"}, partition="aws-cn"), binding("b-b", B)]
    selection = select_accounts(
        role_set(labelSelector=PROD, accountIds=[C, A]), "team-a", {}, bindings
    )
    assert list(selection.accounts.items()) == [(A, "aws"), (C, "aws-cn")]


def test_a_listed_account_whose_bindings_are_all_marked_is_skipped_with_their_states() -> None:
    bindings = [
        binding("b-1", A, {STATUS: "Suspended"}),
        binding("b-2", A, {STATUS: "Left"}),
        binding("b-3", A, {STATUS: "Left"}),
        binding("b-4", B, {STATUS: "Excluded"}),
    ]
    selection = select_accounts(role_set(accountIds=[B, A, C]), "team-a", {}, bindings)
    assert selection == Selection(
        {C: "aws"},
        (
            AccountVerdict(
                account_id=A,
                reason="AccountNotActive",
                message="every binding of the account is marked Left, Suspended",
            ),
            AccountVerdict(
                account_id=B,
                reason="AccountNotActive",
                message="every binding of the account is marked Excluded",
            ),
        ),
    )


def test_one_active_binding_is_enough_for_a_listed_account() -> None:
    bindings = [binding("b-1", A, {STATUS: "Left"}), binding("b-2", A, {STATUS: "Active"})]
    assert select_accounts(role_set(accountIds=[A]), "team-a", {}, bindings) == Selection(
        {A: "aws"}
    )


def test_new_accounts_get_a_child_named_after_the_set_with_the_templates_spec() -> None:
    spec = role_set(accountIds=[A, B])
    plan = plan_children("nightly", spec, Selection({A: "aws", B: "aws-cn"}), [])
    assert plan.create == (
        ChildWrite("nightly-111111111111", A, child_spec(spec, A, "aws")),
        ChildWrite("nightly-222222222222", B, child_spec(spec, B, "aws-cn")),
    )
    assert plan.create[1].spec["account"] == {"id": B, "partition": "aws-cn"}
    assert (plan.update, plan.delete, plan.invalid) == ((), (), {})


def test_a_changed_template_updates_the_child_under_its_existing_name() -> None:
    old = role_set(accountIds=[A])
    new = DynamoBackupRoleSetSpec.parse(
        {**old.to_dict(), "template": {**old.to_dict()["template"], "mode": "Audit"}}
    )
    children = [Child("renamed-by-hand", A, child_spec(old, A, "aws"))]
    plan = plan_children("nightly", new, Selection({A: "aws"}), children)
    assert plan.update == (ChildWrite("renamed-by-hand", A, child_spec(new, A, "aws")),)
    assert (plan.create, plan.delete) == ((), ())


def test_a_child_being_deleted_is_neither_updated_nor_deleted_again() -> None:
    old = role_set(accountIds=[A])
    new = DynamoBackupRoleSetSpec.parse(
        {**old.to_dict(), "template": {**old.to_dict()["template"], "mode": "Audit"}}
    )
    going = [
        Child("nightly-111111111111", A, child_spec(old, A, "aws"), deleting=True),
        Child("nightly-222222222222", B, child_spec(old, B, "aws"), deleting=True),
    ]
    assert plan_children("nightly", new, Selection({A: "aws"}), going).writes == 0


def test_an_account_the_template_cannot_take_does_not_stop_the_accounts_after_it() -> None:
    spec = DynamoBackupRoleSetSpec.parse(
        {
            "template": {
                "roleName": "VeeamBackup",
                "scope": {"operations": ["BackupPolicy"]},
                "trust": {"applianceAccountId": "444455556666"},
                "permissionsBoundaryArn": "arn:aws:iam::aws:policy/Boundary",
            },
            "accountSelector": {"accountIds": [A, B]},
        }
    )
    plan = plan_children("nightly", spec, Selection({A: "aws-cn", B: "aws"}), [])
    assert [(w.name, w.account_id) for w in plan.create] == [("nightly-222222222222", B)]
    assert list(plan.invalid) == [A]


def test_a_name_of_exactly_253_characters_is_kept() -> None:
    set_name = "s" * (253 - 13)
    assert child_name(set_name, A) == f"{set_name}-{A}"


def test_a_long_set_name_is_cut_to_253_characters_with_a_hash_of_the_whole_name() -> None:
    set_name = "s" * 250
    name = child_name(set_name, A)
    prefix, digest, account = name.rsplit("-", 2)
    assert len(name) == 253 and account == A
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert prefix == "s" * (253 - 12 - 8 - 2)
    # Two long names that differ only past the cut still name different children.
    assert child_name("s" * 249 + "t", A) != name


def test_a_cut_set_name_does_not_end_in_a_dash_or_dot() -> None:
    keep = 253 - 12 - 8 - 2
    for tail in ("-", ".", "--"):
        set_name = "a" * (keep - len(tail)) + tail + "b" * 30
        name = child_name(set_name, A)
        assert name.startswith("a" * (keep - len(tail)) + "-"), (tail, name[keep - 5 : keep + 5])
        assert "--" not in name and ".-" not in name
