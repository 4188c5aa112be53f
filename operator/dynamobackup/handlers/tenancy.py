"""The lookups tenancy needs, and nothing else: the account bindings and namespace labels kopf
keeps in its indices, and the external IDs in Secrets. The decisions are reconcile.tenancy's.

Secrets are read with a GET by name, at every reconcile (rotation takes effect at the next one),
only in the role's own namespace or the operator's, and only under the names the operator was
given (its RBAC grants `get` on those names alone). Values never leave memory: they are not
logged, not put in a status, an Event, an annotation or a metric, and the redaction net masks
them if anything tried.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dynamobackup import redaction
from dynamobackup.api.v1alpha1 import (
    EXTERNAL_ID_PATTERN,
    ApiError,
    DynamoBackupAccountSpec,
    DynamoBackupRoleSpec,
)
from dynamobackup.handlers.kube import REQUEST_TIMEOUT_SECONDS, api_client
from dynamobackup.reconcile.outcome import Failure
from dynamobackup.reconcile.tenancy import (
    Binding,
    Grant,
    Refusal,
    SecretRef,
    TenancySettings,
    admit,
    grant,
    secrets_needed,
)


def binding_of(
    name: str, spec: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> Binding | None:
    """The index entry of a DynamoBackupAccount; one that cannot be parsed is kept, failing
    closed, under the account it names (None only when it names no account at all)."""
    account = (spec.get("account") or {}).get("id")
    if not isinstance(account, str):
        return None
    kept = dict(labels or {})
    try:
        return Binding(name, account, DynamoBackupAccountSpec.parse(spec), labels=kept)
    except ApiError as error:
        return Binding(name, account, None, str(error), labels=kept)


def bindings_from(index: Mapping[str, Iterable[Binding]], account_id: str) -> list[Binding]:
    return list(index.get(account_id, ()))


def labels_from(index: Mapping[str, Iterable[Mapping[str, str]]], namespace: str) -> dict[str, str]:
    for labels in index.get(namespace, ()):
        return dict(labels)
    return {}


class SecretError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class SecretReader:
    """Reads external IDs from Secrets, each one GET by name."""

    def __init__(self, allowed_names: tuple[str, ...] = ()) -> None:
        self.allowed_names = allowed_names
        self._lock = threading.Lock()
        self._api: client.CoreV1Api | None = None

    def read_all(self, refs: Iterable[SecretRef]) -> dict[SecretRef, str]:
        return {ref: self.read(ref) for ref in refs}

    def read(self, ref: SecretRef) -> str:
        if self.allowed_names and ref.name not in self.allowed_names:
            raise SecretError(
                Failure(
                    "SecretNotAllowed",
                    f"the operator reads external IDs only from Secrets named "
                    f"{', '.join(self.allowed_names)}, not {ref.name}",
                )
            )
        data = self._secret_data(ref)
        if ref.key not in data:
            raise SecretError(Failure("SecretKeyNotFound", f"{ref} does not exist"))
        redaction.remember(data[ref.key])  # the base64 form, as the API server sends it
        value = _decode(data[ref.key], ref).strip()
        redaction.remember(value)
        if not re.fullmatch(EXTERNAL_ID_PATTERN, value) or not 2 <= len(value) <= 1224:
            raise SecretError(
                Failure(
                    "InvalidExternalId",
                    f"{ref} is not an external ID (2-1224 of letters, digits and +=,.@:/-)",
                )
            )
        return value

    def _secret_data(self, ref: SecretRef) -> Mapping[str, str]:
        try:
            secret = self._core().read_namespaced_secret(
                ref.name, ref.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except ApiException as error:
            raise SecretError(_read_failure(ref, error.status)) from None
        except Exception as error:  # urllib3 and socket errors: the API server is unreachable
            raise SecretError(
                Failure(
                    "SecretNotReadable",
                    f"{ref}: the API server is unreachable ({type(error).__name__})",
                    retryable=True,
                )
            ) from None
        return {key: str(value) for key, value in (secret.data or {}).items()}

    def _core(self) -> client.CoreV1Api:
        with self._lock:
            if self._api is None:
                self._api = client.CoreV1Api(api_client(pool_size=4))
            return self._api


def _decode(encoded: str, ref: SecretRef) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise SecretError(Failure("InvalidExternalId", f"{ref} does not hold UTF-8 text")) from None


def _read_failure(ref: SecretRef, status: int | None) -> Failure:
    if status == 404:
        return Failure("SecretNotFound", f"{ref}: the Secret does not exist")
    if status == 403:
        return Failure(
            "SecretNotReadable",
            f"{ref}: the operator may not read it (its RBAC grants get on the configured "
            "external-ID Secret names only)",
        )
    return Failure("SecretNotReadable", f"{ref}: the API server answered {status}", True)


def grant_for(
    spec: DynamoBackupRoleSpec,
    namespace: str,
    bindings: Mapping[str, Iterable[Binding]],
    namespaces: Mapping[str, Iterable[Mapping[str, str]]],
    *,
    settings: TenancySettings,
    secrets: SecretReader,
) -> Grant | Failure:
    """Admit the role (pure), then read the Secrets the admission names; a Failure otherwise."""
    admission = admit(
        spec,
        namespace,
        labels_from(namespaces, namespace),
        bindings_from(bindings, spec.account.id),
        settings,
    )
    if isinstance(admission, Refusal):
        return Failure(admission.reason, admission.message)
    try:
        values = secrets.read_all(secrets_needed(admission))
    except SecretError as error:
        return error.failure
    return grant(admission, spec, values)
