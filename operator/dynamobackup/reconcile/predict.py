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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole


@dataclass(frozen=True)
class Written:
    """A change IAM accepted, with the identifiers its response returned."""

    change: p.Change
    role_arn: str | None = None  # CreateRole
    role_id: str | None = None  # CreateRole
    version_id: str | None = None  # CreatePolicy, CreatePolicyVersion
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
                created[write.change.arn] = _new_policy(write.change, write.version_id)
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


def _new_policy(change: p.CreatePolicy, version: str | None) -> ObservedManagedPolicy:
    if version is None:
        raise _Unknown
    return ObservedManagedPolicy(
        arn=change.arn,
        name=change.name,
        path=change.path,
        default_version_id=version,
        document=ObservedDocument(change.document),
        tags=dict(change.tags),
    )


def _apply(
    role: ObservedRole, write: Written, created: dict[str, ObservedManagedPolicy]
) -> ObservedRole:
    change = write.change
    effect = _EFFECTS.get(type(change))
    if effect is None:
        raise _Unknown
    if isinstance(change, p.AttachRolePolicy):
        policy = created.get(change.policy_arn)
        if policy is None:
            raise _Unknown  # a policy this plan did not create: its document is not known
        return replace(role, attached_policies=(*role.attached_policies, policy))
    if isinstance(change, p.CreatePolicyVersion):
        return _new_version(role, change, write.version_id)
    return effect(role, change)


def _new_version(
    role: ObservedRole, change: p.CreatePolicyVersion, version: str | None
) -> ObservedRole:
    if version is None or change.policy_arn not in {a.arn for a in role.attached_policies}:
        raise _Unknown
    attached = tuple(
        replace(a, default_version_id=version, document=ObservedDocument(change.document))
        if a.arn == change.policy_arn
        else a
        for a in role.attached_policies
    )
    return replace(role, attached_policies=attached)


def _without_inline(role: ObservedRole, name: str) -> ObservedRole:
    return replace(
        role, inline_policies={k: v for k, v in role.inline_policies.items() if k != name}
    )


def _effect_tag(role: ObservedRole, change: p.Change) -> ObservedRole:
    assert isinstance(change, p.TagRole)
    return replace(role, tags={**role.tags, **change.tags})


def _effect_trust(role: ObservedRole, change: p.Change) -> ObservedRole:
    assert isinstance(change, p.UpdateAssumeRolePolicy)
    return replace(role, trust=ObservedDocument(change.document))


def _effect_settings(role: ObservedRole, change: p.Change) -> ObservedRole:
    assert isinstance(change, p.UpdateRole)
    return replace(
        role, description=change.description, max_session_duration=change.max_session_duration
    )


def _effect_put_inline(role: ObservedRole, change: p.Change) -> ObservedRole:
    assert isinstance(change, p.PutRolePolicy)
    document = ObservedDocument(change.document)
    return replace(role, inline_policies={**role.inline_policies, change.policy_name: document})


def _effect_delete_inline(role: ObservedRole, change: p.Change) -> ObservedRole:
    assert isinstance(change, p.DeleteRolePolicy)
    return _without_inline(role, change.policy_name)


def _effect_detach(role: ObservedRole, change: p.Change) -> ObservedRole:
    assert isinstance(change, p.DetachRolePolicy)
    kept = tuple(a for a in role.attached_policies if a.arn != change.policy_arn)
    return replace(role, attached_policies=kept)


def _effect_none(role: ObservedRole, change: p.Change) -> ObservedRole:
    return role  # DeletePolicy: a detached policy no longer shapes the role


_EFFECTS: dict[type[p.Change], Callable[[ObservedRole, p.Change], ObservedRole]] = {
    p.TagRole: _effect_tag,
    p.UpdateAssumeRolePolicy: _effect_trust,
    p.UpdateRole: _effect_settings,
    p.PutRolePolicy: _effect_put_inline,
    p.DeleteRolePolicy: _effect_delete_inline,
    p.DetachRolePolicy: _effect_detach,
    p.DeletePolicy: _effect_none,
    # Handled in _apply with the write's response or this plan's created policies.
    p.AttachRolePolicy: _effect_none,
    p.CreatePolicyVersion: _effect_none,
}
