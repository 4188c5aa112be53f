"""Trust analysis: may the AWS Backup service and the Veeam appliance assume the role, and who else?

Findings carry stable codes that the CLI, the operator status and users' alerts rely on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from dynamobackup.policy.document import PolicyDocument, Statement
from dynamobackup.policy.iam_conditions import (
    ArnSubject,
    ContextValue,
    RequestContext,
    Truth,
    any_of,
    evaluate,
    unknown_keys,
)
from dynamobackup.policy.matching import matches_everything, wildcard_match
from dynamobackup.policy.normalize import ACCOUNT_ID, account_root_arn, canonical_principal

ASSUME_ROLE = "sts:AssumeRole"
ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/.+$")
# A deleted user or role stays in a trust policy as its unique ID; recreating it does not restore trust.
UNIQUE_ID = re.compile(r"^(AROA|AIDA|AGPA|AIPA|ANPA|ANVA|ASIA|AKIA)[A-Z0-9]{12,}$")
EXTERNAL_ID_KEY = "sts:externalid"

Principal = tuple[str, str]


class Severity(StrEnum):
    """How serious a trust policy finding is."""

    ERROR = "error"
    WARNING = "warning"


class FindingCode(StrEnum):
    BACKUP_SERVICE_NOT_TRUSTED = "BackupServiceNotTrusted"
    APPLIANCE_NOT_TRUSTED = "ApplianceNotTrusted"
    EXTERNAL_ID_MISMATCH = "ExternalIdMismatch"
    ORPHANED_PRINCIPAL = "OrphanedPrincipal"
    PUBLIC_PRINCIPAL = "PublicPrincipal"
    EXCESS_PRINCIPAL = "ExcessPrincipal"
    EXCESS_EXTERNAL_ID = "ExcessExternalId"
    TRUST_POLICY_UNREADABLE = "TrustPolicyUnreadable"


@dataclass(frozen=True)
class TrustFinding:
    code: FindingCode
    message: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class TrustReport:
    findings: tuple[TrustFinding, ...]

    @property
    def compliant(self) -> bool:
        return not any(finding.severity is Severity.ERROR for finding in self.findings)


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
    services: Sequence[str],
    account_id: str | None = None,
) -> TrustReport:
    """Who may assume the role, decided as AWS decides it for each expected principal.

    `account_id` is the role's own account: AWS Backup's requests carry it as aws:SourceAccount
    (and in aws:SourceArn). Without it those two keys, AWS's confused-deputy guard, are accepted.
    """
    trust = _Trust(document, appliance.partition)
    findings: list[TrustFinding] = []
    for service in services:
        verdict = trust.admits(
            ("Service", service.lower()), _service_context(service, appliance, account_id)
        )
        if verdict is not None:
            findings.append(
                _not_trusted(
                    FindingCode.BACKUP_SERVICE_NOT_TRUSTED,
                    f"the AWS Backup service ({service})",
                    verdict,
                )
            )
    context = _appliance_context(appliance, external_id)
    verdict = trust.admits_appliance(appliance, context)
    if verdict is not None and _only_the_id_differs(trust, appliance, context, verdict):
        findings.append(
            TrustFinding(
                FindingCode.EXTERNAL_ID_MISMATCH,
                f"the statements trusting the appliance ({appliance}) require an external ID "
                "other than the expected one",
            )
        )
    elif verdict is not None:
        findings.append(
            _not_trusted(
                FindingCode.APPLIANCE_NOT_TRUSTED,
                f"the Veeam appliance ({appliance})",
                verdict,
                external_id,
            )
        )
    elif external_id is not None:
        findings.extend(_external_id_findings(trust, appliance, context, strict))
    expected = appliance.principals | {("Service", s.lower()) for s in services}
    # Any Allow counts here: a federated principal uses sts:AssumeRoleWithWebIdentity, not AssumeRole.
    allows = [s for s in document.statement if s.effect == "Allow"]
    findings.extend(_other_principal_findings(allows, expected, appliance.partition, strict))
    return TrustReport(tuple(findings))


def unreadable_trust(error: str) -> TrustReport:
    """The report for a trust policy IAM returned but that is not valid policy JSON."""
    message = f"the trust policy cannot be read: {error}"
    return TrustReport((TrustFinding(FindingCode.TRUST_POLICY_UNREADABLE, message),))


@dataclass(frozen=True)
class _Refusal:
    """Why a principal cannot assume the role: its statements, what excluded it."""

    listed: bool
    denied: bool = False
    unknown: tuple[str, ...] = ()  # condition keys that cannot be decided at check time
    needs_external_id: bool = False


class _Trust:
    """The statements of a trust policy that concern sts:AssumeRole."""

    def __init__(self, document: PolicyDocument, partition: str) -> None:
        self.partition = partition
        self.assume = [
            (i, s) for i, s in enumerate(document.statement, 1) if _grants_assume_role(s)
        ]

    def statements(
        self, principals: frozenset[Principal], effect: str
    ) -> list[tuple[int, Statement]]:
        return [
            (i, s)
            for i, s in self.assume
            if s.effect == effect and any(_covers(s, p, self.partition) for p in principals)
        ]

    def admits(self, principal: Principal, context: RequestContext) -> _Refusal | None:
        return self._admits(frozenset({principal}), context)

    def admits_appliance(self, appliance: Appliance, context: RequestContext) -> _Refusal | None:
        # The role's own ARN is what STS evaluates; a statement on its account root covers it too.
        return self._admits(appliance.principals, context)

    def _admits(self, principals: frozenset[Principal], context: RequestContext) -> _Refusal | None:
        """None when trusted; otherwise why not (Evaluation logic: an explicit Deny wins, then an
        Allow whose conditions hold; a condition that cannot be decided is never taken as true)."""
        allows = self.statements(principals, "Allow")
        denies = self.statements(principals, "Deny")
        allowed = any_of(evaluate(s.condition, context) for _, s in allows)
        denied = any_of(evaluate(s.condition, context) for _, s in denies)
        if allowed is Truth.TRUE and denied is Truth.FALSE:
            return None
        unknown = tuple(
            sorted({k for _, s in (*allows, *denies) for k in unknown_keys(s.condition, context)})
        )
        needs_id = EXTERNAL_ID_KEY in context.absent and any(
            EXTERNAL_ID_KEY in {k.lower() for keys in (s.condition or {}).values() for k in keys}
            for _, s in allows
        )
        return _Refusal(
            listed=bool(allows),
            denied=denied is Truth.TRUE,
            unknown=unknown if allowed is not Truth.FALSE or denied is Truth.UNKNOWN else (),
            needs_external_id=needs_id,
        )


def _service_context(service: str, appliance: Appliance, account_id: str | None) -> RequestContext:
    """What AWS puts in a service principal's request (Global condition context keys): the
    service's name, aws:SourceAccount/aws:SourceArn for the account it acts for, no external ID."""
    context = RequestContext(
        values={
            "aws:principalisawsservice": ("true",),
            "aws:principalservicename": (service.lower(),),
        },
        absent=frozenset({EXTERNAL_ID_KEY, "aws:principalarn", "aws:principalaccount"}),
    )
    if account_id is None:
        return RequestContext(
            context.values, context.absent, frozenset({"aws:sourceaccount", "aws:sourcearn"})
        )
    source = ArnSubject(
        appliance.partition, service.split(".", maxsplit=1)[0], account_id, any_resource_holds=True
    )
    return context.with_value("aws:sourceaccount", account_id).with_value("aws:sourcearn", source)


