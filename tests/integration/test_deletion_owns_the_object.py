"""A check that started from a body older than the deletion must not bring the role back.

The drift sweep and batched re-checks run on the body their watch event showed; the delete
handler may remove the role meanwhile. Against moto, through the handler functions themselves.
"""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupRoleSpec
from dynamobackup.aws.manager import RoleManager
from dynamobackup.aws.session import AwsSettings, SessionProvider
from dynamobackup.handlers import roles
from dynamobackup.handlers.runtime import OperatorConfig, Runtime
from dynamobackup.reconcile.ownership import Owner
from dynamobackup_devenv.moto_server import AwsHelper

NAME = "veeam-dynamodb-backup"


def make_spec(**overrides: Any) -> DynamoBackupRoleSpec:
    spec: dict[str, Any] = {
        "account": {"id": "123456789012"},
        "roleName": NAME,
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": "arn:aws:iam::111111111111:role/Veeam", "externalId": "x-1"},
        **overrides,
    }
    return DynamoBackupRoleSpec.parse(spec)


@pytest.fixture
def runtime(aws: AwsHelper) -> Runtime:
    settings = AwsSettings(endpoint_url=aws.endpoint_url)
    manager = RoleManager(SessionProvider(settings, aws.session()))
    return Runtime(OperatorConfig(aws=settings, metrics_port=None), manager=manager)


def body(**metadata: Any) -> kopf.Body:
    spec = make_spec(deletionPolicy="Delete").to_dict()
    meta = {"namespace": "team-a", "name": "backup-role", "uid": "u-1", "generation": 1}
    return kopf.Body({"metadata": {**meta, **metadata}, "spec": spec})


def role_names(aws: AwsHelper) -> list[str]:
    return [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]]


def test_a_check_of_an_object_being_deleted_does_nothing(runtime: Runtime, aws: AwsHelper) -> None:
    deleting = body(deletionTimestamp="2026-11-29T12:00:00Z", generation=2)
    roles.converge_object(runtime, deleting, "update", {}, {})
    assert role_names(aws) == []


def test_a_check_from_an_older_body_after_the_deletion_began_does_nothing(
    runtime: Runtime, aws: AwsHelper
) -> None:
    spec = make_spec(deletionPolicy="Delete")
    assert runtime.manager.converge(spec, Owner("team-a", "backup-role")).ready
    runtime.begin_deletion("u-1")  # what delete_object does first
    assert runtime.manager.delete(spec, Owner("team-a", "backup-role")).failure is None
    roles.converge_object(runtime, body(), "timer", {}, {})  # the body from before
    assert NAME not in role_names(aws)
