"""A small IAM policy evaluator for the operator's own policies in docs/iam/.

moto cannot judge resource ARNs or condition keys (see docs/iam/README.md), so these unit tests
judge them here. It implements only what those documents use, and refuses anything else rather than
guess: Action/NotAction, Resource/NotResource and AWS principals with wildcards, an explicit Deny
beating any Allow, and implicit deny by default. Condition blocks are the operator's own condition
evaluator's (policy/iam_conditions.py: string and ARN operators, IfExists, Null, ForAnyValue and
ForAllValues over multivalued keys such as aws:TagKeys); one it cannot decide is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from dynamobackup.policy.iam_conditions import RequestContext, Truth, evaluate
from dynamobackup.policy.matching import wildcard_match

DOCS_IAM = Path(__file__).parents[3] / "docs" / "iam"


class Decision(Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicitly denied"
    EXPLICIT_DENY = "explicitly denied"


@dataclass(frozen=True)
class Request:
    """One authorization IAM performs: action, resource ARN, condition context (a multivalued
    key, such as aws:TagKeys, as a tuple), caller."""

    action: str
    resource: str
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    principal: str | None = None

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} with {dict(self.context)}"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DOCS_IAM / name).read_text())
    return document


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def decide(policy: Mapping[str, Any], request: Request) -> Decision:
    effects = {s["Effect"] for s in policy["Statement"] if applies(s, request)}
    if "Deny" in effects:
        return Decision.EXPLICIT_DENY
    return Decision.ALLOWED if "Allow" in effects else Decision.IMPLICIT_DENY


def applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _element_matches(statement, "Action", request.action, ignore_case=True)
        and _resource_matches(statement, request.resource)
        and _principal_matches(statement, request.principal)
        and conditions_hold(statement.get("Condition", {}), request)
    )


def _element_matches(
    statement: Mapping[str, Any], element: str, value: str, *, ignore_case: bool
) -> bool:
    def hit(patterns: Any) -> bool:
        return any(wildcard_match(p, value, ignore_case=ignore_case) for p in as_list(patterns))

    if element in statement:
        return hit(statement[element])
    if f"Not{element}" in statement:
        return not hit(statement[f"Not{element}"])
    raise ValueError(f"statement has neither {element} nor Not{element}: {statement}")


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "Principal" in statement and "Resource" not in statement:
        return True  # a trust policy: the resource is the role it is attached to
    return _element_matches(statement, "Resource", resource, ignore_case=False)


def _principal_matches(statement: Mapping[str, Any], principal: str | None) -> bool:
    if "Principal" not in statement:
        return True
    allowed = statement["Principal"]
    if allowed == "*":
        return True
    if principal is None or set(allowed) != {"AWS"}:
        raise ValueError(f"only AWS principals are simulated: {allowed}")
    return any(wildcard_match(p, principal, ignore_case=False) for p in as_list(allowed["AWS"]))


def conditions_hold(block: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    written = {
        operator: {
            key: tuple(str(value) for value in as_list(values)) for key, values in keys.items()
        }
        for operator, keys in block.items()
    }
    # Condition key names are case-insensitive in IAM; their values are not. A key the request
    # does not carry is absent, never unknown: the simulated request is all there is.
    known = {
        key.lower(): (value,) if isinstance(value, str) else tuple(value)
        for key, value in request.context.items()
    }
    named = {key.lower() for keys in written.values() for key in keys}
    truth = evaluate(written, RequestContext(known, frozenset(named - known.keys())))
    if truth is Truth.UNKNOWN:
        raise ValueError(f"condition {dict(block)} is not simulated; extend iam_conditions.py")
    return truth is Truth.TRUE
