"""Types every kind of the dynamobackup.io/v1alpha1 API shares: the group, IAM value patterns,
CEL helpers, conditions, and the base models with their one-line validation errors.

Patterns are written for both regex engines that evaluate them: pydantic's (Rust `regex`) and
the API server's (Go RE2).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel

GROUP = "dynamobackup.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
# Tag keys with these prefixes are not the user's: the operator marks the roles it owns with
# `dynamobackup.io/...` tags, and AWS rejects user tags starting with `aws:`.
OWNERSHIP_TAG_PREFIX = f"{GROUP}/"
RESERVED_TAG_PREFIXES = (OWNERSHIP_TAG_PREFIX, "aws:")
# IAM allows 50 tags per role (tagListType); the operator's 3 ownership tags take 3 of them. It
# keeps no other tag on the role: which user tags it manages is recorded in status.managedTags.
MAX_TAGS = 47

# `\w` and `\d` are avoided because they are Unicode-aware in Rust but
# ASCII-only in Go; explicit ASCII classes mean the same in both.
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
PARTITION_ALTERNATIVES = "aws|aws-cn|aws-us-gov"
IAM_NAME_CHARS = r"[A-Za-z0-9_+=,.@-]"
ROLE_NAME_PATTERN = rf"^{IAM_NAME_CHARS}{{1,64}}$"
# IAM paths are `/` or `/segments/` made of printable ASCII (U+0021-U+007E), at most 512 chars.
ROLE_PATH_PATTERN = r"^/([\x21-\x7E]*/)?$"
ROLE_ARN_PATTERN = (
    rf"^arn:({PARTITION_ALTERNATIVES}):iam::[0-9]{{12}}:role/"
    rf"([\x21-\x7E]*/)?{IAM_NAME_CHARS}{{1,64}}$"
)
POLICY_ARN_PATTERN = (
    rf"^arn:({PARTITION_ALTERNATIVES}):iam::([0-9]{{12}}|aws):policy/"
    rf"([\x21-\x7E]*/)?{IAM_NAME_CHARS}{{1,128}}$"
)
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9_+=,.@:/-]+$"
# IAM tag keys and values: letters, separators and numbers in any script, plus `_.:/=+-@`.
TAG_KEY_PATTERN = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$"
TAG_VALUE_PATTERN = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"
# `service:Action`; the action may use IAM's wildcards `*` and `?`, the service prefix may not.
IAM_ACTION_PATTERN = r"^[a-z0-9-]+:[A-Za-z0-9*?]+$"
PROFILE_VERSION_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
# The subset of Go's time.ParseDuration syntax accepted here: unsigned, one or more
# number+unit pairs, e.g. `30s`, `10m`, `1h30m`, `1.5h`.
# Numbers are limited to 5 digits and the value to 16 characters, so no value can overflow Go's
# time.Duration when the API server evaluates duration() (it would answer with a type-conversion
# error that names no field).
GO_DURATION_PATTERN = r"^([0-9]{1,5}(\.[0-9]{1,9})?(ns|us|ms|s|m|h))+$"
GO_DURATION_MAX_LENGTH = 16
# IAM's roleDescriptionType: tab, LF, CR, printable ASCII and Latin-1, at most 1,000 characters.
ROLE_DESCRIPTION_PATTERN = r"^[\t\n\r\x20-\x7E\xA1-\xFF]*$"
ROLE_DESCRIPTION_MAX_LENGTH = 1000
# metav1.Condition's reason: CamelCase, machine readable.
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

_SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")


class ApiError(ValueError):
    """An object, or part of one, does not satisfy the DynamoBackupRole API."""


def parse_go_duration(text: str) -> timedelta:
    """Parses a duration in the Go syntax the API accepts (`30s`, `10m`, `1h30m`)."""
    if not re.fullmatch(GO_DURATION_PATTERN, text):
        raise ApiError(f"{text!r} is not a duration like 30s, 10m or 1h30m")
    parts = _DURATION_PART.findall(text)
    return timedelta(seconds=sum(float(number) * _SECONDS_PER_UNIT[unit] for number, unit in parts))


def cel(rule: str, message: str, **extra: str) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule the API server evaluates."""
    return {"rule": rule, "message": message, **extra}


