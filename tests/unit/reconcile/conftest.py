"""Builders for pure reconcile tests: specs, and observed roles as IAM would return them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupRoleSpec
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile.desired import (
    INLINE_POLICY_NAME,
    MANAGED_POLICY_PATH,
    DesiredRole,
    desired_role,
)
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole
from dynamobackup.reconcile.ownership import Owner

OWNER = Owner("team-a", "backup-role")
APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"


def make_spec(**overrides: Any) -> DynamoBackupRoleSpec:
    spec: dict[str, Any] = {
        "account": {"id": "123456789012"},
        "roleName": "veeam-dynamodb-backup",
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": APPLIANCE, "externalId": "ext-123"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return DynamoBackupRoleSpec.parse(spec)


def as_iam_returns(document: Any) -> ObservedDocument:
    """IAM's spelling of a document we wrote: reordered lists, single values unwrapped, URL-encoded."""
    data = document.to_iam()
    for statement in data["Statement"]:
        statement.pop("Sid", None)
        for key in ("Action", "Resource"):
            if key in statement:
                values = list(reversed(statement[key]))
                statement[key] = values[0] if len(values) == 1 else values
        for kind, ids in statement.get("Principal", {}).items():
            statement["Principal"][kind] = ids[0] if len(ids) == 1 else ids
    return ObservedDocument(parse_document(quote(json.dumps(data))))


def observed_from(desired: DesiredRole, **changes: Any) -> ObservedRole:
    """The role exactly as Enforce would have left it, as IAM would report it."""
    attached: tuple[ObservedManagedPolicy, ...] = ()
    inline: dict[str, ObservedDocument] = {}
    if str(desired.delivery) == "Managed":
        attached = tuple(
            ObservedManagedPolicy(
                arn=desired.managed_policy_arn(i),
                name=desired.managed_policy_name(i),
                path=MANAGED_POLICY_PATH,
                document=as_iam_returns(doc),
                tags=desired.owner.tags(),
            )
            for i, doc in enumerate(desired.permissions, start=1)
        )
    else:
        inline = {INLINE_POLICY_NAME: as_iam_returns(desired.permissions[0])}
    role = ObservedRole(
        arn=desired.arn,
        role_id="AROAEXAMPLEEXAMPLE123",
        name=desired.name,
        path=desired.path,
        description=desired.settings.description,
        max_session_duration=desired.settings.max_session_duration,
        permissions_boundary_arn=desired.settings.permissions_boundary_arn,
        tags={**desired.role_tags, "cost-center": "42"},
        trust=as_iam_returns(desired.trust),
        inline_policies=inline,
        attached_policies=attached,
    )
    return replace(role, **changes)


@pytest.fixture
def desired() -> DesiredRole:
    return desired_role(make_spec(), OWNER)
