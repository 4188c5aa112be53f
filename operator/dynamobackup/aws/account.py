"""A whole account's roles in a few calls: IAM's account-wide reads, for checks of many roles.

Checking one role costs four reads (GetRole, ListRolePolicies, GetRolePolicy or GetPolicy,
ListAttachedRolePolicies). When many roles of one account are due at once, two paginated reads
tell everything about all of them: `GetAccountAuthorizationDetails` (every role's trust policy,
inline policies, attached policies, boundary and tags, and every customer managed policy with
its versions) and `ListRoles` (the description and maximum session duration GAAD lacks). A sweep
of 100 roles then costs two or three calls instead of 400.

What these reads cannot tell is never guessed: a role that is in one listing and not the other,
an attached AWS-managed policy, or a managed policy whose tags (which GAAD omits) the operator
has not seen yet make `role()` raise NotInSnapshot, and that role is read on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dynamobackup.aws.observe import PolicyDocumentCache, read_document, role_fields
from dynamobackup.reconcile.observed import ObservedManagedPolicy, ObservedRole

# At most 1,000 items per page, IAM's maximum for both calls: fewer pages, fewer calls.
PAGE_SIZE = 1000


class NotInSnapshot(Exception):
    """The account-wide reads do not tell this role's whole state; read it on its own."""


@dataclass(frozen=True)
class AccountSnapshot:
    """Every role and customer managed policy of one account, as IAM listed them."""

    roles: Mapping[str, Mapping[str, Any]]  # RoleDetail by role name
    settings: Mapping[str, Mapping[str, Any]]  # ListRoles' Role by role name
    policies: Mapping[str, Mapping[str, Any]]  # ManagedPolicyDetail by ARN

    def role(self, name: str, cache: PolicyDocumentCache) -> ObservedRole | None:
        """The role as `observe_role` would see it, None if absent; raises NotInSnapshot."""
        detail, listed = self.roles.get(name), self.settings.get(name)
        if detail is None and listed is None:
            return None
        if detail is None or listed is None:
            raise NotInSnapshot(name)  # created or deleted between the two reads
        fields = role_fields(detail, listed)
        boundary_arn = fields["permissions_boundary_arn"]
        return ObservedRole(
            **fields,
            inline_policies={
                policy["PolicyName"]: read_document(
                    policy.get("PolicyDocument"), f"inline policy {policy['PolicyName']}"
                )
                for policy in detail.get("RolePolicyList", [])
            },
            attached_policies=tuple(
                self._policy(attached["PolicyArn"], cache, tagged=True)
                for attached in detail.get("AttachedManagedPolicies", [])
            ),
            boundary=self._policy(boundary_arn, cache, tagged=False) if boundary_arn else None,
        )

    def _policy(
        self, arn: str, cache: PolicyDocumentCache, *, tagged: bool
    ) -> ObservedManagedPolicy:
        detail = self.policies.get(arn)
        tags = cache.tags(arn)
        if detail is None or (tagged and tags is None):
            raise NotInSnapshot(arn)  # AWS managed, or its ownership tags are not known yet
        version = detail["DefaultVersionId"]
        versions = detail.get("PolicyVersionList", [])
        document = cache.get(arn, version)
        if document is None:
            default: Mapping[str, Any] = next(
                (v for v in versions if v.get("IsDefaultVersion")), {}
            )
            document = read_document(default.get("Document"), f"managed policy {arn}")
            cache.put(arn, version, document)
        return ObservedManagedPolicy(
            arn=arn,
            # A policy's ARN ends in its name (moto leaves PolicyName out of this listing).
            name=detail.get("PolicyName") or arn.rsplit("/", 1)[-1],
            path=detail.get("Path", "/"),
            document=document,
            tags=tags or {},
            stale_versions=tuple(v["VersionId"] for v in versions if v.get("VersionId") != version),
        )


def observe_account(iam: Any) -> AccountSnapshot:
    """Reads every role and customer managed policy of the account behind `iam`."""
    roles: dict[str, Mapping[str, Any]] = {}
    policies: dict[str, Mapping[str, Any]] = {}
    details = iam.get_paginator("get_account_authorization_details")
    pages = {"PageSize": PAGE_SIZE}
    for page in details.paginate(Filter=["Role", "LocalManagedPolicy"], PaginationConfig=pages):
        roles.update((role["RoleName"], role) for role in page.get("RoleDetailList", []))
        policies.update((policy["Arn"], policy) for policy in page.get("Policies", []))
    settings: dict[str, Mapping[str, Any]] = {}
    for page in iam.get_paginator("list_roles").paginate(PaginationConfig=pages):
        settings.update((role["RoleName"], role) for role in page.get("Roles", []))
    return AccountSnapshot(roles, settings, policies)
