"""The GitOps health checks agree on the same sample objects: Argo CD's Lua (run with lupa, on Lua
5.1 like Argo CD's gopher-lua) and Flux's CEL healthCheckExprs (run with cel-python)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from lupa import lua51

from dynamobackup.api.v1alpha1 import KIND, DynamoBackupRole, DynamoBackupRoleStatus

REPO = Path(__file__).resolve().parents[3]
ARGOCD = REPO / "charts" / "dynamo-backup-role-operator" / "argocd"
GITOPS = REPO / "examples" / "gitops"
HEALTH_KEY = "resource.customizations.health.dynamobackup.io_DynamoBackupRole"
# Argo CD's health -> what Flux's expressions must say about the same object.
FLUX_FOR_ARGO = {"Healthy": "current", "Degraded": "failed", "Progressing": "inProgress"}

CASES = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]


def sample(case: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    return loaded


def argo_health(obj: dict[str, Any]) -> dict[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute((ARGOCD / "health.lua").read_text())
    return {"status": result["status"], "message": result["message"]}


def flux_expressions() -> dict[str, str]:
    documents = yaml.safe_load_all((GITOPS / "flux.yaml").read_text())
    kustomization = next(d for d in documents if d["kind"] == "Kustomization")
    (check,) = kustomization["spec"]["healthCheckExprs"]
    assert (check["apiVersion"], check["kind"]) == ("dynamobackup.io/v1alpha1", KIND)
    return {key: check[key] for key in ("inProgress", "failed", "current")}


def flux_verdicts(obj: dict[str, Any]) -> set[str]:
    """The expressions that hold for `obj`. An expression that fails to evaluate (a field the
    operator has not written yet) leaves Flux waiting, i.e. in progress."""
    environment = celpy.Environment()
    activation = {key: celpy.json_to_cel(value) for key, value in obj.items()}
    verdicts = set()
    for name, expression in flux_expressions().items():
        try:
            result = environment.program(environment.compile(expression)).evaluate(activation)
        except celpy.CELEvalError as error:
            result = error
        if isinstance(result, celpy.CELEvalError):
            verdicts.add("inProgress")
        elif bool(result):
            verdicts.add(name)
    return verdicts


@pytest.mark.parametrize("case", CASES, ids=lambda case: Path(case["inputPath"]).stem)
def test_argo_cd_health(case: dict[str, Any]) -> None:
    assert argo_health(sample(case)) == case["healthStatus"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: Path(case["inputPath"]).stem)
def test_flux_health_agrees_with_argo_cd(case: dict[str, Any]) -> None:
    # Exactly one verdict: the three expressions exclude each other, so Flux's order is irrelevant.
    assert flux_verdicts(sample(case)) == {FLUX_FOR_ARGO[case["healthStatus"]["status"]]}


@pytest.mark.parametrize("case", CASES, ids=lambda case: Path(case["inputPath"]).stem)
def test_samples_are_objects_the_operator_writes(case: dict[str, Any]) -> None:
    obj = sample(case)
    DynamoBackupRole.parse({key: value for key, value in obj.items() if key != "status"})
    DynamoBackupRoleStatus.parse(obj.get("status"))


def test_samples_cover_every_health() -> None:
    assert {case["healthStatus"]["status"] for case in CASES} == set(FLUX_FOR_ARGO)


def test_argocd_cm_snippet_is_the_health_script() -> None:
    config = yaml.safe_load((GITOPS / "argocd-cm-health.yaml").read_text())
    assert (config["kind"], config["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert config["data"][HEALTH_KEY] == (ARGOCD / "health.lua").read_text()


def rendered_roles() -> set[tuple[str, str]]:
    """(namespace, name) of the DynamoBackupRoles the example kustomization lists."""
    roles = GITOPS / "roles"
    kustomization = yaml.safe_load((roles / "kustomization.yaml").read_text())
    found = set()
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((roles / resource).read_text()):
            if document["kind"] == KIND:
                found.add((document["metadata"]["namespace"], document["metadata"]["name"]))
    return found


def test_flux_health_checks_name_the_example_roles() -> None:
    documents = list(yaml.safe_load_all((GITOPS / "flux.yaml").read_text()))
    kustomization = next(d for d in documents if d["kind"] == "Kustomization")
    assert kustomization["spec"]["path"] == "./examples/gitops/roles"
    checked = {(c["namespace"], c["name"]) for c in kustomization["spec"]["healthChecks"]}
    assert checked == rendered_roles()
    source = next(d for d in documents if d["kind"] == "GitRepository")
    assert kustomization["spec"]["sourceRef"]["name"] == source["metadata"]["name"]


def test_argo_application_points_at_the_example() -> None:
    application = yaml.safe_load((GITOPS / "argocd-application.yaml").read_text())
    assert application["spec"]["source"]["path"] == "examples/gitops/roles"
    assert (REPO / application["spec"]["source"]["path"] / "kustomization.yaml").is_file()
