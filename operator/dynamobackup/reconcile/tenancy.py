"""Which account a DynamoBackupRole may reach, how, and what it may add: decided from the
account bindings (DynamoBackupAccount) before anything is read or written in AWS.

Precedence: a binding governs its account as soon as it exists, whether or not bindings are
required. A role in a governed account must be admitted by one of its bindings and must not name
its own `account.assumeRoleArn` (the binding says how the operator gets in). A role in an
account no binding governs is refused when bindings are required, and otherwise reaches the
account the way its own spec says (the behaviour before bindings existed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dynamobackup.api.v1alpha1 import DynamoBackupAccountSpec, DynamoBackupRoleSpec
from dynamobackup.policy.guardrails import Guardrails
from dynamobackup.policy.trust import Appliance


@dataclass(frozen=True)
class Binding:
    """A DynamoBackupAccount as the operator knows it; `spec` None when it cannot be parsed (a
    broken binding still governs its account: roles there are refused, never let through)."""

    name: str
    account_id: str
    spec: DynamoBackupAccountSpec | None
    error: str | None = None
    # The binding's metadata.labels: what DynamoBackupRoleSets select bindings by.
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """Why a role may not be reconciled; `reason` is the Ready condition's reason."""

    reason: str
    message: str


@dataclass(frozen=True)
class SecretRef:
    """Where the operator reads a value: a key of a Secret in a namespace it was told about."""

    namespace: str
    name: str
    key: str

    def __str__(self) -> str:
        return f"Secret {self.namespace}/{self.name} key {self.key}"


@dataclass(frozen=True)
class Route:
    """How the operator reaches the account; the external ID is named, not yet read."""

    id: str
    partition: str
    assume_role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    external_id_secret: SecretRef | None = None


@dataclass(frozen=True)
class Admission:
    """A role admitted: by which binding (None: no binding governs), how to reach its account,
    where its trust policy's external ID lives, and what it may add."""

    binding: str | None
    route: Route
    trust_external_id_secret: SecretRef | None
    guardrails: Guardrails


@dataclass(frozen=True)
class AccountAccess:
    """How to reach an account, the external ID read: what the aws layer's sessions are keyed by."""

    id: str
    partition: str
    assume_role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Grant:
    """Everything a reconcile may use once admitted and once the Secrets are read."""

    access: AccountAccess
    trust_external_id: str | None = field(default=None, repr=False)
    guardrails: Guardrails = field(default_factory=Guardrails)


@dataclass(frozen=True)
class TenancySettings:
    bindings_required: bool = False
    operator_namespace: str | None = None  # where bindings' Secrets live
    forbidden_actions: tuple[str, ...] = ()  # on top of the dangerous ones, everywhere


def binding_permits(
    binding: DynamoBackupAccountSpec,
    namespace: str,
    labels: Mapping[str, str],
    operations: Iterable[str],
    appliance: Appliance,
) -> Refusal | None:
    """May namespace `namespace` use the bound account for `operations` and `appliance`?"""
    account = binding.account.id
    if not binding.namespaces.admits(namespace, labels):
        return Refusal(
            "AccountNotAllowed", f"namespace {namespace} is not bound to account {account}"
        )
    refused = sorted(set(operations) - {str(op) for op in binding.operations})
    if refused:
        return Refusal(
            "OperationNotAllowed",
            f"account {account} does not allow the operations {', '.join(refused)}",
        )
    if not _appliance_allowed(binding, appliance):
        return Refusal(
            "ApplianceNotAllowed", f"account {account} does not allow the appliance {appliance}"
        )
    return None


def _appliance_allowed(binding: DynamoBackupAccountSpec, appliance: Appliance) -> bool:
    allowed = binding.appliances
    if appliance.account_id in allowed.account_ids:
        return True
    return appliance.role_arn is not None and appliance.role_arn in allowed.role_arns


def admit(
    spec: DynamoBackupRoleSpec,
    namespace: str,
    labels: Mapping[str, str],
    bindings: Sequence[Binding],
    settings: TenancySettings,
) -> Admission | Refusal:
    """The bindings of the role's account (any order) decide; see the module's precedence."""
    governing = sorted(
        (b for b in bindings if b.account_id == spec.account.id), key=lambda b: b.name
    )
    trust_secret = _trust_secret(spec, namespace)
    if not governing:
        if settings.bindings_required:
            return Refusal(
                "AccountNotAllowed",
                f"no DynamoBackupAccount binds account {spec.account.id}, and the operator "
                "requires one",
            )
        return Admission(None, _own_route(spec, namespace), trust_secret, _guardrails(settings))
    if spec.account.assume_role_arn is not None:
        names = ", ".join(b.name for b in governing)
        return Refusal(
            "AssumeRoleArnNotAllowed",
            f"account {spec.account.id} is governed by DynamoBackupAccount {names}, which says "
            "how the operator reaches it: remove spec.account.assumeRoleArn and its external ID",
        )
    refusals: list[Refusal] = []
    for binding in governing:
        verdict = _judge_binding(binding, spec, namespace, labels)
        if verdict is None:
            assert binding.spec is not None
            return _admitted(binding.name, binding.spec, settings, trust_secret)
        refusals.append(verdict)
    # The most telling refusal: a binding that admits the namespace explains more than one that
    # does not; an invalid binding is reported over both, since an administrator must fix it.
    order = ("BindingInvalid", "OperationNotAllowed", "ApplianceNotAllowed", "AccountNotAllowed")
    return min(refusals, key=lambda r: order.index(r.reason))


