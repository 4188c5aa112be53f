"""The generated CRD on a real API server: it is accepted (structural schema, CEL rules within the
cost budget), fills in the same defaults as the models, rejects bad objects with clear messages,
and keeps every status field the operator writes."""

from __future__ import annotations

import copy
import json
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient, ApiException

from dynamobackup.api.v1alpha1 import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    ApiError,
    Condition,
    DynamoBackupRoleSpec,
    DynamoBackupRoleStatus,
    ProfileStatus,
    TrustFindingStatus,
)
from dynamobackup_devenv import binaries, kube
from dynamobackup_devenv.controlplane import Cluster

MINIMAL: dict[str, Any] = {
    "account": {"id": "111122223333"},
    "roleName": "VeeamDynamoDBBackup",
    "scope": {"operations": ["BackupPolicy"]},
    "trust": {"applianceAccountId": "444455556666"},
}
FULL: dict[str, Any] = {
    "account": {
        "id": "111122223333",
        "partition": "aws-us-gov",
        "assumeRoleArn": "arn:aws-us-gov:iam::111122223333:role/OperatorAccess",
        "externalId": "operator-ext-1",
    },
    "roleName": "Veeam+DynamoDB=Backup,1.@-_",
    "rolePath": "/veeam/backup/",
    "description": "Backs up DynamoDB",
    "maxSessionDuration": 43200,
    "permissionsBoundaryArn": "arn:aws-us-gov:iam::aws:policy/PowerUserAccess",
    "tags": {"team": "data platform", "Ünïcode key": "välue", "a:b/c=d+e-f@g": ""},
    "scope": {"operations": ["BackupPolicy", "ManualBackup", "Restore"]},
    "mode": "Audit",
    "trust": {
        "applianceRoleArn": "arn:aws:iam::444455556666:role/veeam/VeeamApplianceRole",
        "externalId": "veeam:ext/id=1",
    },
    "permissions": {
        "profileVersion": "10.1",
        "delivery": "Managed",
        "additionalActions": ["dynamodb:List*", "kms:Decrypt", "s3:Get?bject"],
        "exclusive": True,
    },
    "adoptExisting": True,
    "deletionPolicy": "Delete",
    "driftCheckInterval": "1h30m",
}


@pytest.fixture
def objects(k8s: ApiClient, crd_installed: None, namespace: str) -> client.CustomObjectsApi:
    api = client.CustomObjectsApi(k8s)
    # Established is reported a moment before the new resource is served everywhere.
    _retry(lambda: api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    return api


def _retry(call: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiException as error:
            if error.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}


def create(api: client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, Any]) -> Any:
    return api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, manifest(name, spec)
    )


def object_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


def merge_patch(
    k8s: ApiClient, namespace: str, name: str, body: dict[str, Any], subresource: str = ""
) -> Any:
    path = object_path(namespace, name)
    return kube.request(
        k8s,
        "PATCH",
        f"{path}/{subresource}" if subresource else path,
        body,
        content_type="application/merge-patch+json",
    )


