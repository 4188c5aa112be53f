"""The CRD generated from the models: committed files are current, the schema is structural, and
it carries the API contract (names, fields, defaults, CEL rules, printer columns)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field

from dynamobackup.api import crdgen, v1alpha1
from dynamobackup.api.crdgen import SchemaError, structural_schema
from dynamobackup.api.v1alpha1 import Operation
from dynamobackup.policy import profiles

REPO = Path(__file__).resolve().parents[3]
COMMITTED_DOCS = REPO / "docs" / "api.md"

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return crdgen.crd()


@pytest.fixture(scope="module")
def schema(crd: dict[str, Any]) -> Schema:
    (version,) = crd["spec"]["versions"]
    root: Schema = version["schema"]["openAPIV3Schema"]
    return root


def at(schema: Schema, path: str) -> Schema:
    """The schema node of a dotted path like `spec.account.id` (`[]` steps into list items)."""
    node = schema
    for step in path.split("."):
        node = node["properties"][step.removesuffix("[]")]
        if step.endswith("[]"):
            node = node["items"]
    return node


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}.*")


def rules(node: Schema) -> dict[str, str]:
    return {rule["rule"]: rule["message"] for rule in node.get("x-kubernetes-validations", [])}


# --- golden files ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", v1alpha1.KINDS, ids=lambda kind: kind.kind)
def test_committed_crd_is_generated_from_the_models(kind: v1alpha1.KindInfo) -> None:
    committed = REPO / "crds" / crdgen.crd_filename(kind)
    assert committed.read_text(encoding="utf-8") == crdgen.crd_yaml(kind), (
        f"{committed.relative_to(REPO)} is stale; regenerate with: {crdgen.REGENERATE}"
    )


def test_crds_folder_holds_exactly_the_generated_kinds() -> None:
    committed = sorted(path.name for path in (REPO / "crds").iterdir())
    assert committed == sorted(crdgen.crd_filename(kind) for kind in v1alpha1.KINDS)


def test_committed_api_docs_are_generated_from_the_models() -> None:
    assert COMMITTED_DOCS.read_text(encoding="utf-8") == crdgen.docs_markdown(), (
        f"{COMMITTED_DOCS.relative_to(REPO)} is stale; regenerate with: {crdgen.REGENERATE}"
    )


def test_generation_is_deterministic_across_processes() -> None:
    # Set iteration order depends on the hash seed, which differs per process: generate twice in
    # fresh interpreters with different seeds and compare the bytes.
    outputs = [_generate_in_subprocess(seed) for seed in ("1", "2")]
    assert outputs[0] == outputs[1]
    assert outputs[0] == crdgen.all_crds_yaml() + crdgen.docs_markdown()


def _generate_in_subprocess(hash_seed: str) -> str:
    code = (
        "import sys; from dynamobackup.api import crdgen; "
        "sys.stdout.write(crdgen.all_crds_yaml() + crdgen.docs_markdown())"
    )
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_yaml_reads_back_as_the_crd(crd: dict[str, Any]) -> None:
    assert yaml.safe_load(crdgen.crd_yaml()) == crd


def test_check_mode_reports_stale_and_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "api.md"
    assert crdgen.main(["--check", str(tmp_path), "--docs", str(docs)]) == 1
    assert crdgen.main(["--write", str(tmp_path), "--docs", str(docs)]) == 0
    assert crdgen.main(["--check", str(tmp_path), "--docs", str(docs)]) == 0
    docs.write_text("edited by hand\n", encoding="utf-8")
    assert crdgen.main(["--check", str(tmp_path), "--docs", str(docs)]) == 1
    assert "api.md is stale; regenerate with: python -m dynamobackup.api.crdgen" in (
        capsys.readouterr().err
    )


def test_without_arguments_the_crds_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main([]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert documents == crdgen.crds()


# --- structural schema -------------------------------------------------------------------


def test_every_node_has_a_type_and_nothing_non_structural(schema: Schema) -> None:
    for path, node in walk(schema):
        assert "type" in node, f"{path} has no type"
        for keyword in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title"):
            assert keyword not in node, f"{path} has {keyword}"
        assert "uniqueItems" not in node, f"{path}: use x-kubernetes-list-type: set"
        assert "nullable" not in node, f"{path} is nullable"
        assert not ("properties" in node and "additionalProperties" in node), path
        assert "x-kubernetes-preserve-unknown-fields" not in node, f"{path} is not pruned"


def test_metadata_is_left_to_the_api_server(schema: Schema) -> None:
    assert schema["properties"]["metadata"] == {"type": "object"}


def test_defaults_are_valid_values_of_their_node(schema: Schema) -> None:
    python_types = {"string": str, "integer": int, "boolean": bool, "object": dict}
    for path, node in walk(schema):
        if "default" not in node:
            continue
        default = node["default"]
        assert isinstance(default, python_types[node["type"]]), path
        if "enum" in node:
            assert default in node["enum"], path
        if "pattern" in node:
            assert re.search(node["pattern"], str(default)), path


def test_list_map_keys_are_required(schema: Schema) -> None:
    for path, node in walk(schema):
        for key in node.get("x-kubernetes-list-map-keys", []):
            assert key in node["items"].get("required", []), f"{path}: {key} must be required"


def test_cel_rules_and_messages_are_single_lines(schema: Schema) -> None:
    for path, node in walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            assert set(rule) == {"rule", "message"}, path
            assert "\n" not in rule["rule"] + rule["message"], path


def test_optional_without_default_is_not_materialized(schema: Schema) -> None:
    # An absent profileVersion means "newest shipped profile", resolved at runtime.
    assert "default" not in at(schema, "spec.permissions.profileVersion")
    assert "default" not in at(schema, "spec.account.assumeRoleArn")


def test_generator_refuses_what_a_crd_cannot_express() -> None:
    class Union(BaseModel):
        value: int | str = Field(description="either")

    class FreeForm(BaseModel):
        value: dict[str, Any] = Field(description="anything")

    with pytest.raises(SchemaError, match=r"Union\.value: anyOf of several types"):
        structural_schema(Union)
    with pytest.raises(SchemaError, match=r"FreeForm\.value: free-form objects"):
        structural_schema(FreeForm)


def test_exclusive_bounds_become_openapi_v3_0_flags() -> None:
    class Bounded(BaseModel):
        value: int = Field(gt=0, lt=10, description="bounded")

    node = structural_schema(Bounded)["properties"]["value"]
    assert node["minimum"] == 0 and node["exclusiveMinimum"] is True
    assert node["maximum"] == 10 and node["exclusiveMaximum"] is True


# --- the API contract --------------------------------------------------------------------


def test_names_and_scope(crd: dict[str, Any]) -> None:
    assert crd["metadata"]["name"] == "dynamobackuproles.dynamobackup.io"
    spec = crd["spec"]
    assert spec["group"] == "dynamobackup.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "DynamoBackupRole",
        "listKind": "DynamoBackupRoleList",
        "plural": "dynamobackuproles",
        "singular": "dynamobackuprole",
        "shortNames": ["dbr"],
        "categories": ["dynamobackup"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


SPEC_FIELDS = {
    "account": {"id", "partition", "assumeRoleArn", "externalId", "externalIdSecretRef"},
    "roleName": None,
    "rolePath": None,
    "description": None,
    "maxSessionDuration": None,
    "permissionsBoundaryArn": None,
    "tags": None,
    "scope": {"operations"},
    "mode": None,
    "trust": {"applianceRoleArn", "applianceAccountId", "externalId", "externalIdSecretRef"},
    "permissions": {"profileVersion", "delivery", "additionalActions", "exclusive"},
    "adoptExisting": None,
    "deletionPolicy": None,
    "driftCheckInterval": None,
}
STATUS_FIELDS = {
    "roleArn",
    "roleId",
    "observedGeneration",
    "compliant",
    "conditions",
    "missingActions",
    "deniedActions",
    "conditionalActions",
    "excessActions",
    "missingCount",
    "trustFindings",
    "profile",
    "managedPolicyArns",
    "lastCheckedTime",
    "awsCalls",
    "mode",
    "foreignPolicies",
    "driftedSettings",
    "lastChanges",
    "addedActions",
    "dangerousActions",
    "managedTags",
}


def test_spec_has_exactly_the_contract_fields(schema: Schema) -> None:
    spec = at(schema, "spec")
    assert set(spec["properties"]) == set(SPEC_FIELDS)
    for name, children in SPEC_FIELDS.items():
        if children is not None:
            assert set(spec["properties"][name]["properties"]) == children, name
    assert set(spec["required"]) == {"account", "roleName", "scope", "trust"}
    assert at(schema, "spec.account")["required"] == ["id"]
    assert at(schema, "spec.scope")["required"] == ["operations"]


def test_status_has_the_contract_fields(schema: Schema) -> None:
    status = at(schema, "status")
    assert set(status["properties"]) == STATUS_FIELDS
    assert "required" not in status
    assert set(at(schema, "status.conditions[]")["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }
    assert set(at(schema, "status.trustFindings[]")["properties"]) == {
        "code",
        "message",
        "severity",
    }
    assert set(at(schema, "status.profile")["properties"]) == {
        "version",
        "operations",
        "actionCount",
    }


def test_every_field_is_described_for_kubectl_explain(schema: Schema) -> None:
    for path, node in walk(schema):
        if path.startswith((".spec", ".status")) and not path.endswith(("[]", ".*")):
            assert node.get("description"), f"{path} has no description"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.account.partition", "aws"),
        ("spec.rolePath", "/"),
        ("spec.maxSessionDuration", 3600),
        ("spec.mode", "Enforce"),
        ("spec.permissions", {}),
        ("spec.permissions.delivery", "Inline"),
        ("spec.permissions.exclusive", False),
        ("spec.adoptExisting", False),
        ("spec.deletionPolicy", "Retain"),
        ("spec.driftCheckInterval", "10m"),
    ],
)
def test_contract_defaults(schema: Schema, path: str, expected: Any) -> None:
    assert at(schema, path)["default"] == expected


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("spec.account.partition", ["aws", "aws-cn", "aws-us-gov"]),
        ("spec.scope.operations[]", ["BackupPolicy", "ManualBackup", "Restore"]),
        ("spec.mode", ["Enforce", "Audit"]),
        ("spec.permissions.delivery", ["Inline", "Managed"]),
        ("spec.deletionPolicy", ["Retain", "Delete"]),
        ("status.conditions[].status", ["True", "False", "Unknown"]),
        ("status.trustFindings[].severity", ["error", "warning"]),
    ],
)
def test_contract_enums(schema: Schema, path: str, values: list[str]) -> None:
    assert at(schema, path)["enum"] == values


def test_sets_and_maps(schema: Schema) -> None:
    operations = at(schema, "spec.scope.operations")
    assert operations["x-kubernetes-list-type"] == "set"
    assert operations["minItems"] == 1
    assert at(schema, "spec.permissions.additionalActions")["x-kubernetes-list-type"] == "set"
    conditions = at(schema, "status.conditions")
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    tags = at(schema, "spec.tags")
    assert tags["additionalProperties"]["type"] == "string"
    assert tags["maxProperties"] == 47


def test_numeric_and_length_bounds(schema: Schema) -> None:
    duration = at(schema, "spec.maxSessionDuration")
    assert (duration["type"], duration["minimum"], duration["maximum"]) == ("integer", 3600, 43200)
    assert at(schema, "spec.description")["maxLength"] == 1000
    for path in ("spec.account.externalId", "spec.trust.externalId"):
        assert (at(schema, path)["minLength"], at(schema, path)["maxLength"]) == (2, 1224)
    for path in ("status.conditions[].lastTransitionTime", "status.lastCheckedTime"):
        assert at(schema, path)["format"] == "date-time"


@pytest.mark.parametrize(
    ("path", "valid", "invalid"),
    [
        ("spec.account.id", ["111122223333"], ["11112222333", "1111222233334", "11112222333a"]),
        ("spec.roleName", ["Veeam+Role=1,a.b@c_d-e", "r" * 64], ["", "r" * 65, "a b", "a/b"]),
        ("spec.rolePath", ["/", "/a/", "/a/b-c/"], ["", "a/", "/a", "/a b/"]),
        (
            "spec.trust.applianceRoleArn",
            [
                "arn:aws:iam::123456789012:role/R",
                "arn:aws-cn:iam::123456789012:role/path/to/R",
            ],
            ["arn:aws:iam::123456789012:user/R", "arn:aws:iam::1234:role/R", "R"],
        ),
        (
            "spec.permissionsBoundaryArn",
            ["arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::123456789012:policy/a/B"],
            ["arn:aws:iam::123456789012:role/B"],
        ),
        ("spec.trust.externalId", ["ab", "a_b+c=d,e.f@g:h/i-j"], ["a b", "a!b"]),
        (
            "spec.permissions.additionalActions[]",
            ["dynamodb:GetItem", "dynamodb:List*", "s3:Get?bject", "backup-storage:*"],
            ["dynamodb", "*:GetItem", "dynamodb:Get Item", "DynamoDB:GetItem"],
        ),
        ("spec.permissions.profileVersion", ["10", "10.1"], ["v10", "10.", "10.1.2"]),
        ("spec.driftCheckInterval", ["10s", "10m", "1h30m", "1.5h"], ["10", "10 m", "1d", "-1s"]),
    ],
)
def test_patterns(schema: Schema, path: str, valid: list[str], invalid: list[str]) -> None:
    # Python's re agrees with Go's RE2 on these patterns (no \p classes, no lookaround).
    pattern = at(schema, path)["pattern"]
    for value in valid:
        assert re.search(pattern, value), f"{path} should accept {value!r}"
    for value in invalid:
        assert not re.search(pattern, value), f"{path} should reject {value!r}"


def test_cel_rules_of_the_contract(schema: Schema) -> None:
    assert rules(at(schema, "spec.roleName")) == {"self == oldSelf": "roleName is immutable"}
    assert "self == oldSelf" in rules(at(schema, "spec.rolePath"))
    account = rules(at(schema, "spec.account"))
    assert account["!has(self.externalId) || has(self.assumeRoleArn)"] == (
        "externalId is only valid together with assumeRoleArn"
    )
    assert "account id and partition" in " ".join(account.values())
    assert account["!has(self.externalIdSecretRef) || has(self.assumeRoleArn)"] == (
        "externalIdSecretRef is only valid together with assumeRoleArn"
    )
    assert account["!(has(self.externalId) && has(self.externalIdSecretRef))"] == (
        "externalId and externalIdSecretRef are mutually exclusive: set only one"
    )
    trust = rules(at(schema, "spec.trust"))
    assert trust["has(self.applianceRoleArn) || has(self.applianceAccountId)"].startswith(
        "one of applianceRoleArn or applianceAccountId is required"
    )
    assert (
        "mutually exclusive"
        in trust["!(has(self.applianceRoleArn) && has(self.applianceAccountId))"]
    )
    tag_rules = " ".join(rules(at(schema, "spec.tags")))
    assert "!k.lowerAscii().startsWith('dynamobackup.io/')" in tag_rules
    assert "!k.lowerAscii().startsWith('aws:')" in tag_rules
    (drift_rule,) = rules(at(schema, "spec.driftCheckInterval"))
    assert "duration(self) >= duration('10s')" in drift_rule
    assert "duration(self) <= duration('86400s')" in drift_rule
    assert "lowerAscii()" in tag_rules


def test_printer_columns(crd: dict[str, Any]) -> None:
    (version,) = crd["spec"]["versions"]
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert list(columns) == [
        "Account", "Role", "Mode", "Ready", "Reason", "Compliant", "Missing", "Age"
    ]  # fmt: skip
    ready = '.status.conditions[?(@.type=="Ready")]'
    expected = {
        "Account": ("string", ".spec.account.id"),
        "Role": ("string", ".spec.roleName"),
        "Mode": ("string", ".spec.mode"),
        "Ready": ("string", f"{ready}.status"),
        "Reason": ("string", f"{ready}.reason"),
        "Compliant": ("boolean", ".status.compliant"),
        "Missing": ("integer", ".status.missingCount"),
        "Age": ("date", ".metadata.creationTimestamp"),
    }
    for name, (kind, json_path) in expected.items():
        assert (columns[name]["type"], columns[name]["jsonPath"]) == (kind, json_path)
    # Every column shows in a plain `kubectl get`, Ready and Reason above all.
    assert all("priority" not in column for column in columns.values())


def test_printer_columns_point_at_schema_fields(schema: Schema) -> None:
    for column in v1alpha1.PRINTER_COLUMNS:
        path = column["jsonPath"].lstrip(".").split("[")[0]
        if not path.startswith("metadata"):
            at(schema, path)


@pytest.mark.parametrize("kind", v1alpha1.KINDS, ids=lambda kind: kind.kind)
def test_the_docs_example_is_a_valid_spec(kind: v1alpha1.KindInfo) -> None:
    kind.spec.parse(kind.example_spec)


def test_docs_list_every_field_and_rule(schema: Schema) -> None:
    docs = crdgen.docs_markdown()
    for path, _ in walk(schema):
        if path.startswith((".spec.", ".status.")) and not path.endswith(("[]", ".*")):
            assert f"| `{path.lstrip('.')}` |" in docs, path
    for _, node in walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["message"] in docs


# --- the operations are the ones the permission profiles define ---------------------------


def test_operation_enum_matches_every_shipped_profile() -> None:
    versions = list(profiles.list_versions())
    assert versions, "no permission profile is shipped"
    for version in versions:
        operations = set(profiles.load_profile(version).operations)
        assert operations == {operation.value for operation in Operation}, version
    assert set(profiles.load_profile().operations) == set(Operation)
