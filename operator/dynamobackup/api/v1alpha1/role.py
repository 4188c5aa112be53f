"""The DynamoBackupRole kind of the v1alpha1 API: the single source of truth of its CRD.

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

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from dynamobackup.api.v1alpha1.common import (
    API_VERSION,
    CATEGORIES,
    GO_DURATION_PATTERN,
    MAX_TAGS,
    READY_CONDITION_PATH,
    RESERVED_TAG_PREFIXES,
    TAG_KEY_ADAPTER,
    TAG_KEY_PATTERN,
    AccountId,
    ApiError,
    Condition,
    ExternalId,
    GoDuration,
    IamAction,
    KindInfo,
    Partition,
    PolicyArn,
    ProfileVersion,
    RoleArn,
    RoleDescription,
    RoleName,
    RolePath,
    SecretKeyRef,
    SpecModel,
    StatusModel,
    TagValue,
    cel,
    cel_string,
    dump,
    immutable,
    parse_go_duration,
    properties_first,
    reject_duplicates,
    validate_model,
    validations,
)
from dynamobackup.policy.trust import Severity

KIND = "DynamoBackupRole"
LIST_KIND = f"{KIND}List"
PLURAL = "dynamobackuproles"
SINGULAR = "dynamobackuprole"
SHORT_NAME = "dbr"
RESOURCE_DESCRIPTION = (
    "DynamoBackupRole declares an IAM role that Veeam Backup for AWS uses to back up and "
    "restore DynamoDB tables; the operator creates it and keeps its permissions and trust "
    "policy correct (Enforce), or reports how it drifted (Audit)."
)

# A drift check more often than this would hammer the IAM API (which is rate limited per account);
# less often than daily would let drift go unseen for too long.
MIN_DRIFT_CHECK_INTERVAL = timedelta(seconds=10)
MAX_DRIFT_CHECK_INTERVAL = timedelta(hours=24)
DRIFT_INTERVAL_BOUNDS = "driftCheckInterval must be between 10s and 24h"
DEFAULT_DRIFT_CHECK_INTERVAL = "10m"


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


class AwsAccount(SpecModel):
    """The AWS account that holds the role, and how the operator gets into it."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.externalId) || has(self.assumeRoleArn)",
                "externalId is only valid together with assumeRoleArn",
            ),
            cel(
                "!has(self.assumeRoleArn) || "
                "self.assumeRoleArn.startsWith('arn:' + self.partition + ':iam::' + self.id + ':')",
                "assumeRoleArn must be a role in the account id and partition of the account",
            ),
            cel(
                "!has(self.externalIdSecretRef) || has(self.assumeRoleArn)",
                "externalIdSecretRef is only valid together with assumeRoleArn",
            ),
            cel(
                "!(has(self.externalId) && has(self.externalIdSecretRef))",
                "externalId and externalIdSecretRef are mutually exclusive: set only one",
            ),
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
            "Only valid together with assumeRoleArn. Prefer externalIdSecretRef: a value "
            "here is readable by anyone who can read this object."
        ),
    )
    external_id_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "A key of a Secret in this object's namespace that holds the external id the "
            "operator passes when it assumes assumeRoleArn. Only valid together with "
            "assumeRoleArn; mutually exclusive with externalId."
        ),
    )

    @model_validator(mode="after")
    def _external_id_needs_assume_role(self) -> Self:
        if self.external_id is not None and self.assume_role_arn is None:
            raise ValueError("externalId is only valid together with assumeRoleArn")
        prefix = f"arn:{self.partition}:iam::{self.id}:"
        if self.assume_role_arn is not None and not self.assume_role_arn.startswith(prefix):
            raise ValueError(
                "assumeRoleArn must be a role in the account id and partition of the account"
            )
        if self.external_id_secret_ref is not None and self.assume_role_arn is None:
            raise ValueError("externalIdSecretRef is only valid together with assumeRoleArn")
        if self.external_id is not None and self.external_id_secret_ref is not None:
            raise ValueError(
                "externalId and externalIdSecretRef are mutually exclusive: set only one"
            )
        return self


class Scope(SpecModel):
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
        return reject_duplicates(operations)

    @field_serializer("operations")
    def _sorted_operations(self, operations: frozenset[Operation]) -> list[str]:
        # Sets have no order; sorting keeps manifests and patches deterministic.
        return sorted(operations)


