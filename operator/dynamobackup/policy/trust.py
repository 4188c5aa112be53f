"""Trust analysis: may the AWS Backup service and the Veeam appliance assume the role, and who else?

Findings carry stable codes that the CLI, the operator status and users' alerts rely on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from dynamobackup.policy.document import PolicyDocument, Statement
from dynamobackup.policy.matching import wildcard_match
from dynamobackup.policy.normalize import ACCOUNT_ID, account_root_arn, canonical_principal

ASSUME_ROLE = "sts:AssumeRole"
BACKUP_SERVICE = "backup.amazonaws.com"
ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/.+$")
# A deleted user or role stays in a trust policy as its unique ID; recreating it does not restore trust.
UNIQUE_ID = re.compile(r"^(AROA|AIDA|AGPA|AIPA|ANPA|ANVA|ASIA|AKIA)[A-Z0-9]{12,}$")
EXTERNAL_ID_KEY = "sts:externalid"

Severity = Literal["error", "warning"]
Principal = tuple[str, str]


class FindingCode(StrEnum):
    BACKUP_SERVICE_NOT_TRUSTED = "BackupServiceNotTrusted"
    APPLIANCE_NOT_TRUSTED = "ApplianceNotTrusted"
    EXTERNAL_ID_MISMATCH = "ExternalIdMismatch"
    ORPHANED_PRINCIPAL = "OrphanedPrincipal"
    PUBLIC_PRINCIPAL = "PublicPrincipal"
    EXCESS_PRINCIPAL = "ExcessPrincipal"
    TRUST_POLICY_UNREADABLE = "TrustPolicyUnreadable"


@dataclass(frozen=True)
class TrustFinding:
    code: FindingCode
    message: str
    severity: Severity = "error"


@dataclass(frozen=True)
class TrustReport:
    findings: tuple[TrustFinding, ...]

    @property
    def compliant(self) -> bool:
        return not any(finding.severity == "error" for finding in self.findings)


@dataclass(frozen=True)
class Appliance:
    """The Veeam appliance: its IAM role ARN, or only its account ID."""

    account_id: str
    role_arn: str | None = None
    partition: str = "aws"

    @classmethod
    def parse(cls, value: str, partition: str = "aws") -> Appliance:
        if ACCOUNT_ID.match(value):
            return cls(account_id=value, partition=partition)
        match = ROLE_ARN.match(value)
        if match is None:
            raise ValueError(
                f"appliance must be an IAM role ARN or a 12-digit account ID, got {value!r}"
            )
        return cls(match["account"], role_arn=value, partition=match["partition"])

    @property
    def root_arn(self) -> str:
        return account_root_arn(self.account_id, self.partition)

    @property
    def principals(self) -> frozenset[Principal]:
        """The principal values that, when trusted, let the appliance assume the role."""
        trusted = {("AWS", self.root_arn)}
        if self.role_arn:
            trusted.add(("AWS", self.role_arn))
        return frozenset(trusted)

    def __str__(self) -> str:
        return self.role_arn or f"account {self.account_id}"


def analyze_trust(
    document: PolicyDocument,
    appliance: Appliance,
    *,
    external_id: str | None = None,
    strict: bool = False,
    backup_service: str = BACKUP_SERVICE,
) -> TrustReport:
    grants = [s for s in document.statement if _grants_assume_role(s) and s.effect == "Allow"]
    denies = [s for s in document.statement if _grants_assume_role(s) and s.effect == "Deny"]
    partition = appliance.partition
    service = ("Service", backup_service.lower())
    findings: list[TrustFinding] = []
    if not _trusted(service, grants, denies, partition):
        findings.append(_service_not_trusted(backup_service))
    appliance_grants = [
        s for s in grants if any(_covers(s, p, partition) for p in appliance.principals)
    ]
    if not _trusted_appliance(appliance, appliance_grants, denies):
        findings.append(_appliance_not_trusted(appliance, bool(appliance_grants)))
    elif external_id is not None and not any(_requires(s, external_id) for s in appliance_grants):
        findings.append(_external_id_mismatch(appliance, external_id))
    expected = appliance.principals | {service}
    # Any Allow counts here: a federated principal uses sts:AssumeRoleWithWebIdentity, not AssumeRole.
    allows = [s for s in document.statement if s.effect == "Allow"]
    findings.extend(_other_principal_findings(allows, expected, partition, strict))
    return TrustReport(tuple(findings))


def unreadable_trust(error: str) -> TrustReport:
    """The report for a trust policy IAM returned but that is not valid policy JSON."""
    message = f"the trust policy cannot be read: {error}"
    return TrustReport((TrustFinding(FindingCode.TRUST_POLICY_UNREADABLE, message),))


def _grants_assume_role(statement: Statement) -> bool:
    if statement.action is not None:
        return any(wildcard_match(pattern, ASSUME_ROLE) for pattern in statement.action)
    return not any(wildcard_match(pattern, ASSUME_ROLE) for pattern in statement.not_action or ())


def _principals(statement: Statement, partition: str) -> frozenset[Principal]:
    if statement.principal is None or statement.principal == "*":
        return frozenset()
    return frozenset(
        canonical_principal(kind, value, partition)
        for kind, values in statement.principal.items()
        for value in values
    )


def _covers(statement: Statement, principal: Principal, partition: str) -> bool:
    """Whether the statement's Principal names `principal`, directly or through a wildcard."""
    if statement.principal == "*":
        return True
    wildcard_aws = principal[0] == "AWS" and _is_public(statement)
    return wildcard_aws or principal in _principals(statement, partition)


