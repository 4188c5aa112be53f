"""Canonical form of IAM documents: two documents that mean the same normalise to equal values.

What does not change meaning is erased: Sid, Version, Id, statement and value order, duplicates,
string-vs-list, the case of action names and condition keys, a bare account ID vs its root ARN, and
how grants are spread over statements. The document is broken into atoms (one action, one resource,
one principal per statement, as far as IAM semantics allow) and regrouped deterministically, so the
result depends only on the set of atoms, i.e. on the meaning.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from dynamobackup.policy.document import PolicyDocument, PrincipalMap, Statement, parse_statement

CANONICAL_VERSION = "2012-10-17"
ACCOUNT_ID = re.compile(r"^\d{12}$")

Values = frozenset[str]
Principals = frozenset[tuple[str, str]]
Conditions = tuple[tuple[str, str, tuple[str, ...]], ...]
_T = TypeVar("_T", bound=frozenset[Any] | None)


class _Atom(NamedTuple):
    """A statement reduced to hashable, canonical parts; `*_negated` marks the Not* elements."""

    effect: str
    actions: Values
    actions_negated: bool
    resources: Values | None
    resources_negated: bool
    principals: Principals | None
    principals_negated: bool
    principal_star: bool
    conditions: Conditions

    def sort_key(self) -> str:
        return json.dumps(_atom_json(self), sort_keys=True)


def account_root_arn(account_id: str, partition: str) -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def canonical_principal(kind: str, value: str, partition: str) -> tuple[str, str]:
    """IAM stores a trusted bare account ID as its root ARN; service names are DNS names."""
    if kind == "AWS" and ACCOUNT_ID.match(value):
        return kind, account_root_arn(value, partition)
    if kind == "Service":
        return kind, value.lower()
    return kind, value


def normalize(document: PolicyDocument, *, partition: str = "aws") -> PolicyDocument:
    atoms = {atom for statement in document.statement for atom in _atomise(statement, partition)}
    for step in _MERGE_STEPS:
        atoms = _regroup(atoms, step)
    statements = tuple(_to_statement(atom) for atom in sorted(atoms, key=_Atom.sort_key))
    return PolicyDocument(version=CANONICAL_VERSION, statement=statements)


def same_meaning(left: PolicyDocument, right: PolicyDocument, *, partition: str = "aws") -> bool:
    return normalize(left, partition=partition) == normalize(right, partition=partition)


def _atomise(statement: Statement, partition: str) -> Iterator[_Atom]:
    base = _Atom(
        effect=statement.effect,
        actions=_lower(statement.action or statement.not_action or ()),
        actions_negated=statement.not_action is not None,
        resources=_values(statement.resource or statement.not_resource),
        resources_negated=statement.not_resource is not None,
        principals=_principals(statement.principal or statement.not_principal, partition),
        principals_negated=statement.not_principal is not None,
        principal_star=(statement.principal or statement.not_principal) == "*",
        conditions=_conditions(statement),
    )
    for resources in _split(base.resources, splittable=not base.resources_negated):
        for actions in _split(base.actions, splittable=not base.actions_negated):
            for principals in _split(base.principals, splittable=not base.principals_negated):
                yield base._replace(resources=resources, actions=actions, principals=principals)


def _split(values: _T, *, splittable: bool) -> Iterable[_T]:
    # Allow A,B == Allow A + Allow B, but NotAction A,B != NotAction A + NotAction B.
    if values is None or not splittable or len(values) < 2:
        return (values,)
    return (frozenset({value}) for value in values)  # type: ignore[misc]


@dataclass(frozen=True)
class _MergeStep:
    """Merges atoms that differ only in one splittable element back into one statement."""

    get: Callable[[_Atom], frozenset[Any] | None]
    put: Callable[[_Atom, frozenset[Any]], _Atom]
    mergeable: Callable[[_Atom], bool]


_MERGE_STEPS = (
    _MergeStep(
        get=lambda atom: atom.resources,
        put=lambda atom, values: atom._replace(resources=values),
        mergeable=lambda atom: not atom.resources_negated,
    ),
    _MergeStep(
        get=lambda atom: atom.actions,
        put=lambda atom, values: atom._replace(actions=values),
        mergeable=lambda atom: not atom.actions_negated,
    ),
    _MergeStep(
        get=lambda atom: atom.principals,
        put=lambda atom, values: atom._replace(principals=values),
        mergeable=lambda atom: not atom.principals_negated,
    ),
)


def _regroup(atoms: set[_Atom], step: _MergeStep) -> set[_Atom]:
    groups: dict[_Atom, set[Any]] = defaultdict(set)
    kept: set[_Atom] = set()
    for atom in atoms:
        values = step.get(atom)
        if values is None or not step.mergeable(atom):
            kept.add(atom)
            continue
        groups[step.put(atom, frozenset())].update(values)
    kept.update(step.put(key, frozenset(values)) for key, values in groups.items())
    return kept


def _lower(values: Iterable[str]) -> Values:
    return frozenset(value.lower() for value in values)


def _values(values: tuple[str, ...] | None) -> Values | None:
    return None if values is None else frozenset(values)


def _principals(principal: str | PrincipalMap | None, partition: str) -> Principals | None:
    if principal is None or principal == "*":
        return None
    assert not isinstance(principal, str)
    return frozenset(
        canonical_principal(kind, value, partition)
        for kind, ids in principal.items()
        for value in ids
    )


def _conditions(statement: Statement) -> Conditions:
    # Condition keys are case-insensitive in IAM; operators and values are not.
    entries = (
        (operator, key.lower(), tuple(sorted(set(values))))
        for operator, keys in (statement.condition or {}).items()
        for key, values in keys.items()
    )
    return tuple(sorted(entries))


def _to_statement(atom: _Atom) -> Statement:
    return parse_statement(_atom_json(atom))


def _atom_json(atom: _Atom) -> dict[str, Any]:
    principal: Any = "*" if atom.principal_star else _principal_json(atom.principals)
    elements: dict[str, Any] = {
        "Effect": atom.effect,
        "NotAction" if atom.actions_negated else "Action": sorted(atom.actions),
        "NotResource" if atom.resources_negated else "Resource": _sorted_or_none(atom.resources),
        "NotPrincipal" if atom.principals_negated else "Principal": principal,
        "Condition": _condition_json(atom.conditions),
    }
    return {name: value for name, value in elements.items() if value is not None}


def _sorted_or_none(values: Values | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _principal_json(principals: Principals | None) -> dict[str, list[str]] | None:
    if principals is None:
        return None
    grouped: dict[str, list[str]] = defaultdict(list)
    for kind, value in sorted(principals):
        grouped[kind].append(value)
    return dict(grouped)


def _condition_json(conditions: Conditions) -> dict[str, dict[str, list[str]]] | None:
    if not conditions:
        return None
    block: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for operator, key, values in conditions:
        block[operator][key] = list(values)
    return dict(block)
