"""The DynamoBackupRole API, version v1alpha1: the single source of truth of the CRD.

The pydantic models below define the custom resource. `dynamobackup.api.crdgen` turns them into
the CustomResourceDefinition (OpenAPI schema, CEL rules, printer columns) and its reference
docs, so a field, a constraint or a description is written once, here.

Every CEL rule (`x-kubernetes-validations`) that the API server enforces is mirrored by a
pydantic validator, so `DynamoBackupRoleSpec.parse` rejects what the server would reject and a
manifest can be checked offline (CLI) with the same messages.

Parsing is lenient about unknown fields (`extra="ignore"`): the API server already prunes them
from stored objects, and an operator that is older than the installed CRD must still read newer
objects during an upgrade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

GROUP = "dynamobackup.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "DynamoBackupRole"
LIST_KIND = f"{KIND}List"
PLURAL = "dynamobackuproles"
SINGULAR = "dynamobackuprole"
SHORT_NAME = "dbr"
CRD_NAME = f"{PLURAL}.{GROUP}"
RESOURCE_DESCRIPTION = (
    "DynamoBackupRole declares an IAM role that Veeam Backup for AWS uses to back up and "
    "restore DynamoDB tables; the operator creates it and keeps its permissions and trust "
    "policy correct (Enforce), or reports how it drifted (Audit)."
)

# Tag keys with these prefixes are not the user's: the operator marks the roles it owns with
# `dynamobackup.io/...` tags, and AWS rejects user tags starting with `aws:`.
OWNERSHIP_TAG_PREFIX = f"{GROUP}/"
RESERVED_TAG_PREFIXES = (OWNERSHIP_TAG_PREFIX, "aws:")
MAX_TAGS = 40  # IAM's limit of tags per role

# A drift check more often than this would hammer the IAM API (which is rate limited per account).
MIN_DRIFT_CHECK_INTERVAL = timedelta(seconds=10)
DEFAULT_DRIFT_CHECK_INTERVAL = "10m"

# Patterns are written for both regex engines that evaluate them: pydantic's (Rust `regex`) and
# the API server's (Go RE2). `\w` and `\d` are avoided because they are Unicode-aware in Rust but
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
GO_DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"
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


def _cel(rule: str, message: str, **extra: str) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule the API server evaluates."""
    return {"rule": rule, "message": message, **extra}


