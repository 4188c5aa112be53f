"""Every state of a DynamoBackupRole, as the operator writes it, judged by the three health checks a
GitOps user meets: Argo CD (the chart's Lua, run with lupa on Lua 5.1 like Argo CD's gopher-lua),
kstatus (the real sigs.k8s.io/cli-utils library, through devenv/tools/kstatus) and Flux's
healthCheckExprs example (cel-python). They must say what the table in docs/install.md says.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from lupa import lua51

from dynamobackup.api.v1alpha1 import (
    API_VERSION,
    KIND,
    DynamoBackupRoleSpec,
    DynamoBackupRoleStatus,
)
from dynamobackup.policy.catalog import default_catalog
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedRole
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.ownership import Owner
from dynamobackup.reconcile.status import build_status
from dynamobackup_devenv import binaries
from enforced import enforced_role

REPO = Path(__file__).parents[2]
INSTALL_DOC = REPO / "docs" / "install.md"
LUA = REPO / "charts" / "dynamo-backup-role-operator" / "argocd" / "health.lua"
FLUX = REPO / "examples" / "gitops" / "flux.yaml"
TABLE_BEGIN = "<!-- health-table: checked by tests/integration/test_health_agreement.py -->"
TABLE_END = "<!-- /health-table -->"
AT = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
OWNER = Owner("veeam-backup", "backup-policy")
SPEC = {
    "account": {"id": "123456789012"},
    "roleName": "veeam-dynamodb-backup",
    "scope": {"operations": ["BackupPolicy"]},
    "trust": {"applianceAccountId": "111111111111", "externalId": "ext-123"},
}


def desired(mode: str = "Enforce") -> DesiredRole:
    return desired_role(DynamoBackupRoleSpec.parse({**SPEC, "mode": mode}), OWNER)


def checked(want: DesiredRole, role: ObservedRole | None) -> Outcome:
    report = assess(want, role, default_catalog())
    return Outcome(checked_at=AT, desired=want, role=role, report=report, aws_calls=4)


def obj(status: DynamoBackupRoleStatus | None, generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": "backup-policy",
            "namespace": "veeam-backup",
            "generation": generation,
        },
        "spec": SPEC,
    }
    if status is not None:
        body["status"] = status.to_patch()
    return body


def written(outcome: Outcome, generation: int = 1) -> DynamoBackupRoleStatus:
    return build_status(DynamoBackupRoleStatus(), outcome, generation)


def states() -> dict[str, dict[str, Any]]:
    """The objects of each row of the table, their status built by the operator's own code."""
    enforce, audit = desired(), desired("Audit")
    compliant = enforced_role(enforce)
    drifted = replace(enforced_role(audit), inline_policies={})
    throttled = Failure("Throttling", "GetRole failed after retries: Rate exceeded", retryable=True)
    denied = Failure("AccessDenied", "the operator may not call iam:GetRole on the role")
    return {
        "Ready": obj(written(checked(enforce, compliant))),
        "No status yet": obj(None),
        "Spec changed, not yet handled": obj(written(checked(enforce, compliant), 1), 2),
        "Retrying a transient AWS failure": obj(
            written(Outcome(checked_at=AT, desired=enforce, failure=throttled))
        ),
        "Audit drift": obj(written(checked(audit, drifted))),
        "Access denied": obj(written(Outcome(checked_at=AT, desired=enforce, failure=denied))),
    }


def documented() -> dict[str, dict[str, str]]:
    """The table in docs/install.md: state -> {"Argo CD": ..., "kstatus": ..., "Flux": ...}."""
    text = INSTALL_DOC.read_text()
    assert TABLE_BEGIN in text and TABLE_END in text
    table = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0].strip().splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = {}
    for line in table[2:]:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows[cells["State"]] = {
            key: re.sub(r"[`*]", "", cells[key]).split()[0]
            for key in ("Argo CD", "kstatus", "Flux")
        }
    return rows


def argo_cd(body: dict[str, Any]) -> str:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(body, recursive=True)
    return str(runtime.execute(LUA.read_text())["status"])


def flux(body: dict[str, Any]) -> str:
    documents = yaml.safe_load_all(FLUX.read_text())
    kustomization = next(d for d in documents if d["kind"] == "Kustomization")
    (check,) = kustomization["spec"]["healthCheckExprs"]
    environment = celpy.Environment()
    activation = {key: celpy.json_to_cel(value) for key, value in body.items()}
    holding = set()
    for verdict in ("inProgress", "failed", "current"):
        program = environment.program(environment.compile(check[verdict]))
        try:
            result = program.evaluate(activation)
        except celpy.CELEvalError:
            result = None
        # Flux treats an expression that cannot be evaluated yet as not holding.
        if result is not None and not isinstance(result, celpy.CELEvalError) and bool(result):
            holding.add(verdict)
    # Flux checks inProgress, failed, current in this order; none holding means in progress.
    assert len(holding) <= 1, f"the expressions overlap: {holding}"
    return holding.pop() if holding else "inProgress"


@pytest.fixture(scope="module")
def kstatus() -> dict[str, str]:
    executable = binaries.ensure(("kstatus",))["kstatus"]
    named = {
        state: {**body, "metadata": {**body["metadata"], "name": state}}
        for state, body in states().items()
    }
    stream = yaml.safe_dump_all(list(named.values()))
    completed = subprocess.run(
        [str(executable)], input=stream, capture_output=True, text=True, timeout=60, check=True
    )
    verdicts = [json.loads(line) for line in completed.stdout.splitlines()]
    return {verdict["name"]: verdict["status"] for verdict in verdicts}


def test_the_table_has_a_row_for_every_state() -> None:
    assert list(documented()) == list(states())


@pytest.mark.parametrize("state", list(states()))
def test_argo_cd_kstatus_and_flux_say_what_the_table_says(
    state: str, kstatus: dict[str, str]
) -> None:
    body = states()[state]
    DynamoBackupRoleStatus.parse(body.get("status"))  # what the operator writes, valid
    seen = {"Argo CD": argo_cd(body), "kstatus": kstatus[state], "Flux": flux(body)}
    assert seen == documented()[state]
