"""The Helm chart against the real API server: installed with `helm install`, its ServiceAccount's
RBAC is enough to run the operator (out of cluster, with that account's token) and nothing more.

No kubelet runs here, so the chart's pod never starts; the operator runs as a local process with a
kubeconfig holding a TokenRequest token of the chart's ServiceAccount, which is exactly the identity
and the permissions the pod would have. The namespaces are named chart-*, outside the test-*
namespaces of the session-wide operator, so only the operator started here acts on them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import (
    ApiClient,
    AppsV1Api,
    AuthorizationV1Api,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
)
from kubernetes.client.exceptions import ApiException

from dynamobackup.api.v1alpha1 import (
    ACCOUNT,
    CRD_NAME,
    GROUP,
    ORGANIZATION,
    PLURAL,
    ROLE_SET,
    VERSION,
)
from dynamobackup_devenv import binaries, kube
from dynamobackup_devenv.controlplane import Cluster, api_client_from_kubeconfig
from dynamobackup_devenv.moto_server import AwsHelper, MotoServer
from dynamobackup_devenv.operator_process import OperatorProcess

from .conftest import DbrClient, condition, wait_for

CHART = Path(__file__).parents[2] / "charts" / "dynamo-backup-role-operator"
APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
INLINE = "dynamobackup-permissions"
TOKEN_SECONDS = 3600

# Every verb RBAC knows; the chart's account must hold exactly the expected ones.
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions", "")
NAMESPACES = ("", "namespaces", "")
ACCOUNTS = (GROUP, ACCOUNT.plural, "")
SECRET_NAME = "dynamobackup-external-ids"
LEASES = ("coordination.k8s.io", "leases", "")
# Leader election: create any Lease, get/update only the release's (by name, so not listed here).
LEASE_RULES = {LEASES: {"create"}}
# The operator's rules: everywhere (cluster-wide mode) or in each watched namespace.
# DynamoBackupRoles are also created and deleted: a DynamoBackupRoleSet's children (whatever the
# operator creates is still admitted by the account bindings like any role).
OPERATOR_RULES = {
    (GROUP, PLURAL, ""): {"list", "watch", "patch", "get", "create", "delete"},
    (GROUP, PLURAL, "status"): {"patch"},
    (GROUP, ROLE_SET.plural, ""): {"list", "watch", "patch"},
    (GROUP, ROLE_SET.plural, "status"): {"patch"},
    (GROUP, ROLE_SET.plural, "finalizers"): {"update"},
    ("", "events", ""): {"create"},
}
NAMESPACED_PROBES = (
    *OPERATOR_RULES,
    LEASES,
    ("events.k8s.io", "events", ""),
    ("", "secrets", ""),
    ("", "pods", ""),
    ("", "configmaps", ""),
    ("", "serviceaccounts", "token"),
    ("rbac.authorization.k8s.io", "roles", ""),
    ("rbac.authorization.k8s.io", "rolebindings", ""),
)
CLUSTER_PROBES = (
    CRDS,
    NAMESPACES,
    ACCOUNTS,
    (GROUP, ORGANIZATION.plural, ""),
    ("", "nodes", ""),
    ("rbac.authorization.k8s.io", "clusterroles", ""),
    ("rbac.authorization.k8s.io", "clusterrolebindings", ""),
)
# kopf's read-only observation (see the chart's dbr.observerRules): refused, it stalls and retries.
# Account bindings: the operator indexes DynamoBackupAccounts and namespace labels, read-only.
OBSERVER_RULES = {
    CRDS: {"list", "watch"},
    NAMESPACES: {"list", "watch"},
    ACCOUNTS: {"list", "watch"},
}
NAMESPACED_OBSERVER_RULES = OBSERVER_RULES


@dataclass(frozen=True)
class Release:
    """An installed chart and a kubeconfig that acts as its ServiceAccount."""

    name: str
    namespace: str
    namespaced: bool  # installed with watchNamespaces
    watched: tuple[str, ...]
    other: str  # a namespace the release does not watch (in namespaced mode)
    deployment: dict[str, Any]
    kubeconfig: Path

    @property
    def container_args(self) -> list[str]:
        (container,) = self.deployment["spec"]["template"]["spec"]["containers"]
        return list(container["args"])

    def namespaces_flags(self) -> tuple[str, ...]:
        """The watched namespaces exactly as the Deployment passes them to `dbr run`."""
        prefix = "--namespace="
        return tuple(a.removeprefix(prefix) for a in self.container_args if a.startswith(prefix))

    def client(self) -> ApiClient:
        return api_client_from_kubeconfig(self.kubeconfig)


def short_id() -> str:
    return uuid.uuid4().hex[:8]


def run_helm(control_plane: Cluster, home: Path, *args: str, check: bool = True) -> str:
    # HOME in a temporary directory: helm's cache and config stay out of the user's home.
    env = {"KUBECONFIG": str(control_plane.kubeconfig), "HOME": str(home)}
    helm = binaries.ensure(("helm",))["helm"]
    completed = subprocess.run(
        [str(helm), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert completed.returncode == 0, f"helm {' '.join(args)} failed:\n{completed.stderr}"
    return completed.stdout + completed.stderr


def token_kubeconfig(k8s: ApiClient, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig for the API server of `k8s` that authenticates with a TokenRequest token."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest"}
    request["spec"] = {"expirationSeconds": TOKEN_SECONDS}
    token = kube.request(
        k8s, "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", request
    )["status"]["token"]
    settings = k8s.configuration
    cluster: dict[str, Any] = {"server": settings.host}
    if settings.ssl_ca_cert:
        ca = Path(settings.ssl_ca_cert).read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "chart", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "chart", "context": {"cluster": "chart", "user": account}}],
        "current-context": "chart",
    }
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


def install(
    k8s: ApiClient,
    control_plane: Cluster,
    helm_home: Path,
    workdir: Path,
    namespaced: bool,
) -> Iterator[Release]:
    suffix = short_id()
    name, release_ns = "dbr", f"chart-system-{suffix}"
    watched, other = f"chart-watched-{suffix}", f"chart-other-{suffix}"
    for namespace in (release_ns, watched, other):
        kube.create_namespace(k8s, namespace)
    values = {"watchNamespaces": [watched] if namespaced else []}
    values_file = workdir / "values.yaml"
    values_file.write_text(json.dumps(values))
    try:
        # The session already has the CRD (crd_installed): helm must skip it, not fail.
        output = run_helm(
            control_plane, helm_home, "install", name, str(CHART), "-n", release_ns,
            "-f", str(values_file),
        )  # fmt: skip
        assert "STATUS: deployed" in output
        deployment = AppsV1Api(k8s).read_namespaced_deployment(f"{name}-{CHART.name}", release_ns)
        account = deployment.spec.template.spec.service_account_name
        yield Release(
            name=name,
            namespace=release_ns,
            namespaced=namespaced,
            watched=(watched,),
            other=other,
            deployment=k8s.sanitize_for_serialization(deployment),
            kubeconfig=token_kubeconfig(k8s, release_ns, account, workdir / "token.kubeconfig"),
        )
    finally:
        # Not checked: after a failed install there may be nothing to uninstall.
        run_helm(control_plane, helm_home, "uninstall", name, "-n", release_ns, check=False)
        for namespace in (watched, other, release_ns):
            kube.delete_namespace(k8s, namespace)


@pytest.fixture(scope="module")
def cluster_release(
    k8s: ApiClient,
    control_plane: Cluster,
    crd_installed: None,
    helm_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    workdir = tmp_path_factory.mktemp("cluster-release")
    yield from install(k8s, control_plane, helm_home, workdir, namespaced=False)


@pytest.fixture(scope="module")
def namespaced_release(
    k8s: ApiClient,
    control_plane: Cluster,
    crd_installed: None,
    helm_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    workdir = tmp_path_factory.mktemp("namespaced-release")
    yield from install(k8s, control_plane, helm_home, workdir, namespaced=True)


@pytest.fixture(params=["cluster", "namespaced"])
def release(request: pytest.FixtureRequest) -> Release:
    fixture: Release = request.getfixturevalue(f"{request.param}_release")
    return fixture


# --- the chart's account runs the operator --------------------------------------------------


def spec(role: str) -> dict[str, Any]:
    return {
        "account": {"id": "123456789012"},
        "roleName": role,
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": APPLIANCE, "externalId": "veeam-ext"},
        "driftCheckInterval": "10s",
    }


def ready(status: dict[str, Any]) -> bool:
    return condition(status, "Ready").get("status") == "True"


def drop_action(iam: Any, role: str, action: str) -> None:
    document = iam.get_role_policy(RoleName=role, PolicyName=INLINE)["PolicyDocument"]
    document["Statement"][0]["Action"].remove(action)
    iam.put_role_policy(RoleName=role, PolicyName=INLINE, PolicyDocument=json.dumps(document))


def inline_actions(iam: Any, role: str) -> list[str]:
    document = iam.get_role_policy(RoleName=role, PolicyName=INLINE)["PolicyDocument"]
    return [a for s in document["Statement"] for a in s["Action"]]


def lease_flags(release: Release) -> tuple[str, ...]:
    flags = tuple(a for a in release.container_args if a.startswith(("--leader-elect", "--lease")))
    assert flags == ("--leader-elect", f"--lease-name={release.deployment['metadata']['name']}")
    return flags


def discovery_flags(release: Release) -> tuple[str, ...]:
    # Discovery is opt-in (organizations.discovery): off, its RBAC is not granted either.
    flags = tuple(a for a in release.container_args if "discover-organizations" in a)
    assert flags == ("--no-discover-organizations",)
    return flags


def test_the_chart_account_runs_the_operator(
    release: Release,
    k8s: ApiClient,
    aws: AwsHelper,
    moto_server: MotoServer,
    tmp_path: Path,
) -> None:
    namespaces = release.namespaces_flags()
    assert namespaces == (release.watched if release.namespaced else ())
    log = tmp_path / "operator.log"
    with OperatorProcess(
        release.kubeconfig,
        moto_server.environment(),
        namespaces=namespaces,
        log_path=log,
        # The Deployment's leader election, with the Lease where the pod would keep it.
        extra_args=(
            *lease_flags(release),
            *discovery_flags(release),
            f"--lease-namespace={release.namespace}",
        ),
    ) as running:
        dbr = DbrClient(k8s, release.watched[0])
        role = f"veeam-{short_id()}"
        dbr.create("chart", spec(role))
        # Well within the 55 s kopf would stall for if its namespace listing were refused.
        first = dbr.wait_status("chart", ready, timeout=20, what="Ready=True")
        iam = aws.client("iam")
        drop_action(iam, role, "sns:Subscribe")
        dbr.wait_status(
            "chart",
            lambda s: s["lastCheckedTime"] > first["lastCheckedTime"] and bool(s["lastChanges"]),
            timeout=40,
            what="the drift repair",
        )
        assert "sns:Subscribe" in inline_actions(iam, role)
        reasons = {e["reason"] for e in dbr.events("chart")}
        assert {"RoleCreated", "RoleRepaired"} <= reasons  # Events were posted
        dbr.delete("chart")
        wait_for(lambda: not dbr.exists("chart"), 30, "the finalizer to be removed")
        output = running.log()
    assert "Forbidden" not in output and " 403" not in output, output
    assert "Failed to post an event" not in output, output


# --- and nothing more -------------------------------------------------------------------------


def allowed_verbs(
    api: AuthorizationV1Api, namespace: str, group: str, resource: str, sub: str
) -> set[str]:
    allowed = set()
    for verb in VERBS:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "subresource": sub,
                }
            },
        }
        if api.create_self_subject_access_review(review).status.allowed:
            allowed.add(verb)
    return allowed


def test_the_chart_account_holds_exactly_the_expected_verbs(release: Release) -> None:
    observer = NAMESPACED_OBSERVER_RULES if release.namespaced else OBSERVER_RULES
    granted: dict[str, dict[tuple[str, str, str], set[str]]] = {
        # Cluster-wide mode holds the operator's rules everywhere; namespaced mode only where it
        # watches, and cluster-wide nothing but kopf's observation.
        namespace: OPERATOR_RULES if not release.namespaced or namespace in release.watched else {}
        for namespace in (*release.watched, release.other, release.namespace)
    }
    granted[release.namespace] = {**granted[release.namespace], **LEASE_RULES}
    with release.client() as client:
        api = AuthorizationV1Api(client)
        for namespace, rules in granted.items():
            for key in NAMESPACED_PROBES:
                assert allowed_verbs(api, namespace, *key) == rules.get(key, set()), (
                    namespace,
                    key,
                )
        cluster_wide = {} if release.namespaced else OPERATOR_RULES
        for key in NAMESPACED_PROBES:
            assert allowed_verbs(api, "", *key) == cluster_wide.get(key, set()), key
        for key in CLUSTER_PROBES:
            assert allowed_verbs(api, "", *key) == observer.get(key, set()), key


def forbidden(call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ApiException) as refused:
        call(*args, **kwargs)
    assert refused.value.status == 403, refused.value


def test_the_chart_account_is_refused_everything_else(release: Release) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DynamoBackupRole",
        "metadata": {"name": "x"},
    }
    with release.client() as client:
        core, rbac, objects = (
            CoreV1Api(client),
            RbacAuthorizationV1Api(client),
            CustomObjectsApi(client),
        )
        forbidden(core.list_namespaced_secret, release.namespace)
        forbidden(core.read_namespaced_secret, "any", release.watched[0])
        forbidden(core.list_secret_for_all_namespaces)
        forbidden(core.list_namespaced_pod, release.namespace)
        forbidden(core.list_pod_for_all_namespaces)
        crd_path = f"{kube.CRDS_PATH}/{CRD_NAME}"
        patch = {"metadata": {"labels": {"tampered": "yes"}}}
        forbidden(
            kube.request,
            client,
            "PATCH",
            crd_path,
            patch,
            content_type="application/merge-patch+json",
        )
        forbidden(kube.request, client, "DELETE", crd_path)
        forbidden(
            rbac.create_cluster_role, {"metadata": {"name": f"escalate-{short_id()}"}, "rules": []}
        )
        forbidden(rbac.list_cluster_role)
        if release.namespaced:
            forbidden(
                objects.create_namespaced_custom_object,
                GROUP,
                VERSION,
                release.other,
                PLURAL,
                body,
            )
            forbidden(objects.list_namespaced_custom_object, GROUP, VERSION, release.other, PLURAL)
            forbidden(
                objects.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                release.other,
                PLURAL,
                "x",
                patch,
            )
            forbidden(objects.list_cluster_custom_object, GROUP, VERSION, PLURAL)
            forbidden(rbac.patch_namespaced_role, release.name, release.watched[0], patch)


def test_the_chart_account_reads_only_the_external_id_secrets(
    release: Release, k8s: ApiClient
) -> None:
    """RBAC cannot select Secrets by label: the chart grants get on one name, and nothing else."""
    admin = CoreV1Api(k8s)
    readable = [*release.watched, release.namespace]
    # Cluster-wide mode reads that name in every namespace (a role's Secret is in its own).
    unreadable = [] if not release.namespaced else [release.other]
    for namespace in (*readable, release.other):
        for name in (SECRET_NAME, "other"):
            body = {"metadata": {"name": name}, "stringData": {"k": "v"}}
            admin.create_namespaced_secret(namespace, body)
    try:
        with release.client() as client:
            core = CoreV1Api(client)
            for namespace in (*readable, *([] if release.namespaced else [release.other])):
                assert core.read_namespaced_secret(SECRET_NAME, namespace).data == {"k": "dg=="}
                forbidden(core.read_namespaced_secret, "other", namespace)
                forbidden(core.list_namespaced_secret, namespace)
            for namespace in unreadable:
                forbidden(core.read_namespaced_secret, SECRET_NAME, namespace)
            forbidden(core.list_secret_for_all_namespaces)
            review = AuthorizationV1Api(client)
            assert allowed_verbs(review, release.watched[0], "", "secrets", "") == set()
    finally:
        for namespace in (*readable, release.other):
            for name in (SECRET_NAME, "other"):
                admin.delete_namespaced_secret(name, namespace)


def test_the_chart_account_cannot_change_account_bindings(release: Release) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": ACCOUNT.kind, "metadata": {"name": "x"}}
    with release.client() as client:
        objects = CustomObjectsApi(client)
        objects.list_cluster_custom_object(GROUP, VERSION, ACCOUNT.plural)
        forbidden(objects.create_cluster_custom_object, GROUP, VERSION, ACCOUNT.plural, body)
        patch = {"metadata": {"labels": {"tampered": "yes"}}}
        forbidden(objects.patch_cluster_custom_object, GROUP, VERSION, ACCOUNT.plural, "x", patch)
        forbidden(objects.delete_cluster_custom_object, GROUP, VERSION, ACCOUNT.plural, "x")
