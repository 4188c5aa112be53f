"""What a DynamoBackupRoleSet should own, what must change to get there, and its status.

Pure: the handler passes the account bindings and the children it knows of (kopf's in-memory
indices) and applies the plan. A plan holds only the children that differ, so a set of 300
accounts at rest writes nothing; its status is patched only when it changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dynamobackup.api.v1alpha1 import (
    ApiError,
    Condition,
    ConditionStatus,
    ConditionType,
    DynamoBackupRoleSetSpec,
    DynamoBackupRoleSetStatus,
    DynamoBackupRoleSpec,
    Partition,
    set_condition,
)
from dynamobackup.api.v1alpha1.organization import ACCOUNT_STATUS_LABEL, AccountState
from dynamobackup.api.v1alpha1.roleset import MAX_LISTED_ACCOUNTS, AccountVerdict
from dynamobackup.reconcile.tenancy import Binding

MAX_NAME_LENGTH = 253
# A Ready reason that is a verdict on the role, not a failure to reach a verdict.
VERDICT_REASONS = frozenset({"NotCompliant", "DriftDetected", "Reconciled", "Audited"})


@dataclass(frozen=True)
class Child:
    """A child DynamoBackupRole as the handler's index keeps it."""

    name: str
    account_id: str
    spec: Mapping[str, Any]
    generation: int | None = None
    observed_generation: int | None = None
    ready: str | None = None  # the Ready condition's status: True, False, Unknown
    reason: str | None = None
    message: str | None = None
    compliant: bool | None = None
    deleting: bool = False


@dataclass(frozen=True)
class Selection:
    """The selected accounts (ID -> partition) and the listed ones that get no child."""

    accounts: Mapping[str, str]
    skipped: tuple[AccountVerdict, ...] = ()


@dataclass(frozen=True)
class ChildWrite:
    name: str
    account_id: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class ChildPlan:
    create: tuple[ChildWrite, ...] = ()
    update: tuple[ChildWrite, ...] = ()
    delete: tuple[str, ...] = ()
    # Accounts whose child spec cannot be built (the template and the account disagree).
    invalid: Mapping[str, str] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


def child_name(set_name: str, account_id: str) -> str:
    """`<set>-<account>`, stable for the life of the set; shortened with a hash if too long."""
    name = f"{set_name}-{account_id}"
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(set_name.encode()).hexdigest()[:8]
    keep = MAX_NAME_LENGTH - len(account_id) - len(digest) - 2
    return f"{set_name[:keep].rstrip('-.')}-{digest}-{account_id}"


def _active(binding: Binding) -> bool:
    state = binding.labels.get(ACCOUNT_STATUS_LABEL)
    return state is None or state == AccountState.ACTIVE.value


def _usable(binding: Binding, namespace: str, labels: Mapping[str, str]) -> bool:
    return binding.spec is not None and binding.spec.namespaces.admits(namespace, labels)


def _partition(binding: Binding) -> str:
    return str(binding.spec.account.partition) if binding.spec else Partition.AWS.value


def select_accounts(
    spec: DynamoBackupRoleSetSpec,
    namespace: str,
    namespace_labels: Mapping[str, str],
    bindings: Iterable[Binding],
) -> Selection:
    """Explicit IDs plus the accounts of the matching bindings the namespace may use.

    A binding marked not active by discovery is never selected; a listed account whose
    bindings are all marked is skipped and reported. A listed account that no binding governs
    still gets a child: its status will say whether the operator may act there.
    """
    selector = spec.account_selector
    by_account: dict[str, list[Binding]] = {}
    for binding in bindings:
        by_account.setdefault(binding.account_id, []).append(binding)
    chosen: dict[str, str] = {}
    if selector.label_selector is not None:
        for account, group in by_account.items():
            matching = [
                b
                for b in group
                if _active(b)
                and _usable(b, namespace, namespace_labels)
                and selector.label_selector.matches(b.labels)
            ]
            if matching:
                chosen[account] = _partition(min(matching, key=lambda b: b.name))
    skipped: list[AccountVerdict] = []
    for account in sorted(selector.account_ids):
        group = by_account.get(account, [])
        active = [b for b in group if _active(b)]
        if group and not active:
            states = sorted({b.labels[ACCOUNT_STATUS_LABEL] for b in group})
            skipped.append(
                AccountVerdict(
                    account_id=account,
                    reason="AccountNotActive",
                    message=f"every binding of the account is marked {', '.join(states)}",
                )
            )
            continue
        chosen.setdefault(
            account, _partition(min(active, key=lambda b: b.name)) if active else "aws"
        )
    return Selection(dict(sorted(chosen.items())), tuple(skipped))


