"""Judge an observed role against the desired one, reusing the policy engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dynamobackup.policy.catalog import ActionCatalog
from dynamobackup.policy.document import PolicyDocument
from dynamobackup.policy.evaluate import PermissionReport, evaluate_permissions
from dynamobackup.policy.trust import TrustReport, analyze_trust, unreadable_trust
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, MANAGED_POLICY_PATH, DesiredRole
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole
from dynamobackup.reconcile.ownership import Ownership


@dataclass(frozen=True)
class ComplianceReport:
    permissions: PermissionReport
    trust: TrustReport
    foreign_policies: tuple[str, ...]
    drifted_settings: tuple[str, ...]
    unreadable_policies: tuple[str, ...]
    exclusive: bool

    @property
    def permissions_compliant(self) -> bool:
        foreign = self.exclusive and bool(self.foreign_policies)
        evaluated = self.permissions.is_compliant(strict=self.exclusive)
        return evaluated and not foreign and not self.unreadable_policies

    @property
    def trust_compliant(self) -> bool:
        return self.trust.compliant

    @property
    def compliant(self) -> bool:
        return self.permissions_compliant and self.trust_compliant and not self.drifted_settings


def is_own_managed_policy(desired: DesiredRole, policy: ObservedManagedPolicy) -> bool:
    """One of the managed policies this resource created (name, path and ownership tags agree)."""
    named = policy.name.startswith(f"{desired.name}-dynamobackup-")
    owned = desired.owner.ownership_of(policy.tags) is Ownership.OURS
    return named and policy.path == MANAGED_POLICY_PATH and owned


def foreign_policies(desired: DesiredRole, role: ObservedRole) -> Iterator[str]:
    """Policies on the role that the operator did not put there, inline by name, managed by ARN."""
    yield from (
        f"inline:{name}" for name in sorted(role.inline_policies) if name != INLINE_POLICY_NAME
    )
    for policy in role.attached_policies:
        if not is_own_managed_policy(desired, policy):
            yield policy.arn


def assess(
    desired: DesiredRole, role: ObservedRole | None, catalog: ActionCatalog
) -> ComplianceReport:
    """The verdict on `role`; a role that does not exist has every action missing."""
    role = role or _absent_role(desired)
    identity, unreadable = _identity_documents(role)
    boundary = role.boundary.document.document if role.boundary else None
    if role.boundary and boundary is None:
        unreadable.append(role.boundary.arn)
    permissions = evaluate_permissions(desired.required_actions, identity, boundary, catalog)
    return ComplianceReport(
        permissions=permissions,
        trust=_trust(desired, role),
        foreign_policies=tuple(foreign_policies(desired, role)),
        drifted_settings=tuple(drifted_settings(desired, role)),
        unreadable_policies=tuple(unreadable),
        exclusive=desired.exclusive,
    )


def _identity_documents(role: ObservedRole) -> tuple[list[PolicyDocument], list[str]]:
    documents: list[PolicyDocument] = []
    unreadable: list[str] = []
    sources = [(f"inline:{name}", doc) for name, doc in role.inline_policies.items()]
    sources += [(policy.arn, policy.document) for policy in role.attached_policies]
    for source, observed in sources:
        if observed.document is None:
            unreadable.append(source)
        else:
            documents.append(observed.document)
    return documents, unreadable


def _trust(desired: DesiredRole, role: ObservedRole) -> TrustReport:
    if role.trust.document is None:
        return unreadable_trust(role.trust.error or "unknown error")
    return analyze_trust(
        role.trust.document,
        desired.appliance,
        external_id=desired.external_id,
        strict=desired.exclusive,
        backup_service=desired.profile.trusted_services[0],
    )


def drifted_settings(desired: DesiredRole, role: ObservedRole) -> Iterator[str]:
    settings = desired.settings
    if role.description != settings.description:
        yield "description"
    if role.max_session_duration != settings.max_session_duration:
        yield "maxSessionDuration"
    if role.permissions_boundary_arn != settings.permissions_boundary_arn:
        yield "permissionsBoundaryArn"
    # Ownership tags are not the user's setting: Audit never writes them, and that is no drift.
    if any(role.tags.get(key) != value for key, value in settings.tags.items()):
        yield "tags"


def _absent_role(desired: DesiredRole) -> ObservedRole:
    """A role with nothing in it, so a missing role is reported as every action missing."""
    return ObservedRole(
        arn=desired.arn,
        role_id="",
        name=desired.name,
        path=desired.path,
        # Settings as desired: for a role that does not exist, only policies are worth listing.
        description=desired.settings.description,
        max_session_duration=desired.settings.max_session_duration,
        permissions_boundary_arn=desired.settings.permissions_boundary_arn,
        tags=desired.role_tags,
        trust=ObservedDocument(PolicyDocument(version="2012-10-17", statement=())),
        inline_policies={},
        attached_policies=(),
    )
