"""What AWS says a role looks like, as plain values the pure layers can judge.

The aws layer fills these in; documents that IAM returned but that do not parse are kept as
errors instead of crashing, because a hand-edited policy must still be reported, not fatal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from dynamobackup.policy.document import PolicyDocument


@dataclass(frozen=True)
class ObservedDocument:
    """A policy document as IAM returned it: parsed, or the reason it could not be parsed."""

    document: PolicyDocument | None
    error: str | None = None


class PolicyKind(Enum):
    INLINE = "inline"
    MANAGED = "managed"


@dataclass(frozen=True)
class PolicyRef:
    """One policy of a role: an inline policy by its name, a managed policy by its ARN."""

    kind: PolicyKind
    name: str

    @classmethod
    def inline(cls, name: str) -> PolicyRef:
        return cls(PolicyKind.INLINE, name)

    @classmethod
    def managed(cls, arn: str) -> PolicyRef:
        return cls(PolicyKind.MANAGED, arn)

    def __str__(self) -> str:
        """How the status (foreignPolicies) and the verdict name it: `inline:<name>`, or the ARN."""
        return f"inline:{self.name}" if self.kind is PolicyKind.INLINE else self.name


@dataclass(frozen=True)
class ObservedManagedPolicy:
    arn: str
    name: str
    path: str
    document: ObservedDocument
    tags: Mapping[str, str] = field(default_factory=dict)
    # Versions IAM still holds besides the default: an interrupted publish leaves the old one
    # behind, and IAM refuses a sixth. Empty when there are none or they were not read.
    stale_versions: tuple[str, ...] = ()
    # False for a permissions boundary that names a policy IAM does not have.
    exists: bool = True


@dataclass(frozen=True)
class ObservedRole:
    arn: str
    role_id: str
    name: str
    path: str
    description: str
    max_session_duration: int
    permissions_boundary_arn: str | None
    tags: Mapping[str, str]
    trust: ObservedDocument
    inline_policies: Mapping[str, ObservedDocument]
    attached_policies: tuple[ObservedManagedPolicy, ...]
    boundary: ObservedManagedPolicy | None = None
    instance_profiles: tuple[str, ...] = ()
