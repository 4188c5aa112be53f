"""The DynamoBackupAccount bindings discovery writes for an organisation, whole: their names,
labels, annotations and specs, the accounts it marks and why, and the counts it reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupOrganizationSpec, MarkedAccount
from dynamobackup.reconcile.discovery import (
    MAX_LISTED,
    BindingWrite,
    ExistingBinding,
    MemberAccount,
    OrganizationSnapshot,
    OrgUnit,
    binding_name,
    label_value,
    listed,
    plan_bindings,
    source_label,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
STAMP = "2026-01-02T03:04:05+00:00"
LATER = NOW + timedelta(hours=1)
LATER_STAMP = "2026-01-02T04:04:05+00:00"
ROOT = OrgUnit("r-ab12", "Root")
PROD = OrgUnit("ou-ab12-prod0001", "Prod")
A, B, C = "222222222222", "333333333333", "444444444444"
STATUS = "dynamobackup.io/account-status"
CHANGED_AT = "dynamobackup.io/account-status-changed-at"


def source(**overrides: Any) -> DynamoBackupOrganizationSpec:
    template: dict[str, Any] = {
        "accessRoleName": "dynamobackup-operator",
        "namespaces": {"names": ["backup"]},
        "operations": ["BackupPolicy"],
        "appliances": {"accountIds": ["444455556666"]},
        **overrides.pop("template", {}),
    }
    body = {"managementAccount": {"id": "111111111111"}, "bindingTemplate": template}
    return DynamoBackupOrganizationSpec.parse({**body, **overrides})


def member(account: str, status: str = "ACTIVE", **tags: str) -> MemberAccount:
    return MemberAccount(account, f"name-{account}", status, (ROOT, PROD), tags)


def org(*accounts: MemberAccount) -> OrganizationSnapshot:
    return OrganizationSnapshot("o-abcdefghij", accounts)


def as_existing(write: BindingWrite, **labels: str) -> ExistingBinding:
    return ExistingBinding(write.name, {**write.labels, **labels}, write.annotations, write.spec)


def first_run(
    *accounts: MemberAccount, spec: DynamoBackupOrganizationSpec | None = None
) -> list[ExistingBinding]:
    plan = plan_bindings("acme", spec or source(), org(*accounts), [], NOW)
    return [as_existing(write) for write in plan.writes]


def test_a_new_members_binding_whole() -> None:
    plan = plan_bindings("acme", source(), org(member(A, CostCenter="4711", owner="a b")), [], NOW)
    assert plan.writes == (
        BindingWrite(
            name=f"acme-{A}",
            account_id=A,
            labels={
                "dynamobackup.io/organization-source": "acme",
                "dynamobackup.io/organization": "o-abcdefghij",
                "dynamobackup.io/account-id": A,
                STATUS: "Active",
                "dynamobackup.io/ou": PROD.id,
                "dynamobackup.io/ou-path": "Root.Prod",
                f"ou.dynamobackup.io/{ROOT.id}": "Root",
                f"ou.dynamobackup.io/{PROD.id}": "Prod",
                "tag.dynamobackup.io/CostCenter": "4711",
                "tag.dynamobackup.io/owner": "a-b",
            },
            annotations={
                "dynamobackup.io/organization-source": "acme",
                "dynamobackup.io/account-name": f"name-{A}",
                "dynamobackup.io/ou-path": "/Root/Prod",
                "dynamobackup.io/account-tags": '{"CostCenter":"4711","owner":"a b"}',
                CHANGED_AT: STAMP,
            },
            spec={
                "account": {
                    "id": A,
                    "partition": "aws",
                    "assumeRoleArn": f"arn:aws:iam::{A}:role/dynamobackup-operator",
                },
                "namespaces": {"names": ["backup"]},
                "operations": ["BackupPolicy"],
                "appliances": {"accountIds": ["444455556666"]},
                "guardrails": {},
            },
            create=True,
        ),
    )
    assert (plan.in_scope, plan.active, plan.marked, plan.invalid) == (1, 1, (), {})


def test_the_binding_spec_follows_the_partition_path_and_guardrails_of_the_template() -> None:
    spec = source(
        managementAccount={"id": "111111111111", "partition": "aws-cn"},
        template={
            "accessRolePath": "/ops/",
            "externalIdSecretRef": {"name": "ids", "key": "shared"},
            "guardrails": {"allowedActions": ["iam:CreateServiceLinkedRole"]},
        },
    )
    (write,) = plan_bindings("acme", spec, org(member(A)), [], NOW).writes
    assert write.spec["account"] == {
        "id": A,
        "partition": "aws-cn",
        "assumeRoleArn": f"arn:aws-cn:iam::{A}:role/ops/dynamobackup-operator",
        "externalIdSecretRef": {"name": "ids", "key": "shared"},
    }
    assert write.spec["guardrails"] == {"allowedActions": ["iam:CreateServiceLinkedRole"]}


def test_only_the_chosen_tag_keys_become_labels_and_tags_with_no_label_name_none() -> None:
    spec = source(accountTags={"keys": ["CostCenter", "!!!"]})
    account = member(A, CostCenter="4711", owner="alice", **{"!!!": "x"})
    (write,) = plan_bindings("acme", spec, org(account), [], NOW).writes
    tags = {k: v for k, v in write.labels.items() if k.startswith("tag.")}
    assert tags == {"tag.dynamobackup.io/CostCenter": "4711"}
    # The annotation keeps every tag as AWS has it.
    assert json.loads(write.annotations["dynamobackup.io/account-tags"]) == {
        "!!!": "x",
        "CostCenter": "4711",
        "owner": "alice",
    }
    (every,) = plan_bindings("acme", source(), org(account), [], NOW).writes
    assert sorted(k for k in every.labels if k.startswith("tag.")) == [
        "tag.dynamobackup.io/CostCenter",
        "tag.dynamobackup.io/owner",
    ]


def test_an_ou_id_of_63_characters_is_a_label_a_longer_one_is_not() -> None:
    fits, too_long = OrgUnit("o" * 63, "Fits"), OrgUnit("p" * 64, "TooLong")
    account = MemberAccount(A, "a", "ACTIVE", (ROOT, fits, too_long))
    (write,) = plan_bindings("acme", source(), org(account), [], NOW).writes
    ou_labels = {k: v for k, v in write.labels.items() if k.startswith("ou.")}
    assert ou_labels == {
        f"ou.dynamobackup.io/{ROOT.id}": "Root",
        f"ou.dynamobackup.io/{'o' * 63}": "Fits",
    }
    assert write.labels["dynamobackup.io/ou"] == "p" * 64


def test_a_person_s_labels_and_a_binding_s_name_survive_an_update() -> None:
    (existing,) = first_run(member(A, owner="alice"))
    renamed = ExistingBinding(
        "hand-made", {**existing.labels, "backup-tier": "gold"}, existing.annotations, existing.spec
    )
    plan = plan_bindings("acme", source(), org(member(A, owner="bob")), [renamed], LATER)
    (write,) = plan.writes
    assert (write.name, write.create) == ("hand-made", False)
    assert write.labels["backup-tier"] == "gold"
    assert write.labels["tag.dynamobackup.io/owner"] == "bob"
    # The account stayed active: the time its status changed is still the first one.
    assert write.annotations[CHANGED_AT] == STAMP


def test_the_status_time_moves_only_when_the_status_does() -> None:
    existing = first_run(member(A), member(B))
    # Nothing changed an hour later: nothing is written.
    assert plan_bindings("acme", source(), org(member(A), member(B)), existing, LATER).writes == ()
    plan = plan_bindings(
        "acme", source(), org(member(A, "SUSPENDED"), member(B, "PENDING_CLOSURE")), existing, LATER
    )
    assert [(w.labels[STATUS], w.annotations[CHANGED_AT]) for w in plan.writes] == [
        ("Suspended", LATER_STAMP),
        ("PendingClosure", LATER_STAMP),
    ]


def test_a_binding_without_a_status_time_gets_one() -> None:
    (existing,) = first_run(member(A))
    annotations = {k: v for k, v in existing.annotations.items() if k != CHANGED_AT}
    older = ExistingBinding(existing.name, existing.labels, annotations, existing.spec)
    (write,) = plan_bindings("acme", source(), org(member(A)), [older], LATER).writes
    assert write.annotations[CHANGED_AT] == LATER_STAMP


def test_suspended_closing_and_unknown_states_are_marked_with_what_aws_says() -> None:
    accounts = (member(A, "SUSPENDED"), member(B, "PENDING_CLOSURE"), member(C, "CLOSED"))
    plan = plan_bindings("acme", source(), org(*accounts), [], NOW)
    assert [w.labels[STATUS] for w in plan.writes] == ["Suspended", "PendingClosure", "Suspended"]
    assert plan.marked == (
        MarkedAccount(
            account_id=A, state="Suspended", binding=f"acme-{A}", message="AWS says SUSPENDED"
        ),
        MarkedAccount(
            account_id=B,
            state="PendingClosure",
            binding=f"acme-{B}",
            message="AWS says PENDING_CLOSURE",
        ),
        MarkedAccount(
            account_id=C, state="Suspended", binding=f"acme-{C}", message="AWS says CLOSED"
        ),
    )
    assert (plan.in_scope, plan.active) == (3, 0)


def test_a_binding_marked_left_or_excluded_changes_only_its_status_label_and_time() -> None:
    existing = first_run(member(A), member(B), member(C))
    plan = plan_bindings(
        "acme", source(excludedAccountIds=[B]), org(member(B), member(C)), existing, LATER
    )
    left, excluded = existing[0], existing[1]
    assert plan.writes == (
        BindingWrite(
            name=excluded.name,
            account_id=B,
            labels={**excluded.labels, STATUS: "Excluded"},
            annotations={CHANGED_AT: LATER_STAMP},
            spec=dict(excluded.spec),
            create=False,
        ),
        BindingWrite(
            name=left.name,
            account_id=A,
            labels={**left.labels, STATUS: "Left"},
            annotations={CHANGED_AT: LATER_STAMP},
            spec=dict(left.spec),
            create=False,
        ),
    )
    assert plan.marked == (
        MarkedAccount(
            account_id=B,
            state="Excluded",
            binding=f"acme-{B}",
            message="excluded by the DynamoBackupOrganization",
        ),
        MarkedAccount(
            account_id=A,
            state="Left",
            binding=f"acme-{A}",
            message="no longer a member of the organisation",
        ),
    )
    assert (plan.in_scope, plan.active) == (1, 1)


def test_an_excluded_account_does_not_stop_the_accounts_after_it() -> None:
    accounts = (member(A), member(B), member(C))
    plan = plan_bindings("acme", source(excludedAccountIds=[A]), org(*accounts), [], NOW)
    assert [w.account_id for w in plan.writes] == [B, C]
    assert (plan.in_scope, plan.active, plan.marked) == (2, 2, ())


def test_an_account_that_cannot_have_a_binding_is_reported_and_the_others_bound() -> None:
    plan = plan_bindings("acme", source(), org(member("12345"), member(A)), [], NOW)
    assert [w.account_id for w in plan.writes] == [A]
    assert list(plan.invalid) == ["12345"]
    assert plan.invalid["12345"].startswith(
        "spec.account.id: String should match pattern '^[0-9]{12}$' (got '12345')"
    )
    assert (plan.in_scope, plan.active) == (2, 1)


def test_a_binding_whose_account_label_was_removed_is_still_the_accounts_binding() -> None:
    (existing,) = first_run(member(A))
    labels = {k: v for k, v in existing.labels.items() if k != "dynamobackup.io/account-id"}
    stripped = ExistingBinding(existing.name, labels, existing.annotations, existing.spec)
    plan = plan_bindings("acme", source(), org(member(A)), [stripped], LATER)
    # The label is written back; the account is neither marked Left nor bound twice.
    (write,) = plan.writes
    assert (write.name, write.create, write.labels) == (existing.name, False, existing.labels)
    assert plan.marked == ()


def test_binding_names_fit_kubernetes() -> None:
    exact = "s" * (253 - 13)
    assert binding_name(exact, A) == f"{exact}-{A}"
    name = binding_name("s" * 241, A)  # 254 characters uncut
    prefix, digest, account = name.rsplit("-", 2)
    assert len(name) == 253 and account == A
    assert prefix == "s" * (253 - 22) and len(digest) == 8 and int(digest, 16) >= 0
    assert binding_name("s" * 240 + "t", A) != name
    for tail in ("-", "."):
        cut = binding_name("a" * 230 + tail + "b" * 30, A)
        assert cut.startswith("a" * 230 + "-") and f"{tail}-" not in cut


def test_source_labels_fit_a_label_value() -> None:
    assert source_label("s" * 63) == "s" * 63
    long = source_label("s" * 64)
    prefix, digest = long.rsplit("-", 1)
    assert len(long) == 63 and prefix == "s" * 54 and len(digest) == 8 and int(digest, 16) >= 0
    assert source_label("s" * 63 + "t") != long


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("XBox", "XBox"),
        ("Team X", "Team-X"),
        ("_private.", "private"),
        ("a" * 62 + "-b", "a" * 62),
        ("", ""),
    ],
)
def test_label_values(text: str, value: str) -> None:
    assert label_value(text) == value


def test_the_status_lists_at_most_the_limit_of_marked_accounts() -> None:
    marked = [
        MarkedAccount(account_id=f"{n:012d}", state="Left", binding=f"acme-{n}")
        for n in range(MAX_LISTED + 1)
    ]
    assert listed(marked) == marked[:MAX_LISTED]
    assert listed(marked[:3]) == marked[:3]


def test_a_binding_belongs_to_the_account_its_spec_names_whatever_its_label_says() -> None:
    (existing,) = first_run(member(A))
    labels = {**existing.labels, "dynamobackup.io/account-id": B}
    relabelled = ExistingBinding(existing.name, labels, existing.annotations, existing.spec)
    plan = plan_bindings("acme", source(), org(member(A)), [relabelled], LATER)
    (write,) = plan.writes
    assert (write.name, write.account_id, write.labels) == (existing.name, A, existing.labels)
    assert plan.marked == ()


def test_a_binding_whose_spec_names_no_account_is_known_by_its_label() -> None:
    (existing,) = first_run(member(A))
    bare = ExistingBinding(existing.name, existing.labels, existing.annotations, {})
    (write,) = plan_bindings("acme", source(), org(member(A)), [bare], LATER).writes
    assert (write.name, write.create, write.spec) == (existing.name, False, existing.spec)
    unlabelled = ExistingBinding(existing.name, {}, {}, {})
    plan = plan_bindings("acme", source(), org(), [unlabelled], LATER)
    assert [(m.account_id, m.state) for m in plan.marked] == [("", "Left")]
