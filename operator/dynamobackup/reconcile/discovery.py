"""Which DynamoBackupAccount bindings a DynamoBackupOrganization should have, given the accounts
AWS Organizations lists: created for new member accounts, updated when an account moves, is
retagged or the template changes, and marked (never deleted) when an account leaves the
organisation, is suspended or is excluded.

Pure: the aws layer reads the organisation into an OrganizationSnapshot, the handler lists the
bindings and applies the writes. Only bindings that differ are written. When a discovery is due
and which conditions its status reports are decided here too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dynamobackup.api.v1alpha1 import (
    ApiError,
    Condition,
    ConditionType,
    DynamoBackupAccountSpec,
    DynamoBackupOrganizationSpec,
    MarkedAccount,
    set_condition,
)
from dynamobackup.api.v1alpha1.organization import (
    ACCOUNT_ID_LABEL,
    ACCOUNT_NAME_ANNOTATION,
    ACCOUNT_STATUS_LABEL,
    ORGANIZATION_LABEL,
    OU_LABEL_PREFIX,
    OU_PATH_ANNOTATION,
    OU_PATH_LABEL,
    PARENT_OU_LABEL,
    RESERVED_LABEL_PREFIXES,
    SOURCE_ANNOTATION,
    SOURCE_LABEL,
    STATUS_CHANGED_ANNOTATION,
    TAG_LABEL_PREFIX,
    TAGS_ANNOTATION,
    AccountState,
)
from dynamobackup.reconcile.outcome import Failure

MAX_LABEL = 63
MAX_LISTED = 100
_NOT_LABEL_CHARS = re.compile(r"[^-A-Za-z0-9_.]+")
# AWS Organizations' account status -> the label value.
_STATES = {
    "ACTIVE": AccountState.ACTIVE,
    "SUSPENDED": AccountState.SUSPENDED,
    "PENDING_CLOSURE": AccountState.PENDING_CLOSURE,
}


@dataclass(frozen=True)
class OrgUnit:
    """A root or an organisational unit."""

    id: str
    name: str


@dataclass(frozen=True)
class MemberAccount:
    id: str
    name: str
    status: str  # ACTIVE, SUSPENDED or PENDING_CLOSURE, as AWS says
    path: tuple[OrgUnit, ...]  # the root first, the account's parent last
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrganizationSnapshot:
    id: str
    accounts: tuple[MemberAccount, ...]


@dataclass(frozen=True)
class ExistingBinding:
    """A DynamoBackupAccount as listed: enough to tell what a write would change."""

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class BindingWrite:
    name: str
    account_id: str
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]
    create: bool


@dataclass(frozen=True)
class DiscoveryPlan:
    writes: tuple[BindingWrite, ...]
    in_scope: int  # member accounts in scope, after exclusions
    active: int
    marked: tuple[MarkedAccount, ...]
    invalid: Mapping[str, str] = field(default_factory=dict)  # account -> why no binding


def label_value(text: str) -> str:
    """`text` as a label value: other characters become `-`, at most 63, alphanumeric ends."""
    value = _NOT_LABEL_CHARS.sub("-", text)[:MAX_LABEL]
    return value.strip("-_.")


def source_label(name: str) -> str:
    """The source label's value: the object's name, or a shortened unique form of it."""
    if len(name) <= MAX_LABEL:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{label_value(name[: MAX_LABEL - 9])}-{digest}"


def binding_name(source: str, account_id: str) -> str:
    name = f"{source}-{account_id}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return f"{source[: 253 - 22].rstrip('-.')}-{digest}-{account_id}"


def _in_scope(spec: DynamoBackupOrganizationSpec, account: MemberAccount) -> bool:
    wanted = spec.organizational_units
    return not wanted or any(unit.id in wanted for unit in account.path)


def _discovered_labels(
    source: str, organization: str, account: MemberAccount, state: AccountState, tag_keys: Any
) -> dict[str, str]:
    labels = {
        SOURCE_LABEL: source_label(source),
        ORGANIZATION_LABEL: organization,
        ACCOUNT_ID_LABEL: account.id,
        ACCOUNT_STATUS_LABEL: state.value,
    }
    if account.path:
        labels[PARENT_OU_LABEL] = account.path[-1].id
        labels[OU_PATH_LABEL] = label_value(".".join(unit.name for unit in account.path))
    for unit in account.path:
        if len(unit.id) <= MAX_LABEL:  # IDs longer than a label name are not selectable
            labels[OU_LABEL_PREFIX + unit.id] = label_value(unit.name)
    for key, value in sorted(account.tags.items()):
        name = label_value(key)
        if name and (not tag_keys or key in tag_keys):
            labels[TAG_LABEL_PREFIX + name] = label_value(value)
    return labels


def _annotations(source: str, account: MemberAccount) -> dict[str, str]:
    return {
        SOURCE_ANNOTATION: source,
        ACCOUNT_NAME_ANNOTATION: account.name,
        OU_PATH_ANNOTATION: "/" + "/".join(unit.name for unit in account.path),
        TAGS_ANNOTATION: json.dumps(dict(sorted(account.tags.items())), separators=(",", ":")),
    }


def binding_spec(spec: DynamoBackupOrganizationSpec, account_id: str) -> dict[str, Any]:
    """The binding's spec from the template; raises ApiError when it is not a valid binding."""
    template = spec.binding_template
    partition = str(spec.management_account.partition)
    account: dict[str, Any] = {
        "id": account_id,
        "partition": partition,
        "assumeRoleArn": (
            f"arn:{partition}:iam::{account_id}:role{template.access_role_path}"
            f"{template.access_role_name}"
        ),
    }
    if template.external_id_secret_ref is not None:
        ref = template.external_id_secret_ref
        account["externalIdSecretRef"] = {"name": ref.name, "key": ref.key or account_id}
    body = {
        "account": account,
        "namespaces": template.namespaces.to_dict(),
        "operations": sorted(template.operations),
        "appliances": template.appliances.to_dict(),
        "guardrails": template.guardrails.to_dict(),
    }
    return DynamoBackupAccountSpec.parse(body).to_dict()


