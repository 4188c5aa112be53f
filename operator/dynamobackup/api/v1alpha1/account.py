"""The DynamoBackupAccount kind: an admin-owned binding of an AWS account to namespaces.

Cluster-scoped, so only cluster administrators (or whom they grant it) create one. It says how
the operator reaches the account, which namespaces may put DynamoBackupRoles there, for which
Veeam operations and appliances, and which extra actions those roles may add. Bindings carry
labels like any object, so other objects (and tools generating bindings from AWS Organizations)
can select them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from dynamobackup.api.v1alpha1.common import (
    AccountId,
    IamAction,
    KindInfo,
    Partition,
    RoleArn,
    SecretKeyRef,
    SpecModel,
    cel,
    cel_string,
    reject_duplicates,
    validations,
)
from dynamobackup.api.v1alpha1.role import Operation

KIND = "DynamoBackupAccount"
PLURAL = "dynamobackupaccounts"
SINGULAR = "dynamobackupaccount"
SHORT_NAME = "dba"
RESOURCE_DESCRIPTION = (
    "DynamoBackupAccount binds an AWS account to the namespaces whose DynamoBackupRoles may "
    "manage IAM roles in it: how the operator reaches the account, for which Veeam operations "
    "and appliances, and which extra actions those roles may add. Owned by cluster "
    "administrators; a role whose namespace is not bound to its account is refused."
)

# Kubernetes label keys and values (prefix/name, 63-character name) and namespace names.
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
NAMESPACE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN, max_length=317)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN, max_length=63)]
NamespaceName = Annotated[str, StringConstraints(pattern=NAMESPACE_NAME_PATTERN, max_length=63)]


class SelectorOperator(StrEnum):
    """How a label selector requirement compares a label."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(SpecModel):
    """One requirement of a label selector, as in every Kubernetes API."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
                "In and NotIn need values; Exists and DoesNotExist take none",
            )
        )
    )

    key: LabelKey = Field(description="The label key.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: tuple[LabelValue, ...] | None = Field(
        default=None, max_length=64, description="The values for In and NotIn."
    )

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Self:
        listed = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if listed != bool(self.values):
            raise ValueError("In and NotIn need values; Exists and DoesNotExist take none")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator is SelectorOperator.EXISTS:
            return present
        if self.operator is SelectorOperator.DOES_NOT_EXIST:
            return not present
        listed = present and labels[self.key] in (self.values or ())
        return listed if self.operator is SelectorOperator.IN else not listed


class LabelSelector(SpecModel):
    """A Kubernetes label selector; all of its requirements must hold, and `{}` selects all."""

    match_labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Labels that must all be present with these values.",
        # Map keys cannot carry a pattern in a structural schema: a CEL rule checks them.
        json_schema_extra=validations(
            cel(
                f"self.all(k, k.size() <= 317 && k.matches({cel_string(LABEL_KEY_PATTERN)}))",
                "matchLabels keys must be label keys ([prefix/]name)",
            )
        ),
    )

    @field_validator("match_labels")
    @classmethod
    def _label_keys(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            if len(key) > 317 or not re.fullmatch(LABEL_KEY_PATTERN, key):
                raise ValueError(f"matchLabels key {key!r} is not a label key ([prefix/]name)")
        return labels

    match_expressions: tuple[LabelSelectorRequirement, ...] = Field(
        default=(), max_length=32, description="Requirements that must all hold."
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        wanted = all(labels.get(key) == value for key, value in self.match_labels.items())
        return wanted and all(r.matches(labels) for r in self.match_expressions)


class BoundAccount(SpecModel):
    """The AWS account and how the operator reaches it."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.externalIdSecretRef) || has(self.assumeRoleArn)",
                "externalIdSecretRef is only valid together with assumeRoleArn",
            ),
            cel(
                "!has(self.assumeRoleArn) || "
                "self.assumeRoleArn.startsWith('arn:' + self.partition + ':iam::' + self.id + ':')",
                "assumeRoleArn must be a role in the account id and partition of the account",
            ),
        )
    )

    id: AccountId = Field(description="The 12-digit AWS account id.")
    partition: Partition = Field(
        default=Partition.AWS, description="The AWS partition of the account."
    )
    assume_role_arn: RoleArn | None = Field(
        default=None,
        description=(
            "A role in the account that the operator assumes to manage IAM there; when absent "
            "the operator uses its own credentials, which must belong to this account. It "
            "replaces any spec.account.assumeRoleArn of the roles: a role bound here must not "
            "name one."
        ),
    )
    external_id_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "A key of a Secret in the operator's own namespace holding the external id the "
            "operator passes when it assumes assumeRoleArn. Only administrators can write "
            "there, and the operator reads nothing else in that namespace."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.external_id_secret_ref is not None and self.assume_role_arn is None:
            raise ValueError("externalIdSecretRef is only valid together with assumeRoleArn")
        prefix = f"arn:{self.partition}:iam::{self.id}:"
        if self.assume_role_arn is not None and not self.assume_role_arn.startswith(prefix):
            raise ValueError(
                "assumeRoleArn must be a role in the account id and partition of the account"
            )
        return self


