"""IAM Condition blocks decided against what is known of a request: true, false or unknown.

Follows the IAM User Guide ("IAM JSON policy elements: Condition operators" and "Multivalued
context keys"): the operators of a block and the keys of an operator are ANDed, the values of one
key are ORed (NORed for negated operators); a key absent from the request makes a positive
operator false and a negated one true, except `...IfExists` (true when absent) and `Null`.
A key whose value is not known at check time makes the block unknown, never true or false.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

from dynamobackup.policy.document import ConditionBlock
from dynamobackup.policy.matching import has_wildcard, wildcard_match


class Truth(enum.Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, value: bool) -> Truth:
        return cls.TRUE if value else cls.FALSE

    def __invert__(self) -> Truth:
        return {Truth.TRUE: Truth.FALSE, Truth.FALSE: Truth.TRUE}.get(self, Truth.UNKNOWN)


def all_of(truths: Iterable[Truth]) -> Truth:
    seen = set(truths)
    if Truth.FALSE in seen:
        return Truth.FALSE
    return Truth.UNKNOWN if Truth.UNKNOWN in seen else Truth.TRUE


def any_of(truths: Iterable[Truth]) -> Truth:
    seen = set(truths)
    if Truth.TRUE in seen:
        return Truth.TRUE
    return Truth.UNKNOWN if Truth.UNKNOWN in seen else Truth.FALSE


@dataclass(frozen=True)
class ArnSubject:
    """An ARN known only by its partition, service and account: its region and resource are
    unknown. With `any_resource_holds`, a pattern naming one resource is taken as satisfied (any
    resource of that account is acceptable)."""

    partition: str
    service: str
    account: str
    any_resource_holds: bool = False

    def compare(self, pattern: str, *, like: bool) -> Truth:
        """ArnEquals/ArnLike/StringLike (`like`: `*` and `?` are wildcards) or StringEquals of
        this ARN against a policy value."""
        fields = pattern.split(":", 5)
        if len(fields) != 6 or fields[0] != "arn":
            return Truth.FALSE
        if not like and has_wildcard(pattern):
            return Truth.FALSE  # taken literally: no ARN AWS puts in a request holds `*` or `?`
        _, partition, service, _region, account, resource = fields
        known = ((partition, self.partition), (service, self.service), (account, self.account))
        if not all(wildcard_match(p, v, ignore_case=False) for p, v in known):
            return Truth.FALSE
        if self.any_resource_holds or (like and set(resource) == {"*"}):
            return Truth.TRUE
        return Truth.UNKNOWN


ContextValue = str | ArnSubject


@dataclass(frozen=True)
class RequestContext:
    """What is known of one principal's sts:AssumeRole request.

    `values` holds keys (lower case) with known values; `absent` keys are known not to be in the
    request (a key with values is present whatever `absent` says); every other key is unknown.
    `accepted` keys are decided true whatever the policy asks (a key the caller chose to trust,
    such as aws:SourceAccount when no account is given).
    """

    values: Mapping[str, tuple[ContextValue, ...]] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    accepted: frozenset[str] = frozenset()

    def with_value(self, key: str, *values: ContextValue) -> RequestContext:
        return RequestContext({**self.values, key.lower(): values}, self.absent, self.accepted)

    def without(self, key: str) -> RequestContext:
        values = {k: v for k, v in self.values.items() if k != key.lower()}
        return RequestContext(values, self.absent | {key.lower()}, self.accepted)


def evaluate(condition: ConditionBlock | None, context: RequestContext) -> Truth:
    """The truth of a statement's whole Condition block (no block: true)."""
    return all_of(
        _operator(operator, key.lower(), values, context)
        for operator, keys in (condition or {}).items()
        for key, values in keys.items()
    )


