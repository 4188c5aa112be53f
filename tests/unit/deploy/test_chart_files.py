"""The chart's files agree with the project: the CRD is the generated one byte for byte, versions
match pyproject, every value is in the schema with a description, and docs/install.md's values
table is the one generated from them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

import dynamobackup
from dynamobackup.api import crdgen
from dynamobackup.api.v1alpha1 import KINDS

from .valuesdoc import BEGIN, END, INSTALL_DOC, leaves, render

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "dynamo-backup-role-operator"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


def test_chart_crds_are_the_generated_crds_byte_for_byte() -> None:
    chart_crds = sorted((CHART / "crds").iterdir())
    assert [p.name for p in chart_crds] == sorted(crdgen.crd_filename(k) for k in KINDS)
    for chart_crd in chart_crds:
        generated = (REPO / "crds" / chart_crd.name).read_bytes()
        assert chart_crd.read_bytes() == generated, (
            "charts/dynamo-backup-role-operator/crds/ is stale; regenerate with `make crds`"
        )


def test_chart_app_version_is_the_project_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"] == dynamobackup.__version__
    assert chart["apiVersion"] == "v2" and chart["type"] == "application"


def value_keys(node: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key of values.yaml, walked as deep as the schema declares properties."""
    keys = []
    for name, value in node.items():
        key = f"{prefix}{name}"
        keys.append(key)
        child = schema.get("properties", {}).get(name, {})
        if isinstance(value, dict) and "properties" in child:
            keys += value_keys(value, child, f"{key}.")
    return keys


def schema_keys(schema: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for name, child in schema.get("properties", {}).items():
        keys.append(f"{prefix}{name}")
        keys += schema_keys(child, f"{prefix}{name}.")
    return keys


def test_values_and_schema_declare_the_same_keys() -> None:
    assert SCHEMA["additionalProperties"] is False
    assert sorted(value_keys(VALUES, SCHEMA)) == sorted(
        k for k in schema_keys(SCHEMA) if k != "global"
    )


def test_every_schema_object_is_closed_and_every_value_described() -> None:
    def walk(node: dict[str, Any], path: str) -> None:
        assert node.get("description") or path == "", f"{path} has no description"
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for name, child in node["properties"].items():
                walk(child, f"{path}.{name}".lstrip("."))

    walk(SCHEMA, "")
    assert [key for key, _ in leaves(SCHEMA)], "the values table would be empty"


def test_install_doc_values_table_is_current() -> None:
    document = INSTALL_DOC.read_text(encoding="utf-8")
    assert BEGIN in document and END in document
    assert document == render(document), (
        "docs/install.md's values table is stale; regenerate with "
        "`.venv/bin/python tests/unit/deploy/valuesdoc.py`"
    )
