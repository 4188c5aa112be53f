"""The role after a plan, built from the writes and their responses instead of read back."""

from __future__ import annotations

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import desired_role
from dynamobackup.reconcile.predict import Written, role_after

from .conftest import OWNER, make_spec, observed_from

pytestmark = pytest.mark.unit


def responses(changes: tuple[p.Change, ...]) -> list[Written]:
    """What IAM's write responses return: the new role's ARN and ID, policy versions."""
    written = []
    for change in changes:
        if isinstance(change, p.CreateRole):
            arn = f"arn:aws:iam::123456789012:role{change.path}{change.name}"
            written.append(Written(change, role_arn=arn, role_id="AROAEXAMPLE"))
        elif isinstance(change, p.CreatePolicy | p.CreatePolicyVersion):
            written.append(Written(change))
        else:
            written.append(Written(change))
    return written


@pytest.mark.parametrize("delivery", ["Inline", "Managed"])
def test_a_created_role_is_known_from_its_writes_and_judged_compliant(delivery: str) -> None:
    desired = desired_role(make_spec(permissions={"delivery": delivery}), OWNER)
    changes = p.plan_changes(desired, None).changes
    after = role_after(None, responses(changes))
    assert after is not None
    assert after.role_id == "AROAEXAMPLE" and after.name == desired.name
    assert assess(desired, after, default_catalog()).compliant
    assert p.plan_changes(desired, after).changes == ()  # nothing left to do


def test_a_repaired_role_reflects_every_repair() -> None:
    desired = desired_role(make_spec(description="wanted"), OWNER)
    drifted = observed_from(desired, description="edited by hand", tags={})
    changes = p.plan_changes(desired, drifted).changes
    assert {c.operation for c in changes} >= {"TagRole", "UpdateRole"}
    after = role_after(drifted, responses(changes))
    assert after is not None
    assert after.description == "wanted"
    assert desired.owner.tags().items() <= after.tags.items()
    assert assess(desired, after, default_catalog()).compliant


def test_managed_to_inline_migration_drops_the_detached_policy() -> None:
    managed = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    inline = desired_role(make_spec(permissions={"delivery": "Inline"}), OWNER)
    before = observed_from(managed)
    after = role_after(before, responses(p.plan_changes(inline, before).changes))
    assert after is not None
    assert after.attached_policies == () and list(after.inline_policies) == [
        "dynamobackup-permissions"
    ]


def test_what_only_a_read_can_tell_is_read_back() -> None:
    bounded = desired_role(
        make_spec(permissionsBoundaryArn="arn:aws:iam::123456789012:policy/boundary"), OWNER
    )
    changes = p.plan_changes(bounded, None).changes
    # A boundary's document, an existing policy reused, a response without the role's ID.
    assert role_after(None, responses(changes)) is None
    plain = desired_role(make_spec(permissions={"delivery": "Managed"}), OWNER)
    changes = p.plan_changes(plain, None).changes
    reused = [Written(c, exact=not isinstance(c, p.CreatePolicy)) for c in changes]
    assert role_after(None, reused) is None
    assert role_after(None, [Written(changes[0])]) is None
