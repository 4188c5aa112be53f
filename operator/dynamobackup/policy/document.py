"""IAM policy documents (identity, boundary and trust policies) as typed, validated values.

Every legal spelling is accepted: a Statement object or list, string-or-list values, `Principal: "*"`,
condition values as strings, numbers or booleans, and whole documents as dicts, JSON text or the
URL-encoded JSON that IAM returns. Parsing keeps what was written; `normalize` gives the meaning.

Plain frozen dataclasses and a small hand-written parser, not pydantic: `dbr check` imports this
module on every run, and building pydantic models cost most of its cold start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

Effect = Literal["Allow", "Deny"]
PrincipalMap = Mapping[str, tuple[str, ...]]
ConditionBlock = Mapping[str, Mapping[str, tuple[str, ...]]]
PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
EFFECTS: tuple[Effect, ...] = ("Allow", "Deny")


class PolicyDocumentError(ValueError):
    """A document that is not valid IAM policy JSON; the message is one line, fit for a user."""


@dataclass(frozen=True)
class Statement:
    effect: Effect
    sid: str | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    principal: Literal["*"] | PrincipalMap | None = None
    not_principal: Literal["*"] | PrincipalMap | None = None
    condition: ConditionBlock | None = None

    @property
    def is_conditional(self) -> bool:
        return bool(self.condition)

    def to_iam(self) -> dict[str, Any]:
        """The statement as IAM JSON, with IAM's element names and order."""
        elements: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": self.effect,
            "Principal": _principal_json(self.principal),
            "NotPrincipal": _principal_json(self.not_principal),
            "Action": _list(self.action),
            "NotAction": _list(self.not_action),
            "Resource": _list(self.resource),
            "NotResource": _list(self.not_resource),
            "Condition": _condition_json(self.condition),
        }
        return {name: value for name, value in elements.items() if value is not None}


@dataclass(frozen=True)
class PolicyDocument:
    statement: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None

    def to_iam(self) -> dict[str, Any]:
        document: dict[str, Any] = {"Version": self.version or "2012-10-17"}
        if self.id is not None:
            document["Id"] = self.id
        document["Statement"] = [statement.to_iam() for statement in self.statement]
        return document

    def to_json(self, *, indent: int | None = None) -> str:
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self.to_iam(), indent=indent, separators=separators)


def parse_document(
    raw: str | bytes | Mapping[str, Any], *, source: str = "policy"
) -> PolicyDocument:
    """Parse a document given as a dict, JSON text or URL-encoded JSON; errors are one line."""
    data = _decode(raw, source) if isinstance(raw, str | bytes) else raw
    if not isinstance(data, Mapping):
        raise PolicyDocumentError(f"{source}: a policy document must be a JSON object")
    problems = _Problems()
    document = _document(data, problems)
    if document is None:  # whenever a problem was found
        raise PolicyDocumentError(f"{source}: {problems.summary()}")
    return document


def parse_statement(data: Mapping[str, Any]) -> Statement:
    """One statement from its IAM JSON; raises PolicyDocumentError."""
    problems = _Problems()
    statement = _statement(data, problems, "")
    if statement is None or problems:
        raise PolicyDocumentError(problems.summary())
    return statement


# --- parsing ------------------------------------------------------------------------------


class _Problems:
    """Every problem found, by location; the message names the first and counts the rest.

    Elements are checked in the order of the grammar and unknown keys last, so that the first
    problem named is the one pydantic named when it parsed these documents.
    """

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, location: str, message: str) -> None:
        self.found.append((location, message))

    def __bool__(self) -> bool:
        return bool(self.found)

    def summary(self) -> str:
        location, message = self.found[0]
        more = f" (and {len(self.found) - 1} more problems)" if len(self.found) > 1 else ""
        return f"{location}: {message}{more}" if location else f"{message}{more}"


_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_LIST_ELEMENTS = {
    "Action": "action",
    "NotAction": "not_action",
    "Resource": "resource",
    "NotResource": "not_resource",
}
_PRINCIPAL_ELEMENTS = {"Principal": "principal", "NotPrincipal": "not_principal"}
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Condition", *_LIST_ELEMENTS, *_PRINCIPAL_ELEMENTS})


def _document(data: Mapping[str, Any], problems: _Problems) -> PolicyDocument | None:
    version = _optional_string(data, "Version", "", problems)
    id_ = _optional_string(data, "Id", "", problems)
    statements = _statements(data, problems)
    _extra_keys(data, _DOCUMENT_KEYS, "", problems)
    if statements is None or problems:
        return None
    return PolicyDocument(statement=statements, version=version, id=id_)


