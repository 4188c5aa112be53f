"""Tags removed from spec.tags: Enforce untags only what the operator set, and reports the rest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from dynamobackup.api.v1alpha1 import MAX_TAGS, DynamoBackupRoleStatus
from dynamobackup.policy.catalog import default_catalog
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.compliance import assess, managed_tags
from dynamobackup.reconcile.desired import DesiredRole, desired_role
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.predict import Written, role_after
from dynamobackup.reconcile.status import build_status

from .conftest import OWNER, make_spec, observed_from

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def wanting(tags: dict[str, str], managed: tuple[str, ...], mode: str = "Enforce") -> DesiredRole:
    return desired_role(make_spec(tags=tags, mode=mode), OWNER, managed_tags=managed)


def test_a_tag_the_operator_set_is_untagged_once_the_spec_drops_it() -> None:
    desired = wanting({"team": "storage"}, managed=("team", "cost-center"))
    # observed_from's role also carries cost-center=42, which the spec no longer has.
    role = observed_from(desired, tags={**desired.role_tags, "cost-center": "42", "by-hand": "x"})
    assert p.plan_changes(desired, role).changes == (p.UntagRole(desired.name, ("cost-center",)),)
    assert assess(desired, role, default_catalog()).drifted_settings == ("tags",)


def test_tags_the_operator_did_not_set_are_never_untagged_nor_drift() -> None:
    desired = wanting({"team": "storage"}, managed=("team",))
    role = observed_from(desired, tags={**desired.role_tags, "cost-center": "42"})
    assert p.plan_changes(desired, role).changes == ()
    assert assess(desired, role, default_catalog()).compliant


def test_ownership_tags_are_never_untagged_even_if_the_record_names_them() -> None:
    # A status edited by hand must not make the operator strip its own claim on the role.
    desired = wanting({}, managed=("dynamobackup.io/managed-by", "dynamobackup.io/name"))
    role = observed_from(desired, tags=desired.role_tags)
    assert p.plan_changes(desired, role).changes == ()


def test_a_key_kept_in_another_case_is_not_untagged() -> None:
    # IAM compares tag keys ignoring case: untagging "Team" would remove the spec's "team".
    desired = wanting({"team": "storage"}, managed=("Team",))
    role = observed_from(desired, tags={**desired.role_tags})
    assert not any(isinstance(c, p.UntagRole) for c in p.plan_changes(desired, role).changes)


def test_audit_reports_a_dropped_tag_as_drift_and_removes_nothing() -> None:
    desired = wanting({}, managed=("cost-center",), mode="Audit")
    role = observed_from(desired)  # carries cost-center=42
    assert assess(desired, role, default_catalog()).drifted_settings == ("tags",)


def test_an_untagged_role_is_known_without_reading_it_back() -> None:
    desired = wanting({}, managed=("cost-center",))
    role = observed_from(desired)
    changes = p.plan_changes(desired, role).changes
    after = role_after(role, [Written(change) for change in changes])
    assert after is not None and "cost-center" not in after.tags
    assert desired.owner.tags().items() <= after.tags.items()
    assert assess(desired, after, default_catalog()).compliant


def test_the_record_follows_what_enforce_set_and_what_left_the_role() -> None:
    desired = wanting({"team": "storage", "env": "prod"}, managed=("old", "gone"))
    role = observed_from(
        desired, tags={**desired.owner.tags(), "team": "storage", "env": "dev", "old": "1"}
    )
    # env still has another value (its TagRole did not land): not recorded until it does;
    # gone is no longer on the role, so a tag added later by hand under that key stays alone.
    assert managed_tags(desired, role) == ("old", "team")


def test_audit_records_no_new_keys() -> None:
    desired = wanting({"team": "storage"}, managed=(), mode="Audit")
    assert managed_tags(desired, observed_from(desired)) == ()


def test_the_status_keeps_the_record_when_a_reconcile_fails() -> None:
    desired = wanting({"team": "storage"}, managed=("old",))
    role = observed_from(desired, tags={**desired.role_tags})
    done = Outcome(checked_at=T0, desired=desired, role=role)
    assert build_status(DynamoBackupRoleStatus(), done, 1).managed_tags == ["team"]
    failed = replace(done, failure=Failure("Throttling", "slow down", retryable=True))
    status = build_status(DynamoBackupRoleStatus(managed_tags=["old"]), failed, 1)
    assert "managedTags" not in status.to_patch()  # the merge patch leaves the record as it was


def test_the_most_tags_the_spec_admits_fit_iam_with_the_ownership_tags() -> None:
    # IAM allows 50 tags per role: the record of managed keys must not take a tag of its own.
    most = {f"key-{index}": "v" for index in range(MAX_TAGS)}
    desired = desired_role(make_spec(tags=most), OWNER, managed_tags=tuple(most))
    assert len(desired.role_tags) == 50
    create = p.plan_changes(desired, None).changes[0]
    assert isinstance(create, p.CreateRole) and len(create.tags) == 50
