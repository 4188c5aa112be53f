"""The role the operator judges after Enforce wrote a plan: predicted from the writes, whole.

After a reconcile the status's verdict is built from `role_after` instead of reading the role
back, so the prediction must be exactly the role IAM then holds: each case compares the whole
predicted ObservedRole with the role as Enforce leaves it (tests/enforced.py), including what
the plan did not touch (someone's tag, someone's policy).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole
from dynamobackup.reconcile.predict import Written, role_after
from enforced import enforced_role

from .conftest import OWNER, make_spec

ROLE_ARN = "arn:aws:iam::123456789012:role/veeam-dynamodb-backup"
ROLE_ID = "AROAEXAMPLEEXAMPLE123"  # the ID enforced_role gives the role
BOUNDARY = "arn:aws:iam::123456789012:policy/backup-boundary"


def document(*actions: str) -> ObservedDocument:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return ObservedDocument(parse_document({"Version": "2012-10-17", "Statement": [statement]}))


THEIR_POLICY = ObservedManagedPolicy(
    arn="arn:aws:iam::123456789012:policy/team-reads",
    name="team-reads",
    path="/",
    document=document("s3:GetObject"),
    stale_versions=("v2",),
)
THEIR_NOTES = document("s3:ListAllMyBuckets")


def desired(**spec: Any) -> DesiredRole:
    managed_tags = spec.pop("managed_tags", ())
    return desired_role(make_spec(**spec), OWNER, managed_tags=managed_tags)


def applied(before: ObservedRole | None, target: DesiredRole) -> ObservedRole | None:
    """Enforce's plan for `target` written, each write answered as IAM answers it."""
    written = [
        Written(change, role_arn=ROLE_ARN, role_id=ROLE_ID)
        if isinstance(change, p.CreateRole)
        else Written(change)
        for change in p.plan_changes(target, before).changes
    ]
    return role_after(before, written)


def own_policy(role: ObservedRole, **changes: Any) -> ObservedRole:
    (policy,) = role.attached_policies
    return replace(role, attached_policies=(replace(policy, **changes),))


def with_their_policy(role: ObservedRole) -> ObservedRole:
    """Someone attached a policy of theirs (read with an old version left behind)."""
    return replace(role, attached_policies=(THEIR_POLICY, *role.attached_policies))


def with_their_notes(role: ObservedRole) -> ObservedRole:
    return replace(role, inline_policies={**role.inline_policies, "notes": THEIR_NOTES})


def cases() -> list[tuple[str, DesiredRole, ObservedRole | None, ObservedRole]]:
    """(case, the spec, the role before, the role Enforce leaves)."""
    inline = desired()
    managed = desired(permissions={"delivery": "Managed"})
    exclusive = desired(permissions={"exclusive": True})
    tagged = desired(tags={"team": "backup"}, managed_tags=("old",))
    done_tagged = enforced_role(tagged, tags={**tagged.role_tags, "cost-center": "42"})
    done_managed = enforced_role(managed)
    return [
        ("created, inline", inline, None, enforced_role(inline)),
        ("created, managed", managed, None, done_managed),
        (
            "trust policy replaced",
            inline,
            enforced_role(inline, trust=document("sts:AssumeRole")),
            enforced_role(inline),
        ),
        (
            "description and session duration set",
            inline,
            enforced_role(inline, description="edited by hand", max_session_duration=7200),
            enforced_role(inline),
        ),
        (
            "a spec tag set, a dropped one removed, someone's kept",
            tagged,
            enforced_role(tagged, tags={**OWNER.tags(), "old": "1", "cost-center": "42"}),
            done_tagged,
        ),
        (
            "permissions written inline, someone's inline policy kept",
            inline,
            with_their_notes(
                enforced_role(
                    inline, inline_policies={INLINE_POLICY_NAME: document("s3:GetObject")}
                )
            ),
            with_their_notes(enforced_role(inline)),
        ),
        (
            "a new default version and old versions pruned, someone's policy untouched",
            managed,
            with_their_policy(
                own_policy(
                    done_managed, document=document("s3:GetObject"), stale_versions=("v2", "v3")
                )
            ),
            with_their_policy(done_managed),
        ),
        (
            "inline to managed: the inline policy deleted, someone's kept",
            managed,
            with_their_notes(enforced_role(inline)),
            with_their_notes(done_managed),
        ),
        (
            "exclusive: someone's inline and managed policies removed",
            exclusive,
            with_their_notes(with_their_policy(enforced_role(exclusive))),
            enforced_role(exclusive),
        ),
    ]


@pytest.mark.parametrize(
    ("target", "before", "after"),
    [case[1:] for case in cases()],
    ids=[case[0] for case in cases()],
)
def test_the_predicted_role_is_the_role_enforce_leaves(
    target: DesiredRole, before: ObservedRole | None, after: ObservedRole
) -> None:
    assert applied(before, target) == after


def test_a_boundary_set_or_removed_is_read_back() -> None:
    bounded = desired(permissionsBoundaryArn=BOUNDARY)
    unbounded = desired()
    assert applied(enforced_role(unbounded), bounded) is None
    assert applied(enforced_role(bounded), unbounded) is None


@pytest.mark.parametrize(("arn", "role_id"), [(ROLE_ARN, None), (None, ROLE_ID), (None, None)])
def test_a_created_role_is_read_back_unless_iam_returned_its_arn_and_id(
    arn: str | None, role_id: str | None
) -> None:
    create, *rest = p.plan_changes(desired(), None).changes
    written = [Written(create, role_arn=arn, role_id=role_id), *map(Written, rest)]
    assert role_after(None, written) is None


def test_a_new_version_of_a_policy_the_role_does_not_have_is_read_back() -> None:
    managed = desired(permissions={"delivery": "Managed"})
    role = enforced_role(managed, attached_policies=())
    version = p.CreatePolicyVersion(managed.managed_policy_arn(1), managed.permissions[0])
    assert role_after(role, [Written(version)]) is None


def test_each_old_version_deleted_leaves_the_others_listed() -> None:
    managed = desired(permissions={"delivery": "Managed"})
    role = own_policy(enforced_role(managed), stale_versions=("v2", "v3"))
    arn = managed.managed_policy_arn(1)
    after_one = role_after(role, [Written(p.DeletePolicyVersion(arn, "v2"))])
    assert after_one == own_policy(role, stale_versions=("v3",))
    after_both = role_after(role, [Written(p.DeletePolicyVersion(arn, v)) for v in ("v3", "v2")])
    assert after_both == enforced_role(managed)