def _appliance_context(appliance: Appliance, external_id: str | None) -> RequestContext:
    """The appliance's AssumeRole call: its role (or some principal of its account), its account,
    and the external ID it is configured with (none when none is expected)."""
    principal: ContextValue = appliance.role_arn or ArnSubject(
        appliance.partition, "iam", appliance.account_id
    )
    values: dict[str, tuple[ContextValue, ...]] = {
        "aws:principalarn": (principal,),
        "aws:principalaccount": (appliance.account_id,),
        "aws:principalisawsservice": ("false",),
    }
    if external_id is not None:
        values[EXTERNAL_ID_KEY] = (external_id,)
    # Only service principals carry the source keys; an IAM role has no service name.
    absent = {"aws:sourceaccount", "aws:sourcearn", "aws:principalservicename"}
    if external_id is None:
        absent.add(EXTERNAL_ID_KEY)
    return RequestContext(values, frozenset(absent))


def _external_id_findings(
    trust: _Trust, appliance: Appliance, context: RequestContext, strict: bool
) -> Iterator[TrustFinding]:
    """Every statement that admits the appliance must require the external ID: one that admits it
    without (or with any ID) makes the ID bypassable (the confused-deputy guidance)."""
    without = context.without(EXTERNAL_ID_KEY)
    # Every condition decided as for the appliance, but any external ID accepted: a statement
    # that holds then admits the appliance under the IDs it names, expected or not.
    any_id = RequestContext(context.values, context.absent, context.accepted | {EXTERNAL_ID_KEY})
    bypasses: list[str] = []
    extra = 0
    for index, statement in trust.statements(appliance.principals, "Allow"):
        if evaluate(statement.condition, without) is not Truth.FALSE or _accepts_any_id(statement):
            bypasses.append(_label(index, statement))
        elif evaluate(statement.condition, any_id) is Truth.TRUE:
            extra += _other_accepted_ids(statement, context)
    if bypasses:
        yield TrustFinding(
            FindingCode.EXTERNAL_ID_MISMATCH,
            f"{', '.join(bypasses)} let the appliance ({appliance}) assume the role without the "
            'external ID: every statement trusting it must require StringEquals {"sts:ExternalId": ...}',
        )
    if extra:
        yield TrustFinding(
            FindingCode.EXCESS_EXTERNAL_ID,
            f"the trust policy accepts {extra} external ID value(s) besides the expected one "
            "from the appliance",
            Severity.ERROR if strict else Severity.WARNING,
        )


