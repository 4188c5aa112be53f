"""The local control plane behaves like a real API server for what the operator needs: CRDs with a
status subresource, patches, deletion, RBAC and service-account tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client import ApiClient, ApiException

from dynamobackup_devenv import kube

GROUP = "envtest.dbr.example.com"
VERSION = "v1"
PLURAL = "widgets"


def widget_crd(group: str) -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {"phase": {"type": "string"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture
def widget_group(k8s: ApiClient) -> Iterator[str]:
    """A CRD in a group of its own, so a rerun against an existing cluster never finds it present."""
    group = f"t{uuid.uuid4().hex[:8]}.{GROUP}"
    crd = widget_crd(group)
    extensions = client.ApiextensionsV1Api(k8s)
    extensions.create_custom_resource_definition(crd)
    try:
        kube.wait_for_crd_established(k8s, f"{PLURAL}.{group}")
        yield group
    finally:
        extensions.delete_custom_resource_definition(f"{PLURAL}.{group}")


def test_custom_resource_lifecycle(k8s: ApiClient, namespace: str, widget_group: str) -> None:
    objects = client.CustomObjectsApi(k8s)
    body = {
        "apiVersion": f"{widget_group}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 1},
    }
    created = objects.create_namespaced_custom_object(
        widget_group, VERSION, namespace, PLURAL, body
    )
    assert created["metadata"]["uid"]

    patched = objects.patch_namespaced_custom_object(
        widget_group, VERSION, namespace, PLURAL, "w1", {"spec": {"size": 3}}
    )
    assert patched["spec"]["size"] == 3

    # With the status subresource, status is written only through /status; the main resource
    # ignores it, which is what keeps an operator's status out of users' way and vice versa.
    ignored = objects.patch_namespaced_custom_object(
        widget_group, VERSION, namespace, PLURAL, "w1", {"status": {"phase": "Ignored"}}
    )
    assert "status" not in ignored
    with_status = objects.patch_namespaced_custom_object_status(
        widget_group, VERSION, namespace, PLURAL, "w1", {"status": {"phase": "Ready"}}
    )
    assert with_status["status"] == {"phase": "Ready"}
    assert with_status["spec"] == {"size": 3}
    fetched = objects.get_namespaced_custom_object(widget_group, VERSION, namespace, PLURAL, "w1")
    assert fetched["status"]["phase"] == "Ready"

    objects.delete_namespaced_custom_object(widget_group, VERSION, namespace, PLURAL, "w1")
    with pytest.raises(ApiException) as missing:
        objects.get_namespaced_custom_object(widget_group, VERSION, namespace, PLURAL, "w1")
    assert missing.value.status == 404


def test_service_account_token_without_permissions_is_forbidden(
    k8s: ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token

    configuration = k8s.configuration.__class__()
    configuration.host = k8s.configuration.host
    configuration.ssl_ca_cert = k8s.configuration.ssl_ca_cert
    configuration.api_key = {"BearerToken": f"Bearer {token}"}
    with ApiClient(configuration) as as_nobody:
        # Authenticated (a bad token would be 401) as the service account ...
        review = client.AuthenticationV1Api(as_nobody).create_self_subject_review({})
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:nobody"
        # ... but RBAC grants it nothing.
        with pytest.raises(ApiException) as refused:
            client.CoreV1Api(as_nobody).list_namespaced_pod(namespace)
        assert refused.value.status == 403


def test_namespace_deletion_removes_its_objects(k8s: ApiClient) -> None:
    """Without a namespace controller the fixture's delete_namespace does that job; objects with a
    finalizer nobody handles anymore must not keep the namespace alive."""
    name = f"purge-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(k8s)
    kube.create_namespace(k8s, name)
    core.create_namespaced_config_map(
        name,
        {"metadata": {"name": "held", "finalizers": ["dbr.example.com/never-handled"]}},
    )
    kube.delete_namespace(k8s, name, timeout=30)

    with pytest.raises(ApiException) as gone:
        core.read_namespace(name)
    assert gone.value.status == 404
    leftovers = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={name}")
    assert leftovers.items == []
