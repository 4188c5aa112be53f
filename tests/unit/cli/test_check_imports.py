"""A cold `dbr check` loads the policy layer and nothing heavy.

pydantic, PyYAML, kopf, boto3 and the kubernetes client are the operator's dependencies; importing
them (with pydantic's models built) was most of a 0.45 s cold check. bench/cli_start.py measures
the time; this test keeps the dependencies off the check's path, as a list of modules, not a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_readme_example import worked_example

REPO = Path(__file__).parents[3]
HEAVY = {
    "pydantic",
    "pydantic_core",
    "yaml",
    "kopf",
    "aiohttp",
    "boto3",
    "botocore",
    "kubernetes",
    "prometheus_client",
    "policy_sentry",
}
# Slow standard-library imports the check has no use for (main.py reads the version only on
# --version; shipped data files are read as plain files).
SLOW_STDLIB = ("importlib.metadata", "importlib.resources")
OUTER_LAYERS = (
    "dynamobackup.api",
    "dynamobackup.reconcile",
    "dynamobackup.aws",
    "dynamobackup.handlers",
)
PROBE = """
import json, sys
from dynamobackup.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize("output", ["text", "json"])
def test_the_readme_check_imports_no_operator_dependency(output: str) -> None:
    argv, _ = worked_example()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv, "--output", output],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stderr.splitlines()[-1])
    # The check ran to its verdict (not an early exit 2 that would import nothing).
    assert report["code"] == 1 and "sqs:ReceiveMessage" in result.stdout
    modules: list[str] = report["modules"]
    assert sorted({name.partition(".")[0] for name in modules} & HEAVY) == []
    assert [name for name in modules if name.startswith(SLOW_STDLIB)] == []
    assert [name for name in modules if name.startswith(OUTER_LAYERS)] == []