def _is_public(statement: Statement) -> bool:
    principal = statement.principal
    return principal == "*" or (isinstance(principal, dict) and "*" in principal.get("AWS", ()))


def _denied(principal: Principal, denies: Iterable[Statement], partition: str) -> bool:
    """An unconditional Deny whose Principal (or NotPrincipal complement) covers `principal`."""
    for statement in denies:
        if statement.is_conditional:
            continue
        if statement.not_principal is not None:
            excluded = statement.not_principal == "*" or principal in _not_principals(
                statement, partition
            )
            if not excluded:
                return True
        elif _is_public(statement) or principal in _principals(statement, partition):
            return True
    return False


def _not_principals(statement: Statement, partition: str) -> frozenset[Principal]:
    inverted = statement.model_copy(update={"principal": statement.not_principal})
    return _principals(inverted, partition)


def _trusted(
    principal: Principal, grants: list[Statement], denies: list[Statement], partition: str
) -> bool:
    listed = any(_covers(s, principal, partition) for s in grants)
    return listed and not _denied(principal, denies, partition)


def _trusted_appliance(
    appliance: Appliance, grants: list[Statement], denies: list[Statement]
) -> bool:
    # The role's own ARN is what STS evaluates; a Deny on the account root also reaches it.
    denied = any(_denied(p, denies, appliance.partition) for p in appliance.principals)
    return bool(grants) and not denied


def _requires(statement: Statement, external_id: str) -> bool:
    equals = (statement.condition or {}).get("StringEquals", {})
    values = {v for key, vs in equals.items() if key.lower() == EXTERNAL_ID_KEY for v in vs}
    return values == {external_id}


def _other_principal_findings(
    grants: list[Statement], expected: frozenset[Principal], partition: str, strict: bool
) -> Iterator[TrustFinding]:
    for statement in grants:
        if _is_public(statement) and not statement.is_conditional:
            yield TrustFinding(
                FindingCode.PUBLIC_PRINCIPAL,
                'the trust policy lets any AWS principal assume the role (Principal "*" '
                "without conditions)",
            )
    seen: set[Principal] = set()
    for statement in grants:
        for principal in sorted(_principals(statement, partition) - expected - seen):
            seen.add(principal)
            kind, value = principal
            if kind == "AWS" and value == "*":
                continue
            if kind == "AWS" and UNIQUE_ID.match(value):
                yield TrustFinding(
                    FindingCode.ORPHANED_PRINCIPAL,
                    f"trusted principal {value} is a unique ID: the user or role it named was "
                    "deleted, and recreating it does not restore trust",
                )
                continue
            yield TrustFinding(
                FindingCode.EXCESS_PRINCIPAL,
                f"{kind} principal {value} may also assume the role",
                "error" if strict else "warning",
            )


def _service_not_trusted(service: str) -> TrustFinding:
    return TrustFinding(
        FindingCode.BACKUP_SERVICE_NOT_TRUSTED,
        f"the trust policy does not let the AWS Backup service ({service}) call sts:AssumeRole",
    )


def _appliance_not_trusted(appliance: Appliance, listed: bool) -> TrustFinding:
    why = "an explicit Deny removes its trust" if listed else "it is not a trusted principal"
    return TrustFinding(
        FindingCode.APPLIANCE_NOT_TRUSTED,
        f"the Veeam appliance ({appliance}) cannot call sts:AssumeRole: {why}",
    )


def _external_id_mismatch(appliance: Appliance, external_id: str) -> TrustFinding:
    return TrustFinding(
        FindingCode.EXTERNAL_ID_MISMATCH,
        f"the statement trusting the appliance ({appliance}) does not require "
        f'StringEquals {{"sts:ExternalId": "{external_id}"}}',
    )
