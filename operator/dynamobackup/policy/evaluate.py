"""Does a set of identity policies (plus an optional permissions boundary) grant the required actions?

Follows AWS's evaluation logic for one principal: default deny, an explicit Deny in any policy wins,
and with a boundary an action must be allowed by both the identity policies and the boundary. Every
required action is judged on all resources (`*`), which is what the Veeam profiles need. Conditions
are never guessed: a statement with a Condition yields `conditional`, never `allowed` or `denied`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from dynamobackup.policy.catalog import ActionCatalog, default_catalog
from dynamobackup.policy.document import PolicyDocument, Statement
from dynamobackup.policy.matching import (
    has_wildcard,
    matches_everything,
    pattern_covers,
    wildcard_regex,
)


@dataclass(frozen=True)
class CompiledStatement:
    """A statement reduced to what the evaluator needs, its action list compiled once."""

    effect: str
    literals: frozenset[str]
    pattern: re.Pattern[str] | None
    negated: bool
    conditional: bool
    all_resources: bool

    @classmethod
    def of(cls, statement: Statement) -> CompiledStatement:
        written = statement.action if statement.action is not None else statement.not_action or ()
        compiled = compile_required(tuple(written))
        return cls(
            effect=statement.effect,
            literals=compiled.literals,
            pattern=compiled.pattern,
            negated=statement.not_action is not None,
            conditional=statement.is_conditional,
            all_resources=any(matches_everything(r) for r in statement.resource or ()),
        )

    def matching(self, actions: frozenset[str]) -> frozenset[str]:
        """The subset of `actions` (lower-case) this statement's Action or NotAction covers."""
        listed = actions & self.literals
        if self.pattern is not None:
            pattern = self.pattern
            listed |= {action for action in actions if pattern.fullmatch(action)}
        return actions - listed if self.negated else listed


@dataclass(frozen=True)
class RequiredActions:
    """A list of actions compiled once (the required ones, or a statement's): literal names for
    set lookups, and the wildcards both as written (to compare patterns) and joined into one
    regular expression (to match names)."""

    literals: frozenset[str]
    wildcards: tuple[str, ...]
    pattern: re.Pattern[str] | None

    def __contains__(self, action: object) -> bool:
        if not isinstance(action, str):
            return False
        lowered = action.lower()
        return lowered in self.literals or bool(self.pattern and self.pattern.fullmatch(lowered))


@lru_cache(maxsize=4096)
def compile_required(written: tuple[str, ...]) -> RequiredActions:
    wildcards = tuple(p for p in written if has_wildcard(p))
    literals = frozenset(p.lower() for p in written if not has_wildcard(p))
    pattern = (
        re.compile("|".join(f"(?:{wildcard_regex(p)})" for p in wildcards), re.I | re.S)
        if wildcards
        else None
    )
    return RequiredActions(literals, wildcards, pattern)


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


@dataclass(frozen=True)
class _Coverage:
    """Which actions a group of statements denies or allows, with and without conditions."""

    denied: frozenset[str]
    denied_if: frozenset[str]
    allowed: frozenset[str]
    allowed_if: frozenset[str]

    @classmethod
    def of(cls, statements: Sequence[CompiledStatement], actions: frozenset[str]) -> _Coverage:
        sets: dict[tuple[str, bool], set[str]] = {
            (effect, conditional): set()
            for effect in ("Deny", "Allow")
            for conditional in (False, True)
        }
        for statement in statements:
            # An Allow limited to some resources does not cover what the profile needs (all of them).
            if statement.effect == "Allow" and not statement.all_resources:
                continue
            sets[statement.effect, statement.conditional] |= statement.matching(actions)
        return cls(
            denied=frozenset(sets["Deny", False]),
            denied_if=frozenset(sets["Deny", True]),
            allowed=frozenset(sets["Allow", False]),
            allowed_if=frozenset(sets["Allow", True]),
        )


