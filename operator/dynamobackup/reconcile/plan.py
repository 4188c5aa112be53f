"""The minimal list of IAM changes that turns the observed role into the desired one.

Each change is one mutating IAM operation (a managed-policy update also prunes old versions).
Roles are compared by meaning: a policy IAM returns reordered, as a string instead of a list or
with an account ID instead of its root ARN is not drift, so a correct role gets an empty plan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from dynamobackup.api.v1alpha1 import Delivery
from dynamobackup.policy.document import PolicyDocument
from dynamobackup.policy.normalize import same_meaning
from dynamobackup.reconcile.compliance import (
    drifted_settings,
    foreign_policies,
    is_own_managed_policy,
    stale_tags,
)
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, MANAGED_POLICY_PATH, DesiredRole
from dynamobackup.reconcile.observed import (
    ObservedDocument,
    ObservedManagedPolicy,
    ObservedRole,
    PolicyKind,
)
from dynamobackup.reconcile.ownership import Ownership, owner_from_tags


@dataclass(frozen=True)
class _IamOperation:
    """A change is named after the IAM operation it calls; `summary` (each change's own) is what
    a Kubernetes Event and the status's lastChanges say about it."""

    @property
    def operation(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class CreateRole(_IamOperation):
    name: str
    path: str
    trust: PolicyDocument
    description: str
    max_session_duration: int
    permissions_boundary_arn: str | None
    tags: Mapping[str, str]

    @property
    def summary(self) -> str:
        return f"created IAM role {self.path}{self.name}"


@dataclass(frozen=True)
class UpdateAssumeRolePolicy(_IamOperation):
    role_name: str
    document: PolicyDocument

    @property
    def summary(self) -> str:
        return f"replaced the trust policy of {self.role_name}"


@dataclass(frozen=True)
class UpdateRole(_IamOperation):
    role_name: str
    description: str
    max_session_duration: int

    @property
    def summary(self) -> str:
        return f"set the description and maximum session duration of {self.role_name}"


@dataclass(frozen=True)
class PutRolePermissionsBoundary(_IamOperation):
    role_name: str
    policy_arn: str

    @property
    def summary(self) -> str:
        return f"set the permissions boundary of {self.role_name} to {self.policy_arn}"


@dataclass(frozen=True)
class DeleteRolePermissionsBoundary(_IamOperation):
    role_name: str

    @property
    def summary(self) -> str:
        return f"removed the permissions boundary of {self.role_name}"


@dataclass(frozen=True)
class TagRole(_IamOperation):
    role_name: str
    tags: Mapping[str, str]

    @property
    def summary(self) -> str:
        return f"tagged {self.role_name} with {', '.join(sorted(self.tags))}"


@dataclass(frozen=True)
class UntagRole(_IamOperation):
    """Removes user tags an earlier Enforce set that the spec no longer has (never an ownership
    tag, never a tag someone else added: see compliance.stale_tags)."""

    role_name: str
    keys: tuple[str, ...]

    @property
    def summary(self) -> str:
        return f"removed tags {', '.join(self.keys)} from {self.role_name}"


@dataclass(frozen=True)
class PutRolePolicy(_IamOperation):
    role_name: str
    policy_name: str
    document: PolicyDocument

    @property
    def summary(self) -> str:
        return f"wrote inline policy {self.policy_name} of {self.role_name}"


@dataclass(frozen=True)
class DeleteRolePolicy(_IamOperation):
    role_name: str
    policy_name: str

    @property
    def summary(self) -> str:
        return f"deleted inline policy {self.policy_name} of {self.role_name}"


@dataclass(frozen=True)
class CreatePolicy(_IamOperation):
    arn: str
    name: str
    path: str
    document: PolicyDocument
    tags: Mapping[str, str]

    @property
    def summary(self) -> str:
        return f"created managed policy {self.path}{self.name}"


@dataclass(frozen=True)
class CreatePolicyVersion(_IamOperation):
    """Sets a new default version and prunes the older ones (IAM keeps at most five)."""

    policy_arn: str
    document: PolicyDocument

    @property
    def summary(self) -> str:
        return f"published a new default version of {self.policy_arn}"


@dataclass(frozen=True)
class DeletePolicyVersion(_IamOperation):
    """Removes a version an interrupted publish left behind (never the default version)."""

    policy_arn: str
    version_id: str

    @property
    def summary(self) -> str:
        return f"deleted old version {self.version_id} of {self.policy_arn}"


@dataclass(frozen=True)
class AttachRolePolicy(_IamOperation):
    role_name: str
    policy_arn: str

    @property
    def summary(self) -> str:
        return f"attached {self.policy_arn} to {self.role_name}"


@dataclass(frozen=True)
class DetachRolePolicy(_IamOperation):
    role_name: str
    policy_arn: str

    @property
    def summary(self) -> str:
        return f"detached {self.policy_arn} from {self.role_name}"


@dataclass(frozen=True)
class DeletePolicy(_IamOperation):
    """Deletes an operator-owned managed policy with all its versions."""

    policy_arn: str

    @property
    def summary(self) -> str:
        return f"deleted managed policy {self.policy_arn}"


@dataclass(frozen=True)
class DeleteRole(_IamOperation):
    role_name: str

    @property
    def summary(self) -> str:
        return f"deleted IAM role {self.role_name}"


# The closed set of changes: code that acts on a change matches on it and ends with
# `assert_never`, so a change added here is a type error wherever it is not handled yet.
Change = (
    CreateRole
    | UpdateAssumeRolePolicy
    | UpdateRole
    | PutRolePermissionsBoundary
    | DeleteRolePermissionsBoundary
    | TagRole
    | UntagRole
    | PutRolePolicy
    | DeleteRolePolicy
    | CreatePolicy
    | CreatePolicyVersion
    | DeletePolicyVersion
    | AttachRolePolicy
    | DetachRolePolicy
    | DeletePolicy
    | DeleteRole
)


@dataclass(frozen=True)
class Blocked:
    """Why the operator must not touch the role; `reason` is the Ready condition's reason."""

    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.changes)


def blocker(desired: DesiredRole, role: ObservedRole | None) -> Blocked | None:
    """A reason the existing role must be left alone by Enforce, or None."""
    if role is None:
        return None
    if role.path != desired.path:
        return Blocked(
            "RolePathConflict",
            f"a role named {desired.name} already exists with path {role.path}, not {desired.path}",
        )
    ownership = desired.owner.ownership_of(role.tags)
    if ownership is Ownership.OTHER_RESOURCE:
        return Blocked(
            "RoleOwnedByAnotherResource",
            f"role {desired.name} is managed by DynamoBackupRole {owner_from_tags(role.tags)}",
        )
    if ownership is Ownership.UNOWNED and not desired.adopt_existing:
        return Blocked(
            "RoleNotOwned",
            f"role {desired.name} exists and was not created by this operator; "
            "set spec.adoptExisting: true to take it over",
        )
    return None


def plan_changes(desired: DesiredRole, role: ObservedRole | None) -> Plan:
    """What Enforce does; call only when `blocker` found nothing."""
    if role is None:
        return Plan((_create_role(desired), *_grant_permissions(desired, None)))
    changes = [
        # Claim the role first: an adopted role is never changed before it carries our tags, and
        # an operator policy scoped to tagged roles allows every later write.
        *_tag_changes(desired, role),
        *_trust_changes(desired, role),
        *_setting_changes(desired, role),
        *_grant_permissions(desired, role),
        *_revoke_stale_permissions(desired, role),
    ]
    if desired.exclusive:
        changes += _remove_foreign_policies(desired, role)
    return Plan(tuple(changes))


def deletion_blocker(desired: DesiredRole, role: ObservedRole) -> Blocked | None:
    """A reason deletionPolicy Delete must leave the role in place, or None."""
    if desired.owner.ownership_of(role.tags) is not Ownership.OURS:
        return Blocked(
            "RoleNotOwned", f"role {role.name} is not owned by {desired.owner}; left in place"
        )
    if role.instance_profiles:
        names = ", ".join(role.instance_profiles)
        return Blocked(
            "RoleInUse", f"role {role.name} is in instance profiles {names}; not deleted"
        )
    return None


def plan_deletion(
    desired: DesiredRole, role: ObservedRole, detached: Sequence[ObservedManagedPolicy] = ()
) -> Plan:
    """Empty the role and delete it; only our own managed policies are deleted, others detached.

    `detached` are policies named like ours that are not attached to the role: an interrupted
    create (the policy made, the attach lost) or deletion (detached, not yet deleted) leaves
    them, and they would outlive the role.
    """
    changes: list[Change] = [
        DeleteRolePolicy(role.name, name) for name in sorted(role.inline_policies)
    ]
    for policy in role.attached_policies:
        changes.append(DetachRolePolicy(role.name, policy.arn))
        if is_own_managed_policy(desired, policy):
            changes.append(DeletePolicy(policy.arn))
    changes.extend(DeletePolicy(p.arn) for p in detached if is_own_managed_policy(desired, p))
    changes.append(DeleteRole(role.name))
    return Plan(tuple(changes))


def _create_role(desired: DesiredRole) -> CreateRole:
    settings = desired.settings
    return CreateRole(
        name=desired.name,
        path=desired.path,
        trust=desired.trust,
        description=settings.description,
        max_session_duration=settings.max_session_duration,
        permissions_boundary_arn=settings.permissions_boundary_arn,
        tags=desired.role_tags,
    )


def _differs(observed: ObservedDocument | None, desired: PolicyDocument, partition: str) -> bool:
    if observed is None or observed.document is None:
        return True
    return not same_meaning(observed.document, desired, partition=partition)


def _trust_changes(desired: DesiredRole, role: ObservedRole) -> Iterator[Change]:
    if _differs(role.trust, desired.trust, desired.partition):
        yield UpdateAssumeRolePolicy(role.name, desired.trust)


def _setting_changes(desired: DesiredRole, role: ObservedRole) -> Iterator[Change]:
    settings = desired.settings
    drifted = set(drifted_settings(desired, role))
    if drifted & {"description", "maxSessionDuration"}:
        yield UpdateRole(role.name, settings.description, settings.max_session_duration)
    if "permissionsBoundaryArn" in drifted:
        if settings.permissions_boundary_arn is None:
            yield DeleteRolePermissionsBoundary(role.name)
        else:
            yield PutRolePermissionsBoundary(role.name, settings.permissions_boundary_arn)


def _tag_changes(desired: DesiredRole, role: ObservedRole) -> Iterator[Change]:
    missing_tags = {k: v for k, v in desired.role_tags.items() if role.tags.get(k) != v}
    if missing_tags:
        yield TagRole(role.name, missing_tags)
    stale = stale_tags(desired, role)
    if stale:
        yield UntagRole(role.name, stale)


def _grant_permissions(desired: DesiredRole, role: ObservedRole | None) -> Iterator[Change]:
    if desired.delivery is Delivery.INLINE:
        (document,) = desired.permissions
        current = role.inline_policies.get(INLINE_POLICY_NAME) if role else None
        if _differs(current, document, desired.partition):
            yield PutRolePolicy(desired.name, INLINE_POLICY_NAME, document)
        return
    attached = {
        policy.arn: policy
        for policy in (role.attached_policies if role else ())
        if is_own_managed_policy(desired, policy)
    }
    for index, document in enumerate(desired.permissions, start=1):
        arn = desired.managed_policy_arn(index)
        if arn not in attached:
            name = desired.managed_policy_name(index)
            yield CreatePolicy(arn, name, MANAGED_POLICY_PATH, document, desired.owner.tags())
            yield AttachRolePolicy(desired.name, arn)
            continue
        for version in attached[arn].stale_versions:
            yield DeletePolicyVersion(arn, version)
        if _differs(attached[arn].document, document, desired.partition):
            yield CreatePolicyVersion(arn, document)


def _revoke_stale_permissions(desired: DesiredRole, role: ObservedRole) -> Iterator[Change]:
    """Our own permissions that the current delivery no longer uses, removed after the new ones."""
    if desired.delivery is Delivery.MANAGED and INLINE_POLICY_NAME in role.inline_policies:
        yield DeleteRolePolicy(role.name, INLINE_POLICY_NAME)
    wanted = (
        {desired.managed_policy_arn(i) for i in range(1, len(desired.permissions) + 1)}
        if desired.delivery is Delivery.MANAGED
        else set()
    )
    for policy in role.attached_policies:
        if is_own_managed_policy(desired, policy) and policy.arn not in wanted:
            yield DetachRolePolicy(role.name, policy.arn)
            yield DeletePolicy(policy.arn)


def _remove_foreign_policies(desired: DesiredRole, role: ObservedRole) -> Iterator[Change]:
    for foreign in foreign_policies(desired, role):
        if foreign.kind is PolicyKind.INLINE:
            yield DeleteRolePolicy(role.name, foreign.name)
        else:
            yield DetachRolePolicy(role.name, foreign.name)