def unknown_keys(condition: ConditionBlock | None, context: RequestContext) -> tuple[str, ...]:
    """The condition keys, as written, whose test this context cannot decide."""
    names = {
        key
        for operator, keys in (condition or {}).items()
        for key, values in keys.items()
        if _operator(operator, key.lower(), values, context) is Truth.UNKNOWN
    }
    return tuple(sorted(names))


def _operator(operator: str, key: str, policy: tuple[str, ...], context: RequestContext) -> Truth:
    if key in context.accepted:
        return Truth.TRUE
    if key not in context.values and key not in context.absent:
        return Truth.UNKNOWN
    qualifier, _, base = operator.rpartition(":")
    present = context.values.get(key)
    if base == "Null":
        # Null true: the key must be absent; Null false: present.
        wants_absent = any(value.lower() == "true" for value in policy)
        return Truth.of(not present if wants_absent else bool(present))
    test = _TESTS.get(base.removesuffix("IfExists"))
    if test is None:
        return Truth.UNKNOWN  # an operator we do not decide (numeric, date, IP): never guessed
    negated = base.removesuffix("IfExists") in _NEGATED
    if not present:
        return _absent_key(qualifier, negated, if_exists=base.endswith("IfExists"))
    per_value = [_one_value(test, negated, value, policy) for value in present]
    return all_of(per_value) if qualifier == "ForAllValues" else any_of(per_value)


def _absent_key(qualifier: str, negated: bool, *, if_exists: bool) -> Truth:
    """A key missing from the request: IfExists holds, ForAllValues holds vacuously, ForAnyValue
    fails, and otherwise a negated operator holds and a positive one fails."""
    if if_exists or qualifier == "ForAllValues":
        return Truth.TRUE
    return Truth.of(negated and qualifier != "ForAnyValue")


def _one_value(
    test: Callable[[ContextValue, str], Truth],
    negated: bool,
    value: ContextValue,
    policy: tuple[str, ...],
) -> Truth:
    # The values of one key are ORed; a negated operator is true when none of them matches.
    matched = any_of(test(value, candidate) for candidate in policy)
    return ~matched if negated else matched


def _string(value: ContextValue, candidate: str, *, case_sensitive: bool, like: bool) -> Truth:
    if isinstance(value, ArnSubject):
        return value.compare(candidate, like=like)
    if like:
        return Truth.of(wildcard_match(candidate, value, ignore_case=False))
    if case_sensitive:
        return Truth.of(candidate == value)
    return Truth.of(candidate.lower() == value.lower())


def _arn(value: ContextValue, candidate: str) -> Truth:
    # ArnEquals and ArnLike are the same test: both take `*` and `?` as wildcards.
    if isinstance(value, ArnSubject):
        return value.compare(candidate, like=True)
    return Truth.of(wildcard_match(candidate, value, ignore_case=False))


def _bool(value: ContextValue, candidate: str) -> Truth:
    if isinstance(value, ArnSubject):
        return Truth.FALSE
    return Truth.of(candidate.lower() == value.lower())


# The tests are looked up per evaluation (partial, not closures built at import), so a change to
# any of them is seen by the next evaluation.
_EQUALS = partial(_string, case_sensitive=True, like=False)
_EQUALS_IGNORE_CASE = partial(_string, case_sensitive=False, like=False)
_LIKE = partial(_string, case_sensitive=True, like=True)
_TESTS: dict[str, Callable[[ContextValue, str], Truth]] = {
    "StringEquals": _EQUALS,
    "StringNotEquals": _EQUALS,
    "StringEqualsIgnoreCase": _EQUALS_IGNORE_CASE,
    "StringNotEqualsIgnoreCase": _EQUALS_IGNORE_CASE,
    "StringLike": _LIKE,
    "StringNotLike": _LIKE,
    "ArnEquals": _arn,
    "ArnNotEquals": _arn,
    "ArnLike": _arn,
    "ArnNotLike": _arn,
    "Bool": _bool,
}
_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "ArnNotEquals",
        "ArnNotLike",
    }
)
