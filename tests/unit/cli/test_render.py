"""`dbr render` output is valid, and passes `dbr check` in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dynamobackup.cli.main import main
from veeam_sources import documented_count

APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
ALL = "BackupPolicy,ManualBackup,Restore"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_json(path: Path, document: object) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def check_documents(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    permissions: list[object],
    trust: object,
    *,
    operations: str = ALL,
    external_id: str = "ext-1",
) -> dict[str, object]:
    policy_args = [
        a
        for i, d in enumerate(permissions)
        for a in ("--policy", write_json(tmp_path / f"p{i}.json", d))
    ]
    code, out, _ = run(
        capsys,
        "check",
        "--operations",
        operations,
        *policy_args,
        "--trust",
        write_json(tmp_path / "t.json", trust),
        "--appliance",
        APPLIANCE,
        "--external-id",
        external_id,
        "--strict",
        "--output",
        "json",
    )
    report = json.loads(out)
    assert code == 0, report
    return report


def test_json_bundle_passes_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, "render", "--operations", ALL, "--appliance", APPLIANCE, "--external-id", "ext-1"
    )
    assert code == 0
    bundle = json.loads(out)
    assert len(bundle["permissionPolicies"]) == 1
    report = check_documents(capsys, tmp_path, bundle["permissionPolicies"], bundle["trustPolicy"])
    assert report["profile"]["actionCount"] == documented_count(*ALL.split(","))


def test_without_appliance_only_permissions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "render", "--operations", "ManualBackup")
    bundle = json.loads(out)
    assert code == 0 and bundle["trustPolicy"] is None
    assert len(bundle["permissionPolicies"][0]["Statement"][0]["Action"]) == documented_count(
        "ManualBackup"
    )


def test_split_documents_written_to_a_folder_pass_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run(
        capsys,
        "render",
        "--operations",
        ALL,
        "--appliance",
        APPLIANCE,
        "--external-id",
        "ext-1",
        "--max-policy-size",
        "1000",
        "--output-dir",
        str(out_dir),
    )
    assert code == 0
    files = sorted(out_dir.glob("permissions-*.json"))
    assert len(files) == len(json.loads(out)["permissionPolicies"]) >= 2
    assert all(
        len(json.dumps(json.loads(f.read_text()), separators=(",", ":"))) <= 1000 for f in files
    )
    permissions = [json.loads(f.read_text()) for f in files]
    check_documents(capsys, tmp_path, permissions, json.loads((out_dir / "trust.json").read_text()))


def test_cloudformation_snippet_passes_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "render",
        "--operations",
        "Restore",
        "--appliance",
        APPLIANCE,
        "--external-id",
        "ext-1",
        "--format",
        "cloudformation",
        "--role-name",
        "veeam-restore",
    )
    assert code == 0
    template = yaml.safe_load(out)
    (role,) = template["Resources"].values()
    assert role["Type"] == "AWS::IAM::Role"
    properties = role["Properties"]
    assert properties["RoleName"] == "veeam-restore"
    permissions = [p["PolicyDocument"] for p in properties["Policies"]]
    check_documents(
        capsys, tmp_path, permissions, properties["AssumeRolePolicyDocument"], operations="Restore"
    )


def test_terraform_snippet_passes_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "render",
        "--operations",
        "BackupPolicy",
        "--appliance",
        APPLIANCE,
        "--external-id",
        "ext-1",
        "--format",
        "terraform",
    )
    assert code == 0
    assert 'resource "aws_iam_role" "veeamdynamodbbackup"' in out
    assert "role   = aws_iam_role.veeamdynamodbbackup.id" in out
    heredocs = [block.split("EOT", 1)[0] for block in out.split("<<-EOT")[1:]]
    trust, *permissions = (json.loads(body) for body in heredocs)
    check_documents(capsys, tmp_path, permissions, trust, operations="BackupPolicy")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--operations", "BackupPolicy", "--format", "terraform"],
            "--format terraform needs --appliance",
        ),
        (["--operations", "BackupPolicy", "--external-id", "x"], "--external-id needs --appliance"),
        (
            ["--operations", "BackupPolicy", "--max-policy-size", "50"],
            "--max-policy-size too small",
        ),
        (["--operations", "Nope"], "unknown operation 'Nope'"),
        (["--operations", "BackupPolicy", "--appliance", "1234"], "appliance must be"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "render", *args)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1
