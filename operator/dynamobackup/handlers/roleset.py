"""DynamoBackupRoleSet handlers: keep one child DynamoBackupRole per selected account.

Every decision is reconcile.roleset's; this module reads kopf's indices (bindings, namespace
labels, the children by set) and writes the children and the set's status with the kubernetes
client. Nothing here calls AWS: the children are reconciled like any DynamoBackupRole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dynamobackup.api.v1alpha1 import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    ROLE_SET,
    VERSION,
    ApiError,
    DynamoBackupRoleSetSpec,
    DynamoBackupRoleSetStatus,
)
from dynamobackup.api.v1alpha1.roleset import ACCOUNT_LABEL, SET_LABEL
from dynamobackup.handlers.kube import (
    REQUEST_TIMEOUT_SECONDS,
    StatusNotWritten,
    StatusWriter,
    api_client,
)
from dynamobackup.handlers.tenancy import labels_from
from dynamobackup.reconcile.roleset import (
    Child,
    ChildPlan,
    ChildWrite,
    child_write_reason,
    plan_children,
    select_accounts,
    set_status,
    status_changed,
    tally,
)
from dynamobackup.reconcile.tenancy import Binding

logger = logging.getLogger(__name__)

Index = Mapping[str, Any]


def child_of(body: Mapping[str, Any]) -> dict[str, Child] | None:
    """The index entry of a DynamoBackupRole owned by a set: {set uid: child}; None otherwise."""
    metadata = body.get("metadata") or {}
    owner = next(
        (
            ref
            for ref in metadata.get("ownerReferences") or []
            if ref.get("kind") == ROLE_SET.kind and ref.get("controller")
        ),
        None,
    )
    spec = body.get("spec") or {}
    account = (spec.get("account") or {}).get("id")
    if owner is None or not isinstance(account, str):
        return None
    status = body.get("status") or {}
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    child = Child(
        name=str(metadata.get("name")),
        account_id=account,
        spec=dict(spec),
        generation=metadata.get("generation"),
        observed_generation=status.get("observedGeneration"),
        ready=ready.get("status"),
        reason=ready.get("reason"),
        message=ready.get("message"),
        compliant=status.get("compliant"),
        deleting=metadata.get("deletionTimestamp") is not None,
    )
    return {str(owner["uid"]): child}


class ChildWriter:
    """Creates, updates and deletes the children of one set; each failure is kept per account."""

    def __init__(self, api: client.CustomObjectsApi, owner: Mapping[str, Any]) -> None:
        self.api = api
        self.namespace = str(owner["metadata"]["namespace"])
        self.set_name = str(owner["metadata"]["name"])
        self.set_uid = str(owner["metadata"]["uid"])
        self.failures: dict[str, tuple[str, str]] = {}

    def apply(self, plan: ChildPlan) -> None:
        for account, error in plan.invalid.items():
            self.failures[account] = ("InvalidTemplate", error)
        for write in plan.create:
            self._guarded(write.account_id, lambda w=write: self._create(w))
        for write in plan.update:
            self._guarded(write.account_id, lambda w=write: self._replace_spec(w))
        for name in plan.delete:
            self._guarded(None, lambda n=name: self._delete(n))

    def _guarded(self, account: str | None, write: Any) -> None:
        try:
            write()
        except ApiException as error:
            reason = child_write_reason(error.status)
            message = f"the API server answered {error.status}: {_api_message(error)}"
            logger.warning("role set %s/%s: %s", self.namespace, self.set_name, message)
            if account is not None:
                self.failures[account] = (reason, message)
        except Exception as error:  # urllib3 and socket errors: the API server is unreachable
            if account is not None:
                self.failures[account] = (
                    child_write_reason(None),
                    f"the API server is unreachable ({type(error).__name__})",
                )

    def _create(self, write: ChildWrite) -> None:
        body = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": write.name,
                "namespace": self.namespace,
                "labels": {SET_LABEL: _label_value(self.set_name), ACCOUNT_LABEL: write.account_id},
                "ownerReferences": [self._owner_reference()],
            },
            "spec": write.spec,
        }
        try:
            self.api.create_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                body,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as error:
            # The index may not show a child created a moment ago; only another's is a conflict.
            if error.status != 409 or not self._owns(write.name):
                raise

    def _owns(self, name: str) -> bool:
        existing: Any = self.api.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
        refs = existing.get("metadata", {}).get("ownerReferences") or []
        if any(ref.get("uid") == self.set_uid for ref in refs):
            return True
        raise ApiException(
            status=409, reason=f"a DynamoBackupRole {name} that this set does not own exists"
        )

    def _replace_spec(self, write: ChildWrite) -> None:
        # A JSON patch replaces the whole spec: a merge patch could not remove a field.
        self.api.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            write.name,
            [{"op": "replace", "path": "/spec", "value": write.spec}],
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
            _content_type="application/json-patch+json",
        )

    def _delete(self, name: str) -> None:
        try:
            self.api.delete_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                name,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def _owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": ROLE_SET.kind,
            "name": self.set_name,
            "uid": self.set_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def _api_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


def _label_value(text: str) -> str:
    # Set names are DNS subdomains (up to 253 characters); a label value holds 63.
    return text if len(text) <= 63 else text[:63].rstrip("-.")


class RoleSets:
    """The handler side of role sets: one instance for the operator's life."""

    def __init__(self, api: client.CustomObjectsApi | None = None) -> None:
        self._api = api
        self.status_writer = StatusWriter(ROLE_SET.plural)

    def api(self) -> client.CustomObjectsApi:
        if self._api is None:
            self._api = client.CustomObjectsApi(api_client())
        return self._api

    def converge(
        self, body: kopf.Body, bindings: Index, namespaces: Index, children_index: Index
    ) -> None:
        namespace, uid = body.meta.namespace or "", body.meta.uid
        previous = DynamoBackupRoleSetStatus.parse(body.get("status"))
        children = list(children_index.get(uid, ()))
        try:
            spec = DynamoBackupRoleSetSpec.parse(body.get("spec") or {})
        except ApiError as error:
            kopf.warn(body, reason="InvalidSpec", message=str(error))
            return
        selection = select_accounts(
            spec, namespace, labels_from(namespaces, namespace), _all_bindings(bindings)
        )
        plan = plan_children(body.meta.name or "", spec, selection, children)
        logger.debug(
            "role set %s/%s: %d accounts selected, %d children known, %d writes planned",
            namespace,
            body.meta.name,
            len(selection.accounts),
            len(children),
            plan.writes,
        )
        writer = ChildWriter(self.api(), body)
        writer.apply(plan)
        self._report_writes(body, plan, writer)
        now = datetime.now(UTC)
        status = set_status(
            previous,
            tally(selection, children, writer.failures),
            selection,
            body.meta.get("generation"),
            now,
        )
        if status_changed(previous, status) or previous.observed_generation is None:
            self._write_status(body, status)

    def _report_writes(self, body: kopf.Body, plan: ChildPlan, writer: ChildWriter) -> None:
        if plan.writes:
            logger.info(
                "role set %s/%s: %d created, %d updated, %d deleted, %d failed",
                body.meta.namespace,
                body.meta.name,
                len(plan.create),
                len(plan.update),
                len(plan.delete),
                len(writer.failures),
            )
        created = [w.name for w in plan.create if w.account_id not in writer.failures]
        updated = [w.name for w in plan.update if w.account_id not in writer.failures]
        if created:
            kopf.info(body, reason="RolesCreated", message=_names(created))
        if updated:
            kopf.info(body, reason="RolesUpdated", message=_names(updated))
        if plan.delete:
            kopf.info(body, reason="RolesDeleted", message=_names(plan.delete))

    def _write_status(self, body: kopf.Body, status: DynamoBackupRoleSetStatus) -> None:
        patch = status.model_dump(mode="json", by_alias=True, exclude_none=True)
        try:
            self.status_writer.write(body.meta.namespace or "", body.meta.name or "", patch)
        except StatusNotWritten as error:
            raise kopf.TemporaryError(
                f"the status could not be written: {error}", delay=5
            ) from None


def _names(names: Iterable[str]) -> str:
    listed = sorted(names)
    shown = ", ".join(listed[:10])
    return shown + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")


def _all_bindings(index: Index) -> list[Binding]:
    return [binding for group in index.values() for binding in group]