def child_spec(spec: DynamoBackupRoleSetSpec, account_id: str, partition: str) -> dict[str, Any]:
    """The child's spec as the API server stores it; raises ApiError when it is not valid."""
    body = {**spec.template.to_dict(), "account": {"id": account_id, "partition": partition}}
    return DynamoBackupRoleSpec.parse(body).to_dict()


class _DesiredSpecs:
    """Child specs by account, validated once per partition: the account ID changes nothing
    else in a child's spec, and a set of 300 accounts is recomputed every few seconds."""

    def __init__(self, spec: DynamoBackupRoleSetSpec) -> None:
        self.spec = spec
        self._by_partition: dict[str, dict[str, Any] | ApiError] = {}

    def __call__(self, account_id: str, partition: str) -> dict[str, Any]:
        if partition not in self._by_partition:
            try:
                self._by_partition[partition] = child_spec(self.spec, "000000000000", partition)
            except ApiError as error:
                self._by_partition[partition] = error
        shape = self._by_partition[partition]
        if isinstance(shape, ApiError):
            raise shape
        return {**shape, "account": {**shape["account"], "id": account_id}}


def _same(stored: Mapping[str, Any], desired: dict[str, Any]) -> bool:
    # What the operator wrote comes back as written; only a spec written by someone else needs
    # parsing to compare by meaning (defaults, order).
    return stored == desired or _normalized(stored) == desired


