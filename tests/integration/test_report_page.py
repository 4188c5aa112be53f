"""The fleet report's HTML page in a real headless Chromium (Debian's package, installed by the
fixture when missing): it renders, the account x operation grid shows the right verdicts, it
loads nothing from anywhere, and a screenshot is kept as a test artefact.

The input is `kubectl get dbr,dbrs -A -o json` output with one role of each kind of verdict, so
every colour of the grid is on the page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dynamobackup.policy.profiles import load_profile
from dynamobackup_devenv.browser import Browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DBR_TEST_ARTIFACTS", REPO / "test-artifacts"))
NOW = "2026-01-02T03:04:05Z"


def role(
    account: str, operations: list[str], status: dict[str, Any] | None, name: str | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "dynamobackup.io/v1alpha1",
        "kind": "DynamoBackupRole",
        "metadata": {
            "name": name or f"backup-{account}",
            "namespace": "backup",
            "labels": {"dynamobackup.io/role-set": "backup"},
        },
        "spec": {
            "account": {"id": account},
            "roleName": "VeeamBackup",
            "scope": {"operations": operations},
        },
        **({"status": status} if status is not None else {}),
    }


def checked(ready: bool, reason: str, compliant: bool | None, **fields: Any) -> dict[str, Any]:
    return {
        "conditions": [
            {"type": "Ready", "status": str(ready), "reason": reason, "message": reason}
        ],
        "compliant": compliant,
        "lastCheckedTime": NOW,
        "profile": {"version": "11"},
        **fields,
    }


def backup_policy_only_action() -> str:
    profile = load_profile("11")
    others = set(profile.required_actions(["ManualBackup", "Restore"]))
    return sorted(set(profile.required_actions(["BackupPolicy"])) - others)[0]


def fleet_listing() -> dict[str, Any]:
    lacking = backup_policy_only_action()
    trust_error = {"severity": "error", "code": "ApplianceNotTrusted", "message": "no appliance"}
    items = [
        role("111111111111", ["BackupPolicy", "Restore"], checked(True, "Reconciled", True)),
        role(
            "222222222222",
            ["BackupPolicy", "ManualBackup"],
            checked(False, "DriftDetected", False, missingActions=[lacking], missingCount=1),
        ),
        role("333333333333", ["Restore"], checked(False, "AccessDenied", None)),
        role("444444444444", ["BackupPolicy"], None),
        role(
            "555555555555",
            ["Restore"],
            checked(False, "DriftDetected", False, trustFindings=[trust_error]),
        ),
        {
            "apiVersion": "dynamobackup.io/v1alpha1",
            "kind": "DynamoBackupRoleSet",
            "metadata": {"name": "backup", "namespace": "backup"},
            "spec": {"template": {"roleName": "VeeamBackup"}},
            "status": {"selected": 5, "ready": 1, "compliant": 1, "nonCompliant": 2, "failing": 1},
        },
    ]
    return {"apiVersion": "v1", "kind": "List", "items": items}


EXPECTED = {
    ("111111111111", "BackupPolicy"): "ready",
    ("111111111111", "ManualBackup"): "none",
    ("111111111111", "Restore"): "ready",
    # Missing an action only BackupPolicy needs: ManualBackup can still run.
    ("222222222222", "BackupPolicy"): "missing",
    ("222222222222", "ManualBackup"): "ready",
    ("222222222222", "Restore"): "none",
    ("333333333333", "Restore"): "failing",
    ("444444444444", "BackupPolicy"): "unknown",
    # A trust error stops every operation.
    ("555555555555", "Restore"): "missing",
}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    listing = folder / "fleet.json"
    listing.write_text(json.dumps(fleet_listing()))
    html = folder / "fleet.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dynamobackup.cli.main",
            "report",
            "--from",
            str(listing),
            "--html",
            str(html),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "5 roles, 1 compliant, 2 not compliant, 1 failing, 1 unknown" in done.stdout
    return html


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as running:
        yield running


def test_the_grid_shows_each_accounts_verdict_per_operation(page: Path, browser: Browser) -> None:
    browser.open(page.as_uri())
    cells = browser.evaluate(
        "Array.from(document.querySelectorAll('#grid td.cell')).map(td => "
        "[td.dataset.account, td.dataset.operation, td.dataset.verdict, td.innerText, "
        "getComputedStyle(td).backgroundColor])"
    )
    shown = {(account, op): verdict for account, op, verdict, _, _ in cells}
    assert {key: shown[key] for key in EXPECTED} == EXPECTED
    colours = {verdict: colour for _, _, verdict, _, colour in cells}
    # Rendered, not just present: each verdict has its own colour and readable text.
    assert len({colours[v] for v in ("ready", "missing", "failing", "unknown")}) == 4
    texts = {verdict: text for _, _, verdict, text, _ in cells}
    assert texts["ready"] == "ready" and texts["none"] == "no role"
    assert browser.evaluate("document.title").startswith("DynamoDB backup roles")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = browser.screenshot(ARTIFACTS / "fleet-report.png")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_the_page_lists_the_most_missing_actions_trust_findings_and_ages(
    page: Path, browser: Browser
) -> None:
    browser.open(page.as_uri())
    missing = browser.evaluate("document.querySelector('#most-missing').innerText")
    assert backup_policy_only_action() in missing
    trust = browser.evaluate("document.querySelector('#trust').innerText")
    assert "555555555555" in trust and "ApplianceNotTrusted" in trust
    ages = browser.evaluate(
        "Array.from(document.querySelectorAll('#roles td[data-age]')).map(td => td.innerText)"
    )
    assert "never" in ages and any(age.endswith("d") for age in ages)


def test_the_page_loads_nothing_but_itself(page: Path, browser: Browser) -> None:
    browser.requests.clear()
    browser.open(page.as_uri())
    assert browser.requests == [page.as_uri()]
