"""DynamoBackupOrganization handlers: read the organisation, write the bindings it implies.

The decisions are reconcile.discovery's (which bindings, when a discovery is due, the
conditions), the AWS reads aws.organizations'. This module remembers the last success and
failure of each object, lists the bindings it manages (one LIST per run), writes those that
differ and patches the status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dynamobackup.api.v1alpha1 import (
    ACCOUNT,
    API_VERSION,
    GROUP,
    ORGANIZATION,
    VERSION,
    ApiError,
    DynamoBackupOrganizationSpec,
    DynamoBackupOrganizationStatus,
    MarkedAccount,
)
from dynamobackup.api.v1alpha1.organization import SOURCE_ANNOTATION, SOURCE_LABEL
from dynamobackup.aws.organizations import read_organization
from dynamobackup.handlers.kube import REQUEST_TIMEOUT_SECONDS, api_client
from dynamobackup.handlers.runtime import Runtime
from dynamobackup.handlers.tenancy import SecretError
from dynamobackup.reconcile.discovery import (
    BindingWrite,
    DiscoveryPlan,
    ExistingBinding,
    discovery_conditions,
    discovery_due,
    listed,
    plan_bindings,
    source_label,
)
from dynamobackup.reconcile.outcome import Failure
from dynamobackup.reconcile.tenancy import AccountAccess, SecretRef

logger = logging.getLogger(__name__)


class Discovery:
    """One per operator: discovers every DynamoBackupOrganization when it is due."""

    def __init__(self, runtime: Runtime, api: client.CustomObjectsApi | None = None) -> None:
        self.runtime = runtime
        self._api = api
        # When the last discovery of an object failed (forgotten once one succeeds).
        self._failures: dict[str, datetime] = {}
        # When the last discovery of an object succeeded, and for which generation.
        self._done: dict[str, tuple[datetime, int | None]] = {}

    def api(self) -> client.CustomObjectsApi:
        if self._api is None:
            self._api = client.CustomObjectsApi(api_client())
        return self._api

    def on_tick(self, body: kopf.Body) -> None:
        if not self._due(body, datetime.now(UTC)):
            return
        lock = self.runtime.lock_for(body.meta.uid)
        if not lock.acquire(blocking=False):
            return  # an on-demand discovery of this object is running right now
        try:
            self._discover(body)
        finally:
            lock.release()

    def discover(self, body: kopf.Body) -> None:
        """On demand (created, changed, annotated): waits for a running discovery, then reads
        the organisation again, so a request made after a change always sees it."""
        with self.runtime.lock_for(body.meta.uid):
            self._discover(body)

    def _due(self, body: kopf.Body, now: datetime) -> bool:
        status = DynamoBackupOrganizationStatus.parse(body.get("status"))
        try:
            spec = DynamoBackupOrganizationSpec.parse(body.get("spec") or {})
        except ApiError:
            return False
        return discovery_due(
            now,
            generation=body.meta.get("generation"),
            period=spec.period,
            recorded=(status.last_discovery_time, status.observed_generation),
            remembered=self._done.get(body.meta.uid),
            failed_at=self._failures.get(body.meta.uid),
            retry_delay=timedelta(seconds=self.runtime.config.retry_delay_seconds),
        )

    def _discover(self, body: kopf.Body) -> None:
        name, generation = body.meta.name or "", body.meta.get("generation")
        previous = DynamoBackupOrganizationStatus.parse(body.get("status"))
        now = datetime.now(UTC)
        self._failures[body.meta.uid] = now  # until it succeeds
        try:
            spec = DynamoBackupOrganizationSpec.parse(body.get("spec") or {})
        except ApiError as error:
            self._fail(body, previous, Failure("InvalidSpec", str(error)), 0, now)
            return
        access = self._access(spec)
        if isinstance(access, Failure):
            self._fail(body, previous, access, 0, now)
            return
        snapshot, calls = read_organization(
            self.runtime.manager.sessions, access, spec.account_tags.read
        )
        if isinstance(snapshot, Failure):
            self._fail(body, previous, snapshot, calls, now)
            return
        existing = self._existing(name)
        plan = plan_bindings(
            name, spec, snapshot, [_existing_binding(o) for o in existing.values()], now
        )
        conflicts = self._apply(plan, existing)
        self._failures.pop(body.meta.uid, None)
        self._done[body.meta.uid] = (now, generation)
        logger.info(
            "organisation %s of %s: %d accounts in scope, %d active, %d marked, %d bindings "
            "written, %d AWS calls",
            snapshot.id,
            name,
            plan.in_scope,
            plan.active,
            len(plan.marked),
            len(plan.writes),
            calls,
        )
        self._succeed(body, previous, plan, conflicts, snapshot.id, calls, now, generation)

    def _access(self, spec: DynamoBackupOrganizationSpec) -> AccountAccess | Failure:
        account = spec.management_account
        external_id = None
        if account.external_id_secret_ref is not None:
            namespace = self.runtime.config.tenancy.operator_namespace
            if namespace is None:
                return Failure(
                    "SecretNotReadable",
                    "managementAccount names an external ID Secret, but the operator was not "
                    "told its own namespace (--operator-namespace)",
                )
            ref = account.external_id_secret_ref
            try:
                external_id = self.runtime.secrets.read(SecretRef(namespace, ref.name, ref.key))
            except SecretError as error:
                return error.failure
        return AccountAccess(
            account.id, str(account.partition), account.assume_role_arn, external_id
        )

    def _existing(self, name: str) -> dict[str, dict[str, Any]]:
        listed_objects: Any = self.api().list_cluster_custom_object(
            GROUP,
            VERSION,
            ACCOUNT.plural,
            label_selector=f"{SOURCE_LABEL}={source_label(name)}",
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )
        return {
            obj["metadata"]["name"]: obj
            for obj in listed_objects.get("items", [])
            if (obj["metadata"].get("annotations") or {}).get(SOURCE_ANNOTATION) in (None, name)
        }

    def _apply(
        self, plan: DiscoveryPlan, existing: Mapping[str, dict[str, Any]]
    ) -> list[MarkedAccount]:
        conflicts: list[MarkedAccount] = []
        for write in plan.writes:
            try:
                if write.create:
                    self._create(write)
                else:
                    self._replace(write, existing[write.name])
            except ApiException as error:
                state = "Conflict" if error.status == 409 else "NotWritten"
                message = (
                    f"a DynamoBackupAccount {write.name} exists that this object does not manage"
                    if write.create and error.status == 409
                    else f"the API server answered {error.status} {error.reason}"
                )
                conflicts.append(
                    MarkedAccount(
                        account_id=write.account_id,
                        state=state,
                        binding=write.name,
                        message=message,
                    )
                )
        return conflicts

    def _create(self, write: BindingWrite) -> None:
        body = {
            "apiVersion": API_VERSION,
            "kind": ACCOUNT.kind,
            "metadata": {
                "name": write.name,
                "labels": write.labels,
                "annotations": write.annotations,
            },
            "spec": write.spec,
        }
        self.api().create_cluster_custom_object(
            GROUP, VERSION, ACCOUNT.plural, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )

    def _replace(self, write: BindingWrite, current: dict[str, Any]) -> None:
        # A PUT with the listed resourceVersion: a concurrent change fails it (409) rather than
        # being overwritten; the next discovery starts from what is there then.
        metadata = dict(current["metadata"])
        metadata["labels"] = write.labels
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **write.annotations}
        body = {**current, "metadata": metadata, "spec": write.spec}
        self.api().replace_cluster_custom_object(
            GROUP,
            VERSION,
            ACCOUNT.plural,
            write.name,
            body,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def _succeed(  # noqa: PLR0917
        self,
        body: kopf.Body,
        previous: DynamoBackupOrganizationStatus,
        plan: DiscoveryPlan,
        conflicts: list[MarkedAccount],
        organization: str,
        calls: int,
        now: datetime,
        generation: int | None,
    ) -> None:
        created = sum(w.create for w in plan.writes) - sum(c.state == "Conflict" for c in conflicts)
        updated = len(plan.writes) - sum(w.create for w in plan.writes)
        invalid = [
            MarkedAccount(account_id=a, state="InvalidBinding", message=m)
            for a, m in sorted(plan.invalid.items())
        ]
        problems = conflicts + invalid
        if problems:
            ready = (False, "BindingsNotWritten", f"{len(problems)} bindings could not be written")
        else:
            ready = (
                True,
                "Discovered",
                f"{plan.active} active accounts bound, {len(plan.marked)} marked",
            )
        status = DynamoBackupOrganizationStatus(
            observed_generation=generation,
            organization_id=organization,
            accounts=plan.in_scope,
            active=plan.active,
            marked=len(plan.marked),
            created=created,
            updated=updated,
            marked_accounts=listed([*problems, *plan.marked]),
            last_discovery_time=now.replace(microsecond=0),
            aws_calls=calls,
            conditions=discovery_conditions(
                previous.conditions or [], ready, None, generation, now
            ),
        )
        if plan.writes:
            kopf.info(
                body,
                reason="BindingsWritten",
                message=f"{created} created, {updated} updated of {plan.in_scope} accounts",
            )
        self._write_status(body, status)

    def _fail(
        self,
        body: kopf.Body,
        previous: DynamoBackupOrganizationStatus,
        failure: Failure,
        calls: int,
        now: datetime,
    ) -> None:
        old_ready = next((c for c in previous.conditions or [] if c.type == "Ready"), None)
        if old_ready is None or old_ready.reason != failure.reason:
            kopf.warn(body, reason=failure.reason, message=failure.message)
        status = DynamoBackupOrganizationStatus(
            observed_generation=body.meta.get("generation"),
            aws_calls=calls,
            conditions=discovery_conditions(
                previous.conditions or [],
                (False, failure.reason, failure.message),
                failure,
                body.meta.get("generation"),
                now,
            ),
        )
        self._write_status(body, status)

    def _write_status(self, body: kopf.Body, status: DynamoBackupOrganizationStatus) -> None:
        patch = {"status": status.model_dump(mode="json", by_alias=True, exclude_none=True)}
        try:
            self.api().patch_cluster_custom_object_status(
                GROUP,
                VERSION,
                ORGANIZATION.plural,
                body.meta.name,
                patch,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as error:
            if error.status != 404:
                raise kopf.TemporaryError(
                    f"the status could not be written: {error.status}"
                ) from None


def _existing_binding(obj: Mapping[str, Any]) -> ExistingBinding:
    metadata = obj["metadata"]
    return ExistingBinding(
        name=metadata["name"],
        labels=dict(metadata.get("labels") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        spec=dict(obj.get("spec") or {}),
    )
