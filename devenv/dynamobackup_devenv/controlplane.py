"""A throwaway Kubernetes control plane: etcd and kube-apiserver on free loopback ports.

Like controller-runtime's envtest there are no nodes, no scheduler and no controller-manager, so pods
never run and namespaces are not emptied on delete (see `kube.delete_namespace`). Unlike envtest the
ServiceAccount admission plugin stays on and service-account tokens are signed, so the TokenRequest API
and RBAC behave as in a real cluster. Clients authenticate with an admin certificate in system:masters.

    with ControlPlane() as cluster:
        api = cluster.api_client()

Set DBR_USE_EXISTING_CLUSTER=1 (with KUBECONFIG) to use a disposable cluster you run yourself instead;
`cluster_from_environment()` returns the one to use.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import logging
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, Self

import yaml
from kubernetes import config as kube_config
from kubernetes.client import ApiClient

from dynamobackup_devenv import binaries
from dynamobackup_devenv.certs import ControlPlaneCerts, write_control_plane_certs
from dynamobackup_devenv.processes import ManagedProcess, Service, start_on_free_ports, wait_until

log = logging.getLogger(__name__)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CONTEXT_NAME = "dbr-local"
# Context names of clusters made for testing; anything else might be somebody's real cluster.
TEST_CONTEXT_PATTERNS = ("kind-*", "k3d-*", "minikube", "docker-desktop", "*test*")


class Cluster(Protocol):
    """What tests and `dbr dev` need from a cluster, whoever runs it."""

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def server(self) -> str: ...

    def api_client(self) -> ApiClient: ...

    def stop(self) -> None: ...


class UnsafeClusterError(RuntimeError):
    """DBR_USE_EXISTING_CLUSTER points at a context that does not look like a test cluster."""


class ControlPlane(Service):
    """etcd + kube-apiserver as child processes; `start()` returns once /readyz answers ok."""

    def __init__(
        self,
        workdir: Path | None = None,
        log_dir: Path | None = None,
        start_timeout: float = 120.0,
        die_with_parent: bool = True,
    ) -> None:
        # workdir: certificates, etcd data and the kubeconfig. A given one is kept (the caller owns it),
        # a generated temporary one is removed on stop. log_dir defaults to <workdir>/logs.
        super().__init__(start_timeout, die_with_parent)
        self._given_workdir = workdir
        self._log_dir = log_dir
        self.workdir: Path | None = None
        self.etcd: ManagedProcess | None = None
        self.apiserver: ManagedProcess | None = None
        self.etcd_port = 0
        self.secure_port = 0
        self._peer_port = 0
        self._certs: ControlPlaneCerts | None = None
        self._binaries: dict[str, Path] = {}

    # --- public surface ---------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self._require_workdir() / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.secure_port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    def pids(self) -> list[int]:
        return [p.pid for p in (self.etcd, self.apiserver) if p is not None and p.pid is not None]

    def api_client(self) -> ApiClient:
        """A new client logged in as cluster admin; the caller closes it."""
        return api_client_from_kubeconfig(self.kubeconfig)

    def start(self) -> Self:
        # Built before the clock starts: a first build takes minutes and is no start-up time.
        self._binaries = binaries.ensure(("etcd", "kube-apiserver"))
        super().start()
        log.info(
            "control plane healthy in %.1fs: %s (etcd %s)",
            self.startup_seconds,
            self.server,
            self.etcd_url,
        )
        return self

    # --- faults (tests restart components; ports and data stay, as in a real restart) ----------

    def stop_apiserver(self) -> None:
        if self.apiserver is not None:
            self.apiserver.stop()
            self.apiserver = None

    def start_apiserver(self) -> None:
        self._start_apiserver(binaries.ensure(("kube-apiserver",))["kube-apiserver"])

    def restart_etcd(self, down_for: float = 0.0) -> None:
        """Stops etcd and starts it again on the same ports and data (kube-apiserver stays up)."""
        if self.etcd is not None:
            self.etcd.stop()
            self.etcd = None
        time.sleep(down_for)
        self._start_etcd(binaries.ensure(("etcd",))["etcd"], self._peer_port)

    # --- start-up and shut-down ----------------------------------------------------------------

    def _require_workdir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("the control plane has not been started")
        return self.workdir

    def _prepare_workdir(self) -> None:
        if self._given_workdir is not None:
            self.workdir = self._given_workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="dbr-controlplane-"))
        self._certs = write_control_plane_certs(self.workdir / "pki", SERVICE_IP)

    def _start_up(self) -> None:
        self._prepare_workdir()
        start_on_free_ports(3, self._start_on, self._undo_attempt, "the control plane")

    def _shut_down(self) -> None:
        """Stops kube-apiserver, then etcd, then removes a generated workdir."""
        self._stop_processes()
        self.apiserver = self.etcd = None
        if self.workdir is not None and self._given_workdir is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _start_on(self, ports: list[int]) -> None:
        self.etcd_port, peer_port, self.secure_port = ports
        self._start_etcd(self._binaries["etcd"], peer_port)
        self._start_apiserver(self._binaries["kube-apiserver"])

    def _undo_attempt(self) -> None:
        self._stop_processes()
        shutil.rmtree(self._require_workdir() / "etcd", ignore_errors=True)

    def _stop_processes(self) -> None:
        for process in (self.apiserver, self.etcd):
            if process is not None:
                process.stop()

    def _logs(self) -> Path:
        return self._log_dir or self._require_workdir() / "logs"

    def _start_etcd(self, binary: Path, peer_port: int) -> None:
        self._peer_port = peer_port
        peer_url = f"http://127.0.0.1:{peer_port}"
        args = [
            str(binary),
            "--name=dbr",
            f"--data-dir={self._require_workdir() / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=dbr={peer_url}",
            # The data is thrown away after the run: skipping fsync makes every write much faster.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        self.etcd = ManagedProcess(
            "etcd", args, self._logs() / "etcd.log", None, self.die_with_parent
        )
        self.etcd.start()
        wait_until(self._etcd_healthy, self.start_timeout, "etcd health", [self.etcd])

    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as response:
                return b'"true"' in response.read()
        except (OSError, urllib.error.URLError):
            return False

    def _start_apiserver(self, binary: Path) -> None:
        certs = self._require_certs()
        args = [
            str(binary),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # No pods run here, so nothing needs the `kubernetes` Service's endpoints; and since 1.37
            # the reconciler refuses a loopback advertise address.
            "--endpoint-reconciler-type=none",
            f"--secure-port={self.secure_port}",
            f"--cert-dir={self._require_workdir() / 'apiserver'}",
            f"--tls-cert-file={certs.serving_cert}",
            f"--tls-private-key-file={certs.serving_key}",
            f"--client-ca-file={certs.ca_cert}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={certs.service_account_public_key}",
            f"--service-account-signing-key-file={certs.service_account_key}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            "--profiling=false",
        ]
        log_path = self._logs() / "kube-apiserver.log"
        self.apiserver = ManagedProcess(
            "kube-apiserver", args, log_path, None, self.die_with_parent
        )
        self.apiserver.start()
        self._write_kubeconfig()
        assert self.etcd is not None
        wait_until(
            self._apiserver_ready,
            self.start_timeout,
            "kube-apiserver /readyz",
            [self.apiserver, self.etcd],
            interval=0.2,
        )

    def _require_certs(self) -> ControlPlaneCerts:
        if self._certs is None:
            raise RuntimeError("certificates are written by start()")
        return self._certs

    def _apiserver_ready(self) -> bool:
        return apiserver_ready(self.server, self._require_certs())

    def _write_kubeconfig(self) -> None:
        certs = self._require_certs()
        config = kubeconfig_document(
            server=self.server,
            ca_pem=certs.ca_cert.read_bytes(),
            client_cert_pem=certs.admin_cert.read_bytes(),
            client_key_pem=certs.admin_key.read_bytes(),
        )
        self.kubeconfig.touch(mode=0o600, exist_ok=True)
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))


def apiserver_ready(server: str, certs: ControlPlaneCerts) -> bool:
    """True when /readyz answers 200: etcd reachable and every post-start hook (RBAC bootstrap
    roles, default namespace, priority-and-fairness config) done."""
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
    try:
        with urllib.request.urlopen(f"{server}/readyz", timeout=2, context=context) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def kubeconfig_document(
    server: str, ca_pem: bytes, client_cert_pem: bytes, client_key_pem: bytes
) -> dict[str, Any]:
    """A self-contained kubeconfig (certificates inlined) that kubectl, helm and kopf all read."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT_NAME,
                "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": "dbr-admin",
                "user": {
                    "client-certificate-data": b64(client_cert_pem),
                    "client-key-data": b64(client_key_pem),
                },
            }
        ],
        "contexts": [
            {"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": "dbr-admin"}}
        ],
        "current-context": CONTEXT_NAME,
    }


