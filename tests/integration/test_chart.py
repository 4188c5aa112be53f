"""The Helm chart rendered by the real helm binary: lint, templates per mode, schema validation, and
the GitOps example rendered by `kubectl kustomize`. No cluster needed (see tests/e2e/test_chart_rbac.py).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dynamobackup.api.v1alpha1 import GROUP, KIND, PLURAL, DynamoBackupRole
from dynamobackup.cli.main import build_parser
from dynamobackup_devenv import binaries

REPO = Path(__file__).parents[2]
CHART = REPO / "charts" / "dynamo-backup-role-operator"
GITOPS = REPO / "examples" / "gitops"
RELEASE, NAMESPACE = "dbr", "dbr-system"
FULLNAME = f"{RELEASE}-{CHART.name}"

Manifest = dict[str, Any]
Helm = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    executable = binaries.ensure(("helm",))["helm"]
    # HOME in a temporary directory: helm's cache and config stay out of the user's home.
    env = {"HOME": str(tmp_path_factory.mktemp("helm-home"))}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def render(helm: Helm, values: dict[str, Any] | None = None) -> list[Manifest]:
    completed = helm(*template_args(values))
    assert completed.returncode == 0, completed.stderr
    return [d for d in yaml.safe_load_all(completed.stdout) if d]


def value_args(values: dict[str, Any] | None) -> list[str]:
    # --set-json per top-level key keeps types exact (--set would coerce strings).
    return [
        arg
        for key, value in (values or {}).items()
        for arg in ("--set-json", f"{key}={json.dumps(value)}")
    ]


def template_args(values: dict[str, Any] | None) -> list[str]:
    return ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, *value_args(values)]


def one(manifests: list[Manifest], kind: str, namespace: str | None = None) -> Manifest:
    found = [
        m
        for m in manifests
        if m["kind"] == kind and namespace in (None, m["metadata"].get("namespace"))
    ]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def one_named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def kinds(manifests: list[Manifest]) -> list[str]:
    return sorted(m["kind"] for m in manifests)


def container(manifests: list[Manifest]) -> Manifest:
    (only,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(only)


def run_args(manifests: list[Manifest]) -> Any:
    """The Deployment's args parsed by the real `dbr run` parser: every flag must exist."""
    return build_parser().parse_args(["run", *container(manifests)["args"]])


