"""One reconcile or deletion of a DynamoBackupRole: observe, judge, plan, apply, observe again.

This is the only place that sequences I/O; every decision is taken by the pure reconcile layer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from dynamobackup import redaction
from dynamobackup.api.v1alpha1 import DeletionPolicy, DynamoBackupRoleSpec, Mode
from dynamobackup.api.v1alpha1.lifecycle import NOT_OURS_REASONS
from dynamobackup.aws.account import AccountSnapshot, NotInSnapshot, observe_account
from dynamobackup.aws.apply import ForeignPolicyError, PlanApplier
from dynamobackup.aws.calls import counting
from dynamobackup.aws.errors import boundary_not_found, describe_failure, error_code
from dynamobackup.aws.observe import (
    BoundaryNotFoundError,
    PolicyDocumentCache,
    observe_managed_policy,
    observe_role,
)
from dynamobackup.aws.session import AccountAccessError, SessionProvider
from dynamobackup.metrics import Metrics
from dynamobackup.policy.catalog import ActionCatalog, default_catalog
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import DesiredRole, SpecError, desired_role
from dynamobackup.reconcile.observed import ObservedManagedPolicy, ObservedRole
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.ownership import Owner, Ownership
from dynamobackup.reconcile.plan import (
    Change,
    blocker,
    deletion_blocker,
    plan_changes,
    plan_deletion,
)
from dynamobackup.reconcile.predict import Written, role_after
from dynamobackup.reconcile.tenancy import AccountAccess, Grant, legacy_grant

logger = logging.getLogger(__name__)


class _Stop(Exception):
    """Ends a reconcile early with a Failure (the outcome still carries what was learned)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class _Run:
    """What one reconcile learned so far; turned into an Outcome however it ends."""

    desired: DesiredRole | None = None
    role: ObservedRole | None = None
    # True once `role` holds what IAM answered (None then means: no such role). A role that could
    # not be read is unknown, never judged as absent: an outage is not drift.
    observed: bool = False
    applied: list[Change] = field(default_factory=list)

    def observe(
        self, iam: Any, cache: PolicyDocumentCache, snapshot: AccountSnapshot | None = None
    ) -> None:
        assert self.desired is not None
        self.observed = False
        try:
            if snapshot is None:
                raise NotInSnapshot(self.desired.name)
            self.role = snapshot.role(self.desired.name, cache)
        except NotInSnapshot:
            self.role = observe_role(iam, self.desired.name, cache)
        boundary = self.role.boundary if self.role else None
        wanted = self.desired.settings.permissions_boundary_arn
        if boundary is not None and not boundary.exists and boundary.arn == wanted:
            raise BoundaryNotFoundError(boundary.arn)
        self.observed = True