def rejection_message(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422, caught.value.body
    message: str = json.loads(caught.value.body or "{}").get("message", caught.value.body)
    return message


def spec_with(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


def test_minimal_object_gets_the_defaults_of_the_models(
    objects: client.CustomObjectsApi, namespace: str
) -> None:
    created = create(objects, namespace, "minimal", MINIMAL)

    assert created["spec"] == DynamoBackupRoleSpec.parse(MINIMAL).to_dict()
    assert created["spec"]["permissions"] == {"delivery": "Inline", "exclusive": False}
    assert "profileVersion" not in created["spec"]["permissions"]


def test_full_object_is_stored_as_given(objects: client.CustomObjectsApi, namespace: str) -> None:
    created = create(objects, namespace, "full", FULL)

    assert created["spec"] == FULL
    assert DynamoBackupRoleSpec.parse(created["spec"]).to_dict() == FULL


# name: (spec, the field the server blames, what it says). The wording around the two differs
# between Kubernetes versions (`Invalid value: "object": ...` became `Invalid value: ...`).
REJECTED = {
    "bad-account-id": (
        spec_with(account={"id": "12345"}),
        "spec.account.id",
        "should match '^[0-9]{12}$'",
    ),
    "both-appliance-fields": (
        spec_with(
            trust={
                "applianceRoleArn": "arn:aws:iam::444455556666:role/Veeam",
                "applianceAccountId": "444455556666",
            }
        ),
        "spec.trust",
        "applianceRoleArn and applianceAccountId are mutually exclusive: set only one",
    ),
    "no-appliance-field": (
        spec_with(trust={"externalId": "abc"}),
        "spec.trust",
        "one of applianceRoleArn or applianceAccountId is required",
    ),
    "unknown-operation": (
        spec_with(scope={"operations": ["BackupPolicy", "Backup"]}),
        "spec.scope.operations[1]",
        'Unsupported value: "Backup": supported values: "BackupPolicy", "ManualBackup", "Restore"',
    ),
    "duplicate-operation": (
        spec_with(scope={"operations": ["Restore", "Restore"]}),
        "spec.scope.operations[1]",
        'Duplicate value: "Restore"',
    ),
    "empty-operations": (
        spec_with(scope={"operations": []}),
        "spec.scope.operations",
        "should have at least 1 items",
    ),
    "missing-role-name": (spec_with(roleName=None), "spec.roleName", "Required value"),
    "external-id-without-assume-role": (
        spec_with(account={"id": "111122223333", "externalId": "abc"}),
        "spec.account",
        "externalId is only valid together with assumeRoleArn",
    ),
    "drift-check-too-often": (
        spec_with(driftCheckInterval="5s"),
        "spec.driftCheckInterval",
        "driftCheckInterval must be between 10s and 24h",
    ),
    "drift-check-malformed": (
        spec_with(driftCheckInterval="10 minutes"),
        "spec.driftCheckInterval",
        "should match '^([0-9]{1,5}(\\.[0-9]{1,9})?(ns|us|ms|s|m|h))+$'",
    ),
    "operator-tag-prefix": (
        spec_with(tags={"dynamobackup.io/owner": "me"}),
        "spec.tags",
        "tag keys must not start with dynamobackup.io/ (reserved for the operator) or aws: "
        "(reserved by AWS)",
    ),
    "aws-tag-prefix": (
        spec_with(tags={"aws:cloudformation:stack-name": "x"}),
        "spec.tags",
        "tag keys must not start with dynamobackup.io/",
    ),
    "bad-tag-key": (
        spec_with(tags={"bad*key": "x"}),
        "spec.tags",
        "tag keys must be 1-128 letters, digits, spaces or _.:/=+-@",
    ),
    "session-too-long": (
        spec_with(maxSessionDuration=43201),
        "spec.maxSessionDuration",
        "should be less than or equal to 43200",
    ),
    "bad-mode": (spec_with(mode="DryRun"), "spec.mode", 'Unsupported value: "DryRun"'),
    "bad-action": (
        spec_with(permissions={"additionalActions": ["dynamodb"]}),
        "spec.permissions.additionalActions[0]",
        "should match '^[a-z0-9-]+:[A-Za-z0-9*?]+$'",
    ),
}


@pytest.mark.parametrize(("spec", "field", "expected"), REJECTED.values(), ids=REJECTED.keys())
def test_invalid_objects_are_rejected_with_a_clear_message(
    objects: client.CustomObjectsApi,
    namespace: str,
    spec: dict[str, Any],
    field: str,
    expected: str,
) -> None:
    message = rejection_message(lambda: create(objects, namespace, "bad", spec))

    assert f"{field}: " in message
    assert expected in message
    assert "evaluation error" not in message  # no CEL rule tripped over a value it can't handle
    with pytest.raises(ApiError):
        DynamoBackupRoleSpec.parse(spec)  # the models reject it too, offline


def test_drift_check_interval_of_exactly_ten_seconds_is_accepted(
    objects: client.CustomObjectsApi, namespace: str
) -> None:
    created = create(objects, namespace, "ten-seconds", spec_with(driftCheckInterval="10s"))
    assert created["spec"]["driftCheckInterval"] == "10s"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"roleName": "Renamed"}, "roleName is immutable"),
        ({"rolePath": "/other/"}, "rolePath is immutable: a different path needs a new role"),
    ],
)
def test_role_identity_cannot_change(
    k8s: ApiClient,
    objects: client.CustomObjectsApi,
    namespace: str,
    change: dict[str, str],
    expected: str,
) -> None:
    create(objects, namespace, "fixed", MINIMAL)

    message = rejection_message(lambda: merge_patch(k8s, namespace, "fixed", {"spec": change}))
    assert f"spec.{next(iter(change))}: " in message
    assert expected in message


def test_other_fields_can_change(
    k8s: ApiClient, objects: client.CustomObjectsApi, namespace: str
) -> None:
    create(objects, namespace, "mutable", MINIMAL)

    patched = merge_patch(
        k8s, namespace, "mutable", {"spec": {"mode": "Audit", "tags": {"team": "data"}}}
    )
    assert patched["spec"]["mode"] == "Audit"
    assert patched["spec"]["roleName"] == MINIMAL["roleName"]
    assert patched["metadata"]["generation"] == 2