def cel_string(text: str) -> str:
    """A CEL string literal of `text` (CEL, like Python, interprets backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def properties_first(
    names: tuple[str, ...], extra: Mapping[str, Any]
) -> Callable[[dict[str, Any]], None]:
    """A `json_schema_extra` that adds `extra` and lists the properties `names` first."""

    def apply(schema: dict[str, Any]) -> None:
        schema.update(copy.deepcopy(dict(extra)))
        properties = schema.get("properties", {})
        schema["properties"] = {
            **{name: properties[name] for name in names if name in properties},
            **properties,
        }
        if "required" in schema:
            required = schema["required"]
            schema["required"] = [n for n in names if n in required] + [
                n for n in required if n not in names
            ]

    return apply


def immutable(field: str, why: str = "") -> dict[str, Any]:
    # A transition rule: `oldSelf` exists on updates only, so creation is unaffected.
    return validations(cel("self == oldSelf", f"{field} is immutable{why}"))


class Partition(StrEnum):
    """The AWS partition of the account."""

    AWS = "aws"
    AWS_CN = "aws-cn"
    AWS_US_GOV = "aws-us-gov"


class ConditionStatus(StrEnum):
    """The status of a condition, as in every Kubernetes API."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """The condition types the operator reports."""

    READY = "Ready"
    COMPLIANT = "Compliant"
    PERMISSIONS_COMPLIANT = "PermissionsCompliant"
    TRUST_COMPLIANT = "TrustCompliant"
    # kstatus's abnormal-true conditions, so Flux and kstatus-based tools judge health correctly.
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
RoleArn = Annotated[str, StringConstraints(pattern=ROLE_ARN_PATTERN, max_length=2048)]
PolicyArn = Annotated[str, StringConstraints(pattern=POLICY_ARN_PATTERN, max_length=2048)]
ExternalId = Annotated[
    str, StringConstraints(pattern=EXTERNAL_ID_PATTERN, min_length=2, max_length=1224)
]
RoleName = Annotated[str, StringConstraints(pattern=ROLE_NAME_PATTERN)]
RolePath = Annotated[str, StringConstraints(pattern=ROLE_PATH_PATTERN, max_length=512)]
TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN, min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(pattern=TAG_VALUE_PATTERN, max_length=256)]
IamAction = Annotated[str, StringConstraints(pattern=IAM_ACTION_PATTERN, max_length=128)]
ProfileVersion = Annotated[str, StringConstraints(pattern=PROFILE_VERSION_PATTERN, max_length=16)]
GoDuration = Annotated[
    str, StringConstraints(pattern=GO_DURATION_PATTERN, max_length=GO_DURATION_MAX_LENGTH)
]
RoleDescription = Annotated[
    str,
    StringConstraints(pattern=ROLE_DESCRIPTION_PATTERN, max_length=ROLE_DESCRIPTION_MAX_LENGTH),
]
ConditionReason = Annotated[
    str, StringConstraints(pattern=CONDITION_REASON_PATTERN, min_length=1, max_length=1024)
]

# Tag keys cannot carry their constraints in the OpenAPI schema (a structural schema has no
# `propertyNames`), so they are checked by a CEL rule on the server and by this adapter here.
TAG_KEY_ADAPTER = TypeAdapter(TagKey)


def reject_duplicates(values: Any) -> Any:
    """A set list (`x-kubernetes-list-type: set`) with a repeated item is rejected by the API
    server; without this check a frozenset field would silently drop the repetition."""
    if isinstance(values, list | tuple):
        seen: list[Any] = []
        for value in values:
            if value in seen:
                raise ValueError(f"duplicate value {value!r}")
            seen.append(value)
    return values


# A Secret's name (a DNS subdomain) and a key of its data.
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
SecretName = Annotated[str, StringConstraints(pattern=SECRET_NAME_PATTERN, max_length=253)]
SecretKey = Annotated[str, StringConstraints(pattern=SECRET_KEY_PATTERN, max_length=253)]


class SpecModel(BaseModel):
    """Desired state: immutable values, validated as strictly as the API server does."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    @classmethod
    def parse(cls, obj_spec: Mapping[str, Any]) -> Self:
        """Validates the `spec` of an object; raises ApiError with a one-line message."""
        return validate_model(cls, obj_spec, "spec")

    def to_dict(self) -> dict[str, Any]:
        """The spec as the API server stores it: camelCase, defaults filled in, unset optional
        fields and empty collections (which have no schema default) left out."""
        return without_empty_collections(dump(self))


