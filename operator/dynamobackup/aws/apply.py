"""Perform a plan's changes with boto3: one mutating IAM call per change (plus version pruning)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from dynamobackup.aws.errors import error_code
from dynamobackup.aws.observe import PolicyDocumentCache, observe_managed_policy
from dynamobackup.policy.normalize import same_meaning
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.ownership import Owner, Ownership, owner_from_tags
from dynamobackup.reconcile.predict import Written


class ForeignPolicyError(Exception):
    """A managed policy with the name we need exists and is not ours; we never overwrite it."""


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _ignore_missing(call: Callable[..., Any], **arguments: Any) -> None:
    """Removal calls are idempotent: what is already gone is what we wanted."""
    try:
        call(**arguments)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise


class PlanApplier:
    """Applies Changes in one account, with the context (owner, cache) some of them need."""

    def __init__(self, iam: Any, owner: Owner, cache: PolicyDocumentCache) -> None:
        self.iam = iam
        self.owner = owner
        self.cache = cache
        self._handlers: dict[type[p.Change], Callable[[Any], Any]] = {
            p.CreateRole: self._create_role,
            p.UpdateAssumeRolePolicy: lambda c: self.iam.update_assume_role_policy(
                RoleName=c.role_name, PolicyDocument=c.document.to_json()
            ),
            p.UpdateRole: lambda c: self.iam.update_role(
                RoleName=c.role_name,
                Description=c.description,
                MaxSessionDuration=c.max_session_duration,
            ),
            p.PutRolePermissionsBoundary: lambda c: self.iam.put_role_permissions_boundary(
                RoleName=c.role_name, PermissionsBoundary=c.policy_arn
            ),
            p.DeleteRolePermissionsBoundary: lambda c: _ignore_missing(
                self.iam.delete_role_permissions_boundary, RoleName=c.role_name
            ),
            p.TagRole: lambda c: self.iam.tag_role(RoleName=c.role_name, Tags=_tag_list(c.tags)),
            p.UntagRole: lambda c: self.iam.untag_role(RoleName=c.role_name, TagKeys=list(c.keys)),
            p.PutRolePolicy: lambda c: self.iam.put_role_policy(
                RoleName=c.role_name, PolicyName=c.policy_name, PolicyDocument=c.document.to_json()
            ),
            p.DeleteRolePolicy: lambda c: _ignore_missing(
                self.iam.delete_role_policy, RoleName=c.role_name, PolicyName=c.policy_name
            ),
            p.CreatePolicy: self._create_policy,
            p.CreatePolicyVersion: lambda c: self._publish_version(
                c.policy_arn, c.document.to_json()
            ),
            p.DeletePolicyVersion: lambda c: _ignore_missing(
                self.iam.delete_policy_version, PolicyArn=c.policy_arn, VersionId=c.version_id
            ),
            p.AttachRolePolicy: lambda c: self.iam.attach_role_policy(
                RoleName=c.role_name, PolicyArn=c.policy_arn
            ),
            p.DetachRolePolicy: lambda c: _ignore_missing(
                self.iam.detach_role_policy, RoleName=c.role_name, PolicyArn=c.policy_arn
            ),
            p.DeletePolicy: self._delete_policy,
            p.DeleteRole: lambda c: _ignore_missing(self.iam.delete_role, RoleName=c.role_name),
        }

    def apply(self, change: p.Change) -> Written:
        """Performs the change; what IAM's response said that the role's new state depends on."""
        result = self._handlers[type(change)](change)
        return result if isinstance(result, Written) else Written(change)

    def _create_role(self, change: p.CreateRole) -> Written:
        arguments: dict[str, Any] = {
            "RoleName": change.name,
            "Path": change.path,
            "AssumeRolePolicyDocument": change.trust.to_json(),
            "Description": change.description,
            "MaxSessionDuration": change.max_session_duration,
            "Tags": _tag_list(change.tags),
        }
        if change.permissions_boundary_arn:
            arguments["PermissionsBoundary"] = change.permissions_boundary_arn
        role = self.iam.create_role(**arguments)["Role"]
        return Written(change, role_arn=role["Arn"], role_id=role["RoleId"])

    def _create_policy(self, change: p.CreatePolicy) -> Written:
        document = change.document.to_json()
        try:
            self.iam.create_policy(
                PolicyName=change.name,
                Path=change.path,
                PolicyDocument=document,
                Description=f"Permissions of DynamoBackupRole {self.owner}",
                Tags=_tag_list(change.tags),
            )
        except ClientError as error:
            if error_code(error) != "EntityAlreadyExists":
                raise
            self._reuse_existing_policy(change)
            return Written(change, exact=False)
        self.cache.remember_tags(change.arn, change.tags)
        return Written(change)

    def _reuse_existing_policy(self, change: p.CreatePolicy) -> None:
        """A previous reconcile created the policy but stopped before attaching it."""
        arn = change.arn
        existing = observe_managed_policy(self.iam, arn, self.cache)
        if self.owner.ownership_of(existing.tags) is not Ownership.OURS:
            raise ForeignPolicyError(
                f"managed policy {arn} already exists and belongs to {owner_from_tags(existing.tags)}"
            )
        current = existing.document.document
        if current is None or not same_meaning(current, change.document):
            self._publish_version(arn, change.document.to_json())

    def _publish_version(self, arn: str, document: str) -> str | None:
        """A new default version, then the old ones pruned (IAM keeps at most five); its ID."""
        try:
            response = self.iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=document, SetAsDefault=True
            )
        except ClientError as error:
            if error_code(error) != "LimitExceeded":
                raise
            self._prune_versions(arn)
            response = self.iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=document, SetAsDefault=True
            )
        version: str | None = response["PolicyVersion"].get("VersionId")
        self._prune_versions(arn)
        if version:
            self.cache.mark_versions_pruned(arn, version)
        return version

    def _prune_versions(self, arn: str) -> None:
        versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        for version in versions:
            if not version["IsDefaultVersion"]:
                self.iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])

    def _delete_policy(self, change: p.DeletePolicy) -> None:
        try:
            self._prune_versions(change.policy_arn)
            self.iam.delete_policy(PolicyArn=change.policy_arn)
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