def _cel_string(text: str) -> str:
    """A CEL string literal of `text` (CEL, like Python, interprets backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def _immutable(field: str, why: str = "") -> dict[str, Any]:
    # A transition rule: `oldSelf` exists on updates only, so creation is unaffected.
    return _validations(_cel("self == oldSelf", f"{field} is immutable{why}"))


class Partition(StrEnum):
    """The AWS partition of the account."""

    AWS = "aws"
    AWS_CN = "aws-cn"
    AWS_US_GOV = "aws-us-gov"


class Operation(StrEnum):
    """A Veeam Backup for AWS DynamoDB operation the role must be able to perform."""

    BACKUP_POLICY = "BackupPolicy"
    MANUAL_BACKUP = "ManualBackup"
    RESTORE = "Restore"


class Mode(StrEnum):
    """Whether the operator changes the role (Enforce) or only reports drift (Audit)."""

    ENFORCE = "Enforce"
    AUDIT = "Audit"


class Delivery(StrEnum):
    """How the permissions are attached to the role."""

    INLINE = "Inline"
    MANAGED = "Managed"


class DeletionPolicy(StrEnum):
    """What happens to the IAM role when the DynamoBackupRole is deleted."""

    RETAIN = "Retain"
    DELETE = "Delete"


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


class Severity(StrEnum):
    """How serious a trust policy finding is."""

    ERROR = "error"
    WARNING = "warning"


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
GoDuration = Annotated[str, StringConstraints(pattern=GO_DURATION_PATTERN, max_length=64)]
ConditionReason = Annotated[
    str, StringConstraints(pattern=CONDITION_REASON_PATTERN, min_length=1, max_length=1024)
]

# Tag keys cannot carry their constraints in the OpenAPI schema (a structural schema has no
# `propertyNames`), so they are checked by a CEL rule on the server and by this adapter here.
_TAG_KEY = TypeAdapter(TagKey)


def _reject_duplicates(values: Any) -> Any:
    """A set list (`x-kubernetes-list-type: set`) with a repeated item is rejected by the API
    server; without this check a frozenset field would silently drop the repetition."""
    if isinstance(values, list | tuple):
        seen: list[Any] = []
        for value in values:
            if value in seen:
                raise ValueError(f"duplicate value {value!r}")
            seen.append(value)
    return values


class _SpecModel(BaseModel):
    """Desired state: immutable values, validated as strictly as the API server does."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class _StatusModel(BaseModel):
    """Observed state written by the operator: lenient, since older operators wrote it too."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class AwsAccount(_SpecModel):
    """The AWS account that holds the role, and how the operator gets into it."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "!has(self.externalId) || has(self.assumeRoleArn)",
                "externalId is only valid together with assumeRoleArn",
            )
        )
    )

    id: AccountId = Field(description="The 12-digit AWS account id that holds the IAM role.")
    partition: Partition = Field(
        default=Partition.AWS,
        description="The AWS partition of the account: aws, aws-cn or aws-us-gov.",
    )
    assume_role_arn: RoleArn | None = Field(
        default=None,
        description=(
            "An IAM role in the account that the operator assumes to manage IAM there. "
            "When absent the operator uses its own credentials."
        ),
    )
    external_id: ExternalId | None = Field(
        default=None,
        description=(
            "The external id the operator passes when it assumes assumeRoleArn. "
            "Only valid together with assumeRoleArn."
        ),
    )

    @model_validator(mode="after")
    def _external_id_needs_assume_role(self) -> Self:
        if self.external_id is not None and self.assume_role_arn is None:
            raise ValueError("externalId is only valid together with assumeRoleArn")
        return self


class Scope(_SpecModel):
    """What the role is for."""

    operations: frozenset[Operation] = Field(
        min_length=1,
        description=(
            "The Veeam operations the role must allow: BackupPolicy, ManualBackup and/or "
            "Restore. Each adds the actions the permission profile lists for it."
        ),
    )

    @field_validator("operations", mode="before")
    @classmethod
    def _no_duplicate_operations(cls, operations: Any) -> Any:
        return _reject_duplicates(operations)

    @field_serializer("operations")
    def _sorted_operations(self, operations: frozenset[Operation]) -> list[str]:
        # Sets have no order; sorting keeps manifests and patches deterministic.
        return sorted(operations)


