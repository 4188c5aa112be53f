"""Judge an observed role against the desired one, reusing the policy engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dynamobackup.api.v1alpha1 import RESERVED_TAG_PREFIXES, Mode
from dynamobackup.policy.catalog import ActionCatalog
from dynamobackup.policy.document import PolicyDocument
from dynamobackup.policy.evaluate import PermissionReport
from dynamobackup.policy.trust import TrustReport
from dynamobackup.policy.verdict import Expectation, PolicySource, RoleDocuments, Verdict, judge
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, MANAGED_POLICY_PATH, DesiredRole
from dynamobackup.reconcile.observed import (
    ObservedDocument,
    ObservedManagedPolicy,
    ObservedRole,
    PolicyRef,
)
from dynamobackup.reconcile.ownership import Ownership


@dataclass(frozen=True)
class ComplianceReport:
    """The shared verdict on the role's documents (policy.verdict.judge, the same as `dbr check`),
    plus what only the operator can judge: the role's settings."""

    verdict: Verdict
    drifted_settings: tuple[str, ...]

    @property
    def permissions(self) -> PermissionReport:
        return self.verdict.permissions

    @property
    def trust(self) -> TrustReport:
        assert self.verdict.trust is not None  # the operator always judges the trust policy
        return self.verdict.trust

    @property
    def foreign_policies(self) -> tuple[str, ...]:
        return self.verdict.foreign_policies

    @property
    def unreadable_policies(self) -> tuple[str, ...]:
        return self.verdict.unreadable_policies

    @property
    def dangerous(self) -> tuple[str, ...]:
        return self.verdict.dangerous

    @property
    def exclusive(self) -> bool:
        return self.verdict.strict

    @property
    def permissions_compliant(self) -> bool:
        return self.verdict.permissions_compliant

    @property
    def trust_compliant(self) -> bool:
        return self.verdict.trust_compliant

    @property
    def compliant(self) -> bool:
        return self.verdict.compliant and not self.drifted_settings


def is_own_managed_policy(desired: DesiredRole, policy: ObservedManagedPolicy) -> bool:
    """One of the managed policies this resource created (name, path and ownership tags agree)."""
    named = policy.name.startswith(f"{desired.name}-dynamobackup-")
    owned = desired.owner.ownership_of(policy.tags) is Ownership.OURS
    return named and policy.path == MANAGED_POLICY_PATH and owned


def foreign_policies(desired: DesiredRole, role: ObservedRole) -> Iterator[PolicyRef]:
    """Policies on the role that the operator did not put there."""
    yield from (
        PolicyRef.inline(name)
        for name in sorted(role.inline_policies)
        if name != INLINE_POLICY_NAME
    )
    for policy in role.attached_policies:
        if not is_own_managed_policy(desired, policy):
            yield PolicyRef.managed(policy.arn)


def assess(
    desired: DesiredRole, role: ObservedRole | None, catalog: ActionCatalog
) -> ComplianceReport:
    """The verdict on `role`; a role that does not exist has every action missing."""
    role = role or _absent_role(desired)
    return ComplianceReport(
        verdict=judge(expectation(desired), role_documents(desired, role), catalog),
        drifted_settings=tuple(drifted_settings(desired, role)),
    )


def expectation(desired: DesiredRole) -> Expectation:
    return Expectation(
        profile=desired.profile,
        operations=desired.operations,
        required_actions=desired.required_actions,
        appliance=desired.appliance,
        external_id=desired.external_id,
        account_id=desired.account_id,
        strict=desired.exclusive,
        additional_actions=desired.additional_actions,
    )


def role_documents(desired: DesiredRole, role: ObservedRole) -> RoleDocuments:
    """The role as the shared judge sees it; `dbr check` builds the same value from files."""
    foreign = set(foreign_policies(desired, role))
    sources = [(PolicyRef.inline(name), doc) for name, doc in sorted(role.inline_policies.items())]
    sources += [(PolicyRef.managed(p.arn), p.document) for p in role.attached_policies]
    boundary = role.boundary
    return RoleDocuments(
        policies=tuple(_source(str(ref), doc, ref in foreign) for ref, doc in sources),
        trust=_source("trust policy", role.trust),
        boundary=_source(boundary.arn, boundary.document) if boundary else None,
    )


def _source(name: str, observed: ObservedDocument, foreign: bool = False) -> PolicySource:
    return PolicySource(name, observed.document, observed.error, foreign)


def drifted_settings(desired: DesiredRole, role: ObservedRole) -> Iterator[str]:
    """Settings that differ from the spec. Audit judges only what the spec declares: a setting
    left to its default is Enforce's to write, not drift in a role someone else made."""
    settings = desired.settings
    declared = desired.declared_settings if desired.mode is Mode.AUDIT else None
    if _judged("description", declared) and role.description != settings.description:
        yield "description"
    if (
        _judged("maxSessionDuration", declared)
        and role.max_session_duration != settings.max_session_duration
    ):
        yield "maxSessionDuration"
    if (
        _judged("permissionsBoundaryArn", declared)
        and role.permissions_boundary_arn != settings.permissions_boundary_arn
    ):
        yield "permissionsBoundaryArn"
    # Ownership tags are not the user's setting: Audit never writes them, and that is no drift.
    missing = any(role.tags.get(key) != value for key, value in settings.tags.items())
    if missing or stale_tags(desired, role):
        yield "tags"


# IAM does not say who set a tag, so the operator records the user tag keys it enforces
# (status.managedTags, DesiredRole.managed_tag_keys) and removes only those once the spec drops
# them: a tag someone added by hand is never touched. The record is kept in the status, not in a
# tag on the role: a tag value holds 256 characters (47 keys of up to 128 do not fit), every
# character allowed as a separator may appear in a key, and one more tag would leave the user 46
# of IAM's 50 instead of 47. A lost record (the object re-created) only leaves stale tags in
# place, the safe side. Keys are compared ignoring case, as IAM compares them.


def stale_tags(desired: DesiredRole, role: ObservedRole) -> tuple[str, ...]:
    """The role's tags (as IAM spells their keys) an earlier Enforce set and the spec dropped."""
    managed = {key.lower() for key in desired.managed_tag_keys}
    wanted = {key.lower() for key in desired.settings.tags}
    return tuple(
        sorted(
            key
            for key in role.tags
            if key.lower() in managed and key.lower() not in wanted and not _reserved(key)
        )
    )


def managed_tags(desired: DesiredRole, role: ObservedRole) -> tuple[str, ...]:
    """The user tag keys the operator manages on `role` after a finished reconcile: those it
    managed before and the role still has, and in Enforce every spec tag the role now carries."""
    managed = {key.lower() for key in desired.managed_tag_keys}
    keys = {key for key in role.tags if key.lower() in managed and not _reserved(key)}
    if desired.mode is Mode.ENFORCE:
        keys |= {key for key, value in desired.settings.tags.items() if role.tags.get(key) == value}
    return tuple(sorted(keys))


def _reserved(key: str) -> bool:
    return key.lower().startswith(RESERVED_TAG_PREFIXES)


def _judged(setting: str, declared: frozenset[str] | None) -> bool:
    return declared is None or setting in declared


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
