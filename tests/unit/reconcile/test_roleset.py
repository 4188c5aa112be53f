"""A DynamoBackupRoleSet's decisions: which accounts it selects, which children change, and how
their verdicts add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dynamobackup.api.v1alpha1 import (
    ApiError,
    DynamoBackupRoleSetStatus,
    find_condition,
)
from dynamobackup.reconcile.roleset import (
    Child,
    Selection,
    child_name,
    child_spec,
    child_write_reason,
    plan_children,
    select_accounts,
    set_status,
    status_changed,
    tally,
)

from .roleset_builders import PROD, binding, role_set

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_selector_picks_matching_bindings_the_namespace_may_use() -> None:
    bindings = [
        binding("111111111111", {"env": "prod"}),
        binding("222222222222", {"env": "dev"}),
        binding("333333333333", {"env": "prod"}, namespaces={"names": ["team-b"]}),  # not ours
        binding("444444444444", {"env": "prod"}, partition="aws-cn"),
    ]
    selection = select_accounts(role_set(labelSelector=PROD), "team-a", {}, bindings)
    assert selection.accounts == {"111111111111": "aws", "444444444444": "aws-cn"}


def test_bindings_marked_not_active_are_never_selected_and_listed_ones_are_reported() -> None:
    left = {"env": "prod", "dynamobackup.io/account-status": "Left"}
    bindings = [
        binding("111111111111", {"env": "prod", "dynamobackup.io/account-status": "Active"}),
        binding("222222222222", left),
    ]
    by_label = select_accounts(role_set(labelSelector=PROD), "team-a", {}, bindings)
    assert list(by_label.accounts) == ["111111111111"]
    by_id = select_accounts(
        role_set(accountIds=["222222222222", "999999999999"]), "team-a", {}, bindings
    )
    # An account no binding governs still gets a child: its status says whether it may act.
    assert list(by_id.accounts) == ["999999999999"]
    (skipped,) = by_id.skipped
    assert skipped.account_id == "222222222222" and "Left" in (skipped.message or "")


def test_children_are_created_updated_and_deleted_only_where_they_differ() -> None:
    spec = role_set(accountIds=["111111111111", "222222222222"])
    selection = Selection({"111111111111": "aws", "222222222222": "aws"})
    current = child_spec(spec, "111111111111", "aws")
    stale = {**child_spec(spec, "222222222222", "aws"), "mode": "Audit"}
    children = [
        Child("s-111111111111", "111111111111", current),
        Child("s-222222222222", "222222222222", stale),
        Child("s-333333333333", "333333333333", child_spec(spec, "333333333333", "aws")),
    ]
    plan = plan_children("s", spec, selection, children)
    assert [w.name for w in plan.update] == ["s-222222222222"]
    assert plan.update[0].spec["mode"] == "Enforce"
    assert plan.delete == ("s-333333333333",) and plan.create == ()
    # At rest nothing is written, however many children there are.
    many = {f"{n:012d}": "aws" for n in range(300)}
    at_rest = [Child(child_name("s", a), a, child_spec(spec, a, "aws")) for a in many]
    assert plan_children("s", spec, Selection(many), at_rest).writes == 0


def test_a_spec_stored_with_defaults_filled_in_is_not_a_change() -> None:
    spec = role_set(accountIds=["111111111111"])
    stored = child_spec(spec, "111111111111", "aws")
    assert stored["permissions"] == {"delivery": "Inline", "exclusive": False}
    sparse = {k: v for k, v in stored.items() if k not in ("permissions", "mode", "rolePath")}
    children = [Child("s-111111111111", "111111111111", sparse)]
    assert plan_children("s", spec, Selection({"111111111111": "aws"}), children).writes == 0


def test_child_names_are_stable_and_fit_kubernetes() -> None:
    assert child_name("backup", "111111111111") == "backup-111111111111"
    long = child_name("x" * 250, "111111111111")
    assert len(long) <= 253 and long.endswith("-111111111111")
    assert long == child_name("x" * 250, "111111111111")


def verdict_child(account: str, ready: str, reason: str, compliant: bool | None) -> Child:
    return Child(f"s-{account}", account, {}, 1, 1, ready, reason, f"{reason} details", compliant)


def test_counts_and_lists_follow_the_children() -> None:
    accounts = {f"{n}" * 12: "aws" for n in range(1, 6)}
    children = [
        verdict_child("111111111111", "True", "Reconciled", True),
        verdict_child("222222222222", "False", "DriftDetected", False),
        verdict_child("333333333333", "False", "AccessDenied", None),
        verdict_child("444444444444", "True", "Audited", True),
    ]
    counts = tally(Selection(accounts), children, {"555555555555": ("ChildNameTaken", "taken")})
    status = set_status(DynamoBackupRoleSetStatus(), counts, Selection(accounts), 3, NOW)
    assert (status.selected, status.ready, status.compliant) == (5, 2, 2)
    assert (status.non_compliant, status.failing, status.pending) == (1, 2, 0)
    assert [v.account_id for v in status.non_compliant_accounts or []] == ["222222222222"]
    failing = {v.account_id: v.reason for v in status.failing_accounts or []}
    assert failing == {"333333333333": "AccessDenied", "555555555555": "ChildNameTaken"}
    ready = find_condition(status.conditions or [], "Ready")
    assert ready is not None and ready.status == "False" and ready.reason == "RolesFailing"
    stalled = find_condition(status.conditions or [], "Stalled")
    assert stalled is not None and stalled.status == "True"


def test_all_ready_and_the_status_only_changes_when_the_children_do() -> None:
    accounts = {"111111111111": "aws", "222222222222": "aws"}
    children = [verdict_child(a, "True", "Reconciled", True) for a in accounts]
    first = set_status(
        DynamoBackupRoleSetStatus(),
        tally(Selection(accounts), children, {}),
        Selection(accounts),
        1,
        NOW,
    )
    ready = find_condition(first.conditions or [], "Ready")
    assert ready is not None and (ready.status, ready.reason) == ("True", "AllReady")
    later = NOW + timedelta(minutes=5)
    again = set_status(
        first, tally(Selection(accounts), children, {}), Selection(accounts), 1, later
    )
    assert not status_changed(first, again) and again.last_update_time == first.last_update_time
    drifted = [children[0], verdict_child("222222222222", "False", "DriftDetected", False)]
    changed = set_status(
        first, tally(Selection(accounts), drifted, {}), Selection(accounts), 1, later
    )
    assert status_changed(first, changed) and changed.last_update_time == later


def test_nothing_selected_is_ready_but_says_so() -> None:
    status = set_status(
        DynamoBackupRoleSetStatus(), tally(Selection({}), [], {}), Selection({}), 1, NOW
    )
    ready = find_condition(status.conditions or [], "Ready")
    assert ready is not None and ready.reason == "NoAccountsSelected"


def test_a_selector_needs_ids_or_labels() -> None:
    with pytest.raises(ApiError, match="accountIds, give a labelSelector"):
        role_set()
    with pytest.raises(ApiError, match="duplicate"):
        role_set(accountIds=["111111111111", "111111111111"])


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (409, "ChildNameTaken"),  # a DynamoBackupRole of that name is not this set's
        (422, "ChildInvalid"),
        (403, "ChildForbidden"),
        (500, "ChildNotWritten"),
        (404, "ChildNotWritten"),
        (None, "ChildNotWritten"),  # no answer: the API server was unreachable
    ],
)
def test_a_failed_child_write_is_reported_with_the_reason_of_the_api_servers_answer(
    status: int | None, reason: str
) -> None:
    assert child_write_reason(status) == reason