class Trust(_SpecModel):
    """Who may assume the role: the Veeam appliance."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "has(self.applianceRoleArn) || has(self.applianceAccountId)",
                "one of applianceRoleArn or applianceAccountId is required",
            ),
            _cel(
                "!(has(self.applianceRoleArn) && has(self.applianceAccountId))",
                "applianceRoleArn and applianceAccountId are mutually exclusive: set only one",
            ),
        )
    )

    appliance_role_arn: RoleArn | None = Field(
        default=None,
        description=(
            "The IAM role of the Veeam appliance that assumes this role. "
            "Exactly one of applianceRoleArn and applianceAccountId must be set."
        ),
    )
    appliance_account_id: AccountId | None = Field(
        default=None,
        description=(
            "The 12-digit account id of the Veeam appliance; any principal of that account "
            "that its own IAM policies allow may assume this role. "
            "Exactly one of applianceRoleArn and applianceAccountId must be set."
        ),
    )
    external_id: ExternalId | None = Field(
        default=None,
        description="The external id the appliance must present (sts:ExternalId condition).",
    )

    @model_validator(mode="after")
    def _exactly_one_appliance(self) -> Self:
        has_arn = self.appliance_role_arn is not None
        has_account = self.appliance_account_id is not None
        if not (has_arn or has_account):
            raise ValueError("one of applianceRoleArn or applianceAccountId is required")
        if has_arn and has_account:
            raise ValueError(
                "applianceRoleArn and applianceAccountId are mutually exclusive: set only one"
            )
        return self


class Permissions(_SpecModel):
    """Which permissions the role gets, and how they are attached."""

    profile_version: ProfileVersion | None = Field(
        default=None,
        description=(
            "The permission profile version, like 10 or 10.1. "
            "When absent the newest profile shipped with the operator is used."
        ),
    )
    delivery: Delivery = Field(
        default=Delivery.INLINE,
        description=(
            "Inline puts the permissions in an inline policy of the role; Managed creates "
            "customer managed policies and attaches them."
        ),
    )
    additional_actions: frozenset[IamAction] = Field(
        default_factory=frozenset,
        max_length=256,
        description=(
            "Extra IAM actions (service:Action, wildcards * and ? allowed in the action) to "
            "grant on top of the profile. They are checked against the IAM action catalog at "
            "runtime."
        ),
    )
    exclusive: bool = Field(
        default=False,
        description=(
            "When true, statements and attached policies that the operator did not put on the "
            "role are removed; when false they are left alone and reported as excess."
        ),
    )

    @field_validator("additional_actions", mode="before")
    @classmethod
    def _no_duplicate_actions(cls, actions: Any) -> Any:
        return _reject_duplicates(actions)

    @field_serializer("additional_actions")
    def _sorted_actions(self, actions: frozenset[str]) -> list[str]:
        return sorted(actions)


class DynamoBackupRoleSpec(_SpecModel):
    """The desired IAM role for Veeam Backup for AWS to back up and restore DynamoDB."""

    account: AwsAccount = Field(description="The AWS account of the role.")
    role_name: RoleName = Field(
        description="The IAM role name. Immutable.",
        json_schema_extra=_immutable("roleName"),
    )
    role_path: RolePath = Field(
        default="/",
        description="The IAM path of the role. Immutable: a different path needs a new role.",
        json_schema_extra=_immutable("rolePath", ": a different path needs a new role"),
    )
    description: str | None = Field(
        default=None, max_length=1000, description="The IAM role description."
    )
    max_session_duration: int = Field(
        default=3600,
        ge=3600,
        le=43200,
        description="The maximum session duration of the role in seconds (3600-43200).",
    )
    permissions_boundary_arn: PolicyArn | None = Field(
        default=None, description="The ARN of a managed policy to set as permissions boundary."
    )
    tags: dict[str, TagValue] = Field(
        default_factory=dict,
        max_length=MAX_TAGS,
        description=(
            "Tags to put on the role. Keys starting with dynamobackup.io/ (the operator's "
            "ownership tags) or aws: are reserved."
        ),
        json_schema_extra=_validations(
            _cel(
                f"self.all(k, k.size() <= 128 && k.matches({_cel_string(TAG_KEY_PATTERN)}))",
                "tag keys must be 1-128 letters, digits, spaces or _.:/=+-@",
            ),
            _cel(
                "self.all(k, "
                + " && ".join(f"!k.startsWith('{prefix}')" for prefix in RESERVED_TAG_PREFIXES)
                + ")",
                "tag keys must not start with dynamobackup.io/ (reserved for the operator) "
                "or aws: (reserved by AWS)",
            ),
        ),
    )
    scope: Scope = Field(description="What the role is for.")
    mode: Mode = Field(
        default=Mode.ENFORCE,
        description="Enforce creates and corrects the role; Audit only reports drift.",
    )
    trust: Trust = Field(description="Who may assume the role.")
    permissions: Permissions = Field(
        default_factory=Permissions,
        description="Which permissions the role gets, and how.",
        # An explicit `{}` default makes the server materialize the nested defaults too.
        json_schema_extra={"default": {}},
    )
    adopt_existing: bool = Field(
        default=False,
        description=(
            "When true an existing role of that name that the operator does not own is taken "
            "over; when false such a role is reported and left alone."
        ),
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.RETAIN,
        description="Retain keeps the IAM role when this object is deleted; Delete removes it.",
    )
    drift_check_interval: GoDuration = Field(
        default=DEFAULT_DRIFT_CHECK_INTERVAL,
        description="How often the role is checked for drift, like 30s, 10m or 1h30m; >= 10s.",
        json_schema_extra=_validations(
            # A malformed value fails the pattern; guarding keeps duration() from erroring too.
            _cel(
                f"!self.matches({_cel_string(GO_DURATION_PATTERN)}) || "
                f"duration(self) >= duration('{int(MIN_DRIFT_CHECK_INTERVAL.total_seconds())}s')",
                "driftCheckInterval must be at least 10s",
            )
        ),
    )

    @field_validator("tags")
    @classmethod
    def _user_tag_keys_only(cls, tags: dict[str, str]) -> dict[str, str]:
        for key in tags:
            try:
                _TAG_KEY.validate_python(key)
            except ValidationError:
                raise ValueError(
                    f"tag key {key!r}: tag keys must be 1-128 letters, digits, spaces or _.:/=+-@"
                ) from None
            if key.startswith(RESERVED_TAG_PREFIXES):
                raise ValueError(
                    f"tag key {key!r}: keys starting with dynamobackup.io/ or aws: are reserved"
                )
        return tags

    @field_validator("drift_check_interval")
    @classmethod
    def _not_too_often(cls, interval: str) -> str:
        if parse_go_duration(interval) < MIN_DRIFT_CHECK_INTERVAL:
            raise ValueError("driftCheckInterval must be at least 10s")
        return interval

    @property
    def drift_check_period(self) -> timedelta:
        """driftCheckInterval as a timedelta."""
        return parse_go_duration(self.drift_check_interval)

    @classmethod
    def parse(cls, obj_spec: Mapping[str, Any]) -> DynamoBackupRoleSpec:
        """Validates the `spec` of an object; raises ApiError with a one-line message."""
        return _validate(cls, obj_spec, "spec")

    def to_dict(self) -> dict[str, Any]:
        """The spec as the API server stores it: camelCase, defaults filled in, unset optional
        fields and empty tags/additionalActions (which have no schema default) left out."""
        return _without_empty_collections(_dump(self))


class Condition(_StatusModel):
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


class TrustFinding(_StatusModel):
    """Something wrong or risky in the role's trust policy."""

    code: str = Field(description="A stable, machine-readable finding code.")
    message: str = Field(description="What is wrong and how to fix it.")
    severity: Severity = Field(description="error or warning.")


