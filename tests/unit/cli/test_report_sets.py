"""`dbr report` on role sets: the set table of the terminal output, one line per set in namespace
order, with the counts the set's status gives and zeros for a set not reconciled yet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dynamobackup.cli.main import main


def role_set(namespace: str, name: str, status: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "apiVersion": "dynamobackup.io/v1alpha1",
        "kind": "DynamoBackupRoleSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"roleName": "VeeamBackup"}, "accounts": {"ids": ["111111111111"]}},
        **({"status": status} if status is not None else {}),
    }


FAILING = {
    "selected": 12,
    "ready": 9,
    "compliant": 7,
    "nonCompliant": 3,
    "failing": 2,
    "conditions": [{"type": "Ready", "status": "False", "reason": "RolesFailing"}],
}


def test_the_set_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "sets.json"
    items = [role_set("team-b", "prod", FAILING), role_set("team-a", "new", None)]
    listing.write_text(json.dumps({"kind": "List", "items": items}))
    assert main(["report", "--from", str(listing)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "0 roles, 0 compliant, 0 not compliant, 0 failing, 0 unknown; 0 accounts, 2 sets",
        "",
        "ACCOUNT  NAMESPACE  NAME  SET  MODE  STATE  REASON  MISSING  TRUST  CHECKED",
        "",
        "NAMESPACE  SET   ROLE         SELECTED  READY  COMPLIANT  NON-COMPLIANT  FAILING",
        "team-a     new   VeeamBackup  0         0      0          0              0",
        "team-b     prod  VeeamBackup  12        9      7          3              2",
    ]
