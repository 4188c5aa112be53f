"""Small Kubernetes helpers for tests and `dbr dev` that the typed client does not offer directly.

The local control plane has no controller-manager, so two of its jobs are done here: a new namespace
gets its `default` ServiceAccount (the ServiceAccount admission plugin rejects pods without it), and a
deleted namespace is emptied and finalized (otherwise it and everything in it would stay forever and
show up in cluster-wide lists and watches of later tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from kubernetes.client import ApiClient, ApiException

NAMESPACE_DELETE_TIMEOUT = 30.0


def request(
    api: ApiClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> Any:
    """A raw API call for paths the generated client has no method for; returns the decoded JSON.

    Non-2xx replies raise kubernetes.client.ApiException, as the generated methods do.
    """
    method, url, headers, serialized, _ = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=list((query or {}).items()),
        header_params={"Accept": "application/json", "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
    )
    # The generated client leaves RESTResponse unannotated.
    response: Any = api.call_api(method, url, header_params=headers, body=serialized)
    response.read()
    text = response.data.decode() if response.data else ""
    if not 200 <= response.status <= 299:
        raise ApiException(status=response.status, reason=response.reason, body=text)
    return json.loads(text) if text else None


def create_namespace(api: ApiClient, name: str, labels: dict[str, str] | None = None) -> None:
    """Creates the namespace and its `default` ServiceAccount, as kube-controller-manager would."""
    request(api, "POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": labels or {}}})
    try:
        request(
            api,
            "POST",
            f"/api/v1/namespaces/{name}/serviceaccounts",
            {"metadata": {"name": "default"}},
        )
    except ApiException as error:
        # A real cluster's controller may have been quicker.
        if error.status != 409:
            raise


def delete_namespace(api: ApiClient, name: str, timeout: float = NAMESPACE_DELETE_TIMEOUT) -> None:
    """Deletes the namespace with everything in it and waits until it is gone.

    On a cluster with a namespace controller this is a plain delete plus waiting. Without one (the local
    control plane), the contents are deleted here, finalizers of objects no running controller will
    process are cleared, and the namespace's own `kubernetes` finalizer is removed.
    """
    try:
        request(api, "DELETE", f"/api/v1/namespaces/{name}")
    except ApiException as error:
        if error.status == 404:
            return
        raise
    # Purging right away is also correct where a namespace controller runs: it would delete the same
    # objects, and waiting first to find out whether one runs would cost every test seconds.
    deadline = time.monotonic() + timeout
    _purge_namespace(api, name)
    while _namespace_exists(api, name):
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name} still exists {timeout:.0f}s after deletion")
        _finalize_namespace(api, name)
        time.sleep(0.05)


def _namespace_exists(api: ApiClient, name: str) -> bool:
    try:
        request(api, "GET", f"/api/v1/namespaces/{name}")
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _purge_namespace(api: ApiClient, name: str) -> None:
    for collection in namespaced_collections(api, name):
        try:
            # Listing first: most collections are empty, and a GET is cheaper than a delete.
            if request(api, "GET", collection).get("items"):
                request(api, "DELETE", collection)
                remaining = request(api, "GET", collection).get("items", [])
            else:
                remaining = []
        except ApiException as error:
            # Gone in the meantime (a CRD deleted by the test) or not deletable after all.
            if error.status in {404, 405}:
                continue
            raise
        for item in remaining:
            # Left over because of finalizers whose controller (an operator under test) is gone.
            _clear_finalizers(api, f"{collection}/{quote(item['metadata']['name'])}")


def _clear_finalizers(api: ApiClient, path: str) -> None:
    try:
        request(
            api,
            "PATCH",
            path,
            {"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )
    except ApiException as error:
        if error.status != 404:
            raise


def _finalize_namespace(api: ApiClient, name: str) -> None:
    try:
        namespace = request(api, "GET", f"/api/v1/namespaces/{name}")
        namespace.setdefault("spec", {})["finalizers"] = []
        request(api, "PUT", f"/api/v1/namespaces/{name}/finalize", namespace)
    except ApiException as error:
        if error.status not in {404, 409}:
            raise


def namespaced_collections(api: ApiClient, namespace: str) -> Iterator[str]:
    """The collection path of every namespaced resource that supports deletecollection."""
    for group_version_path in _group_version_paths(api):
        try:
            resources = request(api, "GET", group_version_path).get("resources", [])
        except ApiException as error:
            # Discovery lags behind a CRD deleted a moment ago: its group is listed, then gone.
            if error.status == 404:
                continue
            raise
        for resource in resources:
            # Subresources (pods/log, x/status) are addressed through their parent.
            if "/" in resource["name"] or not resource.get("namespaced"):
                continue
            if {"list", "deletecollection"} <= set(resource.get("verbs", [])):
                yield f"{group_version_path}/namespaces/{namespace}/{resource['name']}"


def _group_version_paths(api: ApiClient) -> Iterator[str]:
    yield "/api/v1"
    for group in request(api, "GET", "/apis").get("groups", []):
        yield f"/apis/{group['preferredVersion']['groupVersion']}"


CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def install_crd(api: ApiClient, body: dict[str, Any], timeout: float = 30.0) -> None:
    """Creates a CRD, or replaces an older copy of it, and waits until it is Established."""
    name = body["metadata"]["name"]
    try:
        request(api, "POST", CRDS_PATH, body)
    except ApiException as error:
        if error.status != 409:
            raise
        current = request(api, "GET", f"{CRDS_PATH}/{name}")
        replacement = {
            **body,
            "metadata": {
                **body["metadata"],
                "resourceVersion": current["metadata"]["resourceVersion"],
            },
        }
        request(api, "PUT", f"{CRDS_PATH}/{name}", replacement)
    wait_for_crd_established(api, name, timeout)


def wait_for_crd_established(api: ApiClient, name: str, timeout: float = 30.0) -> dict[str, Any]:
    """Waits until the CRD's Established condition is True and returns the CRD."""
    path = f"{CRDS_PATH}/{name}"
    found: dict[str, Any] = {}

    def established() -> bool:
        found.update(request(api, "GET", path))
        # A CRD just created has no status yet, then a status whose conditions are null.
        conditions = (found.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    if not _wait(established, timeout):
        raise TimeoutError(f"CRD {name} not Established within {timeout:.0f}s")
    return found


def _wait(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