def api_client_from_kubeconfig(kubeconfig: Path, context: str | None = None) -> ApiClient:
    # kubernetes.config has no annotations; the function returns a kubernetes.client.ApiClient.
    new_client: Callable[..., ApiClient] = kube_config.new_client_from_config
    return new_client(config_file=str(kubeconfig), context=context)


# --- an existing cluster -----------------------------------------------------------------------


class ExistingCluster:
    """A cluster somebody else runs (kind, k3d, minikube...), reached through KUBECONFIG."""

    def __init__(self, kubeconfig: Path, context: str) -> None:
        self._kubeconfig = kubeconfig
        self.context = context
        self.startup_seconds = 0.0

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig

    @property
    def server(self) -> str:
        with self.api_client() as client:
            return str(client.configuration.host)

    def api_client(self) -> ApiClient:
        return api_client_from_kubeconfig(self._kubeconfig, self.context)

    def stop(self) -> None:
        """Not ours to stop."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def existing_cluster_from_environment(
    environ: dict[str, str] | None = None,
) -> ExistingCluster | None:
    """The cluster DBR_USE_EXISTING_CLUSTER=1 asks for, or None when it is not set.

    Tests create and delete namespaces and CRDs, so only contexts whose names mark them as made for
    testing are accepted; anything else is refused with UnsafeClusterError.
    """
    env = os.environ if environ is None else environ
    if env.get("DBR_USE_EXISTING_CLUSTER", "").lower() not in {"1", "true", "yes"}:
        return None
    kubeconfig_value = env.get("KUBECONFIG", "")
    if not kubeconfig_value:
        raise UnsafeClusterError(
            "DBR_USE_EXISTING_CLUSTER=1 needs KUBECONFIG to point at the cluster"
        )
    # KUBECONFIG may list several files; the first one that names a current context wins, as in kubectl.
    for candidate in kubeconfig_value.split(os.pathsep):
        path = Path(candidate).expanduser()
        context = _current_context(path)
        if context:
            check_test_context(context)
            return ExistingCluster(path, context)
    raise UnsafeClusterError(f"no current-context in KUBECONFIG={kubeconfig_value}")


def check_test_context(context: str) -> None:
    if not any(fnmatch.fnmatchcase(context, pattern) for pattern in TEST_CONTEXT_PATTERNS):
        raise UnsafeClusterError(
            f"refusing to run tests against kube context {context!r}: DBR_USE_EXISTING_CLUSTER only "
            f"accepts contexts named like a test cluster ({', '.join(TEST_CONTEXT_PATTERNS)}), "
            "because the tests create and delete namespaces and CRDs. Switch context "
            "(kubectl config use-context ...) or unset DBR_USE_EXISTING_CLUSTER."
        )


def _current_context(path: Path) -> str | None:
    with contextlib.suppress(OSError, yaml.YAMLError):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and document.get("current-context"):
            return str(document["current-context"])
    return None


def cluster_from_environment(**control_plane_options: Any) -> ControlPlane | ExistingCluster:
    """The existing cluster if DBR_USE_EXISTING_CLUSTER=1, else a new (not yet started) ControlPlane."""
    existing = existing_cluster_from_environment()
    if existing is not None:
        return existing
    return ControlPlane(**control_plane_options)
