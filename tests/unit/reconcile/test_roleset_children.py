"""Which accounts a DynamoBackupRoleSet selects (and in which partition), which child
DynamoBackupRoles it creates, updates and deletes, and their names."""

from __future__ import annotations

from dynamobackup.api.v1alpha1 import DynamoBackupRoleSetSpec
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

from .roleset_builders import PROD, binding, role_set

A, B, C = "111111111111", "222222222222", "333333333333"
STATUS = "dynamobackup.io/account-status"


def test_a_binding_may_admit_the_namespace_by_its_labels() -> None:
    by_label = binding(A, {"env": "prod"}, namespaces={"selector": PROD}, name="b-a")
    selected = select_accounts(role_set(labelSelector=PROD), "team-z", {"env": "prod"}, [by_label])
    assert selected == Selection({A: "aws"})
    other = select_accounts(role_set(labelSelector=PROD), "team-z", {"env": "dev"}, [by_label])
    assert other == Selection({})


def test_of_several_matching_bindings_of_an_account_the_first_by_name_gives_the_partition() -> None:
    bindings = [
        binding(A, {"env": "prod"}, partition="aws", name="b-2"),
        binding(A, {"env": "prod"}, partition="aws-cn", name="b-1"),
        binding(A, {"env": "prod"}, partition="aws-us-gov", name="b-3"),
    ]
    assert select_accounts(role_set(labelSelector=PROD), "team-a", {}, bindings) == Selection(
        {A: "aws-cn"}
    )
    assert select_accounts(role_set(accountIds=[A]), "team-a", {}, bindings) == Selection(
        {A: "aws-cn"}
    )


def test_a_listed_account_takes_its_active_bindings_partition_or_aws_without_one() -> None:
    bindings = [
        binding(A, {STATUS: "Left"}, partition="aws-us-gov", name="b-1"),
        binding(A, {STATUS: "Active"}, partition="aws-cn", name="b-2"),
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
    bindings = [binding(C, {"env": "prod"}, partition="aws-cn", name="b-c"), binding(B, name="b-b")]
    selection = select_accounts(
        role_set(labelSelector=PROD, accountIds=[C, A]), "team-a", {}, bindings
    )
    assert list(selection.accounts.items()) == [(A, "aws"), (C, "aws-cn")]


def test_a_listed_account_whose_bindings_are_all_marked_is_skipped_with_their_states() -> None:
    bindings = [
        binding(A, {STATUS: "Suspended"}, name="b-1"),
        binding(A, {STATUS: "Left"}, name="b-2"),
        binding(A, {STATUS: "Left"}, name="b-3"),
        binding(B, {STATUS: "Excluded"}, name="b-4"),
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
    bindings = [
        binding(A, {STATUS: "Left"}, name="b-1"),
        binding(A, {STATUS: "Active"}, name="b-2"),
    ]
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
    assert plan.invalid == {
        A: "spec: permissionsBoundaryArn must be in the partition of the account"
    }


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
