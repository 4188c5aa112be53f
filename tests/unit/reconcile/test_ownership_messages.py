"""Whose role it is, as the Ready condition says it: only both ownership tags make a role ours.

The operator's tags name the DynamoBackupRole by namespace and name; a role tagged for another
object with the same name in another namespace, or the same namespace and another name, is
someone else's, and the message names that object as far as its tags say.
"""

from __future__ import annotations

import pytest

from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.desired import desired_role
from dynamobackup.reconcile.ownership import (
    MANAGED_BY_TAG,
    NAME_TAG,
    NAMESPACE_TAG,
    Owner,
    owner_from_tags,
)

from .conftest import OWNER, make_spec, observed_from

MANAGED_BY = {MANAGED_BY_TAG: "DynamoBackupRole.dynamobackup.io"}
ROLE = "veeam-dynamodb-backup"


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            Owner("team-a", "other-role").tags(),
            f"role {ROLE} is managed by DynamoBackupRole team-a/other-role",
        ),
        (
            Owner("team-b", "backup-role").tags(),
            f"role {ROLE} is managed by DynamoBackupRole team-b/backup-role",
        ),
        (
            {**MANAGED_BY, NAME_TAG: "backup-role"},
            f"role {ROLE} is managed by DynamoBackupRole ?/backup-role",
        ),
        (
            {**MANAGED_BY, NAMESPACE_TAG: "team-a"},
            f"role {ROLE} is managed by DynamoBackupRole team-a/?",
        ),
    ],
    ids=["another name", "another namespace", "no namespace tag", "no name tag"],
)
def test_a_role_tagged_for_another_object_is_never_ours(tags: dict[str, str], message: str) -> None:
    desired = desired_role(make_spec(adoptExisting=True), OWNER)
    assert p.blocker(desired, observed_from(desired, tags=tags)) == p.Blocked(
        "RoleOwnedByAnotherResource", message
    )
    refused = p.deletion_blocker(desired, observed_from(desired, tags=tags))
    assert refused == p.Blocked(
        "RoleNotOwned", f"role {ROLE} is not owned by team-a/backup-role; left in place"
    )


@pytest.mark.parametrize(
    ("tags", "owner"),
    [
        (Owner("team-a", "backup-role").tags(), "team-a/backup-role"),
        ({}, "nobody"),
        ({NAMESPACE_TAG: "team-a", NAME_TAG: "backup-role"}, "nobody"),
        ({MANAGED_BY_TAG: "someone-else", NAMESPACE_TAG: "team-a", NAME_TAG: "x"}, "nobody"),
    ],
)
def test_who_owns_a_resource_as_messages_name_it(tags: dict[str, str], owner: str) -> None:
    # PolicyNameTaken says "managed policy <arn> already exists and belongs to <owner>".
    assert owner_from_tags(tags) == owner
