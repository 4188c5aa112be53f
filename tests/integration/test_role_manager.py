"""The aws layer against moto over HTTP: observe, apply and judge real IAM state."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dynamobackup.api.v1alpha1 import ApiError, DynamoBackupRoleSpec, DynamoBackupRoleStatus
from dynamobackup.aws.calls import counting
from dynamobackup.aws.manager import RoleManager
from dynamobackup.aws.session import AwsSettings, SessionProvider
from dynamobackup.policy.document import parse_document
from dynamobackup.policy.normalize import same_meaning
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME
from dynamobackup.reconcile.ownership import Owner
from dynamobackup.reconcile.status import build_status
from dynamobackup_devenv.aws_calls import mutating
from dynamobackup_devenv.moto_server import AwsHelper

ACCOUNT = "123456789012"
APPLIANCE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
OWNER = Owner("team-a", "backup-role")


def make_spec(**overrides: Any) -> DynamoBackupRoleSpec:
    spec: dict[str, Any] = {
        "account": {"id": ACCOUNT},
        "roleName": "veeam-dynamodb-backup",
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": APPLIANCE, "externalId": "ext-123"},
    }
    spec.update(overrides)
    return DynamoBackupRoleSpec.parse(spec)


@pytest.fixture
def manager(aws: AwsHelper) -> RoleManager:
    session = aws.session()
    return RoleManager(SessionProvider(AwsSettings(endpoint_url=aws.endpoint_url), session))


@pytest.fixture
def iam(aws: AwsHelper) -> Any:
    return aws.client("iam")


def inline_document(iam: Any, role: str = "veeam-dynamodb-backup") -> Any:
    return parse_document(
        iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    )


def test_enforce_creates_a_compliant_role_then_changes_nothing(
    manager: RoleManager, iam: Any
) -> None:
    spec = make_spec()
    first = manager.converge(spec, OWNER)
    assert first.failure is None and first.ready, first.failure
    assert [c.operation for c in first.applied] == ["CreateRole", "PutRolePolicy"]
    role = iam.get_role(RoleName="veeam-dynamodb-backup")["Role"]
    assert first.desired is not None
    assert same_meaning(parse_document(role["AssumeRolePolicyDocument"]), first.desired.trust)
    assert {t["Key"]: t["Value"] for t in role["Tags"]}["dynamobackup.io/namespace"] == "team-a"
    assert same_meaning(inline_document(iam), first.desired.permissions[0])

    with counting() as log:
        second = manager.converge(spec, OWNER)
    assert second.ready and second.applied == ()
    assert mutating(log.by_operation) == {}
    # GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies; STS identity is cached.
    assert second.aws_calls == 4, log.by_operation


def test_audit_never_writes_and_reports_drift(manager: RoleManager, iam: Any) -> None:
    manager.converge(make_spec(), OWNER)
    document = inline_document(iam).to_iam()
    document["Statement"][0]["Action"].remove("sqs:ReceiveMessage")
    iam.put_role_policy(
        RoleName="veeam-dynamodb-backup",
        PolicyName=INLINE_POLICY_NAME,
        PolicyDocument=json.dumps(document),
    )
    with counting() as log:
        outcome = manager.converge(make_spec(mode="Audit"), OWNER)
    assert mutating(log.by_operation) == {}
    assert outcome.report is not None and outcome.report.permissions.missing == (
        "sqs:ReceiveMessage",
    )
    assert not outcome.ready and outcome.failure is None


def test_enforce_repairs_drift(manager: RoleManager, iam: Any) -> None:
    manager.converge(make_spec(), OWNER)
    trust = json.loads(
        json.dumps(
            iam.get_role(RoleName="veeam-dynamodb-backup")["Role"]["AssumeRolePolicyDocument"]
        )
    )
    trust["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
        }
    )
    iam.update_assume_role_policy(
        RoleName="veeam-dynamodb-backup", PolicyDocument=json.dumps(trust)
    )
    iam.delete_role_policy(RoleName="veeam-dynamodb-backup", PolicyName=INLINE_POLICY_NAME)
    outcome = manager.converge(make_spec(), OWNER)
    assert [c.operation for c in outcome.applied] == ["UpdateAssumeRolePolicy", "PutRolePolicy"]
    assert outcome.ready
    assert "999999999999" not in json.dumps(
        iam.get_role(RoleName="veeam-dynamodb-backup")["Role"]["AssumeRolePolicyDocument"]
    )


def role_tags(iam: Any, role: str = "veeam-dynamodb-backup") -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in iam.get_role(RoleName=role)["Role"]["Tags"]}


def test_a_tag_dropped_from_the_spec_is_removed_but_not_a_hand_added_one(
    manager: RoleManager, iam: Any
) -> None:
    first = manager.converge(make_spec(tags={"team": "storage", "cost-center": "42"}), OWNER)
    status = build_status(DynamoBackupRoleStatus(), first, 1)
    assert status.managed_tags == ["cost-center", "team"]
    iam.tag_role(RoleName="veeam-dynamodb-backup", Tags=[{"Key": "by-hand", "Value": "x"}])

    # A platform engineer drops cost-center from the spec; Audit reports it, changing nothing.
    dropped = make_spec(tags={"team": "storage"})
    audit = make_spec(tags={"team": "storage"}, mode="Audit")
    audited = manager.converge(audit, OWNER, managed_tags=status.managed_tags)
    assert audited.report is not None and audited.report.drifted_settings == ("tags",)
    assert "cost-center" in role_tags(iam)

    enforced = manager.converge(dropped, OWNER, managed_tags=status.managed_tags)
    assert [c.summary for c in enforced.applied] == [
        "removed tags cost-center from veeam-dynamodb-backup"
    ]
    assert enforced.ready, enforced.failure
    tags = role_tags(iam)
    assert "cost-center" not in tags and tags["team"] == "storage" and tags["by-hand"] == "x"
    assert OWNER.tags().items() <= tags.items()
    assert build_status(status, enforced, 2).managed_tags == ["team"]


def test_managed_delivery_and_migration_back_and_forth(manager: RoleManager, iam: Any) -> None:
    managed = make_spec(permissions={"delivery": "Managed"})
    created = manager.converge(managed, OWNER)
    assert created.ready, created.failure
    attached = iam.list_attached_role_policies(RoleName="veeam-dynamodb-backup")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["veeam-dynamodb-backup-dynamobackup-1"]
    assert iam.list_role_policies(RoleName="veeam-dynamodb-backup")["PolicyNames"] == []

    wider = make_spec(
        permissions={"delivery": "Managed"}, scope={"operations": ["BackupPolicy", "Restore"]}
    )
    updated = manager.converge(wider, OWNER)
    assert "CreatePolicyVersion" in [c.operation for c in updated.applied] and updated.ready
    versions = iam.list_policy_versions(PolicyArn=attached[0]["PolicyArn"])["Versions"]
    assert len(versions) == 1 and versions[0]["IsDefaultVersion"]  # old versions pruned

    back = manager.converge(make_spec(), OWNER)
    assert [c.operation for c in back.applied] == [
        "UpdateRole",
        "PutRolePolicy",
        "DetachRolePolicy",
        "DeletePolicy",
    ]
    assert back.ready
    assert (
        iam.list_attached_role_policies(RoleName="veeam-dynamodb-backup")["AttachedPolicies"] == []
    )
    assert iam.list_policies(Scope="Local")["Policies"] == []


def test_unowned_role_is_refused_unless_adopted(manager: RoleManager, iam: Any) -> None:
    iam.create_role(
        RoleName="veeam-dynamodb-backup",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "backup.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    with counting() as log:
        refused = manager.converge(make_spec(), OWNER)
    assert refused.failure is not None and refused.failure.reason == "RoleNotOwned"
    assert "adoptExisting" in refused.failure.message
    assert mutating(log.by_operation) == {}
    assert refused.report is not None and len(refused.report.permissions.missing) == 49

    adopted = manager.converge(make_spec(adoptExisting=True), OWNER)
    assert adopted.ready, adopted.failure
    tags = {
        t["Key"]: t["Value"] for t in iam.get_role(RoleName="veeam-dynamodb-backup")["Role"]["Tags"]
    }
    assert tags["dynamobackup.io/name"] == "backup-role"


def test_role_of_another_resource_and_path_conflict(manager: RoleManager) -> None:
    manager.converge(make_spec(), Owner("team-b", "other"))
    taken = manager.converge(make_spec(adoptExisting=True), OWNER)
    assert taken.failure is not None and taken.failure.reason == "RoleOwnedByAnotherResource"
    moved = manager.converge(make_spec(rolePath="/veeam/"), Owner("team-b", "other"))
    assert moved.failure is not None and moved.failure.reason == "RolePathConflict"


def test_own_credentials_must_belong_to_the_account(manager: RoleManager) -> None:
    outcome = manager.converge(make_spec(account={"id": "222222222222"}), OWNER)
    assert outcome.failure is not None and outcome.failure.reason == "AccountMismatch"
    assert ACCOUNT in outcome.failure.message


def test_cross_account_with_external_id(manager: RoleManager, aws: AwsHelper) -> None:
    target = "222222222222"
    arn = aws.create_cross_account_role(target, "dynamobackup-operator", external_id="op-ext")
    spec = make_spec(account={"id": target, "assumeRoleArn": arn, "externalId": "op-ext"})
    outcome = manager.converge(spec, OWNER)
    assert outcome.ready, outcome.failure
    assert outcome.role is not None and outcome.role.arn.startswith(f"arn:aws:iam::{target}:role/")
    names = [r["RoleName"] for r in aws.client("iam", account=target).list_roles()["Roles"]]
    assert "veeam-dynamodb-backup" in names
    assert "veeam-dynamodb-backup" not in [
        r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]
    ]
    with counting() as log:
        manager.converge(spec, OWNER)
    assert (
        "AssumeRole" not in log.by_operation
    )  # credentials are cached until shortly before expiry


def test_assume_role_arn_in_another_account_is_refused() -> None:
    # Admission refuses it now (the API server's CEL rule and the model agree); the session's own
    # check stays as a second net for objects stored before the rule existed.
    with pytest.raises(ApiError, match="account id and partition of the account"):
        make_spec(
            account={"id": "222222222222", "assumeRoleArn": "arn:aws:iam::333333333333:role/x"}
        )


def test_delete_honours_policy_and_ownership(manager: RoleManager, iam: Any) -> None:
    manager.converge(make_spec(permissions={"delivery": "Managed"}), OWNER)
    retained = manager.delete(make_spec(permissions={"delivery": "Managed"}), OWNER)
    assert retained.failure is None and retained.aws_calls == 0
    assert iam.get_role(RoleName="veeam-dynamodb-backup")

    not_ours = manager.delete(make_spec(deletionPolicy="Delete"), Owner("team-b", "other"))
    assert not_ours.failure is not None and not_ours.failure.reason == "RoleNotOwned"
    assert iam.get_role(RoleName="veeam-dynamodb-backup")

    deleted = manager.delete(
        make_spec(deletionPolicy="Delete", permissions={"delivery": "Managed"}), OWNER
    )
    assert deleted.failure is None
    assert [c.operation for c in deleted.applied] == [
        "DetachRolePolicy",
        "DeletePolicy",
        "DeleteRole",
    ]
    assert iam.list_roles()["Roles"] == [] and iam.list_policies(Scope="Local")["Policies"] == []


def test_access_denied_is_a_failure_not_an_exception(aws: AwsHelper) -> None:
    # Credentials moto does not know are still signed; an endpoint that refuses them stands in
    # for an account where the operator lacks permissions.
    broken = boto3.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    manager = RoleManager(
        SessionProvider(AwsSettings(endpoint_url="http://127.0.0.1:9", max_attempts=1), broken)
    )
    outcome = manager.converge(make_spec(), OWNER)
    assert outcome.failure is not None and outcome.failure.reason == "AwsUnreachable"
    assert outcome.failure.retryable


@pytest.mark.parametrize(("delivery", "calls"), [("Inline", 3), ("Managed", 4)])
def test_a_create_costs_the_pre_read_and_the_writes_only(
    manager: RoleManager, iam: Any, delivery: str, calls: int
) -> None:
    spec = make_spec(permissions={"delivery": delivery})
    with counting() as log:
        created = manager.converge(spec, OWNER)
    assert created.ready, created.failure
    # GetRole (absent), CreateRole, then PutRolePolicy or CreatePolicy + AttachRolePolicy: the
    # role after the writes is known from them, not read back. (STS GetCallerIdentity runs once
    # per process, for the operator's own account.)
    iam_calls = {op: n for op, n in log.by_operation.items() if op != "GetCallerIdentity"}
    assert sum(iam_calls.values()) == calls, log.by_operation
    assert iam_calls["GetRole"] == 1
    # What IAM really holds gives the same verdict and the same role.
    checked = manager.converge(spec, OWNER)
    assert checked.applied == () and checked.ready
    assert created.report == checked.report
    assert created.role is not None and checked.role is not None
    assert (created.role.arn, created.role.role_id) == (checked.role.arn, checked.role.role_id)


def test_concurrent_reconciles_of_one_account_assume_its_role_once(
    manager: RoleManager, aws: AwsHelper
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from contextvars import copy_context

    target = "222222222222"
    arn = aws.create_cross_account_role(target, "dynamobackup-operator")
    specs = [
        make_spec(account={"id": target, "assumeRoleArn": arn}, roleName=f"veeam-{i}")
        for i in range(8)
    ]
    with counting() as log, ThreadPoolExecutor(8) as pool:
        # Each worker counts into this block's log (the count lives in a context variable).
        futures = [pool.submit(copy_context().run, manager.converge, s, OWNER) for s in specs]
        outcomes = [future.result() for future in futures]
    # moto under load sometimes answers a call with a broken response; those reconciles are
    # retried here, as the operator would, and still need no second AssumeRole.
    with counting() as retries:
        for spec, outcome in zip(specs, outcomes, strict=True):
            if not outcome.ready:
                assert manager.converge(spec, OWNER).ready
    assert log.by_operation["AssumeRole"] == 1
    assert "AssumeRole" not in retries.by_operation


def test_a_sweep_reads_the_account_once_and_judges_every_role_alike(
    manager: RoleManager, aws: AwsHelper
) -> None:
    from dynamobackup.aws.account import NotInSnapshot, observe_account
    from dynamobackup.aws.observe import PolicyDocumentCache, observe_role

    specs = [
        make_spec(roleName=f"veeam-{i}", permissions={"delivery": ("Inline", "Managed")[i % 2]})
        for i in range(6)
    ]
    created = [manager.converge(spec, OWNER) for spec in specs]
    assert all(outcome.ready for outcome in created)
    iam = aws.client("iam")

    with counting() as log:
        snapshot = manager.observe_account(specs[0])
    assert snapshot is not None
    assert log.by_operation == {"GetAccountAuthorizationDetails": 1, "ListRoles": 1}
    for spec, first in zip(specs, created, strict=True):
        # The same role as reading it on its own, and the same verdict for no call at all.
        assert snapshot.role(spec.role_name, manager.cache) == observe_role(
            iam, spec.role_name, PolicyDocumentCache()
        )
        checked = manager.converge(spec, OWNER, snapshot=snapshot)
        assert checked.aws_calls == 0 and checked.applied == ()
        assert checked.report == first.report
    assert snapshot.role("no-such-role", manager.cache) is None

    # A managed policy whose ownership tags were never seen (GAAD omits them) is read directly.
    with pytest.raises(NotInSnapshot):
        observe_account(iam).role("veeam-1", PolicyDocumentCache())


def test_every_iam_request_of_an_account_takes_a_token_of_that_account(
    aws: AwsHelper,
) -> None:
    settings = AwsSettings(endpoint_url=aws.endpoint_url, rate_limit=1000, burst=2)
    manager = RoleManager(SessionProvider(settings, aws.session()))
    with counting() as log:
        outcome = manager.converge(make_spec(), OWNER)
    assert outcome.ready, outcome.failure
    iam_calls = sum(n for op, n in log.by_operation.items() if op != "GetCallerIdentity")
    assert manager.sessions.limits.bucket(ACCOUNT).taken == iam_calls == 3


# --- what an interrupted write leaves behind is cleaned up, not kept for good -----------------


def _own_policy_arn(iam: Any) -> str:
    attached = iam.list_attached_role_policies(RoleName="veeam-dynamodb-backup")
    return str(attached["AttachedPolicies"][0]["PolicyArn"])


def _versions(iam: Any, arn: str) -> list[str]:
    return sorted(v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"])


@pytest.mark.parametrize("read", ["role on its own", "whole account"])
def test_a_version_an_interrupted_publish_left_is_removed(
    aws: AwsHelper, manager: RoleManager, iam: Any, read: str
) -> None:
    managed = make_spec(permissions={"delivery": "Managed"})
    assert manager.converge(managed, OWNER).ready
    arn = _own_policy_arn(iam)
    # A publish whose answer was lost: the new default version is in IAM, the old one was
    # never pruned, and the default already says what the spec wants.
    document = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
    if read == "whole account":
        # The sweep's path: the account-wide read lists every version of every policy.
        checker, snapshot = manager, manager.observe_account(managed)
    else:
        # After a restart nothing is known about the policy's versions: they are read once.
        checker = RoleManager(
            SessionProvider(AwsSettings(endpoint_url=aws.endpoint_url), aws.session())
        )
        snapshot = None
    with counting() as log:
        outcome = checker.converge(managed, OWNER, snapshot=snapshot)
    assert ("GetRole" in log.by_operation) == (snapshot is None)
    assert outcome.ready, outcome.failure
    assert [c.operation for c in outcome.applied] == ["DeletePolicyVersion"]
    assert _versions(iam, arn) == ["v2"]
    with counting() as log:
        again = checker.converge(managed, OWNER)
    assert again.applied == () and mutating(log.by_operation) == {}


def test_deletion_removes_own_policies_an_interruption_left_detached(
    manager: RoleManager, iam: Any
) -> None:
    managed = make_spec(permissions={"delivery": "Managed"}, deletionPolicy="Delete")
    assert manager.converge(managed, OWNER).ready
    arn = _own_policy_arn(iam)
    # An earlier deletion detached the policy, then failed before deleting it.
    iam.detach_role_policy(RoleName="veeam-dynamodb-backup", PolicyArn=arn)
    foreign = iam.create_policy(
        PolicyName="veeam-dynamodb-backup-dynamobackup-2",
        Path="/dynamobackup/",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    outcome = manager.delete(managed, OWNER)
    assert outcome.failure is None, outcome.failure
    local = iam.list_policies(Scope="Local", PathPrefix="/dynamobackup/")["Policies"]
    assert [p["Arn"] for p in local] == [foreign]  # ours deleted; an untagged namesake kept
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="veeam-dynamodb-backup")


def test_a_boundary_that_does_not_exist_is_removed_unless_the_spec_names_it(
    manager: RoleManager, iam: Any
) -> None:
    assert manager.converge(make_spec(deletionPolicy="Delete"), OWNER).ready
    missing = f"arn:aws:iam::{ACCOUNT}:policy/deleted-boundary"
    # A boundary naming a policy IAM does not have (moto sets one without checking).
    iam.put_role_permissions_boundary(RoleName="veeam-dynamodb-backup", PermissionsBoundary=missing)
    named = manager.converge(make_spec(permissionsBoundaryArn=missing), OWNER)
    assert named.failure is not None and named.failure.reason == "PermissionsBoundaryNotFound"
    repaired = manager.converge(make_spec(deletionPolicy="Delete"), OWNER)
    assert repaired.ready, repaired.failure
    assert [c.operation for c in repaired.applied] == ["DeleteRolePermissionsBoundary"]
    assert "PermissionsBoundary" not in iam.get_role(RoleName="veeam-dynamodb-backup")["Role"]
    iam.put_role_permissions_boundary(RoleName="veeam-dynamodb-backup", PermissionsBoundary=missing)
    assert manager.delete(make_spec(deletionPolicy="Delete"), OWNER).failure is None
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="veeam-dynamodb-backup")
