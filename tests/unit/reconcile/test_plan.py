"""The change plan: empty for a correct role, minimal and ordered otherwise."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.desired import (
    INLINE_POLICY_NAME,
    MANAGED_POLICY_PATH,
    DesiredRole,
    desired_role,
)
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy

from .conftest import OWNER, make_spec, observed_from


def operations(plan: p.Plan) -> list[str]:
    return [change.operation for change in plan.changes]


def test_correct_role_as_iam_spells_it_needs_no_change(desired: DesiredRole) -> None:
    assert p.plan_changes(desired, observed_from(desired)).changes == ()


def test_correct_managed_role_needs_no_change() -> None:
    desired = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    assert p.plan_changes(desired, observed_from(desired)).changes == ()


def test_absent_role_is_created_with_trust_tags_and_permissions(desired: DesiredRole) -> None:
    plan = p.plan_changes(desired, None)
    assert operations(plan) == ["CreateRole", "PutRolePolicy"]
    create = plan.changes[0]
    assert isinstance(create, p.CreateRole)
    assert create.tags["dynamobackup.io/namespace"] == "team-a"
    assert create.trust == desired.trust


def test_absent_managed_role_creates_and_attaches_policies() -> None:
    desired = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    assert operations(p.plan_changes(desired, None)) == [
        "CreateRole",
        "CreatePolicy",
        "AttachRolePolicy",
    ]


def test_drifted_trust_and_missing_action_are_repaired(desired: DesiredRole) -> None:
    trust = parse_document(
        {
            "Statement": [
                *desired.trust.to_iam()["Statement"],
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "999999999999"},
                    "Action": "sts:AssumeRole",
                },
            ]
        }
    )
    narrowed = desired.permissions[0].to_iam()
    narrowed["Statement"][0]["Action"].remove("sqs:ReceiveMessage")
    role = observed_from(
        desired,
        trust=ObservedDocument(trust),
        inline_policies={INLINE_POLICY_NAME: ObservedDocument(parse_document(narrowed))},
    )
    plan = p.plan_changes(desired, role)
    assert operations(plan) == ["UpdateAssumeRolePolicy", "PutRolePolicy"]


def test_unreadable_documents_are_rewritten(desired: DesiredRole) -> None:
    broken = ObservedDocument(None, "invalid JSON")
    role = observed_from(desired, trust=broken, inline_policies={INLINE_POLICY_NAME: broken})
    assert operations(p.plan_changes(desired, role)) == ["UpdateAssumeRolePolicy", "PutRolePolicy"]


def test_settings_drift(desired: DesiredRole) -> None:
    role = observed_from(
        desired,
        description="edited by hand",
        max_session_duration=7200,
        permissions_boundary_arn="arn:aws:iam::123456789012:policy/b",
        tags={"dynamobackup.io/managed-by": "DynamoBackupRole.dynamobackup.io"},
    )
    # Tags first: the role is claimed before anything else is written to it.
    assert operations(p.plan_changes(desired, role)) == [
        "TagRole",
        "UpdateRole",
        "DeleteRolePermissionsBoundary",
    ]


def test_foreign_policies_stay_unless_exclusive(desired: DesiredRole) -> None:
    foreign_inline = ObservedDocument(
        parse_document({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    )
    foreign_managed = ObservedManagedPolicy(
        arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
        name="ReadOnlyAccess",
        path="/",
        document=foreign_inline,
    )
    role = observed_from(desired, attached_policies=(foreign_managed,))
    role = replace(role, inline_policies={**role.inline_policies, "extra": foreign_inline})
    assert p.plan_changes(desired, role).changes == ()
    exclusive = desired_role(make_spec(permissions={"exclusive": True}), OWNER)
    changes = p.plan_changes(exclusive, role).changes
    assert changes == (
        p.DeleteRolePolicy(desired.name, "extra"),
        p.DetachRolePolicy(desired.name, "arn:aws:iam::aws:policy/ReadOnlyAccess"),
    )


def test_inline_to_managed_migration_adds_before_it_removes() -> None:
    inline = desired_role(make_spec(), OWNER)
    managed = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    assert operations(p.plan_changes(managed, observed_from(inline))) == [
        "CreatePolicy",
        "AttachRolePolicy",
        "DeleteRolePolicy",
    ]
    changes = p.plan_changes(inline, observed_from(managed)).changes
    assert [c.operation for c in changes] == ["PutRolePolicy", "DetachRolePolicy", "DeletePolicy"]


def test_changed_operations_publish_a_new_managed_version() -> None:
    before = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    after = desired_role(
        make_spec(
            permissions={"delivery": "Managed"}, scope={"operations": ["BackupPolicy", "Restore"]}
        ),
        OWNER,
    )
    changes = p.plan_changes(after, observed_from(before)).changes
    assert [c.operation for c in changes] == ["UpdateRole", "CreatePolicyVersion"]


def test_policy_named_like_ours_but_not_owned_is_foreign() -> None:
    desired = desired_role(make_spec(permissions={"delivery": "Managed", "exclusive": True}), OWNER)
    role = observed_from(desired)
    impostor = replace(role.attached_policies[0], tags={})
    role = replace(role, attached_policies=(impostor,))
    # Ours is (re)created — apply refuses if the name is taken — and the impostor is detached.
    assert operations(p.plan_changes(desired, role)) == [
        "CreatePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"path": "/other/"}, "RolePathConflict"),
        ({"tags": {}}, "RoleNotOwned"),
        (
            {
                "tags": {
                    "dynamobackup.io/managed-by": "DynamoBackupRole.dynamobackup.io",
                    "dynamobackup.io/namespace": "team-b",
                    "dynamobackup.io/name": "x",
                }
            },
            "RoleOwnedByAnotherResource",
        ),
    ],
)
def test_blockers(desired: DesiredRole, changes: dict[str, object], reason: str) -> None:
    blocked = p.blocker(desired, observed_from(desired, **changes))
    assert blocked is not None and blocked.reason == reason
    assert desired.name in blocked.message


def test_adopt_existing_lifts_only_the_unowned_block() -> None:
    adopting = desired_role(make_spec(adoptExisting=True), OWNER)
    assert p.blocker(adopting, observed_from(adopting, tags={})) is None
    other = {
        "dynamobackup.io/managed-by": "DynamoBackupRole.dynamobackup.io",
        "dynamobackup.io/namespace": "team-b",
        "dynamobackup.io/name": "x",
    }
    assert p.blocker(adopting, observed_from(adopting, tags=other)) is not None
    # Adopting tags the role as ours.
    assert operations(p.plan_changes(adopting, observed_from(adopting, tags={}))) == ["TagRole"]


def test_deletion_deletes_only_our_policies(desired: DesiredRole) -> None:
    managed = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    role = observed_from(managed)
    foreign = ObservedManagedPolicy(
        arn="arn:aws:iam::123456789012:policy/shared",
        name="shared",
        path="/",
        document=role.attached_policies[0].document,
    )
    role = replace(
        role,
        attached_policies=(*role.attached_policies, foreign),
        inline_policies={"extra": role.attached_policies[0].document},
    )
    changes = p.plan_deletion(managed, role).changes
    assert changes == (
        p.DeleteRolePolicy(role.name, "extra"),
        p.DetachRolePolicy(role.name, managed.managed_policy_arn(1)),
        p.DeletePolicy(managed.managed_policy_arn(1)),
        p.DetachRolePolicy(role.name, "arn:aws:iam::123456789012:policy/shared"),
        p.DeleteRole(role.name),
    )


def test_every_change_has_a_summary(desired: DesiredRole) -> None:
    managed = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    for change in (
        *p.plan_changes(managed, None).changes,
        *p.plan_deletion(managed, observed_from(managed)).changes,
    ):
        assert change.summary and change.operation[0].isupper()
    assert MANAGED_POLICY_PATH in p.plan_changes(managed, None).changes[1].summary


def test_deletion_is_blocked_for_roles_not_ours_or_in_use() -> None:
    managed = desired_role(make_spec(deletionPolicy="Delete"), OWNER)
    assert p.deletion_blocker(managed, observed_from(managed)) is None
    not_ours = p.deletion_blocker(managed, observed_from(managed, tags={}))
    assert not_ours is not None and not_ours.reason == "RoleNotOwned"
    in_use = p.deletion_blocker(managed, observed_from(managed, instance_profiles=("ec2-backup",)))
    assert in_use is not None and in_use.reason == "RoleInUse" and "ec2-backup" in in_use.message


def test_versions_an_interrupted_publish_left_are_deleted_only_from_our_policies() -> None:
    managed = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    role = observed_from(managed)
    ours = replace(role.attached_policies[0], stale_versions=("v1", "v2"))
    arn = ours.arn
    assert p.plan_changes(managed, replace(role, attached_policies=(ours,))).changes == (
        p.DeletePolicyVersion(arn, "v1"),
        p.DeletePolicyVersion(arn, "v2"),
    )
    impostor = replace(ours, tags={})  # named like ours, not tagged as ours: never touched
    changes = p.plan_changes(managed, replace(role, attached_policies=(impostor,))).changes
    assert not [c for c in changes if isinstance(c, p.DeletePolicyVersion)]


def test_deletion_deletes_our_policies_left_detached_and_no_others() -> None:
    managed = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    role = observed_from(managed)
    ours = role.attached_policies[0]
    bare = replace(role, attached_policies=())
    assert p.plan_deletion(managed, bare, (ours, replace(ours, tags={}))).changes == (
        p.DeletePolicy(ours.arn),
        p.DeleteRole(role.name),
    )
