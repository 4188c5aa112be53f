"""The role a DynamoBackupRole asks for: names, settings, trust and permission documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dynamobackup.api.v1alpha1 import Delivery, DynamoBackupRoleSpec, Mode
from dynamobackup.policy.catalog import ActionCatalog, default_catalog
from dynamobackup.policy.document import PolicyDocument
from dynamobackup.policy.evaluate import compile_required, grants_beyond
from dynamobackup.policy.guardrails import Guardrails
from dynamobackup.policy.least_privilege import (
    MANAGED_POLICY_MAX_CHARS,
    ROLE_INLINE_POLICIES_MAX_CHARS,
    permission_documents,
    policy_size,
    trust_document,
)
from dynamobackup.policy.profiles import Profile, UnknownProfileError, load_profile
from dynamobackup.policy.trust import Appliance
from dynamobackup.reconcile.ownership import Owner
from dynamobackup.reconcile.tenancy import Grant, appliance_of, legacy_grant

INLINE_POLICY_NAME = "dynamobackup-permissions"
DEFAULT_MAX_SESSION_DURATION = 3600
MANAGED_POLICY_PATH = "/dynamobackup/"


class SpecError(ValueError):
    """The spec passed the API server's schema but cannot be satisfied; `reason` is CamelCase."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RoleSettings:
    """The role's own attributes, besides its policies."""

    description: str
    max_session_duration: int
    permissions_boundary_arn: str | None
    tags: Mapping[str, str]  # the user's tags; ownership tags come from DesiredRole.owner


@dataclass(frozen=True)
class DesiredRole:
    owner: Owner
    account_id: str
    partition: str
    name: str
    path: str
    mode: Mode
    adopt_existing: bool
    exclusive: bool
    delivery: Delivery
    settings: RoleSettings
    appliance: Appliance
    external_id: str | None
    trust: PolicyDocument
    profile: Profile
    operations: tuple[str, ...]
    required_actions: tuple[str, ...]
    permissions: tuple[PolicyDocument, ...]
    # What permissions.additionalActions adds beyond the profile (reported, never silent).
    additional_actions: tuple[str, ...] = ()
    # The settings the spec states; in Audit only these are compared (the rest are defaults).
    declared_settings: frozenset[str] = frozenset()
    # The user tag keys an earlier Enforce set on the role (status.managedTags): the only tags
    # Enforce removes once the spec drops them (reconcile.compliance.stale_tags).
    managed_tag_keys: frozenset[str] = frozenset()

    @property
    def role_tags(self) -> dict[str, str]:
        """Every tag the role carries when Enforce is done: the user's and the ownership tags."""
        return {**self.settings.tags, **self.owner.tags()}

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role{self.path}{self.name}"

    def managed_policy_name(self, index: int) -> str:
        return f"{self.name}-dynamobackup-{index}"

    def managed_policy_arn(self, index: int) -> str:
        name = self.managed_policy_name(index)
        return f"arn:{self.partition}:iam::{self.account_id}:policy{MANAGED_POLICY_PATH}{name}"

    def possible_managed_policy_arns(self) -> tuple[str, ...]:
        """The ARNs this role's own managed policies have or would have, whatever the delivery."""
        count = max(1, len(self.permissions))
        return tuple(self.managed_policy_arn(index) for index in range(1, count + 1))


