"""Builders shared by the role-set tests: a set's spec and the account bindings it selects from."""

from __future__ import annotations

from typing import Any

from dynamobackup.api.v1alpha1 import DynamoBackupAccountSpec, DynamoBackupRoleSetSpec
from dynamobackup.reconcile.tenancy import Binding

APPLIANCE = "arn:aws:iam::444455556666:role/VeeamImpersonation"
PROD = {"matchLabels": {"env": "prod"}}


def role_set(**selector: Any) -> DynamoBackupRoleSetSpec:
    return DynamoBackupRoleSetSpec.parse(
        {
            "template": {
                "roleName": "VeeamBackup",
                "scope": {"operations": ["BackupPolicy"]},
                "trust": {"applianceRoleArn": APPLIANCE},
            },
            "accountSelector": selector,
        }
    )


def binding(
    account: str,
    labels: dict[str, str] | None = None,
    *,
    name: str | None = None,
    partition: str = "aws",
    namespaces: dict[str, Any] | None = None,
) -> Binding:
    """A binding (named `bind-<account>` unless given) admitting namespace team-a unless
    `namespaces` says otherwise."""
    spec = {
        "account": {"id": account, "partition": partition},
        "namespaces": namespaces or {"names": ["team-a"]},
        "operations": ["BackupPolicy"],
        "appliances": {"roleArns": [APPLIANCE]},
    }
    return Binding(
        name or f"bind-{account}", account, DynamoBackupAccountSpec.parse(spec), labels=labels or {}
    )
