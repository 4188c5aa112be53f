"""`dbr check`: the contract other teams' tests rely on (flags, JSON keys, exit codes)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dynamobackup.cli.main import main
from dynamobackup.policy.profiles import newest_version
from veeam_sources import documented_count

DATA = Path(__file__).parents[2] / "data"
SEED_BACKUP = DATA / "seed-backup-policy.json"
SEED_MANUAL = DATA / "seed-manual-backup.json"
APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "json" in args and out else out), err


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def without(path: Path, action: str) -> dict[str, Any]:
    document = json.loads(path.read_text())
    document["Statement"][0]["Action"].remove(action)
    return document


def test_seed_lists_are_compliant(capsys: pytest.CaptureFixture[str]) -> None:
    for operation, path in (("BackupPolicy", SEED_BACKUP), ("ManualBackup", SEED_MANUAL)):
        code, report, _ = check(
            capsys, "--operations", operation, "--policy", str(path), "--output", "json"
        )
        assert code == 0
        assert report == {
            "compliant": True,
            "profile": report["profile"],
            "permissions": {
                "compliant": True,
                "missing": [],
                "denied": [],
                "conditional": [],
                "excess": [],
                "dangerous": [],
                "unreadable": [],
                "foreign": [],
                "unknown": [],
            },
            "trust": None,
        }
        assert report["profile"]["version"] == newest_version()
        assert report["profile"]["operations"] == [operation]
        assert report["profile"]["actionCount"] == documented_count(operation)


def test_removing_one_action_reports_exactly_that_action(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = write(tmp_path, "p.json", without(SEED_BACKUP, "sqs:ReceiveMessage"))
    code, report, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", policy, "--output", "json"
    )
    assert code == 1
    assert report["compliant"] is False
    assert report["permissions"]["missing"] == ["sqs:ReceiveMessage"]


def test_both_seed_policies_cover_the_union(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = check(
        capsys,
        "--operations",
        "BackupPolicy,ManualBackup",
        "--policy",
        str(SEED_BACKUP),
        "--policy",
        str(SEED_MANUAL),
        "--output",
        "json",
    )
    assert code == 0 and report["profile"]["actionCount"] == documented_count(
        "BackupPolicy", "ManualBackup"
    )


def test_backup_list_is_not_enough_for_manual_backups(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, _ = check(
        capsys, "--operations", "ManualBackup", "--policy", str(SEED_BACKUP), "--output", "json"
    )
    assert code == 1
    assert report["permissions"]["missing"] == [
        "backup-storage:MountCapsule",
        "backup:CreateBackupVault",
        "backup:DeleteBackupVault",
        "kms:DescribeKey",
    ]
    # The backup-policy list grants 23 actions a manual-backup role does not need.
    assert len(report["permissions"]["excess"]) == 23


def test_excess_counts_only_with_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = json.loads(SEED_BACKUP.read_text())
    document["Statement"].append({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"})
    policy = write(tmp_path, "p.json", document)
    code, report, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", policy, "--output", "json"
    )
    assert code == 0 and report["permissions"]["excess"] == ["s3:Get*"]
    code, report, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", policy, "--strict", "--output", "json"
    )
    assert code == 1 and report["permissions"]["compliant"] is False


def test_boundary_and_denied_and_conditional(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deny = {
        "Statement": [
            {"Effect": "Deny", "Action": "sns:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "sqs:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}},
            },
        ]
    }
    boundary = {"Statement": [{"Effect": "Allow", "NotAction": "events:*", "Resource": "*"}]}
    code, report, _ = check(
        capsys,
        "--operations",
        "BackupPolicy",
        "--policy",
        str(SEED_BACKUP),
        "--policy",
        write(tmp_path, "d.json", deny),
        "--boundary",
        write(tmp_path, "b.json", boundary),
        "--output",
        "json",
    )
    permissions = report["permissions"]
    assert code == 1
    assert [a.split(":")[0] for a in permissions["denied"]] == ["sns"] * 7
    assert [a.split(":")[0] for a in permissions["conditional"]] == ["sqs"] * 6
    assert [a.split(":")[0] for a in permissions["missing"]] == ["events"] * 6


def test_trust_findings_in_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trust = write(tmp_path, "t.json", (DATA / "seed-trust-backup-service.json").read_text())
    code, report, _ = check(
        capsys,
        "--operations",
        "BackupPolicy",
        "--policy",
        str(SEED_BACKUP),
        "--trust",
        trust,
        "--appliance",
        APPLIANCE,
        "--output",
        "json",
    )
    assert code == 1
    assert report["permissions"]["compliant"] is True
    assert report["trust"]["compliant"] is False
    assert [f["code"] for f in report["trust"]["findings"]] == ["ApplianceNotTrusted"]
    assert set(report["trust"]["findings"][0]) >= {"code", "message"}


def test_text_report_summarises_then_groups(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = write(tmp_path, "p.json", without(SEED_BACKUP, "kms:Decrypt"))
    trust = write(tmp_path, "t.json", (DATA / "seed-trust-backup-service.json").read_text())
    code, text, _ = check(
        capsys,
        "--operations",
        "BackupPolicy",
        "--policy",
        policy,
        "--trust",
        trust,
        "--appliance",
        APPLIANCE,
    )
    lines = text.splitlines()
    needed = documented_count("BackupPolicy")
    assert code == 1
    assert lines[0] == (
        f"NOT COMPLIANT: {needed - 1}/{needed} actions allowed, 1 missing, 0 denied, 0 conditional, "
        "0 excess; trust: 1 error, 0 warnings"
    )
    assert "Missing (1): actions the role needs and is not granted" in lines
    assert "  - kms:Decrypt" in lines
    assert "Trust findings (1):" in lines


def test_url_encoded_policy_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from urllib.parse import quote

    policy = write(tmp_path, "p.txt", quote(SEED_BACKUP.read_text()))
    code, _, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", policy, "--output", "json"
    )
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--operations", "Backup", "--policy", str(SEED_BACKUP)], "unknown operation 'Backup'"),
        (
            ["--operations", "BackupPolicy", "--policy", "/nonexistent.json"],
            "cannot read /nonexistent.json",
        ),
        (
            [
                "--operations",
                "BackupPolicy",
                "--policy",
                str(SEED_BACKUP),
                "--profile-version",
                "7",
            ],
            "unknown profile version '7'",
        ),
        (
            [
                "--operations",
                "BackupPolicy",
                "--policy",
                str(SEED_BACKUP),
                "--trust",
                str(SEED_BACKUP),
            ],
            "--trust needs --appliance",
        ),
        (
            [
                "--operations",
                "BackupPolicy",
                "--policy",
                str(SEED_BACKUP),
                "--trust",
                str(SEED_BACKUP),
                "--appliance",
                "bob",
            ],
            "appliance must be",
        ),
        (
            [
                "--operations",
                "BackupPolicy",
                "--policy",
                str(SEED_BACKUP),
                "--appliance",
                APPLIANCE,
            ],
            "--appliance needs --trust",
        ),
        (
            ["--operations", "BackupPolicy", "--policy", str(SEED_BACKUP), "--external-id", "x"],
            "--external-id needs --trust",
        ),
        (
            ["--operations", "BackupPolicy", "--policy", "-", "--policy", "-"],
            "only one of --policy, --boundary and --trust can read stdin (-)",
        ),
        (["--policy", str(SEED_BACKUP)], "the following arguments are required: --operations"),
        (
            ["--operations", "BackupPolicy", "--policy", str(SEED_BACKUP), "--output", "xml"],
            "invalid choice: 'xml'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = check(capsys, *args)
    assert code == 2 and out == ""
    assert message in err
    assert err.count("\n") == 1


def test_invalid_json_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The help page's own JSON is invalid: a quote is missing after ec2:DescribeAvailabilityZones.
    text = '{"Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeRegions", "ec2:DescribeAvailabilityZones, "events:DeleteRule"], "Resource": "*"}]}'
    code, _, err = check(
        capsys, "--operations", "BackupPolicy", "--policy", write(tmp_path, "p.json", text)
    )
    assert code == 2 and "invalid JSON at line 1" in err and err.count("\n") == 1


def test_installed_entry_point_has_no_traceback(tmp_path: Path) -> None:
    broken = write(tmp_path, "p.json", "{not json")
    dbr = Path(sys.executable).parent / "dbr"
    result = subprocess.run(
        [str(dbr), "check", "--operations", "BackupPolicy", "--policy", broken],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_account_flag_checks_the_backup_service_guard(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trust = write(
        tmp_path,
        "trust.json",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "backup.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
                },
                {"Effect": "Allow", "Principal": {"AWS": APPLIANCE}, "Action": "sts:AssumeRole"},
            ],
        },
    )
    base = ["--operations", "BackupPolicy", "--policy", str(SEED_BACKUP), "--trust", trust]
    base += ["--appliance", APPLIANCE, "--output", "json"]
    assert check(capsys, *base)[0] == 0  # without --account the guard is accepted
    assert check(capsys, *base, "--account", "123456789012")[0] == 0
    code, report, _ = check(capsys, *base, "--account", "999999999999")
    assert code == 1
    assert [f["code"] for f in report["trust"]["findings"]] == ["BackupServiceNotTrusted"]
    code, _, err = check(capsys, *base, "--account", "12345")
    assert code == 2 and "--account must be a 12-digit account ID" in err


def test_dangerous_grants_are_listed_and_never_compliant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = json.loads(SEED_BACKUP.read_text())
    document["Statement"].append({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    policy = write(tmp_path, "p.json", document)
    code, out, _ = check(capsys, "--operations", "BackupPolicy", "--policy", policy)
    assert code == 1 and "Dangerous (1)" in out and "  - iam:*" in out


def test_policy_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SEED_BACKUP.read_text()))
    code, report, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", "-", "--output", "json"
    )
    assert code == 0 and report["compliant"] is True


def test_policy_from_stdin_through_the_installed_command() -> None:
    dbr = Path(sys.executable).parent / "dbr"
    broken = without(SEED_BACKUP, "kms:Decrypt")
    result = subprocess.run(
        [str(dbr), "check", "--operations", "BackupPolicy", "--policy", "-"],
        input=json.dumps(broken),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "  - kms:Decrypt" in result.stdout.splitlines()


def test_a_mistyped_action_is_an_unknown_action_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = without(SEED_BACKUP, "dynamodb:ListTables")
    document["Statement"][0]["Action"].append("dynamodb:ListTabls")
    policy = write(tmp_path, "p.json", document)
    code, report, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", policy, "--output", "json"
    )
    assert code == 1
    assert report["permissions"]["missing"] == ["dynamodb:ListTables"]
    assert report["permissions"]["unknown"] == ["dynamodb:ListTabls"]
    code, text, _ = check(capsys, "--operations", "BackupPolicy", "--policy", policy)
    assert "Unknown (1): actions AWS does not have; they grant nothing" in text.splitlines()
    assert (
        "  - dynamodb:ListTabls (UnknownAction: not in AWS's action catalog; "
        "did you mean dynamodb:ListTables?)"
    ) in text.splitlines()


def test_an_unknown_action_in_a_deny_is_reported_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = json.loads(SEED_BACKUP.read_text())
    document["Statement"].append({"Effect": "Deny", "Action": "iam:PasRole", "Resource": "*"})
    policy = write(tmp_path, "p.json", document)
    code, report, _ = check(
        capsys, "--operations", "BackupPolicy", "--policy", policy, "--output", "json"
    )
    # The Deny denies nothing: the role stays compliant, and the typo is named.
    assert code == 0 and report["permissions"]["unknown"] == ["iam:PasRole"]
