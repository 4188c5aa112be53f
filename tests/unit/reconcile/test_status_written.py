"""The whole status written to a DynamoBackupRole, as `kubectl get -o yaml` shows it.

test_status.py checks conditions by status and reason; here every case compares the entire merge
patch (or the entire condition: type, status, reason, message, time, generation), so a message
that loses a word, a count that goes astray or a field left out of the patch is noticed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupRoleStatus
from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole
from dynamobackup.reconcile.outcome import Failure, Outcome
from dynamobackup.reconcile.plan import Change, TagRole, UpdateRole
from dynamobackup.reconcile.status import build_status, deletion_blocked_status
from veeam_sources import documented_count

from .conftest import APPLIANCE, OWNER, make_spec, observed_from

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=10)
STAMP = "2026-11-28T12:00:00Z"
LATER_STAMP = "2026-11-28T12:10:00Z"
ROLE_ARN = "arn:aws:iam::123456789012:role/veeam-dynamodb-backup"
OWN_POLICY = "arn:aws:iam::123456789012:policy/dynamobackup/veeam-dynamodb-backup-dynamobackup-1"
FOREIGN_POLICY = "arn:aws:iam::123456789012:policy/team-reads"
ROLE_ID = "AROAEXAMPLEEXAMPLE123"
PROFILE_ACTIONS = documented_count("BackupPolicy")


def document(*statements: dict[str, Any]) -> ObservedDocument:
    return ObservedDocument(
        parse_document({"Version": "2012-10-17", "Statement": list(statements)})
    )


def allow(*actions: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement


def deny(*actions: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": list(actions), "Resource": "*"}


def condition(
    kind: str, status: str, reason: str, message: str, at: str = STAMP, generation: int = 7
) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": at,
        "observedGeneration": generation,
    }


FINISHED = condition("Reconciling", "False", "ReconcileFinished", "the last reconcile finished")
NOT_STALLED = condition("Stalled", "False", "NotStalled", "nothing blocks the role")
ALL_COMPLIANT = [
    condition("Compliant", "True", "Compliant", "permissions, trust and settings match the spec"),
    condition(
        "PermissionsCompliant",
        "True",
        "AllActionsAllowed",
        f"all {PROFILE_ACTIONS} required actions are allowed",
    ),
    condition(
        "TrustCompliant",
        "True",
        "Trusted",
        "AWS Backup and the Veeam appliance can assume the role",
    ),
]


def checked(
    desired: DesiredRole, role: ObservedRole, *applied: Change, at: datetime = T0
) -> Outcome:
    report = assess(desired, role, default_catalog())
    return Outcome(
        checked_at=at, desired=desired, role=role, report=report, applied=applied, aws_calls=4
    )


def written(outcome: Outcome, previous: DynamoBackupRoleStatus | None = None) -> dict[str, Any]:
    return build_status(previous or DynamoBackupRoleStatus(), outcome, 7).to_patch()


def conditions_of(outcome: Outcome) -> dict[str, tuple[str, str, str]]:
    return {
        c["type"]: (c["status"], c["reason"], c["message"]) for c in written(outcome)["conditions"]
    }


def managed_delivery_role() -> tuple[DesiredRole, ObservedRole]:
    """Managed delivery with an added action and a user tag; someone attached a policy too."""
    desired = desired_role(
        make_spec(
            permissions={"delivery": "Managed", "additionalActions": ["s3:GetObject"]},
            tags={"team": "backup"},
        ),
        OWNER,
    )
    role = observed_from(desired)
    theirs = ObservedManagedPolicy(
        arn=FOREIGN_POLICY,
        name="team-reads",
        path="/",
        document=document(allow("s3:ListAllMyBuckets")),
    )
    return desired, replace(role, attached_policies=(theirs, *role.attached_policies))


def test_the_whole_status_of_a_role_enforce_repaired() -> None:
    desired, role = managed_delivery_role()
    changes = (
        TagRole(desired.name, {"team": "backup"}),
        UpdateRole(desired.name, desired.settings.description, 3600),
    )
    assert written(checked(desired, role, *changes)) == {
        "roleArn": ROLE_ARN,
        "roleId": ROLE_ID,
        "observedGeneration": 7,
        "compliant": True,
        "conditions": [
            condition(
                "Ready", "True", "Reconciled", "role reconciled and compliant; 2 changes made"
            ),
            FINISHED,
            NOT_STALLED,
            *ALL_COMPLIANT[:1],
            condition(
                "PermissionsCompliant",
                "True",
                "AllActionsAllowed",
                f"all {PROFILE_ACTIONS + 1} required actions are allowed",
            ),
            *ALL_COMPLIANT[2:],
        ],
        "missingActions": [],
        "deniedActions": [],
        "conditionalActions": [],
        # Reported, yet compliant: permissions.exclusive is false.
        "excessActions": ["s3:ListAllMyBuckets"],
        "addedActions": ["s3:GetObject"],
        "dangerousActions": [],
        "missingCount": 0,
        "trustFindings": [],
        "profile": {
            "version": "11",
            "operations": ["BackupPolicy"],
            "actionCount": PROFILE_ACTIONS + 1,
        },
        "managedPolicyArns": [OWN_POLICY],
        "foreignPolicies": [FOREIGN_POLICY],
        "driftedSettings": [],
        "managedTags": ["team"],
        "lastCheckedTime": STAMP,
        "awsCalls": 4,
        "mode": "Enforce",
        "lastChanges": [
            "tagged veeam-dynamodb-backup with team",
            "set the description and maximum session duration of veeam-dynamodb-backup",
        ],
    }


def test_a_refusal_before_any_aws_call_keeps_what_the_last_check_recorded() -> None:
    desired, role = managed_delivery_role()
    before = build_status(DynamoBackupRoleStatus(), checked(desired, role), 7)
    why = "Secret team-a/veeam-external-id does not exist"
    refused = Outcome(checked_at=LATER, failure=Failure("SecretNotFound", why))
    unknown = [
        condition(kind, "Unknown", "SecretNotFound", why, at=LATER_STAMP)
        for kind in ("Compliant", "PermissionsCompliant", "TrustCompliant")
    ]
    # Fields left None are not in the merge patch: the server keeps the verdict's record.
    assert written(refused, before) == {
        "roleArn": ROLE_ARN,
        "roleId": ROLE_ID,
        "observedGeneration": 7,
        "conditions": [
            condition("Ready", "False", "SecretNotFound", why, at=LATER_STAMP),
            FINISHED,
            condition("Stalled", "True", "SecretNotFound", why, at=LATER_STAMP),
            *unknown,
        ],
        "lastCheckedTime": STAMP,
        "awsCalls": 0,
        "mode": "Enforce",
        "lastChanges": [],
    }


def test_an_outcome_with_neither_a_reading_nor_a_failure_is_not_checked_yet(
    desired: DesiredRole,
) -> None:
    conditions = conditions_of(Outcome(checked_at=T0, desired=desired))
    for kind in ("Compliant", "PermissionsCompliant", "TrustCompliant"):
        assert conditions[kind] == ("Unknown", "NotChecked", "not checked yet")


@pytest.mark.parametrize(
    ("mode", "applied", "ready"),
    [
        ("Enforce", (), ("True", "Reconciled", "role reconciled and compliant")),
        ("Audit", (), ("True", "Audited", "role audited and compliant")),
        (
            "Audit",
            (TagRole("veeam-dynamodb-backup", {"a": "b"}),),
            ("True", "Audited", "role audited and compliant; 1 changes made"),
        ),
    ],
)
def test_ready_says_which_mode_found_the_role_compliant(
    mode: str, applied: tuple[Change, ...], ready: tuple[str, str, str]
) -> None:
    desired = desired_role(make_spec(mode=mode), OWNER)
    status = written(checked(desired, observed_from(desired), *applied))
    assert status["mode"] == mode
    assert status["conditions"] == [
        condition("Ready", *ready),
        FINISHED,
        NOT_STALLED,
        *ALL_COMPLIANT,
    ]


@pytest.mark.parametrize(
    ("mode", "ready"),
    [
        (
            "Audit",
            (
                "DriftDetected",
                "Audit mode: the role differs from the spec and was left unchanged",
            ),
        ),
        (
            "Enforce",
            (
                "NotCompliant",
                "the role is still not compliant after reconciling; see the other conditions",
            ),
        ),
    ],
)
def test_a_role_left_non_compliant_is_stalled_with_the_reason_of_its_mode(
    mode: str, ready: tuple[str, str]
) -> None:
    desired = desired_role(make_spec(mode=mode, description="backups of team A"), OWNER)
    role = observed_from(desired, description="edited by hand")
    conditions = written(checked(desired, role))["conditions"]
    assert conditions[:3] == [
        condition("Ready", "False", *ready),
        FINISHED,
        condition("Stalled", "True", *ready),
    ]


def with_policies(desired: DesiredRole, **policies: ObservedDocument) -> ObservedRole:
    role = observed_from(desired)
    return replace(role, inline_policies={**role.inline_policies, **policies})


def own_policy(desired: DesiredRole, *statements: dict[str, Any]) -> ObservedRole:
    return replace(
        observed_from(desired), inline_policies={INLINE_POLICY_NAME: document(*statements)}
    )


def required_but(desired: DesiredRole, *left_out: str) -> list[str]:
    return [action for action in desired.required_actions if action not in left_out]


UNREADABLE = ObservedDocument(None, "invalid JSON at line 3")


def permission_cases() -> list[tuple[str, bool, Any, tuple[str, str]]]:
    """(case, permissions.exclusive, the role, PermissionsCompliant's reason and message)."""
    return [
        (
            "a dangerous grant",
            False,
            lambda d: with_policies(d, admin=document(allow("iam:*"))),
            ("DangerousActions", "1 dangerous grants"),
        ),
        (
            "an explicit Deny",
            False,
            lambda d: with_policies(d, guard=document(deny("kms:Decrypt"))),
            ("ActionsDenied", "1 denied"),
        ),
        (
            "a missing action",
            False,
            lambda d: own_policy(d, allow(*required_but(d, "sns:Subscribe"))),
            ("ActionsMissing", "1 missing"),
        ),
        (
            "a conditional grant",
            False,
            lambda d: own_policy(
                d,
                allow(*required_but(d, "kms:Decrypt")),
                allow("kms:Decrypt", Bool={"aws:SecureTransport": "true"}),
            ),
            ("ActionsConditional", "1 allowed only under conditions"),
        ),
        (
            "an unreadable policy",
            False,
            lambda d: with_policies(d, broken=UNREADABLE),
            ("UnreadablePolicy", "1 policies unreadable"),
        ),
        (
            "a foreign policy granting nothing more",
            True,
            lambda d: with_policies(d, copy=document(allow("kms:Decrypt"))),
            ("ForeignPolicies", "1 foreign policies"),
        ),
        (
            "an excess grant in the operator's own policy",
            True,
            lambda d: own_policy(d, allow(*d.required_actions, "s3:GetObject")),
            ("ExcessActions", "1 excess grants"),
        ),
        (
            "every problem at once, in order of gravity",
            True,
            lambda d: with_policies(
                d,
                **{
                    INLINE_POLICY_NAME: document(
                        allow(*required_but(d, "kms:Decrypt", "sns:Subscribe", "sqs:ListQueues")),
                        allow("kms:Decrypt", Bool={"aws:SecureTransport": "true"}),
                    ),
                    "admin": document(allow("iam:*")),
                    "guard": document(deny("sqs:ListQueues")),
                    "broken": UNREADABLE,
                },
            ),
            (
                "DangerousActions",
                "1 dangerous grants, 1 denied, 1 missing, 1 allowed only under conditions, "
                "1 policies unreadable, 3 foreign policies, 1 excess grants",
            ),
        ),
        (
            "foreign policies and excess grants do not count unless exclusive",
            False,
            lambda d: with_policies(
                d,
                **{
                    INLINE_POLICY_NAME: document(allow(*required_but(d, "sns:Subscribe"))),
                    "reads": document(allow("s3:GetObject")),
                },
            ),
            ("ActionsMissing", "1 missing"),
        ),
    ]


@pytest.mark.parametrize(
    ("exclusive", "build", "permissions"),
    [case[1:] for case in permission_cases()],
    ids=[case[0] for case in permission_cases()],
)
def test_permissions_compliant_names_the_gravest_problem_and_counts_each(
    exclusive: bool, build: Any, permissions: tuple[str, str]
) -> None:
    desired = desired_role(make_spec(permissions={"exclusive": exclusive}), OWNER)
    conditions = conditions_of(checked(desired, build(desired)))
    assert conditions["PermissionsCompliant"] == ("False", *permissions)
    assert conditions["Compliant"] == (
        "False",
        "Drifted",
        "the role's permissions differ from the spec",
    )


def test_the_findings_are_listed_in_the_status() -> None:
    desired = desired_role(make_spec(permissions={"exclusive": True}), OWNER)
    own = document(
        allow(*required_but(desired, "kms:Decrypt", "sns:Subscribe", "sqs:ListQueues")),
        allow("kms:Decrypt", Bool={"aws:SecureTransport": "true"}),
        allow("s3:GetObject"),
    )
    role = with_policies(
        desired,
        **{
            INLINE_POLICY_NAME: own,
            "admin": document(allow("iam:*")),
            "guard": document(deny("sns:Subscribe")),
        },
    )
    role = replace(role, description="edited by hand")
    status = written(checked(desired, role))
    findings = {key: status[key] for key in status if key.endswith(("Actions", "Policies"))}
    assert findings == {
        "missingActions": ["sqs:ListQueues"],
        "deniedActions": ["sns:Subscribe"],
        "conditionalActions": ["kms:Decrypt"],
        "excessActions": ["iam:*", "s3:GetObject"],
        "addedActions": [],
        "dangerousActions": ["iam:*"],
        "foreignPolicies": ["inline:admin", "inline:guard"],
    }
    assert status["driftedSettings"] == ["description"]
    assert status["missingCount"] == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"description": "edited"}, "the role's settings (description) differ from the spec"),
        (
            {"description": "edited", "max_session_duration": 7200, "tags": {}},
            "the role's settings (description, maxSessionDuration, tags) differ from the spec",
        ),
        (
            {"trust": document()},
            "the role's trust policy differ from the spec",
        ),
        (
            {"trust": document(), "inline_policies": {}, "description": "edited"},
            "the role's permissions and trust policy and settings (description) differ from "
            "the spec",
        ),
    ],
)
def test_compliant_names_every_part_that_drifted(changes: dict[str, Any], message: str) -> None:
    desired = desired_role(make_spec(tags={"team": "backup"}), OWNER)
    conditions = conditions_of(checked(desired, observed_from(desired, **changes)))
    assert conditions["Compliant"] == ("False", "Drifted", message)