class SecretKeyRef(SpecModel):
    """A key of a Secret whose value the operator reads; the Secret's namespace is implied by
    the field that holds the reference, never chosen by it."""

    name: SecretName = Field(description="The name of the Secret.")
    key: SecretKey = Field(description="The key in the Secret's data that holds the value.")


class StatusModel(BaseModel):
    """Observed state written by the operator: lenient, since older operators wrote it too."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(StatusModel):
    """A Kubernetes-convention condition (like metav1.Condition)."""

    type: str = Field(
        min_length=1,
        max_length=316,
        description=(
            "The condition type: Ready, Compliant, PermissionsCompliant, TrustCompliant, "
            "Reconciling, Stalled."
        ),
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: ConditionReason | None = Field(
        default=None, description="A CamelCase, machine-readable reason for the status."
    )
    message: str | None = Field(
        default=None, max_length=32768, description="A human-readable explanation."
    )
    last_transition_time: datetime | None = Field(
        default=None, description="When the status last changed."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation the condition was computed for."
    )

    @classmethod
    def make(
        cls,
        type: str,
        status: ConditionStatus | bool,
        reason: str,
        message: str,
        *,
        observed_generation: int | None = None,
        now: datetime | None = None,
    ) -> Condition:
        """A new condition; a bool status is True/False. The time is kept to whole seconds, the
        precision the API server stores for metav1.Time."""
        if isinstance(status, bool):
            status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        return cls(
            type=type,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=moment,
            observed_generation=observed_generation,
        )


def set_condition(conditions: Sequence[Condition], new: Condition) -> list[Condition]:
    """`conditions` with `new` replacing the condition of its type (or appended).

    As in Kubernetes' meta.SetStatusCondition, lastTransitionTime only moves when the status
    changes, so a steady condition keeps the time it became what it is.
    """
    result: list[Condition] = []
    replaced = False
    for old in conditions:
        if old.type != new.type:
            result.append(old)
            continue
        replaced = True
        if old.status == new.status and old.last_transition_time is not None:
            new = new.model_copy(update={"last_transition_time": old.last_transition_time})
        result.append(new)
    if not replaced:
        result.append(new)
    return result


def find_condition(conditions: Sequence[Condition], type: str) -> Condition | None:
    """The condition of that type, if there is one."""
    return next((condition for condition in conditions if condition.type == type), None)


_M = TypeVar("_M", bound=BaseModel)


def dump(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def without_empty_collections(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: without_empty_collections(value) if isinstance(value, dict) and value else value
        for key, value in data.items()
        if value not in ([], {})
    }


def validate_model(model: type[_M], data: Mapping[str, Any], root: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(_one_line(error, root)) from None


def _one_line(error: ValidationError, root: str) -> str:
    """All problems of a ValidationError on one line: `spec.a.b: what is wrong (got 'x')`."""
    problems = []
    for detail in error.errors(include_url=False):
        path = ".".join([root, *map(str, detail["loc"])] if root else map(str, detail["loc"]))
        message = detail["msg"].removeprefix("Value error, ")
        given = detail.get("input")
        if isinstance(given, str | int | float | bool) and detail["type"] != "value_error":
            message += f" (got {given!r})"
        problems.append(f"{path}: {message}" if path else message)
    return "; ".join(problems)


# Printer columns' JSONPath (relative to the object) to the Ready condition, for every kind.
READY_CONDITION_PATH = '.status.conditions[?(@.type=="Ready")]'
# `kubectl get dynamobackup` lists the operator's kinds at once.
CATEGORIES = ("dynamobackup",)


@dataclass(frozen=True)
class KindInfo:
    """What the CRD generator needs to know about one kind besides its spec and status models."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: str  # Namespaced or Cluster
    description: str
    spec: type[SpecModel]
    status: type[StatusModel] | None  # None: the kind has no status (nor status subresource)
    printer_columns: tuple[dict[str, Any], ...]
    example_spec: Mapping[str, Any]
    categories: tuple[str, ...] = ()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"
