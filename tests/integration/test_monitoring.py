"""The chart's alerts and dashboard, checked by the real promtool: the rules parse and their unit
tests pass, every dashboard query is valid PromQL, and every metric they name is one the operator
exports. promtool is built from its Go module (dynamobackup_devenv.binaries)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Histogram

from dynamobackup.metrics import Metrics
from dynamobackup_devenv import binaries

REPO = Path(__file__).parents[2]
CHART = REPO / "charts" / "dynamo-backup-role-operator"
MONITORING = CHART / "monitoring"
# Grafana's variables, replaced by what Grafana would put there.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$namespace": ".*"}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return binaries.ensure(("promtool",))["promtool"]


def run(promtool: Path, *args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def rendered(*values: str) -> list[dict[str, Any]]:
    helm = binaries.ensure(("helm",))["helm"]
    completed = subprocess.run(
        [str(helm), "template", "dbr", str(CHART), "--namespace", "dbr-system"]
        + [arg for value in values for arg in ("--set", value)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [d for d in yaml.safe_load_all(completed.stdout) if d]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"].removeprefix("label_values(").split(",")[0])
    return queries


def exported_series() -> set[str]:
    """Every sample name the operator's metrics produce (counters add _total, histograms more)."""
    names = set()
    for value in vars(Metrics.unexported()).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_{suffix}" for suffix in ("bucket", "count", "sum")}
        elif hasattr(value, "_name"):
            names.add(value._name)
    return names


def test_the_rules_pass_promtool_check_and_their_unit_tests(promtool: Path) -> None:
    checked = run(promtool, "check", "rules", "rules.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = run(promtool, "test", "rules", "rules_test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    groups = yaml.safe_load((MONITORING / "rules.yaml").read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    tests = (MONITORING / "rules_test.yaml").read_text()
    assert all(f"alertname: {alert}" in tests for alert in alerts), "every alert has a test"


def test_the_prometheus_rule_in_the_chart_is_the_rule_file(promtool: Path, tmp_path: Path) -> None:
    (rule,) = [
        m for m in rendered("metrics.prometheusRule.enabled=true") if m["kind"] == "PrometheusRule"
    ]
    assert rule["spec"] == yaml.safe_load((MONITORING / "rules.yaml").read_text())
    (tmp_path / "from-chart.yaml").write_text(yaml.safe_dump(rule["spec"]))
    checked = run(promtool, "check", "rules", "from-chart.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not [m for m in rendered() if m["kind"] == "PrometheusRule"], "opt-in"


def test_every_dashboard_query_is_valid_promql(promtool: Path, tmp_path: Path) -> None:
    rules = []
    for number, query in enumerate(dashboard_queries()):
        expression = query
        for variable, value in GRAFANA_VARIABLES.items():
            expression = expression.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": expression})
    (tmp_path / "dashboard-queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    checked = run(promtool, "check", "rules", "dashboard-queries.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


def test_rules_and_dashboard_name_only_metrics_the_operator_exports() -> None:
    texts = [(MONITORING / "rules.yaml").read_text(), *dashboard_queries()]
    named = {name for text in texts for name in re.findall(r"\bdynamobackup_[a-z_]+", text)}
    assert named, "no operator metric is used"
    assert named <= exported_series(), named - exported_series()


def test_the_dashboard_configmap_carries_the_dashboard_for_grafanas_sidecar() -> None:
    (configmap,) = [
        m
        for m in rendered("metrics.dashboard.enabled=true")
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-dashboard")
    ]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    (content,) = configmap["data"].values()
    assert json.loads(content) == json.loads((MONITORING / "dashboard.json").read_text())
    titles = {panel["title"] for panel in json.loads(content)["panels"]}
    for wanted in ("Fleet compliance", "Most-missing actions", "AWS throttles"):
        assert wanted in titles
    assert "Reconcile latency" in titles
