"""The Dockerfile, read rather than built (no Docker engine here): two stages on one pinned-able
base, a wheel of this pyproject without dev extras, a final stage with the venv only, non-root,
`dbr run` as entrypoint, the ports the CLI and the chart use."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dynamobackup.cli.main import build_parser

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
CHART_VALUES = yaml.safe_load((REPO / "charts/dynamo-backup-role-operator/values.yaml").read_text())
BASE_IMAGE = re.compile(r"^python:(?P<python>3\.\d+)-slim-(?P<debian>[a-z]+)$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    parsed = []
    for entry in logical:
        keyword, _, arguments = entry.partition(" ")
        parsed.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return parsed


def stages() -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def of(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.arguments for i in stage if i.keyword == keyword]


def default_arg(name: str) -> str:
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction.keyword == "ARG" and instruction.arguments.startswith(f"{name}="):
            return instruction.arguments.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}=... default")


def test_two_stages_on_the_same_base() -> None:
    builder, final = stages()
    assert of(builder, "FROM") == ["${PYTHON_IMAGE} AS builder"]
    assert of(final, "FROM") == ["${PYTHON_IMAGE}"]
    base = BASE_IMAGE.match(default_arg("PYTHON_IMAGE"))
    assert base, "the base is a python:X.Y-slim-<debian> image"
    # The image runs the Python line the project is written and type-checked for.
    assert f">={base['python']}" == PYPROJECT["project"]["requires-python"]
    assert base["python"] == PYPROJECT["tool"]["mypy"]["python_version"]
    assert "@sha256:" in DOCKERFILE.read_text(), "a comment explains pinning by digest"


def test_the_builder_makes_a_wheel_of_this_project_without_dev_extras() -> None:
    builder, _ = stages()
    copied = " ".join(of(builder, "COPY")).split()
    assert "pyproject.toml" in copied and PYPROJECT["project"]["readme"] in copied
    package_root = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["where"][0]
    assert f"{package_root}/" in copied
    (run,) = of(builder, "RUN")
    steps = [shlex.split(step) for step in run.split("&&")]
    # pip runs from a throwaway venv: a Debian base has no pip of its own, and refuses installs
    # into its system Python (PEP 668). tests/image builds it on such a base.
    assert ["python3", "-m", "venv", "/opt/build"] in steps
    wheel = ["/opt/build/bin/pip", "wheel", "--no-deps", "--wheel-dir", "/wheels", "."]
    assert wheel in steps
    assert ["python3", "-m", "venv", "--without-pip", "/opt/venv"] in steps
    install = next(step for step in steps if "install" in step)
    assert install[:3] == ["/opt/build/bin/pip", "--python", "/opt/venv/bin/python"]
    assert install[-1] == "/wheels/*.whl"
    text = DOCKERFILE.read_text()
    # Dependencies come from pyproject.toml alone, as in the test venv (scripts/bootstrap installs
    # the same project with its dev extras): no requirements file, no extras in the image.
    assert "[dev]" not in text and "requirements" not in text
    assert "pip install --quiet -e '.[dev]'" in (REPO / "scripts/bootstrap").read_text()


def test_the_final_stage_holds_the_venv_and_no_build_tools() -> None:
    _, final = stages()
    assert of(final, "COPY") == ["--from=builder /opt/venv /opt/venv"]
    (run,) = of(final, "RUN")
    # Only where pip itself installed them (python:3.x-slim); never an EXTERNALLY-MANAGED Python.
    assert "pip uninstall --yes --no-cache-dir pip setuptools wheel" in run
    assert "EXTERNALLY-MANAGED" in run
    for tool in ("apt-get", "gcc", "build-essential", "pip install", "pip wheel"):
        assert tool not in run
    env = " ".join(of(final, "ENV"))
    assert "PATH=/opt/venv/bin:$PATH" in env and "PYTHONDONTWRITEBYTECODE=1" in env


def test_the_final_stage_runs_dbr_run_as_a_numeric_non_root_user() -> None:
    _, final = stages()
    (user,) = of(final, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    assert int(uid) == CHART_VALUES["podSecurityContext"]["runAsUser"]
    (entrypoint,) = of(final, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["dbr", "run"]
    assert PYPROJECT["project"]["scripts"]["dbr"] == "dynamobackup.cli.main:main"
    build_parser().parse_args(["run"])  # `run` is a subcommand of that entry point


def test_exposed_ports_are_the_cli_and_chart_defaults() -> None:
    _, final = stages()
    (exposed,) = of(final, "EXPOSE")
    defaults = build_parser().parse_args(["run"])
    assert exposed.split() == [str(defaults.health_port), str(defaults.metrics_port)]
    operator = CHART_VALUES["operator"]
    assert (operator["healthPort"], operator["metricsPort"]) == (
        defaults.health_port,
        defaults.metrics_port,
    )


@pytest.mark.parametrize(
    "label", ["title", "description", "licenses", "version", "revision", "created", "base.name"]
)
def test_oci_labels(label: str) -> None:
    _, final = stages()
    labels = " ".join(of(final, "LABEL"))
    assert f"org.opencontainers.image.{label}=" in labels
    if label == "licenses":
        assert f'licenses="{PYPROJECT["project"]["license"]["text"]}"' in labels
    if label == "version":
        assert default_arg("VERSION") == PYPROJECT["project"]["version"]


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    rules = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first, then the build inputs re-included"
    included = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    builder, _ = stages()
    copied = {
        source.rstrip("/") for arguments in of(builder, "COPY") for source in arguments.split()[:-1]
    }
    assert copied == included
    assert all((REPO / path).exists() for path in copied)


def test_the_image_keeps_the_api_model_of_every_service_the_operator_calls() -> None:
    # The aws layer names its services as string literals: iam_for/client_for(..., "service")
    # and the STS client of its own credentials.
    source = "\n".join(p.read_text() for p in (REPO / "operator/dynamobackup/aws").glob("*.py"))
    called = set(re.findall(r'client_for\([^)]*"([a-z0-9-]+)"\)', source))
    called |= set(re.findall(r'\("own", "([a-z0-9-]+)"', source)) | {"iam"}
    assert {"sts", "organizations"} <= called
    kept = set(default_arg("BOTOCORE_SERVICES").strip('"').split())
    assert called <= kept, f"the image deletes the botocore models of {sorted(called - kept)}"