def _normalized(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return DynamoBackupRoleSpec.parse(spec).to_dict()
    except ApiError:
        return None


def plan_children(
    set_name: str,
    spec: DynamoBackupRoleSetSpec,
    selection: Selection,
    children: Iterable[Child],
) -> ChildPlan:
    """Create the missing children, update those whose spec differs, delete the deselected."""
    existing = {child.account_id: child for child in children}
    desired_spec = _DesiredSpecs(spec)
    create: list[ChildWrite] = []
    update: list[ChildWrite] = []
    invalid: dict[str, str] = {}
    for account, partition in selection.accounts.items():
        try:
            desired = desired_spec(account, partition)
        except ApiError as error:
            invalid[account] = str(error)
            continue
        child = existing.get(account)
        if child is None:
            create.append(ChildWrite(child_name(set_name, account), account, desired))
        elif not child.deleting and not _same(child.spec, desired):
            update.append(ChildWrite(child.name, account, desired))
    delete = tuple(
        sorted(
            child.name
            for account, child in existing.items()
            if account not in selection.accounts and not child.deleting
        )
    )
    return ChildPlan(tuple(create), tuple(update), delete, invalid)


# The API server's answer to a child's write -> the reason reported for that account.
_WRITE_REASONS: dict[int | None, str] = {
    409: "ChildNameTaken",  # a DynamoBackupRole of that name exists and is not this set's
    422: "ChildInvalid",  # the API server refused the child's spec
    403: "ChildForbidden",  # the operator may not write DynamoBackupRoles in the namespace
}


def child_write_reason(status: int | None) -> str:
    """Why a child could not be written, from the HTTP status of the API server's answer
    (None: no answer, the API server was unreachable)."""
    return _WRITE_REASONS.get(status, "ChildNotWritten")


@dataclass(frozen=True)
class Tally:
    """The children's verdicts, counted and listed."""

    selected: int
    ready: int = 0
    compliant: int = 0
    non_compliant: list[AccountVerdict] = field(default_factory=list)
    failing: list[AccountVerdict] = field(default_factory=list)
    pending: int = 0
    converging: int = 0  # children whose status is for an older spec, or not written yet


def tally(
    selection: Selection,
    children: Iterable[Child],
    failures: Mapping[str, tuple[str, str]],
) -> Tally:
    """Counts per selected account; `failures` (account -> reason, message) are the children
    that could not be built or written by this reconcile."""
    by_account = {child.account_id: child for child in children}
    non_compliant: list[AccountVerdict] = []
    failing: list[AccountVerdict] = []
    ready = compliant = pending = converging = 0
    for account in selection.accounts:
        child = by_account.get(account)
        name = child.name if child else None
        if account in failures:
            reason, message = failures[account]
            failing.append(
                AccountVerdict(account_id=account, role=name, reason=reason, message=message)
            )
            continue
        if child is None or child.ready is None:
            pending += 1
            converging += 1
            continue
        converging += child.observed_generation != child.generation
        verdict = AccountVerdict(
            account_id=account, role=name, reason=child.reason, message=child.message
        )
        ready += child.ready == ConditionStatus.TRUE.value
        compliant += child.compliant is True
        if child.ready != ConditionStatus.TRUE.value and child.reason not in VERDICT_REASONS:
            failing.append(verdict)
        elif child.compliant is False:
            non_compliant.append(verdict)
        elif child.compliant is None:
            pending += 1
    return Tally(
        len(selection.accounts), ready, compliant, non_compliant, failing, pending, converging
    )


def set_status(
    previous: DynamoBackupRoleSetStatus,
    counts: Tally,
    selection: Selection,
    generation: int | None,
    now: datetime,
) -> DynamoBackupRoleSetStatus:
    """The set's status; lastUpdateTime and the conditions' times move only on change."""
    conditions: Sequence[Condition] = list(previous.conditions or [])
    for condition in _conditions(counts, generation, now):
        conditions = set_condition(conditions, condition)
    status = DynamoBackupRoleSetStatus(
        observed_generation=generation,
        selected=counts.selected,
        ready=counts.ready,
        compliant=counts.compliant,
        non_compliant=len(counts.non_compliant),
        failing=len(counts.failing),
        pending=counts.pending,
        non_compliant_accounts=counts.non_compliant[:MAX_LISTED_ACCOUNTS],
        failing_accounts=counts.failing[:MAX_LISTED_ACCOUNTS],
        skipped_accounts=list(selection.skipped[:MAX_LISTED_ACCOUNTS]),
        conditions=list(conditions),
        last_update_time=previous.last_update_time,
    )
    if previous.last_update_time is None or _essence(status) != _essence(previous):
        status.last_update_time = now.replace(microsecond=0)
    return status


def _essence(status: DynamoBackupRoleSetStatus) -> dict[str, Any]:
    """The status without its times: what a change of the set's state is judged by."""
    return status.model_dump(
        exclude={"last_update_time": True, "conditions": {"__all__": {"last_transition_time"}}}
    )


def status_changed(old: DynamoBackupRoleSetStatus, new: DynamoBackupRoleSetStatus) -> bool:
    return _essence(old) != _essence(new)


def _conditions(counts: Tally, generation: int | None, now: datetime) -> list[Condition]:
    def make(
        kind: ConditionType, state: ConditionStatus | bool, reason: str, text: str
    ) -> Condition:
        return Condition.make(
            kind.value, state, reason, text, observed_generation=generation, now=now
        )

    selected, failing = counts.selected, len(counts.failing)
    not_compliant = len(counts.non_compliant)
    if selected == 0:
        ready = make(
            ConditionType.READY,
            True,
            "NoAccountsSelected",
            "no account matches the selector among the bindings this namespace may use",
        )
    elif counts.ready == selected:
        ready = make(ConditionType.READY, True, "AllReady", f"all {selected} roles are ready")
    elif failing:
        ready = make(
            ConditionType.READY,
            False,
            "RolesFailing",
            f"{failing} of {selected} roles failing, first: {_first(counts.failing)}",
        )
    elif not_compliant:
        ready = make(
            ConditionType.READY,
            False,
            "RolesNotCompliant",
            f"{not_compliant} of {selected} roles not compliant, first: "
            f"{_first(counts.non_compliant)}",
        )
    else:
        ready = make(
            ConditionType.READY,
            False,
            "RolesPending",
            f"{selected - counts.ready} of {selected} roles not checked yet",
        )
    if counts.compliant == selected:
        compliant = make(
            ConditionType.COMPLIANT, True, "AllCompliant", f"all {selected} roles are compliant"
        )
    elif not_compliant:
        compliant = make(
            ConditionType.COMPLIANT,
            False,
            "RolesNotCompliant",
            f"{not_compliant} of {selected} roles not compliant",
        )
    else:
        compliant = make(
            ConditionType.COMPLIANT,
            ConditionStatus.UNKNOWN,
            "RolesNotChecked",
            f"{selected - counts.compliant} of {selected} roles have no verdict",
        )
    reconciling = (
        make(
            ConditionType.RECONCILING,
            True,
            "RolesConverging",
            f"{counts.converging} roles not reconciled with the current template yet",
        )
        if counts.converging
        else make(ConditionType.RECONCILING, False, "ReconcileFinished", "every role is current")
    )
    stalled = (
        make(ConditionType.STALLED, True, "RolesFailing", f"{failing} roles failing")
        if failing
        else make(ConditionType.STALLED, False, "NotStalled", "no role is failing")
    )
    return [ready, compliant, reconciling, stalled]


def _first(verdicts: Sequence[AccountVerdict]) -> str:
    first = verdicts[0]
    return f"{first.account_id} ({first.reason}: {first.message})"
