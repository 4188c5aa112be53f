"""Read a role's whole state from IAM in as few calls as possible.

Steady state for an inline-delivered role is four calls: GetRole (role, trust, tags, boundary
ARN), ListRolePolicies, GetRolePolicy and ListAttachedRolePolicies. Managed policy documents are
cached by ARN and version ID, so only GetPolicy (for the default version) is repeated.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from dynamobackup.aws.errors import error_code
from dynamobackup.policy.document import PolicyDocumentError, parse_document
from dynamobackup.reconcile.desired import MANAGED_POLICY_PATH
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole


class PolicyDocumentCache:
    """Managed policy documents by (ARN, version ID): a version's document never changes.

    Also the tags last seen on each managed policy (GetPolicy returns them; the account-wide
    read does not), so that a sweep can tell the operator's own policies from foreign ones.
    """

    def __init__(self, size: int = 2048) -> None:
        self._entries: OrderedDict[tuple[str, str], ObservedDocument] = OrderedDict()
        self._tags: OrderedDict[str, Mapping[str, str]] = OrderedDict()
        self._pruned: OrderedDict[str, str] = OrderedDict()  # ARN -> default version
        self._size = size
        self._lock = threading.Lock()

    def tags(self, arn: str) -> Mapping[str, str] | None:
        with self._lock:
            return self._tags.get(arn)

    def remember_tags(self, arn: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            self._tags[arn] = dict(tags)
            self._tags.move_to_end(arn)
            while len(self._tags) > self._size:
                self._tags.popitem(last=False)

    def versions_pruned(self, arn: str, default_version: str) -> bool:
        """Whether this operator saw the policy hold no version besides this default one."""
        with self._lock:
            return self._pruned.get(arn) == default_version

    def mark_versions_pruned(self, arn: str, default_version: str) -> None:
        with self._lock:
            self._pruned[arn] = default_version
            self._pruned.move_to_end(arn)
            while len(self._pruned) > self._size:
                self._pruned.popitem(last=False)

    def get(self, arn: str, version: str) -> ObservedDocument | None:
        with self._lock:
            document = self._entries.get((arn, version))
            if document is not None:
                self._entries.move_to_end((arn, version))
            return document

    def put(self, arn: str, version: str, document: ObservedDocument) -> None:
        with self._lock:
            self._entries[(arn, version)] = document
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def read_document(raw: str | Mapping[str, Any] | None, source: str) -> ObservedDocument:
    """boto3 decodes IAM's URL-encoded JSON into a dict, but hands back the raw string if it cannot."""
    if raw is None:
        return ObservedDocument(None, f"{source}: IAM returned no document")
    try:
        return ObservedDocument(parse_document(raw, source=source))
    except PolicyDocumentError as error:
        return ObservedDocument(None, str(error))


def observe_role(iam: Any, name: str, cache: PolicyDocumentCache) -> ObservedRole | None:
    """The role named `name` with everything that decides its permissions, or None if absent."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return None
        raise
    fields = role_fields(role, role)
    boundary_arn = fields["permissions_boundary_arn"]
    return ObservedRole(
        **fields,
        inline_policies=_inline_policies(iam, name),
        attached_policies=tuple(
            observe_managed_policy(iam, arn, cache) for arn in _attached_policy_arns(iam, name)
        ),
        boundary=_observe_boundary(iam, boundary_arn, cache) if boundary_arn else None,
    )


def role_fields(role: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ObservedRole fields IAM states of the role itself: from GetRole's Role alone, or from
    GetAccountAuthorizationDetails' RoleDetail with ListRoles' entry for the settings it lacks."""
    boundary = role.get("PermissionsBoundary") or {}
    return {
        "arn": role["Arn"],
        "role_id": role["RoleId"],
        "name": role["RoleName"],
        "path": role.get("Path", "/"),
        "description": settings.get("Description", ""),
        "max_session_duration": int(settings.get("MaxSessionDuration", 3600)),
        "permissions_boundary_arn": boundary.get("PermissionsBoundaryArn"),
        "tags": {tag["Key"]: tag["Value"] for tag in role.get("Tags", [])},
        "trust": read_document(role.get("AssumeRolePolicyDocument"), "trust policy"),
    }


class BoundaryNotFoundError(Exception):
    """The role's permissions boundary names a policy that does not exist."""

    def __init__(self, arn: str) -> None:
        super().__init__(arn)
        self.arn = arn


def _observe_boundary(iam: Any, arn: str, cache: PolicyDocumentCache) -> ObservedManagedPolicy:
    """The boundary's policy; one that does not exist is observed as such, not raised: a spec
    that no longer names it must still be able to remove it from the role."""
    try:
        return observe_managed_policy(iam, arn, cache)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
    return ObservedManagedPolicy(
        arn=arn,
        name=arn.rsplit("/", 1)[-1],
        path="",
        document=ObservedDocument(None, f"the permissions boundary {arn} does not exist"),
        exists=False,
    )


def _inline_policies(iam: Any, role: str) -> dict[str, ObservedDocument]:
    names = [
        n
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=role)
        for n in page["PolicyNames"]
    ]
    policies = {}
    for policy_name in names:
        response = iam.get_role_policy(RoleName=role, PolicyName=policy_name)
        policies[policy_name] = read_document(
            response.get("PolicyDocument"), f"inline policy {policy_name}"
        )
    return policies


def _attached_policy_arns(iam: Any, role: str) -> list[str]:
    paginator = iam.get_paginator("list_attached_role_policies")
    return [
        p["PolicyArn"]
        for page in paginator.paginate(RoleName=role)
        for p in page["AttachedPolicies"]
    ]


def observe_managed_policy(iam: Any, arn: str, cache: PolicyDocumentCache) -> ObservedManagedPolicy:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = policy["DefaultVersionId"]
    document = cache.get(arn, version)
    if document is None:
        raw = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"].get(
            "Document"
        )
        document = read_document(raw, f"managed policy {arn}")
        cache.put(arn, version, document)
    tags = {tag["Key"]: tag["Value"] for tag in policy.get("Tags", [])}
    cache.remember_tags(arn, tags)
    path = policy.get("Path", "/")
    return ObservedManagedPolicy(
        arn=arn,
        name=policy["PolicyName"],
        path=path,
        document=document,
        tags=tags,
        stale_versions=_stale_versions(iam, arn, version, cache)
        if path == MANAGED_POLICY_PATH
        else (),
    )


def _stale_versions(
    iam: Any, arn: str, default_version: str, cache: PolicyDocumentCache
) -> tuple[str, ...]:
    """Versions besides the default, read only when this process has not seen them pruned.

    A policy's first version is its only one; after a publish the operator prunes the old
    versions and remembers it, so only a publish interrupted mid-way (or a restart) costs a read.
    """
    if default_version == "v1" or cache.versions_pruned(arn, default_version):
        return ()
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    stale = tuple(v["VersionId"] for v in versions if not v["IsDefaultVersion"])
    if not stale:
        cache.mark_versions_pruned(arn, default_version)
    return stale
