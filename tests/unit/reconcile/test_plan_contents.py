"""What each planned change carries: the role it names, the document it writes, the tags it sets.

test_plan.py checks which operations a plan holds and in which order; these check that each one
would write the right thing (the wrong role, a missing boundary or the trust policy written as
the permissions would each pass an operations-only test).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.policy.guardrails import dangerous_actions
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.desired import (
    INLINE_POLICY_NAME,
    MANAGED_POLICY_PATH,
    DesiredRole,
    desired_role,
)
from dynamobackup.reconcile.observed import ObservedDocument

from .conftest import OWNER, make_spec, observed_from

BOUNDARY = "arn:aws:iam::123456789012:policy/backup-boundary"


@pytest.fixture(scope="module")
def many_actions() -> list[str]:
    """Enough long action names that Managed delivery needs two or more policies."""
    harmless = [a for a in default_catalog().expand("*:*") if a.lower() not in dangerous_actions()]
    return sorted(harmless, key=len)[-256:]


def managed(**permissions: object) -> DesiredRole:
    return desired_role(make_spec(permissions={"delivery": "Managed", **permissions}), OWNER)


def test_a_plan_is_true_only_when_it_changes_something(desired: DesiredRole) -> None:
    assert not p.plan_changes(desired, observed_from(desired))
    assert p.plan_changes(desired, None)


def test_a_new_role_is_created_with_every_setting_and_its_permissions() -> None:
    desired = desired_role(
        make_spec(
            rolePath="/backup/",
            description="Veeam DynamoDB backups",
            maxSessionDuration=7200,
            permissionsBoundaryArn=BOUNDARY,
            tags={"cost-center": "42"},
        ),
        OWNER,
    )
    assert p.plan_changes(desired, None).changes == (
        p.CreateRole(
            name="veeam-dynamodb-backup",
            path="/backup/",
            trust=desired.trust,
            description="Veeam DynamoDB backups",
            max_session_duration=7200,
            permissions_boundary_arn=BOUNDARY,
            tags={**OWNER.tags(), "cost-center": "42"},
        ),
        p.PutRolePolicy("veeam-dynamodb-backup", INLINE_POLICY_NAME, desired.permissions[0]),
    )


def test_a_new_managed_role_gets_every_policy_created_and_attached(
    many_actions: list[str],
) -> None:
    desired = managed(additionalActions=many_actions)
    assert len(desired.permissions) >= 2
    expected: list[p.Change] = []
    for index, document in enumerate(desired.permissions, start=1):
        arn = desired.managed_policy_arn(index)
        name = desired.managed_policy_name(index)
        expected += [
            p.CreatePolicy(arn, name, MANAGED_POLICY_PATH, document, OWNER.tags()),
            p.AttachRolePolicy("veeam-dynamodb-backup", arn),
        ]
    assert p.plan_changes(desired, None).changes[1:] == tuple(expected)


def test_each_drifted_setting_is_rewritten_with_the_spec_value() -> None:
    desired = desired_role(
        make_spec(maxSessionDuration=7200, permissionsBoundaryArn=BOUNDARY), OWNER
    )
    role = observed_from(desired, max_session_duration=3600, permissions_boundary_arn=None)
    assert p.plan_changes(desired, role).changes == (
        p.UpdateRole("veeam-dynamodb-backup", desired.settings.description, 7200),
        p.PutRolePermissionsBoundary("veeam-dynamodb-backup", BOUNDARY),
    )


def test_a_boundary_the_spec_does_not_declare_is_removed(desired: DesiredRole) -> None:
    role = observed_from(desired, permissions_boundary_arn=BOUNDARY)
    assert p.plan_changes(desired, role).changes == (
        p.DeleteRolePermissionsBoundary("veeam-dynamodb-backup"),
    )


def test_missing_and_changed_tags_are_set_and_others_left(desired: DesiredRole) -> None:
    tagged = desired_role(make_spec(tags={"cost-center": "42", "team": "data"}), OWNER)
    role = observed_from(tagged, tags={**tagged.role_tags, "cost-center": "41", "team": "data"})
    del role.tags["dynamobackup.io/name"]
    assert p.plan_changes(tagged, role).changes == (
        p.TagRole(
            "veeam-dynamodb-backup", {"cost-center": "42", "dynamobackup.io/name": OWNER.name}
        ),
    )


def test_a_drifted_trust_policy_is_replaced_with_the_desired_one(desired: DesiredRole) -> None:
    other = parse_document(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "999999999999"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
    )
    role = observed_from(desired, trust=ObservedDocument(other))
    assert p.plan_changes(desired, role).changes == (
        p.UpdateAssumeRolePolicy("veeam-dynamodb-backup", desired.trust),
    )


def test_a_trust_policy_naming_the_appliance_account_by_id_is_correct_in_any_partition() -> None:
    desired = desired_role(
        make_spec(
            account={"id": "123456789012", "partition": "aws-cn"},
            trust={"applianceAccountId": "111111111111", "applianceRoleArn": None},
        ),
        OWNER,
    )
    trust = desired.trust.to_iam()
    for statement in trust["Statement"]:
        if statement["Principal"] == {"AWS": ["arn:aws-cn:iam::111111111111:root"]}:
            statement["Principal"] = {"AWS": "111111111111"}
    role = observed_from(desired, trust=ObservedDocument(parse_document(trust)))
    assert p.plan_changes(desired, role).changes == ()


def test_migrating_between_deliveries_names_the_right_policies() -> None:
    inline = desired_role(make_spec(), OWNER)
    as_managed = managed()
    arn = as_managed.managed_policy_arn(1)
    assert p.plan_changes(as_managed, observed_from(inline)).changes[2:] == (
        p.DeleteRolePolicy("veeam-dynamodb-backup", INLINE_POLICY_NAME),
    )
    assert p.plan_changes(inline, observed_from(as_managed)).changes == (
        p.PutRolePolicy("veeam-dynamodb-backup", INLINE_POLICY_NAME, inline.permissions[0]),
        p.DetachRolePolicy("veeam-dynamodb-backup", arn),
        p.DeletePolicy(arn),
    )


def test_a_policy_no_longer_needed_is_detached_and_deleted(many_actions: list[str]) -> None:
    larger = managed(additionalActions=many_actions)
    smaller = managed()
    stale = [larger.managed_policy_arn(i) for i in range(2, len(larger.permissions) + 1)]
    changes = p.plan_changes(smaller, observed_from(larger)).changes
    removals = [c for c in changes if isinstance(c, p.DetachRolePolicy | p.DeletePolicy)]
    assert removals == [
        change
        for arn in stale
        for change in (p.DetachRolePolicy("veeam-dynamodb-backup", arn), p.DeletePolicy(arn))
    ]


def test_a_changed_managed_policy_gets_the_new_document_as_its_version() -> None:
    before = managed()
    after = managed(additionalActions=["s3:GetObject"])
    changes = p.plan_changes(after, observed_from(before)).changes
    assert changes == (p.CreatePolicyVersion(after.managed_policy_arn(1), after.permissions[0]),)


def test_refusals_tell_the_user_what_to_do() -> None:
    desired = desired_role(make_spec(), OWNER)
    unowned = p.blocker(desired, observed_from(desired, tags={}))
    assert unowned is not None
    assert unowned.message == (
        "role veeam-dynamodb-backup exists and was not created by this operator; "
        "set spec.adoptExisting: true to take it over"
    )
    profiles = ("ec2-backup", "ec2-restore")
    in_use = p.deletion_blocker(desired, observed_from(desired, instance_profiles=profiles))
    assert in_use is not None and "ec2-backup, ec2-restore" in in_use.message
    not_ours = p.deletion_blocker(desired, observed_from(desired, tags={}))
    assert not_ours is not None
    assert not_ours.message == (
        "role veeam-dynamodb-backup is not owned by team-a/backup-role; left in place"
    )


def test_exclusive_removes_foreign_policies_by_their_names() -> None:
    exclusive = desired_role(make_spec(permissions={"exclusive": True}), OWNER)
    role = observed_from(exclusive)
    extra = role.inline_policies[INLINE_POLICY_NAME]
    role = replace(role, inline_policies={**role.inline_policies, "extra": extra})
    assert p.plan_changes(exclusive, role).changes == (
        p.DeleteRolePolicy("veeam-dynamodb-backup", "extra"),
    )
