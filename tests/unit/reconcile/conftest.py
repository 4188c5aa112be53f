"""Builders for pure reconcile tests: specs, and observed roles as IAM would return them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupRoleSpec
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile.desired import DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedRole
from dynamobackup.reconcile.ownership import Owner
from enforced import enforced_role

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
    """The role exactly as Enforce would have left it, as IAM would report it, with a tag
    someone else added (tags the operator did not set are left alone)."""
    changes.setdefault("tags", {**desired.role_tags, "cost-center": "42"})
    return enforced_role(desired, spelling=as_iam_returns, **changes)


@pytest.fixture
def desired() -> DesiredRole:
    return desired_role(make_spec(), OWNER)