class Trust(SpecModel):
    """Who may assume the role: the Veeam appliance."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.applianceRoleArn) || has(self.applianceAccountId)",
                "one of applianceRoleArn or applianceAccountId is required",
            ),
            cel(
                "!(has(self.applianceRoleArn) && has(self.applianceAccountId))",
                "applianceRoleArn and applianceAccountId are mutually exclusive: set only one",
            ),
            cel(
                "!(has(self.externalId) && has(self.externalIdSecretRef))",
                "externalId and externalIdSecretRef are mutually exclusive: set only one",
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
        description=(
            "The external id the appliance must present (sts:ExternalId condition). Prefer "
            "externalIdSecretRef: a value here is readable by anyone who can read this object."
        ),
    )
    external_id_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "A key of a Secret in this object's namespace that holds the external id the "
            "appliance must present. The operator reads it at every reconcile, so rotating the "
            "Secret updates the trust policy; mutually exclusive with externalId."
        ),
    )

    @model_validator(mode="after")
    def _one_external_id(self) -> Self:
        if self.external_id is not None and self.external_id_secret_ref is not None:
            raise ValueError(
                "externalId and externalIdSecretRef are mutually exclusive: set only one"
            )
        return self

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


class Permissions(SpecModel):
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
        return reject_duplicates(actions)

    @field_serializer("additional_actions")
    def _sorted_actions(self, actions: frozenset[str]) -> list[str]:
        return sorted(actions)


def _lower_ascii(text: str) -> str:
    """CEL's lowerAscii: only A-Z change."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


BOUNDARY_PARTITION = "permissionsBoundaryArn must be in the partition of the account"