class RoleManager:
    def __init__(
        self,
        sessions: SessionProvider,
        cache: PolicyDocumentCache | None = None,
        catalog: ActionCatalog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self.sessions = sessions
        # The changes made count where the sessions count their calls, unless told otherwise.
        self.metrics = metrics or sessions.metrics
        self._account_reads = threading.Lock()
        self.cache = cache or PolicyDocumentCache()
        self.catalog = catalog or default_catalog()
        self.clock = clock

    def converge(
        self,
        spec: DynamoBackupRoleSpec,
        owner: Owner,
        grant: Grant | None = None,
        snapshot: AccountSnapshot | None = None,
        managed_tags: Iterable[str] = (),
    ) -> Outcome:
        """Bring the role to the spec (Enforce) or only report how it differs (Audit).

        Named "converge", not "reconcile": the pure `reconcile` layer decides; this reads the
        role, has it judged and planned there, and applies the plan (Enforce) or only reports.

        `grant` (from the account bindings and Secrets) says how to reach the account, the
        trust policy's external ID and the guardrails; None: as the spec alone says. With
        `snapshot` (the account read at once for many roles) the role is taken from it
        instead of being read on its own. `managed_tags` are the user tag keys an earlier
        Enforce set (status.managedTags): the only tags removed when the spec drops them.
        """
        run, started = _Run(), self.clock()
        grant = grant or legacy_grant(spec)
        redaction.remember(grant.access.external_id, grant.trust_external_id)
        with counting() as log:
            failure = self._guard(
                lambda: self._converge(
                    run, spec, owner, grant, snapshot, managed_tags=managed_tags
                ),
                spec,
                "reconciling the role",
            )
        return self._outcome(run, started, failure, log.calls, judge=True)

    def observe_account(
        self, spec: DynamoBackupRoleSpec, grant: Grant | None = None
    ) -> AccountSnapshot | None:
        """Every role of the account in a few calls; None when that read fails.

        A failed account read is not a verdict: each role is then read on its own, and its own
        reconcile reports why that fails too.
        """
        access = (grant or legacy_grant(spec)).access
        try:
            # One account read at a time: a page of GetAccountAuthorizationDetails for a hundred
            # roles is megabytes of XML, and parsing several at once set the peak RSS (517 MiB at
            # 1,000 roles), while one at a time still reads ten accounts in seconds.
            with self._account_reads:
                return observe_account(self.sessions.iam_for(access))
        except Exception as error:
            logger.warning("reading account %s failed: %s", access.id, type(error).__name__)
            return None

    def delete(
        self, spec: DynamoBackupRoleSpec, owner: Owner, grant: Grant | None = None
    ) -> Outcome:
        """Honour deletionPolicy; only a role this resource owns is ever deleted."""
        run, started = _Run(), self.clock()
        grant = grant or legacy_grant(spec)
        redaction.remember(grant.access.external_id, grant.trust_external_id)
        with counting() as log:
            failure = self._guard(
                lambda: self._delete(run, spec, owner, grant), spec, "deleting the role"
            )
        return self._outcome(run, started, failure, log.calls, judge=False)

    def _converge(
        self,
        run: _Run,
        spec: DynamoBackupRoleSpec,
        owner: Owner,
        grant: Grant,
        snapshot: AccountSnapshot | None = None,
        *,
        managed_tags: Iterable[str] = (),
    ) -> Failure | None:
        run.desired = self._desired(spec, owner, grant, managed_tags)
        iam = self._iam(grant.access)
        run.observe(iam, self.cache, snapshot)
        if spec.mode is Mode.AUDIT:
            return self._audit(run)
        self._enforce(run, iam)
        return None

    def _delete(
        self, run: _Run, spec: DynamoBackupRoleSpec, owner: Owner, grant: Grant
    ) -> Failure | None:
        if spec.deletion_policy is DeletionPolicy.RETAIN or spec.mode is Mode.AUDIT:
            return None
        run.desired = self._desired(spec, owner, grant)
        iam = self._iam(grant.access)
        role = observe_role(iam, run.desired.name, self.cache)
        if role is None:
            return None
        if owner.ownership_of(role.tags) is Ownership.OURS:
            # Only worth a call for a role we may delete: IAM refuses to delete one in use.
            role = self._with_instance_profiles(iam, role)
        blocked = deletion_blocker(run.desired, role)
        if blocked is not None:
            return Failure(blocked.reason, blocked.message)
        detached = self._detached_own_policies(iam, run.desired, role)
        self._apply(run, iam, plan_deletion(run.desired, role, detached).changes)
        return None

    def _guard(
        self, steps: Callable[[], Failure | None], spec: DynamoBackupRoleSpec, doing: str
    ) -> Failure | None:
        """Runs the steps; whatever they raise becomes the Failure, never an exception.

        This is the error boundary of AWS I/O: an exception that escaped it would reach kopf,
        which logs its text and stores it in an annotation (botocore's may hold a raw response).
        """
        boundary = spec.permissions_boundary_arn
        try:
            return steps()
        except _Stop as stop:
            return stop.failure
        except BoundaryNotFoundError as error:
            return boundary_not_found(error.arn, spec.account.id)
        except ClientError as error:
            if boundary and _boundary_refused(error):
                return boundary_not_found(boundary, spec.account.id)
            return describe_failure(error, spec.account.id, doing)
        except Exception as error:
            # The class only: the text of a parser or transport error may hold a response body.
            logger.warning("%s failed: %s", doing, type(error).__name__)
            return describe_failure(error, spec.account.id, doing)

    # -- steps ---------------------------------------------------------------------------------

    def _desired(
        self,
        spec: DynamoBackupRoleSpec,
        owner: Owner,
        grant: Grant,
        managed_tags: Iterable[str] = (),
    ) -> DesiredRole:
        try:
            return desired_role(spec, owner, self.catalog, grant, managed_tags)
        except SpecError as error:
            raise _Stop(Failure(error.reason, str(error))) from None

    def _iam(self, access: AccountAccess) -> Any:
        try:
            return self.sessions.iam_for(access)
        except AccountAccessError as error:
            raise _Stop(error.failure) from None

    def _audit(self, run: _Run) -> Failure | None:
        assert run.desired is not None
        if run.role is None:
            return Failure(
                "RoleNotFound",
                f"Audit mode: role {run.desired.name} does not exist in account {run.desired.account_id}",
            )
        blocked = blocker(run.desired, run.role)
        if blocked is not None and blocked.reason == "RoleOwnedByAnotherResource":
            # Another resource's verdict is not ours to report, even read-only.
            return Failure(blocked.reason, blocked.message)
        return None

    def _enforce(self, run: _Run, iam: Any) -> None:
        desired = run.desired
        assert desired is not None
        blocked = blocker(desired, run.role)
        if blocked is not None:
            raise _Stop(Failure(blocked.reason, blocked.message))
        changes = plan_changes(desired, run.role).changes
        if changes:
            written = self._apply(run, iam, changes)
            # What IAM holds now follows from what it accepted; read back only what does not.
            after = role_after(run.role, written)
            if after is None:
                run.observe(iam, self.cache)
            else:
                run.role = after

    def _apply(self, run: _Run, iam: Any, changes: tuple[Change, ...]) -> list[Written]:
        assert run.desired is not None
        applier = PlanApplier(iam, run.desired.owner, self.cache)
        written = []
        for change in changes:
            try:
                written.append(applier.apply(change))
            except ForeignPolicyError as error:
                raise _Stop(Failure("PolicyNameTaken", str(error))) from None
            run.applied.append(change)
            self.metrics.aws_changes.labels(change.operation).inc()
            logger.info("%s", change.summary)
        return written

    def _detached_own_policies(
        self, iam: Any, desired: DesiredRole, role: ObservedRole
    ) -> tuple[ObservedManagedPolicy, ...]:
        attached = {policy.arn for policy in role.attached_policies}
        found = []
        for arn in desired.possible_managed_policy_arns():
            if arn in attached:
                continue
            try:
                found.append(observe_managed_policy(iam, arn, self.cache))
            except ClientError as error:
                if error_code(error) != "NoSuchEntity":
                    raise
        return tuple(found)

    def _with_instance_profiles(self, iam: Any, role: ObservedRole) -> ObservedRole:
        response = iam.list_instance_profiles_for_role(RoleName=role.name)
        names = tuple(profile["InstanceProfileName"] for profile in response["InstanceProfiles"])
        return replace(role, instance_profiles=names)

    def _outcome(
        self, run: _Run, started: datetime, failure: Failure | None, calls: int, *, judge: bool
    ) -> Outcome:
        report = None
        if judge and run.desired is not None and run.observed and _judgeable(failure):
            report = assess(run.desired, run.role, self.catalog)
        return Outcome(
            checked_at=started,
            desired=run.desired,
            role=run.role,
            report=report,
            applied=tuple(run.applied),
            failure=failure,
            aws_calls=calls,
        )


def _judgeable(failure: Failure | None) -> bool:
    """Someone else's role (or another path's) is not ours to judge: no verdict at all."""
    return failure is None or failure.reason not in NOT_OURS_REASONS


def _boundary_refused(error: ClientError) -> bool:
    """IAM names no entity but the boundary in these calls' NoSuchEntity."""
    creating = error.operation_name in ("CreateRole", "PutRolePermissionsBoundary")
    return creating and error_code(error) == "NoSuchEntity"