def _normalized(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return DynamoBackupAccountSpec.parse(spec).to_dict()
    except ApiError:
        return None


def _merged_labels(
    existing: Mapping[str, str], discovered: Mapping[str, str], template: Mapping[str, str]
) -> dict[str, str]:
    # Labels under discovery's prefixes are entirely discovery's; a person's own labels stay.
    kept = {k: v for k, v in existing.items() if not k.startswith(RESERVED_LABEL_PREFIXES)}
    return {**kept, **template, **discovered}


def _with_state_time(
    annotations: dict[str, str],
    existing: ExistingBinding | None,
    state: str,
    now: datetime,
) -> dict[str, str]:
    unchanged = existing is not None and existing.labels.get(ACCOUNT_STATUS_LABEL) == state
    previous = existing.annotations.get(STATUS_CHANGED_ANNOTATION) if existing else None
    moment = previous if unchanged and previous else now.replace(microsecond=0).isoformat()
    return {**annotations, STATUS_CHANGED_ANNOTATION: moment}


def _differs(existing: ExistingBinding, write: BindingWrite) -> bool:
    ours = {k: v for k, v in existing.annotations.items() if k in write.annotations}
    return (
        dict(existing.labels) != write.labels
        or ours != write.annotations
        or _normalized(existing.spec) != write.spec
    )


def _account_of(binding: ExistingBinding) -> str:
    # The account a binding governs is its spec's, as tenancy reads it; the label is discovery's
    # copy for selectors, which a person may remove or edit.
    account = (binding.spec.get("account") or {}).get("id")
    return account if isinstance(account, str) else binding.labels.get(ACCOUNT_ID_LABEL, "")


def plan_bindings(
    source: str,
    spec: DynamoBackupOrganizationSpec,
    snapshot: OrganizationSnapshot,
    existing: Sequence[ExistingBinding],
    now: datetime,
) -> DiscoveryPlan:
    """The bindings to create or change so that every account in scope has its binding and
    every binding of an account gone from scope is marked."""
    by_account = {_account_of(b): b for b in existing}
    template_labels = dict(spec.binding_template.labels)
    tag_keys = spec.account_tags.keys
    writes: list[BindingWrite] = []
    marked: list[MarkedAccount] = []
    invalid: dict[str, str] = {}
    members = {account.id: account for account in snapshot.accounts}
    in_scope = active = 0
    for account in snapshot.accounts:
        current = by_account.get(account.id)
        excluded = account.id in spec.excluded_account_ids or not _in_scope(spec, account)
        if excluded:
            if current is not None:
                _mark(writes, marked, current, account.id, AccountState.EXCLUDED, now)
            continue
        in_scope += 1
        state = _STATES.get(account.status, AccountState.SUSPENDED)
        try:
            desired_spec = binding_spec(spec, account.id)
        except ApiError as error:
            invalid[account.id] = str(error)
            continue
        labels = _discovered_labels(source, snapshot.id, account, state, tag_keys)
        write = BindingWrite(
            name=current.name if current else binding_name(source, account.id),
            account_id=account.id,
            labels=_merged_labels(current.labels if current else {}, labels, template_labels),
            annotations=_with_state_time(_annotations(source, account), current, state.value, now),
            spec=desired_spec,
            create=current is None,
        )
        if current is None or _differs(current, write):
            writes.append(write)
        if state is AccountState.ACTIVE:
            active += 1
        else:
            marked.append(
                _marked(account.id, state.value, write.name, f"AWS says {account.status}")
            )
    for account_id, binding in sorted(by_account.items()):
        if account_id not in members:
            _mark(writes, marked, binding, account_id, AccountState.LEFT, now)
    return DiscoveryPlan(tuple(writes), in_scope, active, tuple(marked), invalid)


def _marked(account: str, state: str, binding: str, message: str) -> MarkedAccount:
    return MarkedAccount(account_id=account, state=state, binding=binding, message=message)


def _mark(  # noqa: PLR0917
    writes: list[BindingWrite],
    marked: list[MarkedAccount],
    binding: ExistingBinding,
    account_id: str,
    state: AccountState,
    now: datetime,
) -> None:
    """Only the status label (and its time) change: the binding keeps what it said."""
    why = {
        AccountState.LEFT: "no longer a member of the organisation",
        AccountState.EXCLUDED: "excluded by the DynamoBackupOrganization",
    }[state]
    marked.append(_marked(account_id, state.value, binding.name, why))
    if binding.labels.get(ACCOUNT_STATUS_LABEL) == state.value:
        return
    writes.append(
        BindingWrite(
            name=binding.name,
            account_id=account_id,
            labels={**binding.labels, ACCOUNT_STATUS_LABEL: state.value},
            # Merged into the binding's own annotations: only the time of the status changes.
            annotations={STATUS_CHANGED_ANNOTATION: now.replace(microsecond=0).isoformat()},
            spec=dict(binding.spec),
            create=False,
        )
    )


def listed(marked: Sequence[MarkedAccount]) -> list[MarkedAccount]:
    return list(marked[:MAX_LISTED])


# A finished discovery: when (None: never), and the metadata.generation it saw.
LastDiscovery = tuple[datetime | None, int | None]


def discovery_due(
    now: datetime,
    *,
    generation: int | None,
    period: timedelta,
    recorded: LastDiscovery,
    remembered: LastDiscovery | None,
    failed_at: datetime | None,
    retry_delay: timedelta,
) -> bool:
    """Whether the timer should discover an organisation now.

    `recorded` is what the status says, `remembered` the operator's own record of its last
    success, `failed_at` when the last discovery failed (None once one succeeded).
    """
    # The body a timer sees may predate our last status patch; our memory never does.
    last, seen = remembered if remembered is not None else recorded
    if failed_at is not None:
        # After a failure, retry at the operator's retry delay, not at every tick (a change of
        # the spec is discovered at once by the update handler).
        return now - failed_at >= min(period, retry_delay)
    if seen != generation:
        return True
    return last is None or now - last >= period


def discovery_conditions(
    previous: Sequence[Condition],
    ready: tuple[bool, str, str],
    failure: Failure | None,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """`previous` with Ready (`ready`: status, reason, message), Reconciling (a retryable
    failure) and Stalled (a final one) set for a discovery that ended with `failure`, or
    succeeded when it is None."""

    def make(kind: ConditionType, state: bool, reason: str, message: str) -> Condition:
        return Condition.make(
            kind.value, state, reason, message, observed_generation=generation, now=now
        )

    retrying = failure if failure is not None and failure.retryable else None
    stalled = failure if failure is not None and not failure.retryable else None
    conditions = list(previous)
    for condition in (
        make(ConditionType.READY, *ready),
        make(
            ConditionType.RECONCILING,
            retrying is not None,
            retrying.reason if retrying else "DiscoveryFinished",
            retrying.message if retrying else "the last discovery finished",
        ),
        make(
            ConditionType.STALLED,
            stalled is not None,
            stalled.reason if stalled else "NotStalled",
            stalled.message if stalled else "nothing blocks discovery",
        ),
    ):
        conditions = set_condition(conditions, condition)
    return conditions
