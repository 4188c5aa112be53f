"""The DynamoBackupRoleSet kind: one declaration of a role for many accounts.

A set holds a role template (a DynamoBackupRole spec without the account) and an account
selector: explicit account IDs and/or a label selector over the account bindings
(DynamoBackupAccount) its namespace may use. The operator keeps one child DynamoBackupRole per
selected account, named `<set>-<account id>` and owned by the set, and sums up the children's
verdicts in the set's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import ConfigDict, Field, field_serializer, model_validator

from dynamobackup.api.v1alpha1.account import LabelSelector
from dynamobackup.api.v1alpha1.common import (
    CATEGORIES,
    READY_CONDITION_PATH,
    AccountId,
    Condition,
    KindInfo,
    SpecModel,
    StatusModel,
    cel,
    reject_duplicates,
    validate_model,
    validations,
)
from dynamobackup.api.v1alpha1.role import RoleTemplate

KIND = "DynamoBackupRoleSet"
PLURAL = "dynamobackuprolesets"
SINGULAR = "dynamobackuproleset"
SHORT_NAME = "dbrs"
RESOURCE_DESCRIPTION = (
    "DynamoBackupRoleSet declares one IAM role for many AWS accounts: the operator keeps one "
    "child DynamoBackupRole per selected account (by ID, or by the labels of the "
    "DynamoBackupAccount bindings the namespace may use), creates children for accounts that "
    "appear, deletes those of accounts that leave, and propagates template changes."
)
# The label every child carries: the name of its set (also how `dbr report` groups them).
SET_LABEL = "dynamobackup.io/role-set"
ACCOUNT_LABEL = "dynamobackup.io/account-id"
# How many accounts each list of the status names at most; the counts are always complete.
MAX_LISTED_ACCOUNTS = 100


class AccountSelector(SpecModel):
    """Which accounts get a child role: the listed IDs and the accounts of matching bindings."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(has(self.accountIds) && size(self.accountIds) > 0) || has(self.labelSelector)",
                "list accountIds, give a labelSelector, or both",
            )
        )
    )

    account_ids: frozenset[AccountId] = Field(
        default_factory=frozenset,
        max_length=1000,
        description=(
            "Accounts selected by ID. An account that no binding of this namespace covers still "
            "gets a child, whose status then says why it is refused."
        ),
    )
    label_selector: LabelSelector | None = Field(
        default=None,
        description=(
            "Selects the accounts of the DynamoBackupAccount bindings whose labels match, among "
            "the bindings this namespace may use. An empty selector ({}) selects all of them. "
            "Bindings that discovery marked as not active (label "
            "dynamobackup.io/account-status other than Active) are never selected."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_duplicates(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "accountIds" in data:
            reject_duplicates(data["accountIds"])
        return data

    @model_validator(mode="after")
    def _something_selected(self) -> Self:
        if not self.account_ids and self.label_selector is None:
            raise ValueError("list accountIds, give a labelSelector, or both")
        return self

    @field_serializer("account_ids")
    def _sorted_ids(self, ids: frozenset[str]) -> list[str]:
        return sorted(ids)


class DynamoBackupRoleSetSpec(SpecModel):
    """A role template and the accounts it is stamped into."""

    template: RoleTemplate = Field(
        description=(
            "The spec of every child DynamoBackupRole, without the account (each child gets "
            "the ID and partition of its account). roleName and rolePath are immutable; other "
            "changes reach every child."
        )
    )
    account_selector: AccountSelector = Field(description="Which accounts get a child role.")


class AccountVerdict(StatusModel):
    """One account of the set that needs attention, and why."""

    account_id: str = Field(description="The AWS account ID.")
    role: str | None = Field(default=None, description="The child DynamoBackupRole's name.")
    reason: str | None = Field(default=None, description="The child's Ready reason.")
    message: str | None = Field(default=None, description="What the child's status says.")


class DynamoBackupRoleSetStatus(StatusModel):
    """The children's verdicts, summed up by the operator."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the status was computed for."
    )
    selected: int | None = Field(default=None, ge=0, description="Accounts selected.")
    ready: int | None = Field(default=None, ge=0, description="Children with Ready=True.")
    compliant: int | None = Field(default=None, ge=0, description="Children judged compliant.")
    non_compliant: int | None = Field(
        default=None, ge=0, description="Children judged not compliant."
    )
    failing: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Selected accounts whose child failed (refused, AWS errors) or could not be written."
        ),
    )
    pending: int | None = Field(
        default=None, ge=0, description="Children not checked yet (no verdict, no failure)."
    )
    non_compliant_accounts: list[AccountVerdict] | None = Field(
        default=None,
        description=f"The not compliant accounts and their reasons (at most {MAX_LISTED_ACCOUNTS}).",
    )
    failing_accounts: list[AccountVerdict] | None = Field(
        default=None,
        description=f"The failing accounts and their reasons (at most {MAX_LISTED_ACCOUNTS}).",
    )
    skipped_accounts: list[AccountVerdict] | None = Field(
        default=None,
        description=(
            "Listed accounts that get no child because all their bindings are marked not active "
            f"(suspended, left the organisation, excluded; at most {MAX_LISTED_ACCOUNTS})."
        ),
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description=(
            "Ready (every selected account has a Ready child), Compliant (every child is "
            "compliant), and kstatus's Reconciling (children still converging) and Stalled "
            "(a child or its write failed)."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    last_update_time: datetime | None = Field(
        default=None, description="When the children or these counts last changed."
    )

    @classmethod
    def parse(cls, obj_status: Mapping[str, Any] | None) -> DynamoBackupRoleSetStatus:
        return validate_model(cls, obj_status or {}, "status")


PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Role", "type": "string", "jsonPath": ".spec.template.roleName"},
    {"name": "Selected", "type": "integer", "jsonPath": ".status.selected"},
    {"name": "Ready", "type": "integer", "jsonPath": ".status.ready"},
    {"name": "Compliant", "type": "integer", "jsonPath": ".status.compliant"},
    {"name": "Non-Compliant", "type": "integer", "jsonPath": ".status.nonCompliant"},
    {"name": "Failing", "type": "integer", "jsonPath": ".status.failing"},
    {"name": "Status", "type": "string", "jsonPath": f"{READY_CONDITION_PATH}.reason"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)

ROLE_SET = KindInfo(
    kind=KIND,
    plural=PLURAL,
    singular=SINGULAR,
    short_names=(SHORT_NAME,),
    scope="Namespaced",
    description=RESOURCE_DESCRIPTION,
    spec=DynamoBackupRoleSetSpec,
    status=DynamoBackupRoleSetStatus,
    printer_columns=PRINTER_COLUMNS,
    categories=CATEGORIES,
    example_spec={
        "template": {
            "roleName": "VeeamDynamoDBBackup",
            "scope": {"operations": ["BackupPolicy", "Restore"]},
            "trust": {"applianceRoleArn": "arn:aws:iam::444455556666:role/VeeamImpersonation"},
        },
        "accountSelector": {
            "labelSelector": {
                "matchExpressions": [
                    {"key": "ou.dynamobackup.io/ou-ab12-prod0001", "operator": "Exists"}
                ]
            }
        },
    },
)