def test_lint_passes_strict_in_every_mode(helm: Helm) -> None:
    for values in (
        {},
        {"watchNamespaces": ["team-a", "team-b"]},
        {"metrics": {"serviceMonitor": {"enabled": True}}},
    ):
        args = ("lint", "--strict", str(CHART), "--namespace", NAMESPACE, *value_args(values))
        completed = helm(*args)
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_default_render_is_one_cluster_wide_operator(helm: Helm) -> None:
    manifests = render(helm)
    assert kinds(manifests) == [
        "ClusterRole",
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    deployment = one(manifests, "Deployment")
    # Two replicas, safely: only the Lease holder works; a rollout starts the standby first.
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    (lease_role,) = [
        m
        for m in manifests
        if m["metadata"]["name"] == f"{FULLNAME}-leader-election" and m["kind"] == "Role"
    ]
    assert lease_role["metadata"]["namespace"] == NAMESPACE
    assert {rule["apiGroups"][0] for rule in lease_role["rules"]} == {"coordination.k8s.io"}
    assert {verb for rule in lease_role["rules"] for verb in rule["verbs"]} == {
        "create",
        "get",
        "update",
    }
    pod = deployment["spec"]["template"]["spec"]
    assert (
        pod["serviceAccountName"]
        == FULLNAME
        == one(manifests, "ServiceAccount")["metadata"]["name"]
    )
    args = run_args(manifests)
    assert args.leader_elect and args.lease_name == FULLNAME
    assert args.namespace == [] and not args.all_namespaces
    assert (args.health_port, args.metrics_port, args.log_format) == (8080, 9090, "json")
    assert args.aws_endpoint_url is None and args.aws_region is None
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert container(manifests)["image"] == f"dynamo-backup-role-operator:{chart['appVersion']}"


def test_the_pod_is_locked_down(helm: Helm) -> None:
    manifests = render(helm)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(manifests)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    # The read-only root needs a writable /tmp, and HOME points there.
    (mount,) = container(manifests)["volumeMounts"]
    assert mount["mountPath"] == "/tmp"
    assert {"name": "HOME", "value": "/tmp"} in container(manifests)["env"]
    assert any(v["name"] == mount["name"] and "emptyDir" in v for v in pod["volumes"])
    resources = container(manifests)["resources"]
    assert set(resources) == {"requests", "limits"}


def test_probes_hit_the_health_port(helm: Helm) -> None:
    manifests = render(helm, {"operator": {"healthPort": 8181, "metricsPort": 9191}})
    main = container(manifests)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports == {"health": 8181, "metrics": 9191}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    args = run_args(manifests)
    assert (args.health_port, args.metrics_port) == (8181, 9191)


def rules_of(manifest: Manifest) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    return [
        (tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in manifest["rules"]
    ]


SETS = "dynamobackuprolesets"
OPERATOR_RULES = [
    ((GROUP,), (PLURAL,), ("list", "watch", "patch")),
    ((GROUP,), (f"{PLURAL}/status",), ("patch",)),
    # A DynamoBackupRoleSet's children, and the sets themselves.
    ((GROUP,), (PLURAL,), ("get", "create", "delete")),
    ((GROUP,), (SETS,), ("list", "watch", "patch")),
    ((GROUP,), (f"{SETS}/status",), ("patch",)),
    ((GROUP,), (f"{SETS}/finalizers",), ("update",)),
    (("",), ("events",), ("create",)),
]
CRD_WATCH = (("apiextensions.k8s.io",), ("customresourcedefinitions",), ("list", "watch"))
NAMESPACE_WATCH = (("",), ("namespaces",), ("list", "watch"))
ACCOUNT_WATCH = ((GROUP,), ("dynamobackupaccounts",), ("list", "watch"))
SECRET_GET = (("",), ("secrets",), ("get",))
OBSERVER = [CRD_WATCH, ACCOUNT_WATCH, NAMESPACE_WATCH]


def test_cluster_wide_rbac_is_the_operator_rules_and_crd_watch(helm: Helm) -> None:
    manifests = render(helm)
    role = one_named(manifests, "ClusterRole", f"{NAMESPACE}-{FULLNAME}")
    assert rules_of(role) == [*OPERATOR_RULES, SECRET_GET, *OBSERVER]
    # Secrets: get, by name only (RBAC cannot select by label; list and watch are never granted).
    secrets = next(r for r in role["rules"] if r["resources"] == ["secrets"])
    assert secrets["resourceNames"] == ["dynamobackup-external-ids"]
    binding = one(manifests, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == f"{NAMESPACE}-{FULLNAME}"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    ]


def test_watch_namespaces_switches_to_roles_and_namespace_flags(helm: Helm) -> None:
    manifests = render(helm, {"watchNamespaces": ["team-a", "team-b"]})
    assert kinds(manifests) == sorted(
        [
            *["ClusterRole"] * 3,
            "ClusterRoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
            *["Role", "RoleBinding"] * 4,  # two watched, the Secrets', the Lease's
        ]
    )
    # Cluster-wide only kopf's read-only observation remains.
    assert rules_of(one_named(manifests, "ClusterRole", f"{NAMESPACE}-{FULLNAME}")) == OBSERVER
    # The bindings' Secrets live in the release namespace: get by name there too.
    assert rules_of(one_named(manifests, "Role", f"{FULLNAME}-secrets")) == [SECRET_GET]
    for namespace in ("team-a", "team-b"):
        role = one(manifests, "Role", namespace)
        assert rules_of(role) == [*OPERATOR_RULES, SECRET_GET]
        binding = one(manifests, "RoleBinding", namespace)
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role["metadata"]["name"],
        }
        assert binding["subjects"][0]["namespace"] == NAMESPACE
    assert run_args(manifests).namespace == ["team-a", "team-b"]


def test_tenants_get_dynamobackuproles_through_the_built_in_roles_and_no_bindings(
    helm: Helm,
) -> None:
    manifests = render(helm)
    view = one_named(manifests, "ClusterRole", f"{NAMESPACE}-{FULLNAME}-view")
    edit = one_named(manifests, "ClusterRole", f"{NAMESPACE}-{FULLNAME}-edit")
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k, v in view["metadata"]["labels"].items() if v == "true"} >= {
        f"{aggregate}view",
        f"{aggregate}edit",
        f"{aggregate}admin",
    }
    assert f"{aggregate}view" not in edit["metadata"]["labels"]
    readable = (PLURAL, f"{PLURAL}/status", SETS, f"{SETS}/status")
    assert rules_of(view) == [((GROUP,), readable, ("get", "list", "watch"))]
    assert rules_of(edit) == [
        ((GROUP,), (PLURAL, SETS), ("create", "update", "patch", "delete", "deletecollection"))
    ]
    # Account bindings stay with cluster admins: no aggregated role names them.
    for manifest in manifests:
        if manifest["kind"] == "ClusterRole" and "aggregate" in str(manifest["metadata"]):
            assert "dynamobackupaccounts" not in str(manifest["rules"])


