"""The life cycle of a DynamoBackupRole as data: which conditions each cause of a reconcile sets.

This table is the single statement of the state machine (conditions x causes). The status code
(`reconcile.status`) follows it and the docs generator (`api.crdgen`) renders it into
docs/api.md, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dynamobackup.api.v1alpha1.common import GROUP, ConditionStatus

# A person sets this annotation (value "true") to let a deletion finish without deleting the IAM
# role, for instance when the account is gone for good. Without it the finalizer stays until the
# role and the operator's own policies are deleted.
ABANDON_ANNOTATION = f"{GROUP}/abandon-on-delete"
# A person (or a script) sets this annotation, to any new value such as the time, to have an object
# reconciled now instead of at its next interval: any change of an annotation outside kopf's own
# prefix (handlers.runtime.KOPF_ANNOTATION_PREFIX) fires the update handlers.
RECONCILE_REQUEST_ANNOTATION = f"{GROUP}/reconcile-requested-at"


class Cause(StrEnum):
    """What a reconcile or deletion ended with, as far as the conditions are concerned."""

    COMPLIANT = "Compliant"
    NOT_COMPLIANT = "NotCompliant"
    TRANSIENT_FAILURE = "TransientFailure"
    BLOCKING_FAILURE = "BlockingFailure"
    NOT_OURS = "NotOurs"
    DELETION_BLOCKED = "DeletionBlocked"


T, F, U = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
KEEP = None  # the condition is left as it was


@dataclass(frozen=True)
class Transition:
    cause: Cause
    when: str
    ready: ConditionStatus
    ready_reason: str
    reconciling: ConditionStatus
    stalled: ConditionStatus
    # Compliant, PermissionsCompliant and TrustCompliant: "verdict" = from the check's findings.
    compliant: ConditionStatus | str | None
    verdict_fields: str
    event: str


VERDICT = "verdict"
UNKNOWN_UNLESS_READ = (
    "Unknown, with the cause as reason, when the role could not be read; else from the findings"
)

TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        Cause.COMPLIANT,
        "the role was read and matches the spec (Enforce: after any repairs)",
        T,
        "Reconciled (Enforce) or Audited (Audit)",
        F,
        F,
        VERDICT,
        "updated; lastCheckedTime moves",
        "Normal per change made; Normal Compliant on the transition",
    ),
    Transition(
        Cause.NOT_COMPLIANT,
        "the role was read and differs from the spec (Audit), or still differs after Enforce",
        F,
        "DriftDetected (Audit) or NotCompliant (Enforce)",
        F,
        T,
        VERDICT,
        "updated; lastCheckedTime moves",
        "Warning NotCompliant on the transition",
    ),
    Transition(
        Cause.TRANSIENT_FAILURE,
        "AWS could not be read or written: AwsUnreachable, AwsUnavailable, AwsThrottled, "
        "AwsBadResponse, PermissionsBoundaryNotFound, InternalError; retried with backoff",
        F,
        "the cause",
        T,
        F,
        UNKNOWN_UNLESS_READ,
        "kept from the last check, with its lastCheckedTime, when the role could not be read",
        "Warning with the cause, once per new cause; never NotCompliant",
    ),
    Transition(
        Cause.BLOCKING_FAILURE,
        "a person must act: AccessDenied, AssumeRoleFailed, InvalidCredentials, RoleNotOwned, "
        "RoleNotFound (Audit), PolicyNameTaken, InvalidSpec; and, before any AWS call, the "
        "tenancy refusals AccountNotAllowed, OperationNotAllowed, ApplianceNotAllowed, "
        "AssumeRoleArnNotAllowed, BindingInvalid, ForbiddenAction, UnknownAction, "
        "SecretNotAllowed, SecretNotFound, SecretKeyNotFound, SecretNotReadable, InvalidExternalId",
        F,
        "the cause",
        F,
        T,
        UNKNOWN_UNLESS_READ,
        "kept from the last check when the role could not be read; updated when it was",
        "Warning with the cause, once per new cause",
    ),
    Transition(
        Cause.NOT_OURS,
        "the role is owned by another DynamoBackupRole (RoleOwnedByAnotherResource) or has "
        "another path (RolePathConflict)",
        F,
        "the cause",
        F,
        T,
        U,
        "not updated: another resource's role is never judged, so never compliant: true",
        "Warning with the cause, once",
    ),
    Transition(
        Cause.DELETION_BLOCKED,
        "deletionPolicy Delete and the role or its policies could not be deleted yet; the "
        f"finalizer stays (retried with capped exponential backoff) until they are gone or a "
        f"person annotates {ABANDON_ANNOTATION}=true. A deletion whose namespace may no longer "
        "act in the account (a tenancy refusal) touches nothing in AWS and lets go at once",
        F,
        "DeletionBlocked (the message names the cause)",
        T,
        F,
        KEEP,
        "kept",
        "Warning DeletionBlocked, once per new cause; Warning DeletionAbandoned on opt-out",
    ),
)

# Failures that leave the role unjudged because it is not this resource's role.
NOT_OURS_REASONS = frozenset({"RoleOwnedByAnotherResource", "RolePathConflict"})


def transition(cause: Cause) -> Transition:
    return next(t for t in TRANSITIONS if t.cause is cause)


def markdown_table() -> str:
    """The state machine as a Markdown table, for docs/api.md."""
    header = (
        "| Cause | When | Ready | Ready reason | Reconciling | Stalled | Compliant, "
        "PermissionsCompliant, TrustCompliant | Verdict fields | Events |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )

    def cell(value: ConditionStatus | str | None) -> str:
        if value is None:
            return "unchanged"
        return "from the findings" if value == VERDICT else str(value)

    rows = [
        f"| {t.cause} | {t.when} | {t.ready} | {t.ready_reason} | {t.reconciling} | "
        f"{t.stalled} | {cell(t.compliant)} | {t.verdict_fields} | {t.event} |"
        for t in TRANSITIONS
    ]
    return header + "\n".join(rows) + "\n"
