"""The role after a plan was applied, from what was written and what IAM's write responses said.

Reading the whole role back after every write doubled the calls of a creating reconcile (four
reads after one to three writes). Each write's effect on the role is exact and known: the
document we sent is the document IAM holds, and the identifiers IAM chose (the role's ARN and
ID, a managed policy's version) come back in the write's response. The next drift check reads
the role from IAM again, so a verdict built here is confirmed or corrected within one interval.

Where an effect is not known without reading (a permissions boundary's document, a managed
policy that already existed), `role_after` returns None and the caller reads the role back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import assert_never

from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole


@dataclass(frozen=True)
class Written:
    """A change IAM accepted, with the identifiers its response returned."""

    change: p.Change
    role_arn: str | None = None  # CreateRole
    role_id: str | None = None  # CreateRole
    # False when the write did something other than the change says (an existing policy reused).
    exact: bool = True


class _Unknown(Exception):
    """The effect of a write on the role cannot be known without reading it."""


def role_after(before: ObservedRole | None, written: Iterable[Written]) -> ObservedRole | None:
    """The role as IAM holds it after `written`; None when it must be read back to be known."""
    role, created = before, {}
    try:
        for write in written:
            if not write.exact:
                raise _Unknown
            if isinstance(write.change, p.CreatePolicy):
                created[write.change.arn] = _new_policy(write.change)
                continue
            if isinstance(write.change, p.CreateRole):
                role = _new_role(write)
                continue
            if role is None:
                raise _Unknown
            role = _apply(role, write, created)
    except _Unknown:
        return None
    return role


def _new_role(write: Written) -> ObservedRole:
    change = write.change
    assert isinstance(change, p.CreateRole)
    if change.permissions_boundary_arn or not (write.role_arn and write.role_id):
        raise _Unknown  # the boundary's document is only known by reading it
    return ObservedRole(
        arn=write.role_arn,
        role_id=write.role_id,
        name=change.name,
        path=change.path,
        description=change.description,
        max_session_duration=change.max_session_duration,
        permissions_boundary_arn=None,
        tags=dict(change.tags),
        trust=ObservedDocument(change.trust),
        inline_policies={},
        attached_policies=(),
    )


def _new_policy(change: p.CreatePolicy) -> ObservedManagedPolicy:
    return ObservedManagedPolicy(
        arn=change.arn,
        name=change.name,
        path=change.path,
        document=ObservedDocument(change.document),
        tags=dict(change.tags),
    )


def _apply(
    role: ObservedRole, write: Written, created: dict[str, ObservedManagedPolicy]
) -> ObservedRole:
    """The role after one write to it (CreateRole and CreatePolicy are taken in role_after)."""
    change = write.change
    match change:
        case p.TagRole() | p.UntagRole():
            after = replace(role, tags=_tags_after(role, change))
        case p.UpdateAssumeRolePolicy():
            after = replace(role, trust=ObservedDocument(change.document))
        case p.UpdateRole():
            after = replace(
                role,
                description=change.description,
                max_session_duration=change.max_session_duration,
            )
        case p.PutRolePolicy():
            inline = {**role.inline_policies, change.policy_name: ObservedDocument(change.document)}
            after = replace(role, inline_policies=inline)
        case p.DeleteRolePolicy():
            kept = {k: v for k, v in role.inline_policies.items() if k != change.policy_name}
            after = replace(role, inline_policies=kept)
        case p.AttachRolePolicy():
            after = _attach(role, change, created)
        case p.DetachRolePolicy():
            attached = tuple(a for a in role.attached_policies if a.arn != change.policy_arn)
            after = replace(role, attached_policies=attached)
        case p.CreatePolicyVersion():
            after = _new_version(role, change)
        case p.DeletePolicyVersion():
            after = _without_version(role, change)
        case p.DeletePolicy():
            after = role  # a detached policy no longer shapes the role
        case (
            p.PutRolePermissionsBoundary()
            | p.DeleteRolePermissionsBoundary()
            | p.DeleteRole()
            | p.CreateRole()
            | p.CreatePolicy()
        ):
            raise _Unknown  # a boundary's document is only known by reading it
        case _:
            assert_never(change)
    return after


def _tags_after(role: ObservedRole, change: p.TagRole | p.UntagRole) -> dict[str, str]:
    if isinstance(change, p.TagRole):
        return {**role.tags, **change.tags}
    return {key: value for key, value in role.tags.items() if key not in change.keys}


def _attach(
    role: ObservedRole, change: p.AttachRolePolicy, created: dict[str, ObservedManagedPolicy]
) -> ObservedRole:
    policy = created.get(change.policy_arn)
    if policy is None:
        raise _Unknown  # a policy this plan did not create: its document is not known
    return replace(role, attached_policies=(*role.attached_policies, policy))


def _new_version(role: ObservedRole, change: p.CreatePolicyVersion) -> ObservedRole:
    if change.policy_arn not in {a.arn for a in role.attached_policies}:
        raise _Unknown
    attached = tuple(
        replace(a, document=ObservedDocument(change.document)) if a.arn == change.policy_arn else a
        for a in role.attached_policies
    )
    return replace(role, attached_policies=attached)


def _without_version(role: ObservedRole, change: p.DeletePolicyVersion) -> ObservedRole:
    attached = tuple(
        replace(a, stale_versions=tuple(v for v in a.stale_versions if v != change.version_id))
        if a.arn == change.policy_arn
        else a
        for a in role.attached_policies
    )
    return replace(role, attached_policies=attached)
