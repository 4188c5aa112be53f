"""The DynamoBackupOrganization kind: account bindings discovered from AWS Organizations.

Cluster-scoped and admin-owned, like the bindings it writes. It names the account that may read
the organisation (the management account or a delegated administrator) and how the operator
reaches it, and a template for the DynamoBackupAccount binding of every member account. The
operator re-reads the organisation on an interval and on demand, and labels each binding with
where the account sits (OU path), its tags and its status, so DynamoBackupRoleSets can select
accounts by OU or tag. Accounts that leave the organisation, are suspended or are excluded later
keep their binding, marked by the status label: never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from dynamobackup.api.v1alpha1.account import (
    LABEL_KEY_PATTERN,
    AccountGuardrails,
    Appliances,
    BoundAccount,
    LabelValue,
    NamespaceSelection,
)
from dynamobackup.api.v1alpha1.common import (
    CATEGORIES,
    GO_DURATION_PATTERN,
    GROUP,
    READY_CONDITION_PATH,
    AccountId,
    Condition,
    GoDuration,
    KindInfo,
    RolePath,
    SpecModel,
    StatusModel,
    cel,
    cel_string,
    parse_go_duration,
    reject_duplicates,
    validate_model,
    validations,
)
from dynamobackup.api.v1alpha1.lifecycle import RECONCILE_REQUEST_ANNOTATION
from dynamobackup.api.v1alpha1.role import Operation

KIND = "DynamoBackupOrganization"
PLURAL = "dynamobackuporganizations"
SINGULAR = "dynamobackuporganization"
SHORT_NAME = "dbo"
RESOURCE_DESCRIPTION = (
    "DynamoBackupOrganization discovers the member accounts of an AWS Organization (from the "
    "management or a delegated-administrator account) and keeps one DynamoBackupAccount "
    "binding per account, labelled with its OU path, tags and status, so that "
    "DynamoBackupRoleSets can select accounts by OU or tag."
)

MIN_INTERVAL = timedelta(seconds=10)
MAX_INTERVAL = timedelta(hours=24)
INTERVAL_BOUNDS = "interval must be between 10s and 24h"
DEFAULT_INTERVAL = "1h"

# The labels and annotations discovery writes on the bindings it manages.
SOURCE_LABEL = f"{GROUP}/organization-source"
ORGANIZATION_LABEL = f"{GROUP}/organization"
ACCOUNT_ID_LABEL = f"{GROUP}/account-id"
ACCOUNT_STATUS_LABEL = f"{GROUP}/account-status"
PARENT_OU_LABEL = f"{GROUP}/ou"
OU_PATH_LABEL = f"{GROUP}/ou-path"
# One label per OU the account sits under (key: the OU's ID, value: its name), so that
# `{key: ou.dynamobackup.io/<ou id>, operator: Exists}` selects a whole subtree.
OU_LABEL_PREFIX = f"ou.{GROUP}/"
TAG_LABEL_PREFIX = f"tag.{GROUP}/"
SOURCE_ANNOTATION = f"{GROUP}/organization-source"
ACCOUNT_NAME_ANNOTATION = f"{GROUP}/account-name"
OU_PATH_ANNOTATION = f"{GROUP}/ou-path"
TAGS_ANNOTATION = f"{GROUP}/account-tags"
STATUS_CHANGED_ANNOTATION = f"{GROUP}/account-status-changed-at"
# The labels a person may not set through bindingTemplate.labels: discovery owns them.
RESERVED_LABEL_PREFIXES = (f"{GROUP}/", OU_LABEL_PREFIX, TAG_LABEL_PREFIX)

AccessRoleName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_+=,.@-]{1,64}$")]


class AccountState(StrEnum):
    """The value of the dynamobackup.io/account-status label of a discovered binding."""

    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    PENDING_CLOSURE = "PendingClosure"
    LEFT = "Left"  # no longer a member of the organisation
    EXCLUDED = "Excluded"  # a member, but excluded by the DynamoBackupOrganization since


class ExternalIdSource(SpecModel):
    """Where the external ID for each member account's access role is read."""

    name: Annotated[
        str,
        StringConstraints(
            pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            max_length=253,
        ),
    ] = Field(description="The name of a Secret in the operator's own namespace.")
    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)] | None = (
        Field(
            default=None,
            description="The key holding the external ID; when absent, the account's own ID.",
        )
    )


