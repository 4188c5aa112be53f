"""The DynamoBackupAccount CRD, and the Secret references of DynamoBackupRole, on a real API
server: accepted as the models accept them, rejected (with the same rule) as they reject them."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient, ApiException

from dynamobackup.api.v1alpha1 import (
    ACCOUNT,
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    ApiError,
    DynamoBackupAccountSpec,
    DynamoBackupRoleSpec,
)

ACCESS = "arn:aws:iam::111122223333:role/dynamobackup-operator"
BINDING: dict[str, Any] = {
    "account": {
        "id": "111122223333",
        "partition": "aws",
        "assumeRoleArn": ACCESS,
        "externalIdSecretRef": {"name": "dynamobackup-external-ids", "key": "111122223333"},
    },
    "namespaces": {
        "names": ["team-a", "team-b"],
        "selector": {
            "matchLabels": {"example.com/tier": "prod"},
            "matchExpressions": [
                {"key": "example.com/team", "operator": "In", "values": ["data"]},
                {"key": "quarantined", "operator": "DoesNotExist"},
            ],
        },
    },
    "operations": ["BackupPolicy", "Restore"],
    "appliances": {
        "roleArns": ["arn:aws:iam::444455556666:role/VeeamImpersonation"],
        "accountIds": ["777788889999"],
    },
    "guardrails": {"allowedActions": ["iam:GetAccountSummary"], "forbiddenActions": ["s3:*"]},
}


@pytest.fixture
def accounts(k8s: ApiClient, crd_installed: None) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(k8s)


def create(api: client.CustomObjectsApi, spec: dict[str, Any]) -> Any:
    name = f"binding-{uuid.uuid4().hex[:8]}"
    body = {
        "apiVersion": API_VERSION,
        "kind": ACCOUNT.kind,
        "metadata": {"name": name},
        "spec": spec,
    }
    created = api.create_cluster_custom_object(GROUP, VERSION, ACCOUNT.plural, body)
    api.delete_cluster_custom_object(GROUP, VERSION, ACCOUNT.plural, name)
    return created


def with_changes(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BINDING)
    spec.update(changes)
    return spec


def test_a_full_binding_is_stored_as_given_and_a_minimal_one_gets_the_model_defaults(
    accounts: client.CustomObjectsApi,
) -> None:
    assert create(accounts, BINDING)["spec"] == BINDING
    assert DynamoBackupAccountSpec.parse(BINDING).to_dict() == BINDING
    minimal = {
        "account": {"id": "111122223333"},
        "namespaces": {"names": ["team-a"]},
        "operations": ["Restore"],
        "appliances": {"accountIds": ["777788889999"]},
    }
    stored = create(accounts, minimal)["spec"]
    assert stored == DynamoBackupAccountSpec.parse(minimal).to_dict()
    assert stored["account"]["partition"] == "aws" and stored["guardrails"] == {}


REJECTED = {
    "no-namespaces": (with_changes(namespaces={}), "name namespaces, select them by label"),
    "no-appliances": (with_changes(appliances={}), "list at least one appliance"),
    "access-role-elsewhere": (
        with_changes(
            account={"id": "111122223333", "assumeRoleArn": "arn:aws:iam::999999999999:role/x"}
        ),
        "assumeRoleArn must be a role in the account id and partition of the account",
    ),
    "secret-without-access-role": (
        with_changes(
            account={"id": "111122223333", "externalIdSecretRef": {"name": "s", "key": "k"}}
        ),
        "externalIdSecretRef is only valid together with assumeRoleArn",
    ),
    "in-without-values": (
        with_changes(
            namespaces={"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}
        ),
        "In and NotIn need values",
    ),
    "bad-label-key": (
        with_changes(namespaces={"selector": {"matchLabels": {"bad key!": "x"}}}),
        "matchLabels keys must be label keys",
    ),
    "no-operations": (with_changes(operations=[]), "should have at least 1 items"),
    "bad-secret-name": (
        with_changes(
            account={
                "id": "111122223333",
                "assumeRoleArn": ACCESS,
                "externalIdSecretRef": {"name": "Not_A_Name", "key": "k"},
            }
        ),
        "spec.account.externalIdSecretRef.name",
    ),
}


@pytest.mark.parametrize(("spec", "expected"), REJECTED.values(), ids=REJECTED.keys())
def test_invalid_bindings_are_rejected_by_the_server_and_the_models(
    accounts: client.CustomObjectsApi, spec: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ApiException) as caught:
        create(accounts, spec)
    assert caught.value.status == 422, caught.value.body
    message = json.loads(caught.value.body or "{}").get("message", "")
    assert expected in message and "evaluation error" not in message
    with pytest.raises(ApiError):
        DynamoBackupAccountSpec.parse(spec)


ROLE: dict[str, Any] = {
    "account": {"id": "111122223333"},
    "roleName": "VeeamDynamoDBBackup",
    "scope": {"operations": ["BackupPolicy"]},
    "trust": {"applianceAccountId": "444455556666"},
}
SECRET_REF = {"name": "dynamobackup-external-ids", "key": "veeam"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "trust": {
                    "applianceAccountId": "444455556666",
                    "externalId": "abc",
                    "externalIdSecretRef": SECRET_REF,
                }
            },
            "externalId and externalIdSecretRef are mutually exclusive",
        ),
        (
            {"account": {"id": "111122223333", "externalIdSecretRef": SECRET_REF}},
            "externalIdSecretRef is only valid together with assumeRoleArn",
        ),
    ],
)
def test_role_secret_references_follow_the_same_rules(
    k8s: ApiClient, crd_installed: None, namespace: str, changes: dict[str, Any], expected: str
) -> None:
    api = client.CustomObjectsApi(k8s)
    good = {
        **ROLE,
        "trust": {"applianceAccountId": "444455556666", "externalIdSecretRef": SECRET_REF},
    }
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "good"}, "spec": good}
    stored = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    assert stored["spec"]["trust"]["externalIdSecretRef"] == SECRET_REF
    bad = {**body, "metadata": {"name": "bad"}, "spec": {**ROLE, **changes}}
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, bad)
    assert expected in json.loads(caught.value.body or "{}").get("message", "")
    with pytest.raises(ApiError):
        DynamoBackupRoleSpec.parse({**ROLE, **changes})
