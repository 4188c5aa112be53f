"""Perform a plan's changes with boto3: one mutating IAM call per change (plus version pruning)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, assert_never

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


# What a change writes to besides creating: the role itself, the policies on the role, or one of
# the operator's managed policies.
_RoleWrite = (
    p.UpdateAssumeRolePolicy
    | p.UpdateRole
    | p.PutRolePermissionsBoundary
    | p.DeleteRolePermissionsBoundary
    | p.TagRole
    | p.UntagRole
    | p.DeleteRole
)
_RolePolicyWrite = p.PutRolePolicy | p.DeleteRolePolicy | p.AttachRolePolicy | p.DetachRolePolicy
_ManagedPolicyWrite = p.CreatePolicyVersion | p.DeletePolicyVersion | p.DeletePolicy


class PlanApplier:
    """Applies Changes in one account, with the context (owner, cache) some of them need."""

    def __init__(self, iam: Any, owner: Owner, cache: PolicyDocumentCache) -> None:
        self.iam = iam
        self.owner = owner
        self.cache = cache

    def apply(self, change: p.Change) -> Written:
        """Performs the change; what IAM's response said that the role's new state depends on.

        Each match ends in `assert_never`: a kind of change added to the plan and not handled
        here is a type error (mypy), not a failure at run time.
        """
        match change:
            case p.CreateRole():
                return self._create_role(change)
            case p.CreatePolicy():
                return self._create_policy(change)
            case (
                p.UpdateAssumeRolePolicy()
                | p.UpdateRole()
                | p.PutRolePermissionsBoundary()
                | p.DeleteRolePermissionsBoundary()
                | p.TagRole()
                | p.UntagRole()
                | p.DeleteRole()
            ):
                self._write_role(change)
            case (
                p.PutRolePolicy()
                | p.DeleteRolePolicy()
                | p.AttachRolePolicy()
                | p.DetachRolePolicy()
            ):
                self._write_role_policy(change)
            case p.CreatePolicyVersion() | p.DeletePolicyVersion() | p.DeletePolicy():
                self._write_managed_policy(change)
            case _:
                assert_never(change)
        return Written(change)

    def _write_role(self, change: _RoleWrite) -> None:
        iam = self.iam
        match change:
            case p.UpdateAssumeRolePolicy():
                iam.update_assume_role_policy(
                    RoleName=change.role_name, PolicyDocument=change.document.to_json()
                )
            case p.UpdateRole():
                iam.update_role(
                    RoleName=change.role_name,
                    Description=change.description,
                    MaxSessionDuration=change.max_session_duration,
                )
            case p.PutRolePermissionsBoundary():
                iam.put_role_permissions_boundary(
                    RoleName=change.role_name, PermissionsBoundary=change.policy_arn
                )
            case p.DeleteRolePermissionsBoundary():
                _ignore_missing(iam.delete_role_permissions_boundary, RoleName=change.role_name)
            case p.TagRole():
                iam.tag_role(RoleName=change.role_name, Tags=_tag_list(change.tags))
            case p.UntagRole():
                iam.untag_role(RoleName=change.role_name, TagKeys=list(change.keys))
            case p.DeleteRole():
                _ignore_missing(iam.delete_role, RoleName=change.role_name)
            case _:
                assert_never(change)

    def _write_role_policy(self, change: _RolePolicyWrite) -> None:
        iam = self.iam
        match change:
            case p.PutRolePolicy():
                iam.put_role_policy(
                    RoleName=change.role_name,
                    PolicyName=change.policy_name,
                    PolicyDocument=change.document.to_json(),
                )
            case p.DeleteRolePolicy():
                _ignore_missing(
                    iam.delete_role_policy,
                    RoleName=change.role_name,
                    PolicyName=change.policy_name,
                )
            case p.AttachRolePolicy():
                iam.attach_role_policy(RoleName=change.role_name, PolicyArn=change.policy_arn)
            case p.DetachRolePolicy():
                _ignore_missing(
                    iam.detach_role_policy, RoleName=change.role_name, PolicyArn=change.policy_arn
                )
            case _:
                assert_never(change)

    def _write_managed_policy(self, change: _ManagedPolicyWrite) -> None:
        match change:
            case p.CreatePolicyVersion():
                self._publish_version(change.policy_arn, change.document.to_json())
            case p.DeletePolicyVersion():
                _ignore_missing(
                    self.iam.delete_policy_version,
                    PolicyArn=change.policy_arn,
                    VersionId=change.version_id,
                )
            case p.DeletePolicy():
                self._delete_policy(change)
            case _:
                assert_never(change)

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

    def _publish_version(self, arn: str, document: str) -> None:
        """A new default version, then the old ones pruned (IAM keeps at most five)."""
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