class BindingTemplate(SpecModel):
    """What every discovered DynamoBackupAccount says, besides its account."""

    access_role_name: AccessRoleName = Field(
        description=(
            "The role the operator assumes in each member account (the same name everywhere, "
            "e.g. dynamobackup-operator, deployed with a StackSet)."
        )
    )
    access_role_path: RolePath = Field(default="/", description="The IAM path of that role.")
    external_id_secret_ref: ExternalIdSource | None = Field(
        default=None,
        description="The Secret in the operator's namespace holding the access role's external ID.",
    )
    namespaces: NamespaceSelection = Field(
        description="The namespaces whose roles may use the discovered accounts."
    )
    operations: frozenset[Operation] = Field(
        min_length=1, description="The Veeam operations roles in the accounts may serve."
    )
    appliances: Appliances = Field(description="The Veeam appliances roles there may trust.")
    guardrails: AccountGuardrails = Field(
        default_factory=AccountGuardrails,
        description="What roles there may add through permissions.additionalActions.",
        json_schema_extra={"default": {}},
    )
    labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=32,
        description=(
            "Extra labels for every binding. Keys under dynamobackup.io/, ou.dynamobackup.io/ "
            "and tag.dynamobackup.io/ are discovery's own."
        ),
        json_schema_extra=validations(
            cel(
                f"self.all(k, k.size() <= 317 && k.matches({cel_string(LABEL_KEY_PATTERN)}))",
                "labels keys must be label keys ([prefix/]name)",
            ),
            cel(
                "self.all(k, "
                + " && ".join(f"!k.startsWith('{prefix}')" for prefix in RESERVED_LABEL_PREFIXES)
                + ")",
                "labels under dynamobackup.io/, ou.dynamobackup.io/ and tag.dynamobackup.io/ "
                "are written by discovery",
            ),
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_duplicate_operations(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "operations" in data:
            reject_duplicates(data["operations"])
        return data

    @field_validator("labels")
    @classmethod
    def _own_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            if len(key) > 317 or not re.fullmatch(LABEL_KEY_PATTERN, key):
                raise ValueError(f"labels key {key!r} is not a label key ([prefix/]name)")
            if key.startswith(RESERVED_LABEL_PREFIXES):
                raise ValueError(
                    "labels under dynamobackup.io/, ou.dynamobackup.io/ and "
                    "tag.dynamobackup.io/ are written by discovery"
                )
        return labels

    @field_serializer("operations")
    def _sorted_operations(self, operations: frozenset[Operation]) -> list[str]:
        return sorted(operations)


class AccountTags(SpecModel):
    """Which account tags become labels of the bindings."""

    read: bool = Field(
        default=True,
        description="Read each account's tags (one ListTagsForResource call per account).",
    )
    keys: frozenset[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=frozenset,
        max_length=64,
        description="Only these tag keys become labels; empty: every tag.",
    )

    @field_serializer("keys")
    def _sorted_keys(self, keys: frozenset[str]) -> list[str]:
        return sorted(keys)


class DynamoBackupOrganizationSpec(SpecModel):
    """An AWS Organization to discover, and the binding each of its accounts gets."""

    management_account: BoundAccount = Field(
        description=(
            "The account that reads the organisation: the management account or a "
            "delegated administrator of AWS Organizations, and how the operator reaches it."
        )
    )
    organizational_units: frozenset[
        Annotated[
            str, StringConstraints(pattern=r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})$")
        ]
    ] = Field(
        default_factory=frozenset,
        max_length=100,
        description=(
            "Only accounts under these roots or OUs (and their sub-OUs) are bound; empty: "
            "every account of the organisation."
        ),
    )
    excluded_account_ids: frozenset[AccountId] = Field(
        default_factory=frozenset,
        max_length=1000,
        description=(
            "Accounts never bound. An account excluded after it was bound keeps its binding, "
            "marked Excluded."
        ),
    )
    account_tags: AccountTags = Field(
        default_factory=AccountTags,
        description="Which account tags become labels.",
        json_schema_extra={"default": {}},
    )
    binding_template: BindingTemplate = Field(
        description="What every discovered DynamoBackupAccount binding says."
    )
    interval: GoDuration = Field(
        default=DEFAULT_INTERVAL,
        description=(
            "How often the organisation is read again, like 30m or 1h; 10s to 24h. Annotate "
            f"the object with {RECONCILE_REQUEST_ANNOTATION} to read it now."
        ),
        json_schema_extra=validations(
            cel(
                f"!self.matches({cel_string(GO_DURATION_PATTERN)}) || "
                f"(duration(self) >= duration('{int(MIN_INTERVAL.total_seconds())}s')"
                f" && duration(self) <= duration('{int(MAX_INTERVAL.total_seconds())}s'))",
                INTERVAL_BOUNDS,
            )
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_duplicates(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in ("organizationalUnits", "excludedAccountIds"):
                if key in data:
                    reject_duplicates(data[key])
        return data

    @field_validator("interval")
    @classmethod
    def _bounded(cls, interval: str) -> str:
        if not MIN_INTERVAL <= parse_go_duration(interval) <= MAX_INTERVAL:
            raise ValueError(INTERVAL_BOUNDS)
        return interval

    @field_serializer("organizational_units", "excluded_account_ids")
    def _sorted(self, values: frozenset[str]) -> list[str]:
        return sorted(values)

    @property
    def period(self) -> timedelta:
        return parse_go_duration(self.interval)


class MarkedAccount(StatusModel):
    """A bound account that is not active, or a binding discovery could not write."""

    account_id: str = Field(description="The AWS account ID.")
    state: str = Field(description="Suspended, PendingClosure, Left, Excluded or Conflict.")
    binding: str | None = Field(default=None, description="The DynamoBackupAccount's name.")
    message: str | None = Field(default=None, description="Details.")


class DynamoBackupOrganizationStatus(StatusModel):
    """What the last discovery found and wrote."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the status was computed for."
    )
    organization_id: str | None = Field(default=None, description="The organisation's ID.")
    accounts: int | None = Field(
        default=None, ge=0, description="Member accounts in scope (after exclusions)."
    )
    active: int | None = Field(default=None, ge=0, description="Bindings of active accounts.")
    marked: int | None = Field(
        default=None,
        ge=0,
        description="Bindings marked Suspended, PendingClosure, Left or Excluded.",
    )
    created: int | None = Field(default=None, ge=0, description="Bindings the last run created.")
    updated: int | None = Field(default=None, ge=0, description="Bindings the last run changed.")
    marked_accounts: list[MarkedAccount] | None = Field(
        default=None,
        description="Marked bindings and name conflicts (at most 100).",
    )
    last_discovery_time: datetime | None = Field(
        default=None, description="When the organisation was last read completely."
    )
    aws_calls: int | None = Field(
        default=None, ge=0, description="The AWS calls the last discovery made."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description="Ready (the last discovery succeeded), Reconciling and Stalled.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )

    @classmethod
    def parse(cls, obj_status: Mapping[str, Any] | None) -> DynamoBackupOrganizationStatus:
        return validate_model(cls, obj_status or {}, "status")


PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Management", "type": "string", "jsonPath": ".spec.managementAccount.id"},
    {"name": "Organization", "type": "string", "jsonPath": ".status.organizationId"},
    {"name": "Accounts", "type": "integer", "jsonPath": ".status.accounts"},
    {"name": "Active", "type": "integer", "jsonPath": ".status.active"},
    {"name": "Marked", "type": "integer", "jsonPath": ".status.marked"},
    {"name": "Ready", "type": "string", "jsonPath": f"{READY_CONDITION_PATH}.status"},
    {"name": "Reason", "type": "string", "jsonPath": f"{READY_CONDITION_PATH}.reason"},
    {"name": "Last-Discovery", "type": "date", "jsonPath": ".status.lastDiscoveryTime"},
)

ORGANIZATION = KindInfo(
    kind=KIND,
    plural=PLURAL,
    singular=SINGULAR,
    short_names=(SHORT_NAME,),
    scope="Cluster",
    description=RESOURCE_DESCRIPTION,
    spec=DynamoBackupOrganizationSpec,
    status=DynamoBackupOrganizationStatus,
    printer_columns=PRINTER_COLUMNS,
    categories=CATEGORIES,
    example_spec={
        "managementAccount": {
            "id": "111122223333",
            "assumeRoleArn": "arn:aws:iam::111122223333:role/dynamobackup-discovery",
        },
        "excludedAccountIds": ["999999999999"],
        "bindingTemplate": {
            "accessRoleName": "dynamobackup-operator",
            "externalIdSecretRef": {"name": "dynamobackup-external-ids"},
            "namespaces": {"names": ["backup"]},
            "operations": ["BackupPolicy", "Restore"],
            "appliances": {"roleArns": ["arn:aws:iam::444455556666:role/VeeamImpersonation"]},
        },
        "interval": "1h",
    },
)