def test_discovery_is_opt_in_and_brings_its_rbac(helm: Helm) -> None:
    assert run_args(render(helm)).discover_organizations is False
    manifests = render(helm, {"organizations": {"discovery": True}})
    assert run_args(manifests).discover_organizations is True
    role = one_named(manifests, "ClusterRole", f"{NAMESPACE}-{FULLNAME}")
    assert rules_of(role)[-3:] == [
        ((GROUP,), ("dynamobackupaccounts",), ("create", "update")),
        ((GROUP,), ("dynamobackuporganizations",), ("list", "watch", "patch")),
        ((GROUP,), ("dynamobackuporganizations/status",), ("patch",)),
    ]
    # In namespaced mode the discovery rules stay cluster-wide: its objects are cluster-scoped.
    namespaced = render(helm, {"organizations": {"discovery": True}, "watchNamespaces": ["a"]})
    observer = rules_of(one_named(namespaced, "ClusterRole", f"{NAMESPACE}-{FULLNAME}"))
    assert ((GROUP,), ("dynamobackupaccounts",), ("create", "update")) in observer


def test_tenancy_values_become_flags(helm: Helm) -> None:
    args = run_args(render(helm))
    assert args.require_account_bindings is True
    assert args.operator_namespace == NAMESPACE
    assert args.external_id_secret_name == ["dynamobackup-external-ids"]
    values = {
        "tenancy": {
            "requireAccountBindings": False,
            "externalIdSecretNames": ["a", "b"],
            "forbiddenActions": ["s3:*"],
        }
    }
    args = run_args(render(helm, values))
    assert args.require_account_bindings is False
    assert (args.external_id_secret_name, args.forbid_action) == (["a", "b"], ["s3:*"])


def test_aws_and_operator_values_become_flags(helm: Helm) -> None:
    values = {
        "aws": {"region": "eu-central-1", "endpointUrl": "http://moto.test:5000", "maxAttempts": 4},
        "operator": {"driftTick": 2.5, "retryDelay": 7, "logLevel": "debug", "logFormat": "text"},
    }
    args = run_args(render(helm, values))
    assert (args.aws_region, args.aws_endpoint_url, args.aws_max_attempts) == (
        "eu-central-1",
        "http://moto.test:5000",
        4,
    )
    assert (args.drift_tick, args.retry_delay, args.log_level, args.log_format) == (
        2.5,
        7.0,
        "debug",
        "text",
    )