class ProfileStatus(_StatusModel):
    """The permission profile that was applied."""

    version: str | None = Field(default=None, description="The profile version.")
    operations: list[str] | None = Field(
        default=None, description="The operations whose actions were included."
    )
    action_count: int | None = Field(
        default=None, ge=0, description="How many actions the profile grants for them."
    )


class DynamoBackupRoleStatus(_StatusModel):
    """The observed state of the role, written by the operator."""

    role_arn: str | None = Field(default=None, description="The ARN of the IAM role.")
    role_id: str | None = Field(default=None, description="The unique id IAM gave the role.")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the status was computed for."
    )
    compliant: bool | None = Field(
        default=None, description="Whether the role has exactly what the spec asks for."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description="The latest observations: Ready, Compliant, PermissionsCompliant, "
        "TrustCompliant, and kstatus's Reconciling (True while a retry is pending) and Stalled "
        "(True when not Ready and retrying alone will not help).",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    missing_actions: list[str] | None = Field(
        default=None, description="Actions the profile requires that the role does not allow."
    )
    denied_actions: list[str] | None = Field(
        default=None,
        description="Required actions that an explicit Deny or the permissions boundary blocks.",
    )
    conditional_actions: list[str] | None = Field(
        default=None, description="Required actions allowed only under IAM conditions."
    )
    excess_actions: list[str] | None = Field(
        default=None, description="Actions the role allows beyond what the spec asks for."
    )
    missing_count: int | None = Field(
        default=None, ge=0, description="The number of missing actions."
    )
    trust_findings: list[TrustFinding] | None = Field(
        default=None, description="Problems found in the trust policy."
    )
    profile: ProfileStatus | None = Field(
        default=None, description="The permission profile that was applied."
    )
    managed_policy_arns: list[str] | None = Field(
        default=None, description="The managed policies the operator created for the role."
    )
    foreign_policies: list[str] | None = Field(
        default=None,
        description=(
            "Policies on the role that the operator did not put there: inline:<name> or a "
            "managed policy ARN. Non-compliant, and removed by Enforce, when "
            "permissions.exclusive is true."
        ),
    )
    drifted_settings: list[str] | None = Field(
        default=None,
        description=(
            "Role settings that differ from the spec: description, maxSessionDuration, "
            "permissionsBoundaryArn, tags."
        ),
    )
    last_checked_time: datetime | None = Field(
        default=None, description="When the role was last compared with the spec."
    )
    aws_calls: int | None = Field(
        default=None, ge=0, description="The number of AWS API calls the last reconcile made."
    )
    mode: str | None = Field(default=None, description="The spec.mode last applied.")
    last_changes: list[str] | None = Field(
        default=None,
        description="The changes the last reconcile made in AWS, one line each (empty: none).",
    )

    @classmethod
    def parse(cls, obj_status: Mapping[str, Any] | None) -> DynamoBackupRoleStatus:
        """Validates the `status` of an object (absent = empty); raises ApiError."""
        return _validate(cls, obj_status or {}, "status")

    def to_patch(self) -> dict[str, Any]:
        """The status as a camelCase JSON merge patch body; None fields are left out, so they
        keep their value on the server. Set a list to [] to clear it."""
        return _dump(self)


class DynamoBackupRole(_StatusModel):
    """A whole DynamoBackupRole object, as read from the API server or a manifest."""

    api_version: str = Field(default=API_VERSION, description="dynamobackup.io/v1alpha1")
    kind: str = Field(default=KIND, description=KIND)
    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard metadata.")
    spec: DynamoBackupRoleSpec = Field(description="The desired role.")
    status: DynamoBackupRoleStatus = Field(
        default_factory=DynamoBackupRoleStatus, description="The observed role."
    )

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> DynamoBackupRole:
        """Validates a whole object; raises ApiError with a one-line message."""
        if obj.get("apiVersion", API_VERSION) != API_VERSION or obj.get("kind", KIND) != KIND:
            raise ApiError(
                f"expected apiVersion {API_VERSION} kind {KIND}, "
                f"got {obj.get('apiVersion')} {obj.get('kind')}"
            )
        return _validate(cls, obj, "")

    def to_manifest(self) -> dict[str, Any]:
        """The object as a manifest: apiVersion, kind, metadata, spec and (if any) status."""
        manifest = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": dict(self.metadata),
            "spec": self.spec.to_dict(),
        }
        status = self.status.to_patch()
        return {**manifest, "status": status} if status else manifest


# The kubectl columns; JSONPaths are relative to the object.
PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Account", "type": "string", "jsonPath": ".spec.account.id"},
    {"name": "Role", "type": "string", "jsonPath": ".spec.roleName"},
    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
    {"name": "Compliant", "type": "boolean", "jsonPath": ".status.compliant"},
    {"name": "Missing", "type": "integer", "jsonPath": ".status.missingCount"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "priority": 1,  # only in `kubectl get -o wide`
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


_M = TypeVar("_M", bound=BaseModel)


def _dump(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _without_empty_collections(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _without_empty_collections(value) if isinstance(value, dict) and value else value
        for key, value in data.items()
        if value not in ([], {})
    }


def _validate(model: type[_M], data: Mapping[str, Any], root: str) -> _M:
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
