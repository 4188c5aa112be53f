"""The bad-input matrix: malformed DynamoBackupRoles that IAM (or the operator) would refuse, each
refused by the API server with a message naming the field, and by the models (the CLI's offline
check) too. The test writes what the API server answered into docs/reliability.md and fails when
the committed table differs, so the documentation cannot go stale:

    DBR_UPDATE_DOCS=1 .venv/bin/pytest tests/integration/test_bad_input_matrix.py   # regenerate
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
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
    DynamoBackupRoleSpec,
)

DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
BEGIN, END = "<!-- bad-input-matrix:begin -->", "<!-- bad-input-matrix:end -->"
VALID: dict[str, Any] = {
    "account": {"id": "111122223333"},
    "roleName": "VeeamDynamoDBBackup",
    "scope": {"operations": ["BackupPolicy"]},
    "trust": {"applianceAccountId": "444455556666"},
}
ASSUMED = {"id": "111122223333", "assumeRoleArn": "arn:aws:iam::111122223333:role/Operator"}


def changed(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


# (what is wrong, the spec, the field the API server must name)
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("description with an emoji", changed(description="backup 🚀"), "spec.description"),
    (
        "description with U+202E (right-to-left override)",
        changed(description="a\u202eb"),
        "spec.description",
    ),
    ("description with NUL", changed(description="a\x00b"), "spec.description"),
    ("description with a vertical tab", changed(description="a\x0bb"), "spec.description"),
    ("description with DEL (U+007F)", changed(description="a\x7fb"), "spec.description"),
    ("description with U+0100", changed(description="\u0100"), "spec.description"),
    ("description with CJK characters", changed(description="备份"), "spec.description"),
    ("description of 1,001 characters", changed(description="d" * 1001), "spec.description"),
    (
        "48 user tags (IAM: 50 with the 3 ownership tags)",
        changed(tags={f"k{i}": "v" for i in range(48)}),
        "spec.tags",
    ),
    ("tag keys equal ignoring case", changed(tags={"Team": "a", "team": "b"}), "spec.tags"),
    ("tag key with the aws: prefix", changed(tags={"aws:owner": "x"}), "spec.tags"),
    ("tag key with the AWS: prefix", changed(tags={"AWS:owner": "x"}), "spec.tags"),
    (
        "tag key with the operator's prefix",
        changed(tags={"dynamobackup.io/name": "x"}),
        "spec.tags",
    ),
    ("tag key with *", changed(tags={"bad*key": "x"}), "spec.tags"),
    ("tag key of 129 characters", changed(tags={"k" * 129: "x"}), "spec.tags"),
    ("empty tag key", changed(tags={"": "x"}), "spec.tags"),
    ("tag key with a tab", changed(tags={"a\tb": "x"}), "spec.tags"),
    ("tag value of 257 characters", changed(tags={"k": "v" * 257}), "spec.tags.k"),
    ("tag value with #", changed(tags={"k": "a#b"}), "spec.tags.k"),
    ("tag value with an emoji", changed(tags={"k": "🚀"}), "spec.tags.k"),
    (
        "driftCheckInterval 99999999999h (overflows Go)",
        changed(driftCheckInterval="99999999999h"),
        "spec.driftCheckInterval",
    ),
    (
        "driftCheckInterval 5s (below 10s)",
        changed(driftCheckInterval="5s"),
        "spec.driftCheckInterval",
    ),
    (
        "driftCheckInterval 25h (above 24h)",
        changed(driftCheckInterval="25h"),
        "spec.driftCheckInterval",
    ),
    ("driftCheckInterval 0s", changed(driftCheckInterval="0s"), "spec.driftCheckInterval"),
    (
        "driftCheckInterval in words",
        changed(driftCheckInterval="10 minutes"),
        "spec.driftCheckInterval",
    ),
    ("driftCheckInterval in days", changed(driftCheckInterval="1d"), "spec.driftCheckInterval"),
    ("driftCheckInterval negative", changed(driftCheckInterval="-10m"), "spec.driftCheckInterval"),
    (
        "driftCheckInterval without a unit",
        changed(driftCheckInterval="600"),
        "spec.driftCheckInterval",
    ),
    (
        "driftCheckInterval of 17 characters",
        changed(driftCheckInterval="1h1m1s1h1m1s1h10m"),
        "spec.driftCheckInterval",
    ),
    (
        "assumeRoleArn in another partition than the account",
        changed(account={**ASSUMED, "assumeRoleArn": "arn:aws-cn:iam::111122223333:role/Operator"}),
        "spec.account",
    ),
    (
        "assumeRoleArn in another account",
        changed(account={**ASSUMED, "assumeRoleArn": "arn:aws:iam::999999999999:role/Operator"}),
        "spec.account",
    ),
    (
        "assumeRoleArn with an unknown partition",
        changed(account={**ASSUMED, "assumeRoleArn": "arn:aws-xx:iam::111122223333:role/Operator"}),
        "spec.account.assumeRoleArn",
    ),
    (
        "assumeRoleArn naming a policy",
        changed(account={**ASSUMED, "assumeRoleArn": "arn:aws:iam::111122223333:policy/Operator"}),
        "spec.account.assumeRoleArn",
    ),
    (
        "assumeRoleArn with a short account id",
        changed(account={**ASSUMED, "assumeRoleArn": "arn:aws:iam::1111:role/Operator"}),
        "spec.account.assumeRoleArn",
    ),
    (
        "applianceRoleArn of another service",
        changed(trust={"applianceRoleArn": "arn:aws:s3:::bucket"}),
        "spec.trust.applianceRoleArn",
    ),
    (
        "applianceRoleArn with partition azure",
        changed(trust={"applianceRoleArn": "arn:azure:iam::444455556666:role/Veeam"}),
        "spec.trust.applianceRoleArn",
    ),
    (
        "permissionsBoundaryArn naming a role",
        changed(permissionsBoundaryArn="arn:aws:iam::111122223333:role/Boundary"),
        "spec.permissionsBoundaryArn",
    ),
    (
        "permissionsBoundaryArn in another partition",
        changed(permissionsBoundaryArn="arn:aws-us-gov:iam::aws:policy/PowerUserAccess"),
        "spec",
    ),
    (
        "permissionsBoundaryArn with a bad account",
        changed(permissionsBoundaryArn="arn:aws:iam::12:policy/Boundary"),
        "spec.permissionsBoundaryArn",
    ),
    ("account id of 11 digits", changed(account={"id": "11112222333"}), "spec.account.id"),
    ("account id with letters", changed(account={"id": "11112222333a"}), "spec.account.id"),
    (
        "partition aws-iso",
        changed(account={"id": "111122223333", "partition": "aws-iso"}),
        "spec.account.partition",
    ),
    (
        "externalId without assumeRoleArn",
        changed(account={"id": "111122223333", "externalId": "abc"}),
        "spec.account",
    ),
    (
        "externalId of 1 character",
        changed(account={**ASSUMED, "externalId": "a"}),
        "spec.account.externalId",
    ),
    (
        "externalId with a space",
        changed(account={**ASSUMED, "externalId": "ext id"}),
        "spec.account.externalId",
    ),
    ("roleName of 65 characters", changed(roleName="r" * 65), "spec.roleName"),
    ("roleName with a space", changed(roleName="my role"), "spec.roleName"),
    ("roleName empty", changed(roleName=""), "spec.roleName"),
    ("roleName missing", changed(roleName=None), "spec.roleName"),
    ("rolePath without slashes", changed(rolePath="veeam"), "spec.rolePath"),
    ("rolePath without the closing slash", changed(rolePath="/veeam"), "spec.rolePath"),
    ("rolePath with a space", changed(rolePath="/a b/"), "spec.rolePath"),
    ("rolePath of 513 characters", changed(rolePath="/" + "p" * 511 + "/"), "spec.rolePath"),
    ("unknown operation", changed(scope={"operations": ["Backup"]}), "spec.scope.operations[0]"),
    (
        "operation twice",
        changed(scope={"operations": ["Restore", "Restore"]}),
        "spec.scope.operations[1]",
    ),
    ("no operation", changed(scope={"operations": []}), "spec.scope.operations"),
    ("scope missing", changed(scope=None), "spec.scope"),
    (
        "both appliance fields",
        changed(
            trust={
                "applianceRoleArn": "arn:aws:iam::444455556666:role/V",
                "applianceAccountId": "444455556666",
            }
        ),
        "spec.trust",
    ),
    ("no appliance field", changed(trust={"externalId": "abc"}), "spec.trust"),
    (
        "applianceAccountId of 11 digits",
        changed(trust={"applianceAccountId": "44445555666"}),
        "spec.trust.applianceAccountId",
    ),
    (
        "trust externalId with a space",
        changed(trust={"applianceAccountId": "444455556666", "externalId": "a b"}),
        "spec.trust.externalId",
    ),
    ("maxSessionDuration 3599", changed(maxSessionDuration=3599), "spec.maxSessionDuration"),
    ("maxSessionDuration 43201", changed(maxSessionDuration=43201), "spec.maxSessionDuration"),
    ("maxSessionDuration as text", changed(maxSessionDuration="1h"), "spec.maxSessionDuration"),
    ("mode DryRun", changed(mode="DryRun"), "spec.mode"),
    ("deletionPolicy Destroy", changed(deletionPolicy="Destroy"), "spec.deletionPolicy"),
    (
        "delivery Attached",
        changed(permissions={"delivery": "Attached"}),
        "spec.permissions.delivery",
    ),
    (
        "profileVersion v10",
        changed(permissions={"profileVersion": "v10"}),
        "spec.permissions.profileVersion",
    ),
    (
        "additional action without a service",
        changed(permissions={"additionalActions": ["dynamodb"]}),
        "spec.permissions.additionalActions[0]",
    ),
    (
        "additional action with an upper-case service",
        changed(permissions={"additionalActions": ["DynamoDB:GetItem"]}),
        "spec.permissions.additionalActions[0]",
    ),
    (
        "additional action twice",
        changed(permissions={"additionalActions": ["s3:GetObject", "s3:GetObject"]}),
        "spec.permissions.additionalActions[1]",
    ),
]


@pytest.fixture(scope="module")
def answers(k8s: ApiClient, crd_installed: None) -> list[str]:
    """What the API server answered to each case, in order (one namespace for all of them)."""
    from dynamobackup_devenv import kube

    namespace = f"bad-input-{os.getpid()}"
    kube.create_namespace(k8s, namespace)
    api = client.CustomObjectsApi(k8s)
    messages = []
    try:
        for index, (_, spec, _) in enumerate(CASES):
            body = {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {"name": f"bad-{index}"},
                "spec": spec,
            }
            try:
                api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
                messages.append("ACCEPTED")
            except ApiException as error:
                assert error.status == 422, error.body
                message = json.loads(error.body)["message"]
                messages.append(message.split(" is invalid: ", 1)[-1])
    finally:
        kube.delete_namespace(k8s, namespace)
    return messages


def test_there_are_at_least_50_cases() -> None:
    assert len(CASES) >= 50
    assert len({what for what, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[what for what, _, _ in CASES])
def test_the_api_server_refuses_it_naming_the_field(answers: list[str], index: int) -> None:
    _, _, field = CASES[index]
    assert answers[index] != "ACCEPTED"
    # One error reads "field: ...", several "[field: ..., other: ...]".
    assert re.search(rf"(^|[\[ ]){re.escape(field)}: ", answers[index]), answers[index]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[what for what, _, _ in CASES])
def test_the_models_refuse_it_too(index: int) -> None:
    _, spec, _ = CASES[index]
    with pytest.raises(ApiError):
        DynamoBackupRoleSpec.parse(spec)


def test_docs_hold_the_api_servers_answers(answers: list[str]) -> None:
    table = matrix_markdown(answers)
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    if os.environ.get("DBR_UPDATE_DOCS") == "1":
        DOC.write_text(text[:start] + "\n" + table + text[end:])
        return
    assert text[start:end].strip() == table.strip(), (
        "docs/reliability.md's bad-input matrix is stale: regenerate with DBR_UPDATE_DOCS=1 "
        ".venv/bin/pytest tests/integration/test_bad_input_matrix.py"
    )


def matrix_markdown(answers: list[str]) -> str:
    rows = ["| # | Malformed input | The API server's answer |", "| --- | --- | --- |"]
    for index, ((what, _, _), answer) in enumerate(zip(CASES, answers, strict=True), start=1):
        cell = answer.replace("|", "\\|").replace("\n", " ")
        if len(cell) > 400:
            cell = cell[:399] + "…"
        rows.append(f"| {index} | {what} | {cell} |")
    return "\n".join(rows) + "\n"