def evaluate_permissions(
    required_actions: Iterable[str],
    policies: Sequence[PolicyDocument],
    boundary: PolicyDocument | None = None,
    catalog: ActionCatalog | None = None,
) -> PermissionReport:
    """Judge every required action; `catalog` (default: the shipped AWS catalog) expands wildcards for excess."""
    required = tuple(dict.fromkeys(required_actions))
    lowered = frozenset(action.lower() for action in required)
    identity = _Coverage.of(
        [CompiledStatement.of(s) for p in policies for s in p.statement], lowered
    )
    limits = (
        _Coverage.of([CompiledStatement.of(s) for s in boundary.statement], lowered)
        if boundary
        else None
    )
    verdicts = _classify(identity, limits)
    by_verdict: dict[str, list[str]] = {
        "allowed": [],
        "missing": [],
        "denied": [],
        "conditional": [],
    }
    for action in required:
        by_verdict[verdicts.get(action.lower(), "missing")].append(action)
    excess = find_excess(required, policies, catalog or default_catalog())
    return PermissionReport(**{k: tuple(v) for k, v in by_verdict.items()}, excess=excess)


def _classify(identity: _Coverage, boundary: _Coverage | None) -> dict[str, str]:
    """Verdicts by lower-case action; absent means missing. Set algebra keeps this in microseconds."""
    layers = (identity,) if boundary is None else (identity, boundary)
    denied = frozenset().union(*(layer.denied for layer in layers))
    denied_if = frozenset().union(*(layer.denied_if for layer in layers))
    # Allowed needs every layer to allow unconditionally; any condition on the way makes it conditional.
    allowed = frozenset.intersection(*(layer.allowed for layer in layers)) - denied
    possible = (
        frozenset.intersection(*(layer.allowed | layer.allowed_if for layer in layers)) - denied
    )
    verdicts = dict.fromkeys(possible - allowed, "conditional")
    verdicts.update(dict.fromkeys(allowed & denied_if, "conditional"))
    verdicts.update(dict.fromkeys(allowed - denied_if, "allowed"))
    verdicts.update(dict.fromkeys(denied, "denied"))
    return verdicts


def find_excess(
    required_actions: Iterable[str], policies: Sequence[PolicyDocument], catalog: ActionCatalog
) -> tuple[str, ...]:
    """Allow patterns, as written, that grant some action outside the required set.

    Required entries may themselves be wildcards (an operator's additional `backup:*`).
    Sorted and deduplicated case-insensitively, so the report does not depend on statement order.
    """
    required = compile_required(tuple(required_actions))
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


def find_unknown(policies: Sequence[PolicyDocument], catalog: ActionCatalog) -> tuple[str, ...]:
    """Actions and patterns, as written in any statement, that match no action in the catalog.

    IAM accepts them and they grant (or deny) nothing today: mostly typos (`dynamodb:ListTabls`), or
    an action newer than the catalog. In an Allow they also count as excess (an action added to AWS
    later would be granted). Sorted and deduplicated case-insensitively.
    """
    unknown: dict[str, str] = {}
    for policy in policies:
        for statement in policy.statement:
            for pattern in (*(statement.action or ()), *(statement.not_action or ())):
                if not is_known(pattern, catalog):
                    unknown.setdefault(pattern.lower(), pattern)
    return tuple(unknown[key] for key in sorted(unknown))


def is_known(pattern: str, catalog: ActionCatalog) -> bool:
    return next(iter(catalog.expand(pattern)), None) is not None


def closest_action(pattern: str, catalog: ActionCatalog) -> str | None:
    """The catalog action of the same service spelled most like `pattern` (a typo's fix)."""
    service, _, _ = pattern.partition(":")
    candidates = {action.lower(): action for action in catalog.expand(f"{service}:*")}
    close = difflib.get_close_matches(pattern.lower(), list(candidates), cutoff=0.8)  # best first
    return candidates[close[0]] if close else None


def _unique_sorted(values: Iterable[str]) -> list[str]:
    return sorted({value.lower(): value for value in values}.values(), key=str.lower)


@lru_cache(maxsize=8192)
def grants_beyond(pattern: str, required: RequiredActions, catalog: ActionCatalog) -> bool:
    """Whether `pattern` grants some action that is not required.

    What the pattern grants counts, not what the catalog knows: a wildcard that matches no
    catalogued action (`madeup:*`, `dynamodb:FutureAction*`) grants actions AWS may add, so it is
    excess unless a required wildcard covers it.
    """
    if not has_wildcard(pattern):
        return pattern not in required
    if any(pattern_covers(wildcard, pattern) for wildcard in required.wildcards):
        return False
    expanded = list(catalog.expand(pattern))
    return not expanded or not all(action in required for action in expanded)
