"""The operator's own Kubernetes writes (outside kopf): the status subresource, and the Lease.

The status is written here, not through kopf's patch: kopf applies its patch after the handler
returned and, when that PATCH fails, still records the handler as done, so a status lost to an API
server outage would stay lost until the next drift check. Written here, a failed write fails the
handler, and kopf retries it until the status lands.
"""

from __future__ import annotations

import threading
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION

REQUEST_TIMEOUT_SECONDS = 10.0


class StatusNotWritten(Exception):
    """The status could not be written; the message names the cause in one line."""


def api_client(pool_size: int = 10) -> client.ApiClient:
    """A client for in-cluster credentials, else the current kubeconfig (as kopf's login)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    # One connection per handler thread, so writes never queue behind a full pool.
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


class StatusWriter:
    """Merge-patches the status subresource of namespaced objects of one kind (by plural)."""

    def __init__(self, plural: str = PLURAL) -> None:
        self.plural = plural
        self._lock = threading.Lock()
        self._api: client.CustomObjectsApi | None = None

    def write(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        """True once written, False when the object is gone; raises StatusNotWritten."""
        try:
            self._objects().patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                self.plural,
                name,
                {"status": status},
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            raise StatusNotWritten(
                f"the API server answered {error.status} {error.reason}"
            ) from None
        except Exception as error:  # urllib3 and socket errors: the API server is unreachable
            raise StatusNotWritten(
                f"the API server is unreachable ({type(error).__name__})"
            ) from None

    def _objects(self) -> client.CustomObjectsApi:
        with self._lock:
            if self._api is None:
                self._api = client.CustomObjectsApi(api_client())
            return self._api
