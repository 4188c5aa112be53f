"""The documents a compliant role carries: least-privilege permissions and the trust policy.

Both `dbr render` and the operator's desired state come from here, so what we print is what we
enforce.
"""

from __future__ import annotations

from collections.abc import Sequence

from dynamobackup.policy.document import PolicyDocument, Statement
from dynamobackup.policy.trust import ASSUME_ROLE, Appliance

# IAM counts policy size without whitespace; these are its quotas.
MANAGED_POLICY_MAX_CHARS = 6144
ROLE_INLINE_POLICIES_MAX_CHARS = 10240
PERMISSIONS_SID = "VeeamDynamoDBBackup"


class PolicyTooLargeError(ValueError):
    """A single action does not fit into a policy of the requested size."""


def policy_size(document: PolicyDocument) -> int:
    """The size IAM checks against its quotas: the JSON text without whitespace."""
    return len(document.to_json())


def permission_documents(
    actions: Sequence[str],
    *,
    resource: str = "*",
    max_chars: int = MANAGED_POLICY_MAX_CHARS,
) -> list[PolicyDocument]:
    """One Allow statement over `actions`, split into as few documents as fit under `max_chars`."""
    chunks: list[list[str]] = [[]]
    for action in actions:
        candidate = [*chunks[-1], action]
        if policy_size(_allow(candidate, resource, part=len(chunks))) <= max_chars:
            chunks[-1] = candidate
            continue
        if not chunks[-1]:
            raise PolicyTooLargeError(f"{action} alone exceeds {max_chars} characters")
        chunks.append([action])
    numbered = len(chunks) > 1
    return [
        _allow(chunk, resource, part=index if numbered else None)
        for index, chunk in enumerate(chunks, start=1)
        if chunk
    ]


def _allow(actions: Sequence[str], resource: str, part: int | None) -> PolicyDocument:
    sid = PERMISSIONS_SID if part is None else f"{PERMISSIONS_SID}{part}"
    statement = Statement(sid=sid, effect="Allow", action=tuple(actions), resource=(resource,))
    return PolicyDocument(version="2012-10-17", statement=(statement,))


def trust_document(
    appliance: Appliance,
    *,
    external_id: str | None = None,
    services: Sequence[str],
) -> PolicyDocument:
    """Trust for the services the profile names (AWS Backup) and the appliance (which must send
    `external_id`, if set)."""
    service_statement = Statement(
        sid="AwsBackupService",
        effect="Allow",
        principal={"Service": tuple(services)},
        action=(ASSUME_ROLE,),
    )
    condition = {"StringEquals": {"sts:ExternalId": (external_id,)}} if external_id else None
    appliance_statement = Statement(
        sid="VeeamBackupAppliance",
        effect="Allow",
        principal={"AWS": (appliance.role_arn or appliance.root_arn,)},
        action=(ASSUME_ROLE,),
        condition=condition,
    )
    return PolicyDocument(version="2012-10-17", statement=(service_statement, appliance_statement))