def _statements(data: Mapping[str, Any], problems: _Problems) -> tuple[Statement, ...] | None:
    if "Statement" not in data:
        problems.add("Statement", "Field required")
        return None
    raw = data["Statement"]
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list | tuple):
        problems.add("Statement", "must be a statement object or a list of them")
        return None
    statements = [_statement(item, problems, f"Statement.{i}") for i, item in enumerate(items)]
    return tuple(s for s in statements if s is not None)


def _statement(data: Any, problems: _Problems, where: str) -> Statement | None:
    if not isinstance(data, Mapping):
        problems.add(where, "a statement must be a JSON object")
        return None
    before = len(problems.found)
    values: dict[str, Any] = {"sid": _optional_string(data, "Sid", where, problems)}
    effect = _effect(data, where, problems)
    for element, name in _LIST_ELEMENTS.items():
        values[name] = _element(data, element, where, problems, _as_tuple)
    for element, name in _PRINCIPAL_ELEMENTS.items():
        values[name] = _element(data, element, where, problems, _principal)
    values["condition"] = _element(data, "Condition", where, problems, _condition)
    _extra_keys(data, _STATEMENT_KEYS, where, problems)
    if effect is None or len(problems.found) > before:
        return None
    statement = Statement(effect=effect, **values)
    conflict = _conflicting_elements(statement)
    if conflict is not None:
        problems.add(where, conflict)
    return statement


def _effect(data: Mapping[str, Any], where: str, problems: _Problems) -> Effect | None:
    if "Effect" not in data:
        problems.add(_at(where, "Effect"), "Field required")
        return None
    for effect in EFFECTS:  # the value is case sensitive
        if data["Effect"] == effect:
            return effect
    problems.add(_at(where, "Effect"), "Input should be 'Allow' or 'Deny'")
    return None


def _conflicting_elements(statement: Statement) -> str | None:
    if (statement.action is None) == (statement.not_action is None):
        return "a statement needs exactly one of Action or NotAction"
    if statement.resource is not None and statement.not_resource is not None:
        return "a statement cannot have both Resource and NotResource"
    if statement.principal is not None and statement.not_principal is not None:
        return "a statement cannot have both Principal and NotPrincipal"
    return None


def _at(where: str, element: str) -> str:
    return f"{where}.{element}" if where else element


def _extra_keys(
    data: Mapping[str, Any], allowed: frozenset[str], where: str, problems: _Problems
) -> None:
    for key in data:
        if key not in allowed:
            problems.add(_at(where, str(key)), "Extra inputs are not permitted")


def _optional_string(
    data: Mapping[str, Any], key: str, where: str, problems: _Problems
) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.add(_at(where, key), "Input should be a valid string")
    return None


def _element(
    data: Mapping[str, Any],
    key: str,
    where: str,
    problems: _Problems,
    convert: Callable[[Any], Any],
) -> Any:
    value = data.get(key)
    if value is None:
        return None
    try:
        return convert(value)
    except ValueError as error:
        problems.add(_at(where, key), str(error))
        return None


def _as_tuple(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    if not values:
        raise ValueError("must not be an empty list")
    if not all(isinstance(item, str) for item in values):
        raise ValueError("must be a string or a list of strings")
    return tuple(values)


def _principal(value: Any) -> Literal["*"] | dict[str, tuple[str, ...]]:
    if value == "*":
        return "*"
    if not isinstance(value, Mapping) or not value:
        raise ValueError('must be "*" or an object such as {"AWS": "arn:..."}')
    unknown = sorted(set(value) - PRINCIPAL_TYPES)
    if unknown:
        raise ValueError(f"unknown principal type {unknown[0]!r}")
    return {kind: _as_tuple(ids) for kind, ids in value.items()}


def _condition(value: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ValueError('must map operators to {"key": value} objects')
    return {
        str(operator): {str(key): _condition_values(raw) for key, raw in keys.items()}
        for operator, keys in value.items()
    }


def _condition_values(raw: Any) -> tuple[str, ...]:
    values = raw if isinstance(raw, list | tuple) else [raw]
    return tuple(_condition_value(item) for item in values)


def _condition_value(value: Any) -> str:
    # IAM accepts JSON booleans and numbers in conditions and compares them as strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError("condition values must be strings, numbers or booleans")


# --- writing ------------------------------------------------------------------------------


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _principal_json(principal: Literal["*"] | PrincipalMap | None) -> Any:
    if principal is None or principal == "*":
        return principal
    return {kind: list(ids) for kind, ids in principal.items()}


def _condition_json(condition: ConditionBlock | None) -> Any:
    if condition is None:
        return None
    return {
        op: {key: list(values) for key, values in keys.items()} for op, keys in condition.items()
    }


def _decode(raw: str | bytes, source: str) -> Any:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    candidates = [text] if text.lstrip().startswith("{") else [text, unquote(text)]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as error:
            last_error = error
    raise PolicyDocumentError(
        f"{source}: invalid JSON at line {last_error.lineno} column {last_error.colno}: {last_error.msg}"
    )