def _only_the_id_differs(
    trust: _Trust, appliance: Appliance, context: RequestContext, refusal: _Refusal
) -> bool:
    """Listed, not denied, and admitted if any external ID were accepted: the ID is what is wrong."""
    if refusal.denied or not refusal.listed or EXTERNAL_ID_KEY not in context.values:
        return False
    any_id = RequestContext(context.values, context.absent, context.accepted | {EXTERNAL_ID_KEY})
    return trust.admits_appliance(appliance, any_id) is None


def _external_id_values(statement: Statement) -> list[tuple[str, str]]:
    """(operator, value) of the positive string tests on sts:ExternalId."""
    return [
        (operator, value)
        for operator, keys in (statement.condition or {}).items()
        if "Not" not in operator and operator.startswith(("String", "ForAnyValue:String"))
        for key, values in keys.items()
        if key.lower() == EXTERNAL_ID_KEY
        for value in values
    ]


def _accepts_any_id(statement: Statement) -> bool:
    return any("Like" in op and matches_everything(v) for op, v in _external_id_values(statement))


def _other_accepted_ids(statement: Statement, context: RequestContext) -> int:
    (expected,) = context.values[EXTERNAL_ID_KEY]
    return sum(
        1
        for operator, value in _external_id_values(statement)
        if value != expected or "IgnoreCase" in operator
    )


def _label(index: int, statement: Statement) -> str:
    return f"statement {statement.sid!r}" if statement.sid else f"statement {index}"


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
    """Whether the statement's Principal (or NotPrincipal complement) names `principal`."""
    if statement.not_principal is not None:
        return statement.not_principal != "*" and principal not in _not_principals(
            statement, partition
        )
    if statement.principal == "*":
        return True
    wildcard_aws = principal[0] == "AWS" and _is_public(statement)
    return wildcard_aws or principal in _principals(statement, partition)


def _is_public(statement: Statement) -> bool:
    principal = statement.principal
    return principal == "*" or (isinstance(principal, dict) and "*" in principal.get("AWS", ()))


def _not_principals(statement: Statement, partition: str) -> frozenset[Principal]:
    inverted = replace(statement, principal=statement.not_principal)
    return _principals(inverted, partition)


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
                Severity.ERROR if strict else Severity.WARNING,
            )


def _not_trusted(
    code: FindingCode, who: str, refusal: _Refusal, external_id: str | None = None
) -> TrustFinding:
    if refusal.denied:
        why = "an explicit Deny removes its trust"
    elif refusal.unknown:
        keys = ", ".join(refusal.unknown)
        why = f"it is trusted only under conditions that cannot be checked ({keys})"
    elif refusal.needs_external_id and external_id is None:
        why = "the statements trusting it require sts:ExternalId, and no external ID is expected"
    elif refusal.listed:
        why = "the conditions of the statements trusting it do not hold for it"
    else:
        why = "it is not a trusted principal"
    return TrustFinding(code, f"{who} cannot call sts:AssumeRole: {why}")