class NamespaceSelection(SpecModel):
    """Which namespaces may use the binding: the listed names and the selected namespaces."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(has(self.names) && size(self.names) > 0) || has(self.selector)",
                "name namespaces, select them by label, or both",
            )
        )
    )

    names: frozenset[NamespaceName] = Field(
        default_factory=frozenset, max_length=256, description="Namespaces, by name."
    )
    selector: LabelSelector | None = Field(
        default=None,
        description=(
            "Namespaces whose labels match. An empty selector ({}) selects every namespace. "
            "Whoever may label a namespace decides whether it matches: select only by labels "
            "tenants cannot set on their own namespaces."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_duplicates(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "names" in data:
            reject_duplicates(data["names"])
        return data

    @model_validator(mode="after")
    def _something_selected(self) -> Self:
        if not self.names and self.selector is None:
            raise ValueError("name namespaces, select them by label, or both")
        return self

    @field_serializer("names")
    def _sorted_names(self, names: frozenset[str]) -> list[str]:
        return sorted(names)

    def admits(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return namespace in self.names or (
            self.selector is not None and self.selector.matches(labels)
        )


class Appliances(SpecModel):
    """The Veeam appliances roles in the account may trust."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(has(self.roleArns) && size(self.roleArns) > 0) || "
                "(has(self.accountIds) && size(self.accountIds) > 0)",
                "list at least one appliance role ARN or account id",
            )
        )
    )

    role_arns: frozenset[RoleArn] = Field(
        default_factory=frozenset,
        max_length=64,
        description="Appliance roles a DynamoBackupRole may name in trust.applianceRoleArn.",
    )
    account_ids: frozenset[AccountId] = Field(
        default_factory=frozenset,
        max_length=64,
        description=(
            "Appliance accounts: a DynamoBackupRole may trust the whole account "
            "(trust.applianceAccountId) or any role in it (trust.applianceRoleArn)."
        ),
    )

    @model_validator(mode="after")
    def _something_listed(self) -> Self:
        if not self.role_arns and not self.account_ids:
            raise ValueError("list at least one appliance role ARN or account id")
        return self

    @field_serializer("role_arns", "account_ids")
    def _sorted(self, values: frozenset[str]) -> list[str]:
        return sorted(values)


class AccountGuardrails(SpecModel):
    """What DynamoBackupRoles in the account may add through permissions.additionalActions."""

    allowed_actions: frozenset[IamAction] = Field(
        default_factory=frozenset,
        max_length=128,
        description=(
            "Action patterns that roles here may add although the operator calls them "
            "dangerous (policy/profiles/dangerous.yaml), e.g. iam:CreateServiceLinkedRole. An "
            "additional action is allowed when one of these patterns covers it entirely."
        ),
    )
    forbidden_actions: frozenset[IamAction] = Field(
        default_factory=frozenset,
        max_length=128,
        description="Action patterns that roles here may not add, on top of the dangerous ones.",
    )

    @field_serializer("allowed_actions", "forbidden_actions")
    def _sorted(self, values: frozenset[str]) -> list[str]:
        return sorted(values)


class DynamoBackupAccountSpec(SpecModel):
    """An AWS account, the namespaces bound to it, and what they may do there."""

    account: BoundAccount = Field(description="The AWS account and how the operator reaches it.")
    namespaces: NamespaceSelection = Field(
        description="The namespaces whose DynamoBackupRoles may manage roles in the account."
    )
    operations: frozenset[Operation] = Field(
        min_length=1,
        description="The Veeam operations roles in the account may serve.",
    )
    appliances: Appliances = Field(description="The Veeam appliances roles here may trust.")
    guardrails: AccountGuardrails = Field(
        default_factory=AccountGuardrails,
        description="What roles here may add through permissions.additionalActions.",
        json_schema_extra={"default": {}},
    )

    @model_validator(mode="before")
    @classmethod
    def _no_duplicate_operations(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "operations" in data:
            reject_duplicates(data["operations"])
        return data

    @field_serializer("operations")
    def _sorted_operations(self, operations: frozenset[Operation]) -> list[str]:
        return sorted(operations)


PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Account", "type": "string", "jsonPath": ".spec.account.id"},
    {"name": "Partition", "type": "string", "jsonPath": ".spec.account.partition", "priority": 1},
    {"name": "Assume-Role", "type": "string", "jsonPath": ".spec.account.assumeRoleArn"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)

ACCOUNT = KindInfo(
    kind=KIND,
    plural=PLURAL,
    singular=SINGULAR,
    short_names=(SHORT_NAME,),
    scope="Cluster",
    description=RESOURCE_DESCRIPTION,
    spec=DynamoBackupAccountSpec,
    status=None,
    printer_columns=PRINTER_COLUMNS,
    example_spec={
        "account": {
            "id": "111122223333",
            "assumeRoleArn": "arn:aws:iam::111122223333:role/dynamobackup-operator",
            "externalIdSecretRef": {"name": "dynamobackup-external-ids", "key": "111122223333"},
        },
        "namespaces": {
            "names": ["team-a"],
            "selector": {"matchLabels": {"backup.example/tier": "prod"}},
        },
        "operations": ["BackupPolicy", "Restore"],
        "appliances": {"roleArns": ["arn:aws:iam::444455556666:role/VeeamImpersonation"]},
    },
)