BACKUP_NOT_TRUSTED = (
    "the AWS Backup service (backup.amazonaws.com) cannot call sts:AssumeRole: it is not a "
    "trusted principal"
)
APPLIANCE_NOT_TRUSTED = (
    f"the Veeam appliance ({APPLIANCE}) cannot call sts:AssumeRole: it is not a trusted principal"
)
OTHER_ACCOUNT = "arn:aws:iam::222222222222:root"


def test_an_untrusting_trust_policy_names_its_first_error_and_every_message() -> None:
    desired = desired_role(make_spec(), OWNER)
    status = written(checked(desired, observed_from(desired, trust=document())))
    assert status["trustFindings"] == [
        {"code": "BackupServiceNotTrusted", "message": BACKUP_NOT_TRUSTED, "severity": "error"},
        {"code": "ApplianceNotTrusted", "message": APPLIANCE_NOT_TRUSTED, "severity": "error"},
    ]
    trust = next(c for c in status["conditions"] if c["type"] == "TrustCompliant")
    assert trust == condition(
        "TrustCompliant",
        "False",
        "BackupServiceNotTrusted",
        f"{BACKUP_NOT_TRUSTED}; {APPLIANCE_NOT_TRUSTED}",
    )


@pytest.mark.parametrize(
    ("exclusive", "trust"),
    [
        (
            False,
            (
                "True",
                "Trusted",
                "AWS Backup and the Veeam appliance can assume the role (1 warnings)",
            ),
        ),
        (
            True,
            ("False", "ExcessPrincipal", f"AWS principal {OTHER_ACCOUNT} may also assume the role"),
        ),
    ],
)
def test_an_extra_principal_is_a_warning_unless_exclusive(
    exclusive: bool, trust: tuple[str, str, str]
) -> None:
    desired = desired_role(make_spec(permissions={"exclusive": exclusive}), OWNER)
    extra = {"Effect": "Allow", "Principal": {"AWS": OTHER_ACCOUNT}, "Action": "sts:AssumeRole"}
    role = observed_from(desired, trust=document(*desired.trust.to_iam()["Statement"], extra))
    status = written(checked(desired, role))
    assert status["trustFindings"] == [
        {
            "code": "ExcessPrincipal",
            "message": f"AWS principal {OTHER_ACCOUNT} may also assume the role",
            "severity": "error" if exclusive else "warning",
        }
    ]
    assert conditions_of(checked(desired, role))["TrustCompliant"] == trust


def test_the_whole_status_of_a_blocked_deletion() -> None:
    failure = Failure("DeleteConflict", "the role is still in instance profile backup-host")
    message = (
        "deletion blocked by DeleteConflict: the role is still in instance profile backup-host; "
        "retrying in 40s. To release the object without deleting the role, annotate it "
        "dynamobackup.io/abandon-on-delete=true"
    )
    status = deletion_blocked_status(DynamoBackupRoleStatus(), failure, 40.4, 7, LATER)
    assert status.to_patch() == {
        "conditions": [
            condition("Ready", "False", "DeletionBlocked", message, at=LATER_STAMP),
            condition("Reconciling", "True", "DeletionBlocked", message, at=LATER_STAMP),
            condition("Stalled", "False", "DeletionBlocked", message, at=LATER_STAMP),
        ]
    }
