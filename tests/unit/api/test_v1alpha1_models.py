"""The v1alpha1 models parse what the API server accepts, fill the same defaults, and reject what
it rejects with one clear line."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import (
    API_VERSION,
    KIND,
    ApiError,
    Condition,
    ConditionStatus,
    ConditionType,
    DeletionPolicy,
    Delivery,
    DynamoBackupRole,
    DynamoBackupRoleSpec,
    DynamoBackupRoleStatus,
    Mode,
    Operation,
    Partition,
    ProfileStatus,
    TrustFindingStatus,
    find_condition,
    parse_go_duration,
    set_condition,
)
from dynamobackup.policy.trust import Severity

MINIMAL: dict[str, Any] = {
    "account": {"id": "111122223333"},
    "roleName": "VeeamDynamoDBBackup",
    "scope": {"operations": ["BackupPolicy"]},
    "trust": {"applianceAccountId": "444455556666"},
}
APPLIANCE_ROLE = "arn:aws:iam::444455556666:role/veeam/VeeamApplianceRole"


def spec_with(**changes: Any) -> dict[str, Any]:
    """MINIMAL with top-level fields replaced (None removes the field)."""
    spec = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


def rejection(spec: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as caught:
        DynamoBackupRoleSpec.parse(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_minimal_spec_gets_every_default() -> None:
    spec = DynamoBackupRoleSpec.parse(MINIMAL)

    assert spec.account.partition is Partition.AWS
    assert spec.account.assume_role_arn is None
    assert spec.role_path == "/"
    assert spec.max_session_duration == 3600
    assert spec.tags == {}
    assert spec.mode is Mode.ENFORCE
    assert spec.permissions.delivery is Delivery.INLINE
    assert spec.permissions.profile_version is None  # resolved at runtime, never defaulted
    assert spec.permissions.additional_actions == frozenset()
    assert spec.permissions.exclusive is False
    assert spec.adopt_existing is False
    assert spec.deletion_policy is DeletionPolicy.RETAIN
    assert spec.drift_check_interval == "10m"
    assert spec.drift_check_period == timedelta(minutes=10)


def test_to_dict_is_the_defaulted_manifest_spec_in_camel_case() -> None:
    assert DynamoBackupRoleSpec.parse(MINIMAL).to_dict() == {
        "account": {"id": "111122223333", "partition": "aws"},
        "roleName": "VeeamDynamoDBBackup",
        "rolePath": "/",
        "maxSessionDuration": 3600,
        "scope": {"operations": ["BackupPolicy"]},
        "mode": "Enforce",
        "trust": {"applianceAccountId": "444455556666"},
        "permissions": {"delivery": "Inline", "exclusive": False},
        "adoptExisting": False,
        "deletionPolicy": "Retain",
        "driftCheckInterval": "10m",
    }


def test_a_full_spec_round_trips() -> None:
    full: dict[str, Any] = {
        "account": {
            "id": "111122223333",
            "partition": "aws-us-gov",
            "assumeRoleArn": "arn:aws-us-gov:iam::111122223333:role/OperatorAccess",
            "externalId": "operator-ext-1",
        },
        "roleName": "Veeam+DynamoDB=Backup,1.@-_",
        "rolePath": "/veeam/backup/",
        "description": "Backs up DynamoDB",
        "maxSessionDuration": 43200,
        "permissionsBoundaryArn": "arn:aws-us-gov:iam::aws:policy/PowerUserAccess",
        "tags": {"team": "data platform", "cost-center": "1234", "Ünïcode key": "välue"},
        "scope": {"operations": ["Restore", "BackupPolicy", "ManualBackup"]},
        "mode": "Audit",
        "trust": {"applianceRoleArn": APPLIANCE_ROLE, "externalId": "veeam:ext/id=1"},
        "permissions": {
            "profileVersion": "10.1",
            "delivery": "Managed",
            "additionalActions": ["kms:Decrypt", "dynamodb:List*", "s3:Get?bject"],
            "exclusive": True,
        },
        "adoptExisting": True,
        "deletionPolicy": "Delete",
        "driftCheckInterval": "1h30m",
    }
    spec = DynamoBackupRoleSpec.parse(full)

    assert spec.scope.operations == set(Operation)
    assert spec.drift_check_period == timedelta(hours=1, minutes=30)
    dumped = spec.to_dict()
    assert dumped["scope"]["operations"] == ["BackupPolicy", "ManualBackup", "Restore"]  # sorted
    assert dumped["permissions"]["additionalActions"] == sorted(
        full["permissions"]["additionalActions"]
    )
    assert DynamoBackupRoleSpec.parse(dumped) == spec


def test_python_names_are_accepted_too() -> None:
    spec = DynamoBackupRoleSpec.parse(spec_with(roleName=None, role_name="ByName"))
    assert spec.role_name == "ByName"


def test_unknown_fields_are_ignored_like_the_api_server_prunes_them() -> None:
    spec = DynamoBackupRoleSpec.parse({**MINIMAL, "fieldFromANewerVersion": 1})
    assert "fieldFromANewerVersion" not in spec.to_dict()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"account": {"id": "12345"}}, "spec.account.id: String should match pattern"),
        ({"account": {"id": 111122223333}}, "spec.account.id: Input should be a valid string"),
        (
            {"account": {"id": "111122223333", "partition": "aws-eu"}},
            "spec.account.partition: Input should be 'aws', 'aws-cn' or 'aws-us-gov'",
        ),
        (
            {"account": {"id": "111122223333", "externalId": "abc"}},
            "spec.account: externalId is only valid together with assumeRoleArn",
        ),
        (
            {"account": {"id": "111122223333", "assumeRoleArn": "arn:aws:iam::1:role/x"}},
            "spec.account.assumeRoleArn: String should match pattern",
        ),
        ({"roleName": "has space"}, "spec.roleName: String should match pattern"),
        ({"roleName": "x" * 65}, "spec.roleName: String should match pattern"),
        ({"roleName": None}, "spec.roleName: Field required"),
        ({"rolePath": "veeam"}, "spec.rolePath: String should match pattern"),
        ({"rolePath": "/veeam"}, "spec.rolePath: String should match pattern"),
        ({"description": "d" * 1001}, "spec.description: String should have at most 1000"),
        ({"maxSessionDuration": 3599}, "spec.maxSessionDuration: Input should be greater than"),
        ({"maxSessionDuration": 43201}, "spec.maxSessionDuration: Input should be less than"),
        (
            {"permissionsBoundaryArn": "arn:aws:iam::aws:role/NotAPolicy"},
            "spec.permissionsBoundaryArn: String should match pattern",
        ),
        ({"tags": {"dynamobackup.io/owner": "x"}}, "spec.tags: tag key 'dynamobackup.io/owner'"),
        ({"tags": {"aws:cloudformation": "x"}}, "are reserved"),
        ({"tags": {"bad*key": "x"}}, "tag keys must be 1-128 letters"),
        ({"tags": {"k" * 129: "x"}}, "tag keys must be 1-128 letters"),
        ({"tags": {"key": "bad*value"}}, "spec.tags.key: String should match pattern"),
        ({"tags": {f"k{i}": "v" for i in range(48)}}, "spec.tags: Dictionary should have at most"),
        ({"scope": {"operations": []}}, "spec.scope.operations: Frozenset should have at least 1"),
        ({"scope": {"operations": ["Backup"]}}, "spec.scope.operations.0: Input should be"),
        ({"scope": None}, "spec.scope: Field required"),
        (
            {"scope": {"operations": ["Restore", "Restore"]}},
            "spec.scope.operations: duplicate value 'Restore'",
        ),
        (
            {"permissions": {"additionalActions": ["kms:Decrypt", "kms:Decrypt"]}},
            "spec.permissions.additionalActions: duplicate value 'kms:Decrypt'",
        ),
        ({"mode": "DryRun"}, "spec.mode: Input should be 'Enforce' or 'Audit'"),
        ({"trust": {}}, "spec.trust: one of applianceRoleArn or applianceAccountId is required"),
        (
            {"trust": {"applianceRoleArn": APPLIANCE_ROLE, "applianceAccountId": "444455556666"}},
            "spec.trust: applianceRoleArn and applianceAccountId are mutually exclusive",
        ),
        (
            {"trust": {"applianceAccountId": "444455556666", "externalId": "a"}},
            "spec.trust.externalId: String should have at least 2 characters",
        ),
        (
            {"trust": {"applianceAccountId": "444455556666", "externalId": "not allowed!"}},
            "spec.trust.externalId: String should match pattern",
        ),
        ({"permissions": {"profileVersion": "v10"}}, "spec.permissions.profileVersion: String"),
        ({"permissions": {"delivery": "Attached"}}, "spec.permissions.delivery: Input should be"),
        (
            {"permissions": {"additionalActions": ["dynamodb"]}},
            "spec.permissions.additionalActions.0: String should match pattern",
        ),
        (
            {"permissions": {"additionalActions": ["*:GetItem"]}},
            "spec.permissions.additionalActions.0: String should match pattern",
        ),
        ({"deletionPolicy": "Orphan"}, "spec.deletionPolicy: Input should be 'Retain' or"),
        (
            {"driftCheckInterval": "5s"},
            "spec.driftCheckInterval: driftCheckInterval must be between",
        ),
        ({"driftCheckInterval": "9999ms"}, "driftCheckInterval must be between 10s and 24h"),
        ({"driftCheckInterval": "10 minutes"}, "spec.driftCheckInterval: String should match"),
        ({"driftCheckInterval": "-10m"}, "spec.driftCheckInterval: String should match"),
    ],
)
def test_invalid_specs_are_rejected_with_one_clear_line(
    changes: dict[str, Any], expected: str
) -> None:
    assert expected in rejection(spec_with(**changes))


def test_every_problem_is_reported_at_once() -> None:
    message = rejection(spec_with(roleName="bad name", mode="Loud", trust={}))
    assert message.count("; ") == 2
    assert message.startswith("spec.roleName: ")


def test_bad_values_are_quoted_in_the_message() -> None:
    assert "(got '12345')" in rejection(spec_with(account={"id": "12345"}))


def test_smallest_drift_check_interval_is_accepted() -> None:
    assert DynamoBackupRoleSpec.parse(spec_with(driftCheckInterval="10s")).drift_check_interval


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("2h45m30s500ms", timedelta(hours=2, minutes=45, seconds=30, milliseconds=500)),
        ("250us", timedelta(microseconds=250)),
        ("15000ms", timedelta(seconds=15)),
    ],
)
def test_go_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "m", "10M", "1d", "1h 30m", "+10m"])
def test_malformed_go_durations_are_rejected(text: str) -> None:
    with pytest.raises(ApiError, match="is not a duration"):
        parse_go_duration(text)


def test_spec_is_immutable() -> None:
    spec = DynamoBackupRoleSpec.parse(MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        spec.role_name = "Other"  # type: ignore[misc]


NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_condition_make_uses_whole_seconds_and_bool_status() -> None:
    condition = Condition.make(
        ConditionType.READY, True, "Reconciled", "all good", observed_generation=3, now=NOW
    )
    assert condition.status is ConditionStatus.TRUE
    assert condition.last_transition_time == NOW.replace(microsecond=0)
    assert Condition.make("Compliant", False, "Drift", "x", now=NOW).status == "False"


def test_set_condition_keeps_transition_time_while_status_is_unchanged() -> None:
    first = Condition.make("Ready", True, "Reconciled", "ok", now=NOW)
    later = NOW + timedelta(minutes=5)

    same = set_condition([first], Condition.make("Ready", True, "Reconciled", "still", now=later))
    flipped = set_condition([first], Condition.make("Ready", False, "AwsError", "no", now=later))

    assert same[0].last_transition_time == first.last_transition_time
    assert same[0].message == "still"
    assert flipped[0].last_transition_time == later.replace(microsecond=0)


def test_set_condition_appends_new_types_and_keeps_others() -> None:
    ready = Condition.make("Ready", True, "Reconciled", "ok", now=NOW)
    trust = Condition.make("TrustCompliant", False, "Findings", "x", now=NOW)
    conditions = set_condition(set_condition([], ready), trust)

    assert [condition.type for condition in conditions] == ["Ready", "TrustCompliant"]
    assert find_condition(conditions, "TrustCompliant") == trust
    assert find_condition(conditions, "Compliant") is None


def test_status_patch_is_camel_case_json_without_unset_fields() -> None:
    status = DynamoBackupRoleStatus(
        role_arn="arn:aws:iam::111122223333:role/VeeamDynamoDBBackup",
        observed_generation=2,
        compliant=False,
        conditions=[Condition.make("Ready", True, "Reconciled", "ok", now=NOW)],
        missing_actions=["dynamodb:ListBackups"],
        excess_actions=[],
        missing_count=1,
        trust_findings=[
            TrustFindingStatus(code="NoExternalId", message="m", severity=Severity.WARNING)
        ],
        profile=ProfileStatus(version="10", operations=["BackupPolicy"], action_count=42),
        last_checked_time=NOW,
        aws_calls=7,
        mode=Mode.AUDIT,
    )
    assert status.to_patch() == {
        "roleArn": "arn:aws:iam::111122223333:role/VeeamDynamoDBBackup",
        "observedGeneration": 2,
        "compliant": False,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": "ok",
                "lastTransitionTime": "2024-05-01T12:00:00Z",
            }
        ],
        "missingActions": ["dynamodb:ListBackups"],
        "excessActions": [],  # an explicit [] clears the list on the server
        "missingCount": 1,
        "trustFindings": [{"code": "NoExternalId", "message": "m", "severity": "warning"}],
        "profile": {"version": "10", "operations": ["BackupPolicy"], "actionCount": 42},
        "lastCheckedTime": "2024-05-01T12:00:00.123456Z",
        "awsCalls": 7,
        "mode": "Audit",
    }


def test_status_parses_leniently_and_round_trips() -> None:
    stored = {
        "roleArn": "arn:aws:iam::111122223333:role/R",
        "conditions": [{"type": "Ready", "status": "Unknown", "someNewField": 1}],
        "fieldFromANewerOperator": True,
    }
    status = DynamoBackupRoleStatus.parse(stored)
    assert status.conditions == [Condition(type="Ready", status=ConditionStatus.UNKNOWN)]
    assert DynamoBackupRoleStatus.parse(status.to_patch()) == status
    assert DynamoBackupRoleStatus.parse(None) == DynamoBackupRoleStatus()


def test_status_rejects_a_non_kubernetes_condition_status() -> None:
    with pytest.raises(ApiError, match=r"status\.conditions\.0\.status: Input should be"):
        DynamoBackupRoleStatus.parse({"conditions": [{"type": "Ready", "status": "yes"}]})


def test_whole_object_parses_and_becomes_a_manifest_again() -> None:
    obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "r", "namespace": "ns", "generation": 1},
        "spec": MINIMAL,
    }
    role = DynamoBackupRole.parse(obj)

    assert role.metadata["name"] == "r"
    assert role.status == DynamoBackupRoleStatus()
    manifest = role.to_manifest()
    assert "status" not in manifest
    assert manifest["spec"] == DynamoBackupRoleSpec.parse(MINIMAL).to_dict()


def test_whole_object_of_another_kind_is_rejected() -> None:
    with pytest.raises(ApiError, match=r"expected apiVersion dynamobackup\.io/v1alpha1"):
        DynamoBackupRole.parse({"apiVersion": "v1", "kind": "ConfigMap", "spec": MINIMAL})


def test_errors_inside_a_whole_object_name_the_full_path() -> None:
    with pytest.raises(ApiError, match=r"^spec\.account\.id: "):
        DynamoBackupRole.parse({"spec": spec_with(account={"id": "x"})})
