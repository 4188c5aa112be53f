"""How the operator marks the IAM roles and policies it owns, and reads that mark back.

Ownership is recorded on the AWS resource itself (tags), so it survives operator restarts and a
reinstalled cluster, and a role that happens to have the right name is never mistaken for ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from dynamobackup.api.v1alpha1 import GROUP, KIND, OWNERSHIP_TAG_PREFIX

MANAGED_BY_TAG = f"{OWNERSHIP_TAG_PREFIX}managed-by"
NAMESPACE_TAG = f"{OWNERSHIP_TAG_PREFIX}namespace"
NAME_TAG = f"{OWNERSHIP_TAG_PREFIX}name"
MANAGED_BY_VALUE = f"{KIND}.{GROUP}"


class Ownership(Enum):
    OURS = "ours"
    UNOWNED = "unowned"
    OTHER_RESOURCE = "other-resource"


@dataclass(frozen=True)
class Owner:
    """The DynamoBackupRole object that owns an AWS resource."""

    namespace: str
    name: str

    def tags(self) -> dict[str, str]:
        return {
            MANAGED_BY_TAG: MANAGED_BY_VALUE,
            NAMESPACE_TAG: self.namespace,
            NAME_TAG: self.name,
        }

    def ownership_of(self, tags: Mapping[str, str]) -> Ownership:
        if tags.get(MANAGED_BY_TAG) != MANAGED_BY_VALUE:
            return Ownership.UNOWNED
        if tags.get(NAMESPACE_TAG) == self.namespace and tags.get(NAME_TAG) == self.name:
            return Ownership.OURS
        return Ownership.OTHER_RESOURCE

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def owner_from_tags(tags: Mapping[str, str]) -> str:
    """Who owns a resource, for messages: `namespace/name`, or `nobody`."""
    if tags.get(MANAGED_BY_TAG) != MANAGED_BY_VALUE:
        return "nobody"
    return f"{tags.get(NAMESPACE_TAG, '?')}/{tags.get(NAME_TAG, '?')}"
