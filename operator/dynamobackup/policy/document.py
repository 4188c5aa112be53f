"""IAM policy documents (identity, boundary and trust policies) as typed, validated values.

Every legal spelling is accepted: a Statement object or list, string-or-list values, `Principal: "*"`,
condition values as strings, numbers or booleans, and whole documents as dicts, JSON text or the
URL-encoded JSON that IAM returns. Parsing keeps what was written; `normalize` gives the meaning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Effect = Literal["Allow", "Deny"]
PrincipalMap = Mapping[str, tuple[str, ...]]
ConditionBlock = Mapping[str, Mapping[str, tuple[str, ...]]]
PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


class PolicyDocumentError(ValueError):
    """A document that is not valid IAM policy JSON; the message is one line, fit for a user."""


def _as_tuple(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    if not values:
        raise ValueError("must not be an empty list")
    if not all(isinstance(item, str) for item in values):
        raise ValueError("must be a string or a list of strings")
    return tuple(values)


def _condition_value(value: Any) -> str:
    # IAM accepts JSON booleans and numbers in conditions and compares them as strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError("condition values must be strings, numbers or booleans")


class Statement(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    sid: str | None = Field(default=None, alias="Sid")
    effect: Effect = Field(alias="Effect")
    action: tuple[str, ...] | None = Field(default=None, alias="Action")
    not_action: tuple[str, ...] | None = Field(default=None, alias="NotAction")
    resource: tuple[str, ...] | None = Field(default=None, alias="Resource")
    not_resource: tuple[str, ...] | None = Field(default=None, alias="NotResource")
    principal: Literal["*"] | PrincipalMap | None = Field(default=None, alias="Principal")
    not_principal: Literal["*"] | PrincipalMap | None = Field(default=None, alias="NotPrincipal")
    condition: ConditionBlock | None = Field(default=None, alias="Condition")

    @field_validator("action", "not_action", "resource", "not_resource", mode="before")
    @classmethod
    def _string_or_list(cls, value: Any) -> tuple[str, ...] | None:
        return None if value is None else _as_tuple(value)

    @field_validator("principal", "not_principal", mode="before")
    @classmethod
    def _principal(cls, value: Any) -> Literal["*"] | dict[str, tuple[str, ...]] | None:
        if value is None or value == "*":
            return value  # type: ignore[no-any-return]
        if not isinstance(value, Mapping) or not value:
            raise ValueError('must be "*" or an object such as {"AWS": "arn:..."}')
        unknown = sorted(set(value) - PRINCIPAL_TYPES)
        if unknown:
            raise ValueError(f"unknown principal type {unknown[0]!r}")
        return {kind: _as_tuple(ids) for kind, ids in value.items()}

    @field_validator("condition", mode="before")
    @classmethod
    def _condition(cls, value: Any) -> dict[str, dict[str, tuple[str, ...]]] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping) or not all(
            isinstance(v, Mapping) for v in value.values()
        ):
            raise ValueError('must map operators to {"key": value} objects')
        return {
            operator: {key: _condition_values(raw) for key, raw in keys.items()}
            for operator, keys in value.items()
        }

    @model_validator(mode="after")
    def _exclusive_elements(self) -> Statement:
        if (self.action is None) == (self.not_action is None):
            raise ValueError("a statement needs exactly one of Action or NotAction")
        if self.resource is not None and self.not_resource is not None:
            raise ValueError("a statement cannot have both Resource and NotResource")
        if self.principal is not None and self.not_principal is not None:
            raise ValueError("a statement cannot have both Principal and NotPrincipal")
        return self

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


def _condition_values(raw: Any) -> tuple[str, ...]:
    values = raw if isinstance(raw, list | tuple) else [raw]
    return tuple(_condition_value(item) for item in values)


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


class PolicyDocument(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    version: str | None = Field(default=None, alias="Version")
    id: str | None = Field(default=None, alias="Id")
    statement: tuple[Statement, ...] = Field(alias="Statement")

    @field_validator("statement", mode="before")
    @classmethod
    def _statement_object_or_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, Mapping) else value

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
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as error:
        raise PolicyDocumentError(f"{source}: {_first_error(error)}") from None


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


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"] if not str(part).startswith("function-"))
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
    return f"{location}: {message}{more}" if location else f"{message}{more}"
