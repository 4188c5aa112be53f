"""Discovery's decisions: which bindings an organisation implies, which change, which are marked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import ApiError, DynamoBackupOrganizationSpec
from dynamobackup.reconcile.discovery import (
    BindingWrite,
    ExistingBinding,
    MemberAccount,
    OrganizationSnapshot,
    OrgUnit,
    label_value,
    plan_bindings,
    source_label,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ROOT = OrgUnit("r-ab12", "Root")
PROD = OrgUnit("ou-ab12-prod0001", "Prod")
PAYMENTS = OrgUnit("ou-ab12-paym0001", "Payments & Cards")


def source(**overrides: Any) -> DynamoBackupOrganizationSpec:
    body: dict[str, Any] = {
        "managementAccount": {"id": "111111111111"},
        "bindingTemplate": {
            "accessRoleName": "dynamobackup-operator",
            "externalIdSecretRef": {"name": "dynamobackup-external-ids"},
            "namespaces": {"names": ["backup"]},
            "operations": ["BackupPolicy"],
            "appliances": {"accountIds": ["444455556666"]},
            "labels": {"team": "platform"},
        },
        **overrides,
    }
    return DynamoBackupOrganizationSpec.parse(body)


def member(account: str, *path: OrgUnit, status: str = "ACTIVE", **tags: str) -> MemberAccount:
    return MemberAccount(account, f"name-{account}", status, (ROOT, *path), tags)


def org(*accounts: MemberAccount) -> OrganizationSnapshot:
    return OrganizationSnapshot("o-abcdefghij", accounts)


def as_existing(write: BindingWrite) -> ExistingBinding:
    return ExistingBinding(write.name, write.labels, write.annotations, write.spec)


def test_every_member_gets_a_binding_labelled_with_its_place_tags_and_status() -> None:
    snapshot = org(member("222222222222", PROD, PAYMENTS, CostCenter="4711", owner="a b"))
    plan = plan_bindings("acme", source(), snapshot, [], NOW)
    (write,) = plan.writes
    assert write.create and write.name == "acme-222222222222"
    labels = write.labels
    assert labels["dynamobackup.io/account-status"] == "Active"
    assert labels["dynamobackup.io/ou"] == PAYMENTS.id
    assert labels["dynamobackup.io/ou-path"] == "Root.Prod.Payments-Cards"
    assert labels[f"ou.dynamobackup.io/{PROD.id}"] == "Prod"
    assert labels[f"ou.dynamobackup.io/{PAYMENTS.id}"] == "Payments-Cards"
    assert labels["tag.dynamobackup.io/CostCenter"] == "4711"
    assert labels["tag.dynamobackup.io/owner"] == "a-b"
    assert labels["team"] == "platform"
    assert write.annotations["dynamobackup.io/ou-path"] == "/Root/Prod/Payments & Cards"
    account = write.spec["account"]
    assert account["assumeRoleArn"] == "arn:aws:iam::222222222222:role/dynamobackup-operator"
    assert account["externalIdSecretRef"] == {
        "name": "dynamobackup-external-ids",
        "key": "222222222222",
    }
    assert (plan.in_scope, plan.active, plan.marked) == (1, 1, ())


def test_a_second_run_over_the_same_organisation_writes_nothing() -> None:
    snapshot = org(member("222222222222", PROD), member("333333333333", PROD))
    first = plan_bindings("acme", source(), snapshot, [], NOW)
    again = plan_bindings("acme", source(), snapshot, [as_existing(w) for w in first.writes], NOW)
    assert again.writes == () and again.active == 2


def test_a_move_a_retag_or_a_template_change_updates_the_binding() -> None:
    first = plan_bindings("acme", source(), org(member("222222222222", PROD)), [], NOW)
    existing = [as_existing(w) for w in first.writes]
    moved = plan_bindings("acme", source(), org(member("222222222222", PAYMENTS)), existing, NOW)
    (write,) = moved.writes
    assert not write.create and f"ou.dynamobackup.io/{PROD.id}" not in write.labels
    template = source(
        bindingTemplate={
            "accessRoleName": "other-role",
            "namespaces": {"names": ["backup"]},
            "operations": ["BackupPolicy", "Restore"],
            "appliances": {"accountIds": ["444455556666"]},
        }
    )
    changed = plan_bindings("acme", template, org(member("222222222222", PROD)), existing, NOW)
    assert changed.writes[0].spec["operations"] == ["BackupPolicy", "Restore"]


def test_accounts_that_leave_are_suspended_or_excluded_are_marked_never_dropped() -> None:
    accounts = [member(a, PROD) for a in ("222222222222", "333333333333", "444444444444")]
    first = plan_bindings("acme", source(), org(*accounts), [], NOW)
    existing = [as_existing(w) for w in first.writes]
    later = org(
        member("333333333333", PROD, status="SUSPENDED"),
        member("444444444444", PROD),
    )
    plan = plan_bindings("acme", source(excludedAccountIds=["444444444444"]), later, existing, NOW)
    states = {w.account_id: w.labels["dynamobackup.io/account-status"] for w in plan.writes}
    assert states == {
        "222222222222": "Left",
        "333333333333": "Suspended",
        "444444444444": "Excluded",
    }
    left = next(w for w in plan.writes if w.account_id == "222222222222")
    assert left.spec == existing[0].spec  # the binding keeps what it said
    assert {m.account_id: m.state for m in plan.marked} == states
    # Marked once: the next run changes nothing.
    marked = {w.name: as_existing(w) for w in plan.writes}
    rest = [marked.get(e.name, e) for e in existing]
    assert (
        plan_bindings("acme", source(excludedAccountIds=["444444444444"]), later, rest, NOW).writes
        == ()
    )


def test_excluded_and_out_of_scope_accounts_get_no_binding() -> None:
    snapshot = org(
        member("222222222222", PROD), member("333333333333", PAYMENTS), member("555555555555")
    )
    plan = plan_bindings(
        "acme",
        source(organizationalUnits=[PROD.id], excludedAccountIds=["555555555555"]),
        snapshot,
        [],
        NOW,
    )
    assert [w.account_id for w in plan.writes] == ["222222222222"] and plan.in_scope == 1


def test_label_values_are_valid_whatever_the_tag_or_ou_name() -> None:
    assert label_value("  Prod / EU (West) ") == "Prod-EU-West"
    assert len(label_value("x" * 200)) == 63
    assert len(source_label("s" * 100)) <= 63


def test_template_labels_cannot_take_discoverys_own() -> None:
    with pytest.raises(ApiError, match="written by discovery"):
        source(
            bindingTemplate={
                "accessRoleName": "r",
                "namespaces": {"names": ["backup"]},
                "operations": ["BackupPolicy"],
                "appliances": {"accountIds": ["444455556666"]},
                "labels": {"dynamobackup.io/account-status": "Active"},
            }
        )
