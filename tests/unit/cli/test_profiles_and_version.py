"""`dbr profiles` and `dbr --version`: what a user asks before choosing a profileVersion."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest

from dynamobackup.cli.main import main
from veeam_sources import documented_count


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_prints_the_installed_distribution_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"dbr {version('dynamo-backup-role-operator')}\n"


def test_profiles_lists_every_release_with_its_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "profiles", "--output", "json")
    assert code == 0
    listed = {p["version"]: p for p in json.loads(out)["profiles"]}
    assert list(listed) == ["10", "11"]
    assert listed["11"]["productBuild"] == "13.1.0.411"
    assert listed["11"]["operations"]["Restore"] == {
        "actionCount": documented_count("Restore"),
        "source": "https://helpcenter.veeam.com/docs/vbr/userguide/aws_role_permissions_restore_dynamo.html",
        "sourceUpdated": None,
    }
    code, text, _ = run(capsys, "profiles")
    assert code == 0
    assert "Veeam 10: Veeam Backup for AWS, build 10.0.0.232" in text
    needed = documented_count("BackupPolicy")
    assert (
        f"  BackupPolicy: {needed} actions, https://helpcenter.veeam.com/docs/vbaws/guide/" in text
    )


def test_profiles_diff_says_10_and_11_need_the_same_permissions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "profiles", "--diff", "10", "11", "--output", "json")
    assert code == 0
    diff = json.loads(out)
    assert diff["permissionsChanged"] is False
    assert diff["operations"]["ManualBackup"] == {
        "added": [],
        "removed": [],
        "sourceChanged": True,
    }
    code, text, _ = run(capsys, "profiles", "--diff", "10", "11")
    assert text.splitlines()[0] == "Veeam 10 -> 11"
    assert "no permission changes" in text


def test_profiles_diff_with_an_unknown_release_exits_2_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "profiles", "--diff", "10", "12")
    assert (code, out) == (2, "")
    assert err == "error: unknown profile version '12' (shipped: 10, 11)\n"