def full_status() -> DynamoBackupRoleStatus:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    return DynamoBackupRoleStatus(
        role_arn="arn:aws:iam::111122223333:role/VeeamDynamoDBBackup",
        role_id="AROAEXAMPLEID1234567",
        observed_generation=1,
        compliant=False,
        conditions=[
            Condition.make("Ready", True, "Reconciled", "role is in place", now=now),
            Condition.make(
                "Compliant", False, "MissingActions", "2 actions missing", observed_generation=1
            ),
            Condition.make("PermissionsCompliant", False, "MissingActions", "x", now=now),
            Condition.make("TrustCompliant", True, "TrustOk", "", now=now),
        ],
        missing_actions=["dynamodb:ListBackups", "dynamodb:DescribeBackup"],
        denied_actions=["dynamodb:DeleteBackup"],
        conditional_actions=["kms:Decrypt"],
        excess_actions=[],
        missing_count=2,
        trust_findings=[
            TrustFindingStatus(
                code="NoExternalId", message="add an external id", severity="warning"
            )
        ],
        profile=ProfileStatus(
            version="10", operations=["BackupPolicy", "Restore"], action_count=40
        ),
        managed_policy_arns=["arn:aws:iam::111122223333:policy/dynamobackup/p1"],
        last_checked_time=now,
        aws_calls=9,
        mode="Enforce",
    )


def test_status_subresource_keeps_every_status_field(
    k8s: ApiClient, objects: client.CustomObjectsApi, namespace: str
) -> None:
    create(objects, namespace, "with-status", MINIMAL)
    status = full_status().to_patch()

    patched = merge_patch(k8s, namespace, "with-status", {"status": status}, "status")

    assert patched["status"] == status  # nothing pruned, nothing rewritten
    fetched = kube.request(k8s, "GET", object_path(namespace, "with-status"))
    assert DynamoBackupRoleStatus.parse(fetched["status"]) == DynamoBackupRoleStatus.parse(status)
    assert fetched["metadata"]["generation"] == 1  # a status write is not a spec change


def test_status_conditions_merge_by_type(
    k8s: ApiClient, objects: client.CustomObjectsApi, namespace: str
) -> None:
    create(objects, namespace, "conditions", MINIMAL)
    ready = Condition.make("Ready", False, "Pending", "starting").model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    merge_patch(k8s, namespace, "conditions", {"status": {"conditions": [ready]}}, "status")

    message = rejection_message(
        lambda: merge_patch(
            k8s, namespace, "conditions", {"status": {"conditions": [ready, ready]}}, "status"
        )
    )
    # Newer servers print the key as {"type":"Ready"}, older ones with a Go type in front.
    assert "status.conditions[1]: Duplicate value: " in message
    assert '{"type":"Ready"}' in message


def test_status_in_the_main_resource_is_ignored(
    k8s: ApiClient, objects: client.CustomObjectsApi, namespace: str
) -> None:
    create(objects, namespace, "no-status", MINIMAL)
    patched = merge_patch(k8s, namespace, "no-status", {"status": {"compliant": True}})
    assert "status" not in patched


def test_kubectl_shows_the_printer_columns(
    control_plane: Cluster, k8s: ApiClient, objects: client.CustomObjectsApi, namespace: str
) -> None:
    create(objects, namespace, "shown", MINIMAL)
    status = full_status().to_patch()
    merge_patch(k8s, namespace, "shown", {"status": status}, "status")

    def kubectl_get(*extra: str, resource: str = "dbr") -> list[list[str]]:
        kubectl = [str(binaries.kubectl_path()), "--kubeconfig", str(control_plane.kubeconfig)]
        result = subprocess.run(
            [*kubectl, "get", resource, "-n", namespace, *extra],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return [line.split() for line in result.stdout.splitlines()]

    header, row = kubectl_get()
    assert header == [
        "NAME", "ACCOUNT", "ROLE", "MODE", "READY", "REASON", "COMPLIANT", "MISSING", "AGE"
    ]  # fmt: skip
    (ready,) = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert row[:8] == [
        "shown", "111122223333", "VeeamDynamoDBBackup", "Enforce",
        ready["status"], ready["reason"], "false", "2",
    ]  # fmt: skip
    # The category lists the operator's kinds together.
    by_category = kubectl_get("-o", "name", resource="dynamobackup")
    assert by_category == [["dynamobackuprole.dynamobackup.io/shown"]]
