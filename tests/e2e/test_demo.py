"""The README's run command does what the README says, and `dbr dev down` leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dynamobackup_devenv.processes import pid_alive

DBR = [sys.executable, "-m", "dynamobackup.cli.main"]


def test_dev_demo_prints_the_verdicts_and_down_stops_everything(tmp_path: Path) -> None:
    env = {**os.environ, "DBR_DEV_DIR": str(tmp_path / "dev")}
    try:
        demo = subprocess.run(
            [*DBR, "dev", "demo"], check=False, env=env, capture_output=True, text=True, timeout=300
        )
        assert demo.returncode == 0, demo.stderr
        lines = demo.stdout.splitlines()
        header = lines[0].split()
        assert header[:2] == ["NAMESPACE", "NAME"]
        assert {"ACCOUNT", "ROLE", "MODE", "READY", "REASON", "COMPLIANT", "MISSING"} <= set(header)
        rows = {
            line.split()[1]: dict(zip(header, line.split(), strict=False)) for line in lines[1:5]
        }
        columns = ("MODE", "READY", "COMPLIANT", "MISSING")
        assert [rows["backup-policy"][c] for c in columns] == ["Enforce", "True", "true", "0"]
        assert [rows["legacy-audit"][c] for c in columns] == ["Audit", "False", "false", "27"]
        assert rows["legacy-audit"]["REASON"] == "DriftDetected"
        # The cross-account role got in through its account binding and the Secret it names.
        assert [rows["restore-prod"][c] for c in columns] == ["Enforce", "True", "true", "0"]
        assert "veeam-backup/legacy-audit: Ready=False (DriftDetected)" in demo.stdout
        operator_pid = int((tmp_path / "dev" / "operator.pid").read_text())
        assert pid_alive(operator_pid)
    finally:
        down = subprocess.run(
            [*DBR, "dev", "down"], check=False, env=env, capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0, down.stderr
    assert not pid_alive(operator_pid)
    assert not (tmp_path / "dev" / "state.json").exists()
