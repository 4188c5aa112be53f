"""A profile file read field by field, its errors naming the field, and what `dbr profiles
--diff` reports between two releases."""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.profiles import (
    OperationChange,
    OperationProfile,
    Profile,
    ProfileDiff,
    ProfileFileError,
    UnknownProfileError,
    diff_profiles,
    parse_profile,
    version_key,
)

SOURCE = "https://helpcenter.veeam.com/docs/vbaws/guide/dynamodb_backup_permissions.html"
BACKUP = {
    "description": "backup policies",
    "source": SOURCE,
    "sourceUpdated": "2025-04-28",
    "actions": ["dynamodb:DescribeTable", "backup:StartBackupJob"],
}
RESTORE_SOURCE = "https://helpcenter.veeam.com/docs/vbaws/guide/dynamodb_restore_permissions.html"
RESTORE = {
    "description": "restore",
    "source": RESTORE_SOURCE,
    "actions": ["kms:Decrypt"],
}
FILE = {
    "version": "12",
    "product": "Veeam Backup for AWS",
    "productBuild": "9.0.0.1",
    "resource": "arn:aws:dynamodb:*:*:table/*",
    "trustedServices": ["backup.amazonaws.com"],
    "operations": {"BackupPolicy": BACKUP, "Restore": RESTORE},
}


def test_every_field_of_a_profile_file_is_read_as_written() -> None:
    assert parse_profile(FILE) == Profile(
        version="12",
        product="Veeam Backup for AWS",
        product_build="9.0.0.1",
        resource="arn:aws:dynamodb:*:*:table/*",
        trusted_services=("backup.amazonaws.com",),
        operations={
            "BackupPolicy": OperationProfile(
                description="backup policies",
                source=SOURCE,
                actions=("dynamodb:DescribeTable", "backup:StartBackupJob"),
                source_updated="2025-04-28",
            ),
            "Restore": OperationProfile(
                description="restore",
                source=RESTORE_SOURCE,
                actions=("kms:Decrypt",),
            ),
        },
    )


def with_restore(**fields: Any) -> dict[str, Any]:
    return {**FILE, "operations": {"Restore": {**RESTORE, **fields}}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["version", "12"], "the file: must be a mapping"),
        ("version: 12", "the file: must be a mapping"),
        ({**FILE, "product": None}, "product: required"),
        ({**FILE, "product": 9}, "product: must be a string (quote it)"),
        ({**FILE, "resource": 1}, "resource: must be a string (quote it)"),
        (with_restore(description=None), "operations.Restore.description: required"),
        (with_restore(source=None), "operations.Restore.source: required"),
        (
            with_restore(sourceUpdated=20250428),
            "operations.Restore.sourceUpdated: must be a string (quote it)",
        ),
        (
            with_restore(actions=["kms:Decrypt", "s3:GetObject", "KMS:decrypt", "S3:getobject"]),
            "operations.Restore.actions: duplicate actions: kms:decrypt, s3:getobject",
        ),
    ],
)
def test_a_malformed_profile_file_names_the_field(data: Any, message: str) -> None:
    with pytest.raises(ProfileFileError) as caught:
        parse_profile(data)
    assert str(caught.value) == message


def test_releases_sort_as_numbers() -> None:
    releases = ["10", "9.10", "9", "10.1", "9.2"]
    assert sorted(releases, key=version_key) == ["9", "9.2", "9.10", "10", "10.1"]


def profile(version: str, trusted: tuple[str, ...], **operations: OperationProfile) -> Profile:
    return Profile(version, "Veeam Backup for AWS", "1", trusted, operations)


def operation(*actions: str, source: str = SOURCE) -> OperationProfile:
    return OperationProfile("an operation", source, actions)


def test_a_diff_names_everything_added_and_removed_in_case_insensitive_order() -> None:
    old = profile(
        "12",
        ("backup.amazonaws.com", "Dynamodb.amazonaws.com"),
        BackupPolicy=operation("dynamodb:DescribeTable", "kms:Decrypt", "KMS:Encrypt"),
        Restore=operation("kms:Decrypt"),
        Export=operation("s3:PutObject"),
    )
    new = profile(
        "13",
        ("BACKUP.amazonaws.com", "s3.amazonaws.com", "Ec2.amazonaws.com"),
        BackupPolicy=operation(
            "DynamoDB:describetable", "ec2:DescribeSnapshots", "ec2:copySnapshot"
        ),
        Restore=operation("kms:Decrypt", source=SOURCE + "#restore"),
        ReplicaBackup=operation("dynamodb:DescribeTable"),
        Archive=operation("s3:GetObject"),
    )
    assert diff_profiles(old, new) == ProfileDiff(
        old="12",
        new="13",
        operations_added=("ReplicaBackup", "Archive"),
        operations_removed=("Export",),
        trusted_services_added=("Ec2.amazonaws.com", "s3.amazonaws.com"),
        trusted_services_removed=("Dynamodb.amazonaws.com",),
        operations=(
            OperationChange(
                "BackupPolicy",
                added=("ec2:copySnapshot", "ec2:DescribeSnapshots"),
                removed=("kms:Decrypt", "KMS:Encrypt"),
            ),
            OperationChange("Restore", source_changed=True),
        ),
    )


def test_an_unknown_operation_names_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError) as caught:
        parse_profile(FILE).operation("Backup")
    assert str(caught.value) == (
        "unknown operation 'Backup' for Veeam 12 (known: BackupPolicy, Restore)"
    )


def test_the_union_of_operations_is_deduplicated_and_sorted_case_insensitively() -> None:
    union = profile(
        "12",
        (),
        Snapshots=operation("s3:GetObject", "EC2:DescribeSnapshots"),
        Tables=operation("dynamodb:DescribeTable", "S3:getobject"),
    ).required_actions(["Snapshots", "Tables"])
    assert union == ("dynamodb:DescribeTable", "EC2:DescribeSnapshots", "s3:GetObject")