def desired_role(
    spec: DynamoBackupRoleSpec,
    owner: Owner,
    catalog: ActionCatalog | None = None,
    grant: Grant | None = None,
    managed_tags: Iterable[str] = (),
) -> DesiredRole:
    """Everything the spec implies; raises SpecError for what the schema cannot check.

    `grant` carries the external ID read from a Secret and the guardrails of the role's account
    binding; without one the spec's own external ID and the default guardrails apply.
    `managed_tags` are the user tag keys an earlier Enforce set (status.managedTags).
    """
    grant = grant or legacy_grant(spec)
    catalog = catalog or default_catalog()
    profile = _profile(spec.permissions.profile_version)
    operations = tuple(sorted(str(operation) for operation in spec.scope.operations))
    profile_actions = profile.required_actions(operations)
    additional = _additional_actions(spec.permissions.additional_actions, catalog)
    _check_guardrails(grant.guardrails, additional, profile_actions, catalog)
    required = _union(profile_actions, additional)
    appliance = appliance_of(spec)
    external_id = grant.trust_external_id
    return DesiredRole(
        owner=owner,
        account_id=spec.account.id,
        partition=str(spec.account.partition),
        name=spec.role_name,
        path=spec.role_path,
        mode=spec.mode,
        adopt_existing=spec.adopt_existing,
        exclusive=spec.permissions.exclusive,
        delivery=spec.permissions.delivery,
        settings=RoleSettings(
            description=spec.description or _default_description(operations, profile),
            max_session_duration=spec.max_session_duration,
            permissions_boundary_arn=spec.permissions_boundary_arn,
            tags=dict(spec.tags),
        ),
        appliance=appliance,
        external_id=external_id,
        trust=trust_document(appliance, external_id=external_id, services=profile.trusted_services),
        profile=profile,
        operations=operations,
        required_actions=required,
        permissions=_permission_documents(required, profile.resource, spec.permissions.delivery),
        additional_actions=_beyond(additional, profile_actions, catalog),
        declared_settings=_declared_settings(spec),
        managed_tag_keys=frozenset(managed_tags),
    )


def _check_guardrails(
    guardrails: Guardrails,
    additional: tuple[str, ...],
    profile_actions: tuple[str, ...],
    catalog: ActionCatalog,
) -> None:
    refused = guardrails.refused(additional, profile_actions, catalog)
    if refused:
        raise SpecError(
            "ForbiddenAction",
            f"permissions.additionalActions: {', '.join(refused)} grant actions a "
            "DynamoBackupRole may not add (dangerous, or forbidden for this account); an "
            "administrator can allow them in the account's DynamoBackupAccount guardrails",
        )


def _beyond(
    additional: tuple[str, ...], profile_actions: tuple[str, ...], catalog: ActionCatalog
) -> tuple[str, ...]:
    """The additional entries that grant something the profile does not already need."""
    profile = compile_required(profile_actions)
    return tuple(entry for entry in additional if grants_beyond(entry, profile, catalog))


def _declared_settings(spec: DynamoBackupRoleSpec) -> frozenset[str]:
    # Tags are not listed: their absence from the spec is no default, so they are always judged.
    declared: set[str] = set()
    if spec.description is not None:
        declared.add("description")
    if spec.permissions_boundary_arn is not None:
        declared.add("permissionsBoundaryArn")
    # The API server fills in the default, so only a value other than it is known to be stated.
    if spec.max_session_duration != DEFAULT_MAX_SESSION_DURATION:
        declared.add("maxSessionDuration")
    return frozenset(declared)


def _profile(version: str | None) -> Profile:
    try:
        return load_profile(version)
    except UnknownProfileError as error:
        raise SpecError("UnknownProfileVersion", str(error)) from None


def _additional_actions(actions: frozenset[str], catalog: ActionCatalog) -> tuple[str, ...]:
    unknown = sorted(action for action in actions if not any(catalog.expand(action)))
    if unknown:
        raise SpecError(
            "UnknownAction",
            f"permissions.additionalActions: {', '.join(unknown)} match no action in the AWS "
            "action catalog",
        )
    return tuple(sorted(actions, key=str.lower))


def _union(profile_actions: tuple[str, ...], additional: tuple[str, ...]) -> tuple[str, ...]:
    by_lower = {action.lower(): action for action in (*profile_actions, *additional)}
    return tuple(sorted(by_lower.values(), key=str.lower))


def _default_description(operations: tuple[str, ...], profile: Profile) -> str:
    return f"Veeam Backup for AWS {profile.version} DynamoDB role ({', '.join(operations)})"


def _permission_documents(
    actions: tuple[str, ...], resource: str, delivery: Delivery
) -> tuple[PolicyDocument, ...]:
    if delivery is Delivery.MANAGED:
        return tuple(
            permission_documents(actions, resource=resource, max_chars=MANAGED_POLICY_MAX_CHARS)
        )
    (document,) = permission_documents(actions, resource=resource, max_chars=10**9)
    if policy_size(document) > ROLE_INLINE_POLICIES_MAX_CHARS:
        raise SpecError(
            "PolicyTooLarge",
            f"the permissions need {policy_size(document)} characters, more than the "
            f"{ROLE_INLINE_POLICIES_MAX_CHARS} IAM allows inline; use permissions.delivery: Managed",
        )
    return (document,)