class RoleTemplate(SpecModel):
    """Everything a DynamoBackupRole spec says except its account: the shape of the role that a
    DynamoBackupRoleSet stamps into every account it selects."""

    role_name: RoleName = Field(
        description="The IAM role name. Immutable.",
        json_schema_extra=immutable("roleName"),
    )
    role_path: RolePath = Field(
        default="/",
        description="The IAM path of the role. Immutable: a different path needs a new role.",
        json_schema_extra=immutable("rolePath", ": a different path needs a new role"),
    )
    description: RoleDescription | None = Field(
        default=None,
        description=(
            "The IAM role description: at most 1000 characters, printable ASCII, Latin-1, tab, "
            "line feed and carriage return (what IAM accepts)."
        ),
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
            "ownership tags) or aws: are reserved. In Enforce, a tag whose key is removed from "
            "this map is removed from the role too, if the operator set it (status.managedTags); "
            "tags added to the role by other means are left alone. In both modes a tag the "
            "operator set and the spec no longer has is reported as drift (tags)."
        ),
        json_schema_extra=validations(
            cel(
                f"self.all(k, k.size() <= 128 && k.matches({cel_string(TAG_KEY_PATTERN)}))",
                "tag keys must be 1-128 letters, digits, spaces or _.:/=+-@",
            ),
            cel(
                "self.all(k, "
                # IAM reserves aws: in any case (AWS:, Aws:), so the check ignores case.
                + " && ".join(
                    f"!k.lowerAscii().startsWith('{prefix}')" for prefix in RESERVED_TAG_PREFIXES
                )
                + ")",
                "tag keys must not start with dynamobackup.io/ (reserved for the operator) "
                "or aws: (reserved by AWS)",
            ),
            cel(
                "self.all(k, self.filter(j, j.lowerAscii() == k.lowerAscii()).size() == 1)",
                "tag keys must differ in more than case: IAM treats them case-insensitively",
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
        description="How often the role is checked for drift, like 30s, 10m or 1h30m; 10s to 24h.",
        json_schema_extra=validations(
            # A malformed value fails the pattern; guarding keeps duration() from erroring too.
            cel(
                f"!self.matches({cel_string(GO_DURATION_PATTERN)}) || "
                f"(duration(self) >= duration('{int(MIN_DRIFT_CHECK_INTERVAL.total_seconds())}s')"
                f" && duration(self) <= duration('{int(MAX_DRIFT_CHECK_INTERVAL.total_seconds())}s'))",
                DRIFT_INTERVAL_BOUNDS,
            )
        ),
    )

    @field_validator("tags")
    @classmethod
    def _user_tag_keys_only(cls, tags: dict[str, str]) -> dict[str, str]:
        for key in tags:
            try:
                TAG_KEY_ADAPTER.validate_python(key)
            except ValidationError:
                raise ValueError(
                    f"tag key {key!r}: tag keys must be 1-128 letters, digits, spaces or _.:/=+-@"
                ) from None
            if _lower_ascii(key).startswith(RESERVED_TAG_PREFIXES):
                raise ValueError(
                    f"tag key {key!r}: keys starting with dynamobackup.io/ or aws: are reserved"
                )
        folded = [_lower_ascii(key) for key in tags]
        if len(set(folded)) != len(folded):
            raise ValueError(
                "tag keys must differ in more than case: IAM treats them case-insensitively"
            )
        return tags

    @field_validator("drift_check_interval")
    @classmethod
    def _not_too_often(cls, interval: str) -> str:
        if not MIN_DRIFT_CHECK_INTERVAL <= parse_go_duration(interval) <= MAX_DRIFT_CHECK_INTERVAL:
            raise ValueError(DRIFT_INTERVAL_BOUNDS)
        return interval

    @property
    def drift_check_period(self) -> timedelta:
        """driftCheckInterval as a timedelta."""
        return parse_go_duration(self.drift_check_interval)


class DynamoBackupRoleSpec(RoleTemplate):
    """The desired IAM role for Veeam Backup for AWS to back up and restore DynamoDB."""

    model_config = ConfigDict(
        # The account is the subclass's own field, so pydantic lists it last; readers of the
        # schema and the docs expect it first.
        json_schema_extra=properties_first(
            ("account",),
            validations(
                cel(
                    "!has(self.permissionsBoundaryArn) || "
                    "self.permissionsBoundaryArn.startsWith('arn:' + self.account.partition + ':')",
                    BOUNDARY_PARTITION,
                )
            ),
        )
    )

    account: AwsAccount = Field(description="The AWS account of the role.")

    def to_dict(self) -> dict[str, Any]:
        spec = super().to_dict()
        return {"account": spec.pop("account"), **spec}

    @model_validator(mode="after")
    def _boundary_in_partition(self) -> Self:
        arn = self.permissions_boundary_arn
        if arn is not None and not arn.startswith(f"arn:{self.account.partition}:"):
            raise ValueError(BOUNDARY_PARTITION)
        return self


class TrustFindingStatus(StatusModel):
    """Something wrong or risky in the role's trust policy."""

    code: str = Field(description="A stable, machine-readable finding code.")
    message: str = Field(description="What is wrong and how to fix it.")
    severity: Severity = Field(description="error or warning.")


class ProfileStatus(StatusModel):
    """The permission profile that was applied."""

    version: str | None = Field(default=None, description="The profile version.")
    operations: list[str] | None = Field(
        default=None, description="The operations whose actions were included."
    )
    action_count: int | None = Field(
        default=None, ge=0, description="How many actions the profile grants for them."
    )


class DynamoBackupRoleStatus(StatusModel):
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
    added_actions: list[str] | None = Field(
        default=None,
        description=(
            "What permissions.additionalActions grants beyond the permission profile: granted "
            "on purpose, so not excess, but listed here so it is never silent."
        ),
    )
    dangerous_actions: list[str] | None = Field(
        default=None,
        description=(
            "Grants beyond the spec, from any policy of the role, that are dangerous (they "
            "change permissions, mint credentials or reshape the organisation): the role is "
            "not compliant while any is present, whatever permissions.exclusive says."
        ),
    )
    missing_count: int | None = Field(
        default=None, ge=0, description="The number of missing actions."
    )
    trust_findings: list[TrustFindingStatus] | None = Field(
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
    managed_tags: list[str] | None = Field(
        default=None,
        description=(
            "The spec.tags keys the operator enforces on the role: those Enforce set, or found "
            "already set to the spec's value. Enforce removes a tag from the role once its key "
            "leaves spec.tags only if it is listed here: tags added by other means are never "
            "removed."
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
        return validate_model(cls, obj_status or {}, "status")

    def to_patch(self) -> dict[str, Any]:
        """The status as a camelCase JSON merge patch body; None fields are left out, so they
        keep their value on the server. Set a list to [] to clear it."""
        return dump(self)


class DynamoBackupRole(StatusModel):
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
        return validate_model(cls, obj, "")

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


# The kubectl columns; JSONPaths are relative to the object. Ready and its reason come first after the
# identity columns: they are what `kubectl get dbr` is run for.
PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Account", "type": "string", "jsonPath": ".spec.account.id"},
    {"name": "Role", "type": "string", "jsonPath": ".spec.roleName"},
    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
    {"name": "Ready", "type": "string", "jsonPath": f"{READY_CONDITION_PATH}.status"},
    {"name": "Reason", "type": "string", "jsonPath": f"{READY_CONDITION_PATH}.reason"},
    {"name": "Compliant", "type": "boolean", "jsonPath": ".status.compliant"},
    {"name": "Missing", "type": "integer", "jsonPath": ".status.missingCount"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


ROLE = KindInfo(
    kind=KIND,
    plural=PLURAL,
    singular=SINGULAR,
    short_names=(SHORT_NAME,),
    scope="Namespaced",
    description=RESOURCE_DESCRIPTION,
    spec=DynamoBackupRoleSpec,
    status=DynamoBackupRoleStatus,
    printer_columns=PRINTER_COLUMNS,
    categories=CATEGORIES,
    example_spec={
        "account": {"id": "111122223333"},
        "roleName": "VeeamDynamoDBBackup",
        "scope": {"operations": ["BackupPolicy", "Restore"]},
        "trust": {"applianceAccountId": "444455556666", "externalId": "veeam-appliance-1"},
    },
)
CRD_NAME = ROLE.crd_name
