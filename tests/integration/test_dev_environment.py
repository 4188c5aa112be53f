"""`dbr dev up|status|down`: a detached environment that survives the command and cleans up after."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dynamobackup.cli.main import OneLineErrorParser
from dynamobackup_devenv import binaries
from dynamobackup_devenv import cli as dev
from dynamobackup_devenv.processes import group_members, pid_alive


def run_dev(*argv: str) -> int:
    # Only `dev` is registered: the test exercises this subcommand, not the other modules' imports.
    parser = OneLineErrorParser(prog="dbr")
    dev.register(
        parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    )
    args: argparse.Namespace = parser.parse_args(["dev", *argv])
    return int(args.handler(args))


@pytest.fixture
def dev_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    state_dir = tmp_path / "dev"
    monkeypatch.setenv(dev.STATE_DIR_ENV, str(state_dir))
    yield state_dir
    # However the test ended, nothing may keep running.
    run_dev("down")


def test_up_status_down(dev_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_dev("up") == 0
    printed = capsys.readouterr().out
    env = _parse_exports((dev_dir / "env").read_text())
    assert _parse_exports(printed) == env
    assert env["KUBECONFIG"] == str(dev_dir / "kubeconfig")
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    state = json.loads((dev_dir / "state.json").read_text())
    pids = [state["supervisor_pid"], *state["pids"].values()]
    assert all(pid_alive(pid) for pid in pids)

    # The environment is usable from another process with nothing but the printed variables.
    kubectl = subprocess.run(
        [str(binaries.kubectl_path()), "get", "namespace", "default", "-o", "name"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert kubectl.stdout.strip() == "namespace/default", kubectl.stderr

    assert run_dev("status") == 0
    assert "kube-apiserver" in capsys.readouterr().out

    # Idempotent: a second `up` reuses the healthy environment.
    assert run_dev("up") == 0
    assert "reusing" in capsys.readouterr().err
    assert (
        json.loads((dev_dir / "state.json").read_text())["supervisor_pid"]
        == state["supervisor_pid"]
    )

    assert run_dev("down") == 0
    for pid in pids:
        assert not pid_alive(pid)
        assert group_members(pid) == []
    assert not Path(state["controlplane_workdir"]).exists()
    assert not (dev_dir / "state.json").exists()
    assert run_dev("status") == 3


def test_up_replaces_an_environment_whose_supervisor_died(dev_dir: Path) -> None:
    assert run_dev("up") == 0
    state = json.loads((dev_dir / "state.json").read_text())
    os.kill(state["supervisor_pid"], 9)
    # PR_SET_PDEATHSIG: the children go with their supervisor.
    assert run_dev("status") != 0
    assert run_dev("up") == 0
    fresh = json.loads((dev_dir / "state.json").read_text())
    assert fresh["supervisor_pid"] != state["supervisor_pid"]
    for pid in state["pids"].values():
        assert not pid_alive(pid)


def test_bad_timeout_is_a_usage_error() -> None:
    from dynamobackup.cli.errors import UsageError

    with pytest.raises(UsageError):
        run_dev("up", "--timeout", "0")


def _parse_exports(text: str) -> dict[str, str]:
    exports = {}
    for line in text.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        exports[key] = value.strip("'")
    return exports