def test_pod_placement_identity_and_image_values(helm: Helm) -> None:
    digest = "sha256:" + "a" * 64
    values = {
        "image": {"repository": "registry.example/dbr", "digest": digest, "pullPolicy": "Always"},
        "serviceAccount": {
            "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/dbr"}
        },
        "extraEnv": [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
        "podAnnotations": {"example.com/team": "platform"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "priorityClassName": "system-cluster-critical",
    }
    manifests = render(helm, values)
    pod = one(manifests, "Deployment")["spec"]["template"]
    assert container(manifests)["image"] == f"registry.example/dbr@{digest}"
    assert container(manifests)["imagePullPolicy"] == "Always"
    assert {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"} in container(manifests)[
        "env"
    ]
    assert pod["metadata"]["annotations"] == values["podAnnotations"]
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert pod["spec"][key] == values[key]
    assert (
        one(manifests, "ServiceAccount")["metadata"]["annotations"]
        == values["serviceAccount"]["annotations"]
    )


def test_service_monitor_scrapes_the_metrics_service(helm: Helm) -> None:
    manifests = render(
        helm, {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}
    )
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = service["spec"]["ports"]
    assert endpoint["port"] == port["name"] == "metrics" and endpoint["path"] == "/metrics"
    assert port["targetPort"] == "metrics"
    assert (
        service["spec"]["selector"].items()
        <= one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    )


def test_optional_objects_can_be_left_out(helm: Helm) -> None:
    values = {
        "rbac": {"create": False, "aggregateToTenantRoles": False},
        "serviceAccount": {"create": False, "name": "existing"},
        "metrics": {"service": {"enabled": False}},
    }
    manifests = render(helm, values)
    assert kinds(manifests) == ["Deployment", "PodDisruptionBudget"]
    assert (
        one(manifests, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "existing"
    )


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicas": 2}, "replicas"),
        ({"operator": {"driftTick": "fast"}}, "driftTick"),
        ({"operator": {"driftTick": 0}}, "driftTick"),
        ({"operator": {"logLevel": "verbose"}}, "logLevel"),
        ({"operator": {"peering": True}}, "peering"),
        ({"watchNamespaces": ["Team_A"]}, "watchNamespaces"),
        ({"watchNamespaces": ["a", "a"]}, "watchNamespaces"),
        ({"image": {"repository": ""}}, "repository"),
        ({"image": {"repository": "x", "digest": "latest"}}, "digest"),
        ({"aws": {"endpointUrl": "moto:5000"}}, "endpointUrl"),
        ({"metrics": {"service": {"port": 0}}}, "port"),
        ({"serviceAccount": {"annotations": {"a": 1}}}, "annotations"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_schema_rejects_bad_values(helm: Helm, values: dict[str, Any], complaint: str) -> None:
    completed = helm(*template_args(values))
    assert completed.returncode != 0
    assert "values don't meet the specifications of the schema" in completed.stderr
    assert complaint in completed.stderr


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
        (
            {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
            "needs metrics.service.enabled",
        ),
    ],
)
def test_inconsistent_values_fail_with_a_reason(
    helm: Helm, values: dict[str, Any], complaint: str
) -> None:
    completed = helm(*template_args(values))
    assert completed.returncode != 0 and complaint in completed.stderr


def test_gitops_example_renders_with_kustomize() -> None:
    completed = subprocess.run(
        [str(binaries.kubectl_path()), "kustomize", str(GITOPS / "roles")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    documents = [d for d in yaml.safe_load_all(completed.stdout) if d]
    roles = [d for d in documents if d["kind"] == KIND]
    assert roles, "the example renders no DynamoBackupRole"
    namespaces = {d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"}
    for role in roles:
        DynamoBackupRole.parse(role)
        assert role["metadata"]["namespace"] in namespaces


def test_a_release_named_like_a_yaml_bool_keeps_string_labels(helm: Helm) -> None:
    completed = helm("template", "y", str(CHART), "--namespace", "on")
    assert completed.returncode == 0, completed.stderr
    for manifest in (d for d in yaml.safe_load_all(completed.stdout) if d):
        labels = manifest["metadata"].get("labels", {})
        assert labels["app.kubernetes.io/instance"] == "y", manifest["kind"]
        assert all(isinstance(value, str) for value in labels.values()), manifest["kind"]
        assert manifest["metadata"].get("namespace", "on") == "on"


def test_extra_volumes_and_topology_spread(helm: Helm) -> None:
    values = {
        "extraVolumes": [{"name": "proxy-ca", "configMap": {"name": "proxy-ca"}}],
        "extraVolumeMounts": [{"name": "proxy-ca", "mountPath": "/etc/proxy-ca", "readOnly": True}],
        "extraEnv": [{"name": "AWS_CA_BUNDLE", "value": "/etc/proxy-ca/ca.pem"}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
            }
        ],
    }
    pod = one(render(helm, values), "Deployment")["spec"]["template"]["spec"]
    assert {"name": "proxy-ca", "configMap": {"name": "proxy-ca"}} in pod["volumes"]
    (container,) = pod["containers"]
    assert {"name": "proxy-ca", "mountPath": "/etc/proxy-ca", "readOnly": True} in container[
        "volumeMounts"
    ]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": CHART.name,
        "app.kubernetes.io/instance": RELEASE,
    }


def test_a_disruption_budget_only_above_one_replica(helm: Helm) -> None:
    budget = one(render(helm, {"replicaCount": 2}), "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": CHART.name,
        "app.kubernetes.io/instance": RELEASE,
    }
    # Over a single pod a budget would block every node drain.
    assert "PodDisruptionBudget" not in kinds(render(helm, {"replicaCount": 1}))


def test_chart_metadata_points_nowhere_it_cannot_vouch_for() -> None:
    # Until the project is published, an address here would be a guess at someone else's page.
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert "home" not in chart and "sources" not in chart
    assert chart["annotations"]["artifacthub.io/license"] == "Apache-2.0"


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"resources": {"requests": {"cpu": "lots"}}}, "cpu"),
        ({"resources": {"limits": {"memory": "1 GB"}}}, "memory"),
        ({"resources": {"request": {"cpu": "1"}}}, "request"),
        ({"extraVolumeMounts": [{"name": "x"}]}, "mountPath"),
        ({"topologySpreadConstraints": [{"maxSkew": 1}]}, "topologyKey"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_schema_rejects_bad_resources_and_extras(
    helm: Helm, values: dict[str, Any], complaint: str
) -> None:
    completed = helm(*template_args(values))
    assert completed.returncode != 0
    assert complaint in completed.stderr


def test_schema_accepts_every_quantity_spelling(helm: Helm) -> None:
    resources = {
        "requests": {"cpu": "250m", "memory": "192Mi", "ephemeral-storage": "1G"},
        "limits": {"cpu": 2, "memory": "1.5Gi"},
    }
    container = one(render(helm, {"resources": resources}), "Deployment")["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["resources"] == resources


def test_equal_health_and_metrics_ports_are_refused(helm: Helm) -> None:
    completed = helm(*template_args({"operator": {"healthPort": 9090, "metricsPort": 9090}}))
    assert completed.returncode != 0
    assert "operator.healthPort and operator.metricsPort are both 9090" in completed.stderr


def test_shards_are_deployments_with_their_own_lease_and_standby(helm: Helm) -> None:
    manifests = render(helm, {"shards": 3})
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    assert len(deployments) == 3
    parser = build_parser()
    leases, shards = set(), set()
    for index, deployment in enumerate(deployments):
        assert deployment["metadata"]["name"].endswith(f"-shard-{index}")
        assert deployment["spec"]["replicas"] == 2  # each shard has its standby
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["dynamobackup.io/shard"] == str(index)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        container_args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        args = parser.parse_args(["run", *container_args])
        leases.add(args.lease_name)
        shards.add(args.shard)
    assert shards == {"0/3", "1/3", "2/3"} and len(leases) == 3
    role = one_named(manifests, "Role", f"{RELEASE}-{CHART.name}-leader-election")
    names = {n for rule in role["rules"] for n in rule.get("resourceNames", [])}
    assert names == leases  # each shard may renew its own Lease and no other
    # One shard: the single Deployment keeps its name, selector and Lease.
    single = one(render(helm), "Deployment")
    assert "dynamobackup.io/shard" not in single["spec"]["selector"]["matchLabels"]
    assert "--shard" not in " ".join(single["spec"]["template"]["spec"]["containers"][0]["args"])
