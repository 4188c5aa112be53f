"""Bad input that passes admission still ends in a clear, retried state (issue 8, defect 6)."""

from __future__ import annotations

import json

from dynamobackup_devenv.moto_server import AwsHelper

from .conftest import DbrClient, condition
from .test_operator import ready, reason, role_name, spec


def test_a_missing_permissions_boundary_is_named_and_retried(
    dbr: DbrClient, aws: AwsHelper
) -> None:
    name = role_name()
    boundary = f"arn:aws:iam::123456789012:policy/boundary-{name}"
    # An hour between drift checks: only the retry of a transient failure can bring it back.
    dbr.create("bounded", spec(name, permissionsBoundaryArn=boundary, driftCheckInterval="1h"))
    status = dbr.wait_status(
        "bounded", lambda s: reason(s) == "PermissionsBoundaryNotFound", what="the boundary named"
    )
    message = condition(status, "Ready")["message"]
    assert boundary in message and "spec.permissionsBoundaryArn" in message
    assert condition(status, "Reconciling")["status"] == "True"  # retried on its own
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    aws.client("iam").create_policy(
        PolicyName=f"boundary-{name}", PolicyDocument=json.dumps(document)
    )
    dbr.wait_status("bounded", ready, timeout=60, what="Ready once the boundary exists")


def test_a_role_owned_by_another_resource_is_never_compliant(dbr: DbrClient) -> None:
    name = role_name()
    dbr.create("owner", spec(name))
    dbr.wait_status("owner", ready, what="the owner Ready")
    for intruder, mode in (("intruder", "Enforce"), ("auditor", "Audit")):
        dbr.create(intruder, spec(name, mode=mode))
        status = dbr.wait_status(
            intruder,
            lambda s: reason(s) == "RoleOwnedByAnotherResource",
            what=f"{mode}: RoleOwnedByAnotherResource",
        )
        assert status.get("compliant") is not True, status
        assert condition(status, "Ready")["status"] == "False"
        assert condition(status, "Compliant")["status"] == "Unknown"
        assert "NotCompliant" not in {e["reason"] for e in dbr.events(intruder)}


def test_a_change_undone_while_it_failed_does_not_stay_failed(dbr: DbrClient) -> None:
    """kopf calls no handler for a spec back at the configuration it last handled."""
    name = role_name()
    dbr.create("undone", spec(name, driftCheckInterval="10s"))
    dbr.wait_status("undone", ready, what="Ready=True")
    missing = f"arn:aws:iam::123456789012:policy/missing-{name}"
    dbr.patch("undone", {"spec": {"permissionsBoundaryArn": missing}})
    dbr.wait_status(
        "undone", lambda s: reason(s) == "PermissionsBoundaryNotFound", what="the change failing"
    )
    dbr.patch("undone", {"spec": {"permissionsBoundaryArn": None}})
    dbr.wait_status(
        "undone",
        lambda s: ready(s) and s.get("observedGeneration") == 3,
        timeout=60,
        what="Ready for the spec as it is again",
    )
