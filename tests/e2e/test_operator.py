"""The operator end to end: a real API server, moto over HTTP, `dbr run` as a process."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

from dynamobackup.api.v1alpha1.lifecycle import RECONCILE_REQUEST_ANNOTATION
from dynamobackup.policy.profiles import load_profile, newest_version
from dynamobackup_devenv import binaries
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import AwsHelper
from veeam_sources import documented_count

from .conftest import DbrClient, condition, wait_for, wait_past_second

APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
INLINE = "dynamobackup-permissions"


def role_name() -> str:
    return f"veeam-{uuid.uuid4().hex[:10]}"


def spec(name: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "account": {"id": "123456789012"},
        "roleName": name,
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": APPLIANCE, "externalId": "veeam-ext"},
        "driftCheckInterval": "10s",
    }
    base.update(overrides)
    return base


def ready(status: dict[str, Any]) -> bool:
    return condition(status, "Ready").get("status") == "True"


def reason(status: dict[str, Any]) -> str:
    return str(condition(status, "Ready").get("reason"))


def request_recheck(dbr: DbrClient, name: str) -> None:
    stamp = datetime.now(UTC).isoformat()
    dbr.patch(name, {"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: stamp}}})


def checked_after(previous: str) -> Any:
    return lambda status: status.get("lastCheckedTime", "") > previous


def inline_actions(iam: Any, role: str) -> list[str]:
    document = iam.get_role_policy(RoleName=role, PolicyName=INLINE)["PolicyDocument"]
    return [a for s in document["Statement"] for a in s["Action"]]


def trusted_principals(iam: Any, role: str) -> str:
    return json.dumps(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])


def test_enforce_creates_the_role_and_then_only_reads(
    dbr: DbrClient, aws: AwsHelper, control_plane: Cluster
) -> None:
    name = role_name()
    # An hour between drift checks: the re-check below can only come from the annotation.
    dbr.create("backup", spec(name, driftCheckInterval="1h"))
    status = dbr.wait_status("backup", ready, what="Ready=True")
    assert status["compliant"] is True and status["missingCount"] == 0
    assert status["roleArn"] == f"arn:aws:iam::123456789012:role/{name}"
    # No profileVersion: the newest profile shipped.
    assert status["profile"] == {
        "version": newest_version(),
        "operations": ["BackupPolicy"],
        "actionCount": documented_count("BackupPolicy"),
    }
    assert 0 < status["awsCalls"] <= 10
    assert status["lastChanges"] == [
        f"created IAM role /{name}",
        f"wrote inline policy {INLINE} of {name}",
    ]
    for kind in ("Compliant", "PermissionsCompliant", "TrustCompliant"):
        assert condition(status, kind)["status"] == "True"
    iam = aws.client("iam")
    assert len(inline_actions(iam, name)) == documented_count("BackupPolicy")
    assert "backup.amazonaws.com" in trusted_principals(
        iam, name
    ) and APPLIANCE in trusted_principals(iam, name)

    wait_past_second(status["lastCheckedTime"])
    request_recheck(dbr, "backup")
    second = dbr.wait_status(
        "backup", checked_after(status["lastCheckedTime"]), timeout=20, what="a re-check"
    )
    assert second["lastChanges"] == [] and ready(second)
    assert (
        second["awsCalls"] == 4
    )  # GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies
    # One Event for the create, naming both writes; none for the clean re-check.
    events = dbr.events("backup")
    assert [e["reason"] for e in events] == ["RoleCreated"], events
    assert (
        "created IAM role" in events[0]["message"] and "wrote inline policy" in events[0]["message"]
    )
    # Reported under the operator's own name, not its framework's.
    assert {e["component"] for e in events} == {"dynamobackup-operator"}

    columns = subprocess.run(
        [
            str(binaries.kubectl_path()),
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "get",
            "dbr",
            "-n",
            dbr.namespace,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    header = columns[0].split()
    assert header[0] == "NAME" and header[-1] == "AGE"
    row = dict(zip(header, columns[1].split(), strict=False))
    wanted = ("NAME", "ACCOUNT", "ROLE", "MODE", "READY", "COMPLIANT", "MISSING")
    assert [row[column] for column in wanted] == [
        "backup",
        "123456789012",
        name,
        "Enforce",
        "True",
        "true",
        "0",
    ]


def drift_by_hand(iam: Any, name: str) -> None:
    """Drift made by hand: one action fewer, one trusted principal more."""
    document = iam.get_role_policy(RoleName=name, PolicyName=INLINE)["PolicyDocument"]
    document["Statement"][0]["Action"].remove("sns:Subscribe")
    iam.put_role_policy(RoleName=name, PolicyName=INLINE, PolicyDocument=json.dumps(document))
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    trust["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
        }
    )
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))


def test_enforce_repairs_drift_on_the_next_timer(dbr: DbrClient, aws: AwsHelper) -> None:
    name = role_name()
    dbr.create("drifty", spec(name))
    before = dbr.wait_status("drifty", ready, what="Ready=True")
    iam = aws.client("iam")
    drift_by_hand(iam, name)

    repaired = dbr.wait_status(
        "drifty",
        lambda s: bool(s.get("lastChanges")) and s["lastCheckedTime"] > before["lastCheckedTime"],
        timeout=40,
        what="the timer's repair",
    )
    assert repaired["lastChanges"] == [
        f"replaced the trust policy of {name}",
        f"wrote inline policy {INLINE} of {name}",
    ]
    assert ready(repaired) and repaired["missingActions"] == []
    assert "sns:Subscribe" in inline_actions(iam, name)
    assert "999999999999" not in trusted_principals(iam, name)
    repairs = [e for e in dbr.events("drifty") if e["reason"] == "RoleRepaired"]
    assert len(repairs) == 1 and "replaced the trust policy" in repairs[0]["message"], repairs


def test_a_tag_dropped_from_the_spec_leaves_the_role_but_a_tag_added_by_hand_stays(
    dbr: DbrClient, aws: AwsHelper
) -> None:
    name = role_name()
    iam = aws.client("iam")
    tags = {"team": "storage", "cost-center": "42"}
    # An hour between drift checks: the untag can only come from the spec change.
    dbr.create("tagged", spec(name, tags=tags, driftCheckInterval="1h"))
    created = dbr.wait_status("tagged", ready, what="Ready=True")
    assert created["managedTags"] == ["cost-center", "team"]
    iam.tag_role(RoleName=name, Tags=[{"Key": "by-hand", "Value": "x"}])

    dbr.patch("tagged", {"spec": {"tags": {"cost-center": None}}})
    untagged = dbr.wait_status(
        "tagged",
        lambda s: s.get("observedGeneration") == 2 and ready(s),
        what="the untag",
    )
    assert untagged["lastChanges"] == [f"removed tags cost-center from {name}"]
    assert untagged["managedTags"] == ["team"]
    on_role = {t["Key"]: t["Value"] for t in iam.get_role(RoleName=name)["Role"]["Tags"]}
    assert "cost-center" not in on_role
    assert on_role["team"] == "storage" and on_role["by-hand"] == "x"
    assert on_role["dynamobackup.io/name"] == "tagged"


def test_audit_reports_exactly_what_is_wrong_and_never_writes(
    dbr: DbrClient, aws: AwsHelper
) -> None:
    name = role_name()
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "backup.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": [APPLIANCE, "arn:aws:iam::999999999999:user/intruder"]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "veeam-ext"}},
            },
        ],
    }
    iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description="made by hand"
    )
    seed = json.loads(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Resource": "*",
                        "Action": [
                            "backup:DescribeBackupJob",
                            "dynamodb:DescribeTable",
                            "dynamodb:ListTables",
                            "s3:GetObject",
                        ],
                    }
                ],
            }
        )
    )
    iam.put_role_policy(RoleName=name, PolicyName="by-hand", PolicyDocument=json.dumps(seed))
    snapshot = (
        trusted_principals(iam, name),
        iam.get_role_policy(RoleName=name, PolicyName="by-hand")["PolicyDocument"],
    )

    dbr.create("audit", spec(name, mode="Audit", description="made by hand"))
    status = dbr.wait_status("audit", lambda s: "compliant" in s, what="an audit verdict")
    assert status["compliant"] is False and reason(status) == "DriftDetected"
    assert (
        len(status["missingActions"]) == 46
        and "dynamodb:DescribeTable" not in status["missingActions"]
    )
    assert status["excessActions"] == ["s3:GetObject"]
    assert [f["code"] for f in status["trustFindings"]] == ["ExcessPrincipal"]
    assert status["foreignPolicies"] == ["inline:by-hand"]
    assert condition(status, "PermissionsCompliant")["reason"] == "ActionsMissing"
    assert status["lastChanges"] == []
    # Audit never writes: the role is exactly as it was, and no change Events were posted.
    assert (
        trusted_principals(iam, name),
        iam.get_role_policy(RoleName=name, PolicyName="by-hand")["PolicyDocument"],
    ) == snapshot
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["by-hand"]
    assert {e["reason"] for e in dbr.events("audit")} <= {"NotCompliant"}

    # Fixing the role out of band is noticed by the next drift check.
    fixed_actions = [*load_profile().required_actions(["BackupPolicy"]), "s3:Get*"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="by-hand",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Resource": "*", "Action": fixed_actions}],
            }
        ),
    )
    fixed = dbr.wait_status(
        "audit", lambda s: s.get("missingCount") == 0, timeout=40, what="the audit to see the fix"
    )
    # What remains are warnings (an extra principal) and excess grants, which only exclusive forbids.
    assert fixed["compliant"] is True and reason(fixed) == "Audited"
    assert [f["code"] for f in fixed["trustFindings"]] == ["ExcessPrincipal"]
    assert fixed["excessActions"] == ["s3:Get*"] and fixed["dangerousActions"] == []

    # A grant that changes permissions is never compliant, whoever put it there.
    iam.put_role_policy(
        RoleName=name,
        PolicyName="admin",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Resource": "*", "Action": "iam:*"}],
            }
        ),
    )
    dangerous = dbr.wait_status(
        "audit", lambda s: bool(s.get("dangerousActions")), timeout=40, what="the iam:* grant"
    )
    assert dangerous["compliant"] is False and dangerous["dangerousActions"] == ["iam:*"]
    assert condition(dangerous, "PermissionsCompliant")["reason"] == "DangerousActions"


def test_unowned_role_is_refused_until_adopted(dbr: DbrClient, aws: AwsHelper) -> None:
    name = role_name()
    iam = aws.client("iam")
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    dbr.create("taken", spec(name))
    refused = dbr.wait_status("taken", lambda s: reason(s) == "RoleNotOwned", what="RoleNotOwned")
    assert "adoptExisting" in condition(refused, "Ready")["message"]
    assert "ec2.amazonaws.com" in trusted_principals(iam, name)
    assert "RoleNotOwned" in [e["reason"] for e in dbr.events("taken")]

    dbr.patch("taken", {"spec": {"adoptExisting": True}})
    adopted = dbr.wait_status("taken", ready, what="adoption")
    assert adopted["compliant"] is True
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    assert (
        tags["dynamobackup.io/namespace"] == dbr.namespace
        and tags["dynamobackup.io/name"] == "taken"
    )


def test_cross_account_role_lands_in_the_target_account(dbr: DbrClient, aws: AwsHelper) -> None:
    target = "222222222222"
    access = aws.create_cross_account_role(
        target, "dynamobackup-operator", external_id="operator-ext"
    )
    name = role_name()
    dbr.create(
        "remote",
        spec(name, account={"id": target, "assumeRoleArn": access, "externalId": "operator-ext"}),
    )
    status = dbr.wait_status("remote", ready, what="Ready=True")
    assert status["roleArn"] == f"arn:aws:iam::{target}:role/{name}"
    assert name in [r["RoleName"] for r in aws.client("iam", account=target).list_roles()["Roles"]]
    assert name not in [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]]


def test_delete_retains_or_deletes_only_what_it_owns(dbr: DbrClient, aws: AwsHelper) -> None:
    iam = aws.client("iam")
    kept, removed, foreign = role_name(), role_name(), role_name()
    dbr.create("kept", spec(kept))
    dbr.create(
        "removed", spec(removed, deletionPolicy="Delete", permissions={"delivery": "Managed"})
    )
    iam.create_role(
        RoleName=foreign,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    dbr.create("foreign", spec(foreign, deletionPolicy="Delete"))
    dbr.wait_status("kept", ready, what="kept ready")
    removed_status = dbr.wait_status("removed", ready, what="removed ready")
    dbr.wait_status("foreign", lambda s: reason(s) == "RoleNotOwned", what="foreign refused")
    policy_arn = removed_status["managedPolicyArns"][0]

    for name in ("kept", "removed", "foreign"):
        dbr.delete(name)
    wait_for(
        lambda: not any(dbr.exists(n) for n in ("kept", "removed", "foreign")),
        60,
        "objects to be finalized",
    )
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert kept in roles and foreign in roles and removed not in roles
    assert policy_arn not in [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]]


def test_scope_update_and_delivery_migration(dbr: DbrClient, aws: AwsHelper) -> None:
    name = role_name()
    iam = aws.client("iam")
    dbr.create("evolving", spec(name))
    dbr.wait_status("evolving", ready, what="Ready=True")

    dbr.patch("evolving", {"spec": {"scope": {"operations": ["BackupPolicy", "Restore"]}}})
    wider = dbr.wait_status(
        "evolving",
        lambda s: (
            s.get("profile", {}).get("actionCount") == documented_count("BackupPolicy", "Restore")
            and ready(s)
        ),
        what="the Restore actions",
    )
    assert wider["observedGeneration"] == 2
    assert "dynamodb:RestoreTableFromAwsBackup" in inline_actions(iam, name)

    dbr.patch("evolving", {"spec": {"permissions": {"delivery": "Managed"}}})
    managed = dbr.wait_status(
        "evolving", lambda s: bool(s.get("managedPolicyArns")) and ready(s), what="managed delivery"
    )
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == managed["managedPolicyArns"]
    assert managed["lastChanges"][-1] == f"deleted inline policy {INLINE} of {name}"
