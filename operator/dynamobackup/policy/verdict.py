"""One verdict on a role's documents, the same for `dbr check` and for the operator.

`judge` is the only function that decides whether a role's permissions and trust are compliant:
the CLI builds `RoleDocuments` from its files, the operator from what IAM returned, and both get
the same answer for the same documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dynamobackup.policy.catalog import ActionCatalog, default_catalog
from dynamobackup.policy.document import PolicyDocument
from dynamobackup.policy.evaluate import PermissionReport, evaluate_permissions, find_unknown
from dynamobackup.policy.guardrails import dangerous_excess
from dynamobackup.policy.profiles import Profile
from dynamobackup.policy.trust import Appliance, TrustReport, analyze_trust, unreadable_trust


@dataclass(frozen=True)
class PolicySource:
    """One policy of the role: where it comes from, and its document or why it cannot be read.

    `foreign` marks a policy that whoever manages the role did not put there.
    """

    name: str
    document: PolicyDocument | None
    error: str | None = None
    foreign: bool = False


@dataclass(frozen=True)
class RoleDocuments:
    """What a role carries, as far as judging it goes. `trust` None: trust is not checked."""

    policies: tuple[PolicySource, ...]
    trust: PolicySource | None = None
    boundary: PolicySource | None = None


@dataclass(frozen=True)
class Expectation:
    """What the role must allow and whom it must trust.

    `required_actions` is the profile's actions plus `additional_actions` (what the spec adds
    beyond the profile); `account_id` is the role's own account (None: unknown), and `strict`
    makes excess grants, extra principals and foreign policies non-compliant.
    """

    profile: Profile
    operations: tuple[str, ...]
    required_actions: tuple[str, ...]
    appliance: Appliance | None = None
    external_id: str | None = None
    account_id: str | None = None
    strict: bool = False
    additional_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    expectation: Expectation
    permissions: PermissionReport
    trust: TrustReport | None
    dangerous: tuple[str, ...] = ()
    unreadable_policies: tuple[str, ...] = ()
    foreign_policies: tuple[str, ...] = ()
    # Actions in the documents that no AWS service has (UnknownAction findings): typos, mostly.
    unknown: tuple[str, ...] = ()

    @property
    def profile(self) -> Profile:
        return self.expectation.profile

    @property
    def operations(self) -> tuple[str, ...]:
        return self.expectation.operations

    @property
    def required_actions(self) -> tuple[str, ...]:
        return self.expectation.required_actions

    @property
    def strict(self) -> bool:
        return self.expectation.strict

    @property
    def permissions_compliant(self) -> bool:
        foreign = self.strict and bool(self.foreign_policies)
        evaluated = self.permissions.is_compliant(strict=self.strict)
        # Dangerous excess is never compliant, whoever granted it and however lax the check.
        return evaluated and not foreign and not self.unreadable_policies and not self.dangerous

    @property
    def trust_compliant(self) -> bool:
        return self.trust is None or self.trust.compliant

    @property
    def compliant(self) -> bool:
        return self.permissions_compliant and self.trust_compliant

    def to_json(self) -> dict[str, Any]:
        """The `dbr check --output json` contract; keys may be added, never renamed."""
        return {
            "compliant": self.compliant,
            "profile": {
                "version": self.profile.version,
                "product": self.profile.product,
                "productBuild": self.profile.product_build,
                "operations": list(self.operations),
                "actionCount": len(self.required_actions),
                "sources": list(self.profile.sources(self.operations)),
            },
            "permissions": {
                "compliant": self.permissions_compliant,
                "missing": list(self.permissions.missing),
                "denied": list(self.permissions.denied),
                "conditional": list(self.permissions.conditional),
                "excess": list(self.permissions.excess),
                "dangerous": list(self.dangerous),
                "unreadable": list(self.unreadable_policies),
                "foreign": list(self.foreign_policies),
                "unknown": list(self.unknown),
            },
            "trust": None if self.trust is None else _trust_json(self.trust),
        }


def judge(
    expectation: Expectation, role: RoleDocuments, catalog: ActionCatalog | None = None
) -> Verdict:
    """The verdict on `role` (IAM User Guide, policy evaluation logic; see policy.evaluate and
    policy.trust for the rules)."""
    catalog = catalog or default_catalog()
    identity = [p.document for p in role.policies if p.document is not None]
    unreadable = [p.name for p in role.policies if p.document is None]
    boundary = role.boundary.document if role.boundary else None
    if role.boundary is not None and boundary is None:
        unreadable.append(role.boundary.name)
    required = expectation.required_actions
    return Verdict(
        expectation=expectation,
        permissions=evaluate_permissions(required, identity, boundary, catalog),
        trust=_trust(expectation, role.trust),
        dangerous=dangerous_excess(required, identity, catalog),
        unreadable_policies=tuple(unreadable),
        foreign_policies=tuple(p.name for p in role.policies if p.foreign),
        unknown=find_unknown(identity, catalog),
    )


def _trust(expectation: Expectation, source: PolicySource | None) -> TrustReport | None:
    if source is None or expectation.appliance is None:
        return None
    if source.document is None:
        return unreadable_trust(source.error or "unknown error")
    return analyze_trust(
        source.document,
        expectation.appliance,
        external_id=expectation.external_id,
        strict=expectation.strict,
        services=expectation.profile.trusted_services,
        account_id=expectation.account_id,
    )


def _trust_json(report: TrustReport) -> dict[str, Any]:
    findings: Sequence[dict[str, str]] = [
        {"code": f.code.value, "message": f.message, "severity": f.severity}
        for f in report.findings
    ]
    return {"compliant": report.compliant, "findings": list(findings)}
