"""`dbr report` from `kubectl get -o json` output: the table, the JSON, the HTML file, and bad input
(exit 2, one line, nothing written)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dynamobackup.cli.main import main
from dynamobackup.cli.report import age
from dynamobackup.reconcile.fleet import CellVerdict, fleet_report, objects_of

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def role(account: str, name: str, status: dict[str, Any] | None, *ops: str) -> dict[str, Any]:
    return {
        "apiVersion": "dynamobackup.io/v1alpha1",
        "kind": "DynamoBackupRole",
        "metadata": {"name": name, "namespace": "backup"},
        "spec": {"account": {"id": account}, "roleName": "R", "scope": {"operations": list(ops)}},
        **({"status": status} if status else {}),
    }


def verdict(ready: bool, reason: str, compliant: bool | None, **more: Any) -> dict[str, Any]:
    checked = (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    return {
        "conditions": [{"type": "Ready", "status": str(ready), "reason": reason}],
        "compliant": compliant,
        "lastCheckedTime": checked,
        **more,
    }


LISTING = {
    "kind": "List",
    "items": [
        role("111111111111", "a", verdict(True, "Reconciled", True), "BackupPolicy"),
        role(
            "222222222222",
            "b",
            verdict(False, "NotCompliant", False, missingActions=["dynamodb:ListTables"]),
            "BackupPolicy",
            "Restore",
        ),
        role("222222222222", "c", verdict(True, "Reconciled", True), "Restore"),
        {"kind": "ConfigMap", "metadata": {"name": "ignored"}},
    ],
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_and_json_from_kubectl_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "fleet.json"
    listing.write_text(json.dumps(LISTING))
    page = tmp_path / "fleet.html"
    code, out, _ = run(capsys, "report", "--from", str(listing), "--html", str(page))
    assert code == 0
    assert out.startswith("3 roles, 2 compliant, 1 not compliant, 0 failing, 0 unknown; 2 accounts")
    assert "dynamodb:ListTables" in out  # most-missing actions
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "http" not in html.replace("http-equiv", "")
    code, out, _ = run(capsys, "report", "--from", str(listing), "--format", "json")
    report = json.loads(out)
    assert report["summary"]["roles"] == 3
    assert report["mostMissing"] == [{"action": "dynamodb:ListTables", "roles": 1}]


def test_the_worst_role_of_an_account_decides_its_cell() -> None:
    report = fleet_report(objects_of([LISTING]), NOW)
    cells = report.grid["222222222222"]
    # Role c serves Restore, role b does not (it misses an action; its profile is unknown here).
    assert cells["Restore"] is CellVerdict.MISSING
    assert cells["ManualBackup"] is CellVerdict.NONE
    assert report.grid["111111111111"]["BackupPolicy"] is CellVerdict.READY
    assert report.roles[0].age_seconds(NOW) == 300


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not the JSON of kubectl get"), ("[1, 2]", "not an object")],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    listing = tmp_path / "fleet.json"
    listing.write_text(content)
    page = tmp_path / "fleet.html"
    code, out, err = run(capsys, "report", "--from", str(listing), "--html", str(page))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not page.exists() and out == ""


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "report", "--from", str(tmp_path / "absent.json"))
    assert code == 2 and "absent.json" in err


def test_ages_read_like_kubectl() -> None:
    assert [age(s) for s in (None, 5, 125, 7300, 200000)] == ["never", "5s", "2m", "2h", "2d"]