def _judge_binding(
    binding: Binding, spec: DynamoBackupRoleSpec, namespace: str, labels: Mapping[str, str]
) -> Refusal | None:
    if binding.spec is None:
        return Refusal("BindingInvalid", f"DynamoBackupAccount {binding.name}: {binding.error}")
    if binding.spec.account.partition != spec.account.partition:
        return Refusal(
            "AccountNotAllowed",
            f"DynamoBackupAccount {binding.name} binds account {spec.account.id} in partition "
            f"{binding.spec.account.partition}, not {spec.account.partition}",
        )
    operations = [str(op) for op in spec.scope.operations]
    return binding_permits(binding.spec, namespace, labels, operations, appliance_of(spec))


def _admitted(
    name: str,
    binding: DynamoBackupAccountSpec,
    settings: TenancySettings,
    trust_secret: SecretRef | None,
) -> Admission | Refusal:
    account = binding.account
    secret = None
    if account.external_id_secret_ref is not None:
        if settings.operator_namespace is None:
            return Refusal(
                "SecretNotReadable",
                f"DynamoBackupAccount {name} names an external ID Secret, but the operator was "
                "not told its own namespace (--operator-namespace)",
            )
        ref = account.external_id_secret_ref
        secret = SecretRef(settings.operator_namespace, ref.name, ref.key)
    route = Route(account.id, str(account.partition), account.assume_role_arn, None, secret)
    guardrails = Guardrails(
        forbidden=(*settings.forbidden_actions, *sorted(binding.guardrails.forbidden_actions)),
        allowed=tuple(sorted(binding.guardrails.allowed_actions)),
    )
    return Admission(name, route, trust_secret, guardrails)


def _own_route(spec: DynamoBackupRoleSpec, namespace: str) -> Route:
    account = spec.account
    secret = None
    if account.external_id_secret_ref is not None:
        ref = account.external_id_secret_ref
        secret = SecretRef(namespace, ref.name, ref.key)
    return Route(
        account.id, str(account.partition), account.assume_role_arn, account.external_id, secret
    )


def _trust_secret(spec: DynamoBackupRoleSpec, namespace: str) -> SecretRef | None:
    # The role's own namespace, always: a tenant can only point at Secrets it could read itself.
    ref = spec.trust.external_id_secret_ref
    return None if ref is None else SecretRef(namespace, ref.name, ref.key)


def _guardrails(settings: TenancySettings) -> Guardrails:
    return Guardrails(forbidden=settings.forbidden_actions)


def appliance_of(spec: DynamoBackupRoleSpec) -> Appliance:
    """The Veeam appliance the spec trusts: its role ARN, or its account in the spec's partition."""
    value = spec.trust.appliance_role_arn or spec.trust.appliance_account_id
    assert value is not None  # the schema and the model both require exactly one
    return Appliance.parse(value, partition=str(spec.account.partition))


def grant(
    admission: Admission, spec: DynamoBackupRoleSpec, values: Mapping[SecretRef, str]
) -> Grant:
    """The Grant once the Secrets the admission names are read (`values` by reference)."""
    route = admission.route
    account_id = values[route.external_id_secret] if route.external_id_secret else route.external_id
    trust_id = spec.trust.external_id
    if admission.trust_external_id_secret is not None:
        trust_id = values[admission.trust_external_id_secret]
    access = AccountAccess(route.id, route.partition, route.assume_role_arn, account_id)
    return Grant(access, trust_id, admission.guardrails)


def secrets_needed(admission: Admission) -> tuple[SecretRef, ...]:
    refs = (admission.route.external_id_secret, admission.trust_external_id_secret)
    return tuple(ref for ref in refs if ref is not None)


def legacy_grant(spec: DynamoBackupRoleSpec) -> Grant:
    """The grant of a role reconciled without bindings or Secrets (tests, and direct callers)."""
    account = spec.account
    access = AccountAccess(
        account.id, str(account.partition), account.assume_role_arn, account.external_id
    )
    return Grant(access, spec.trust.external_id)
