"""One verdict for a role: its permissions report and its trust report, as the CLI and status show it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dynamobackup.policy.evaluate import PermissionReport
from dynamobackup.policy.profiles import Profile
from dynamobackup.policy.trust import TrustReport


@dataclass(frozen=True)
class Verdict:
    profile: Profile
    operations: tuple[str, ...]
    required_actions: tuple[str, ...]
    permissions: PermissionReport
    trust: TrustReport | None
    strict: bool = False

    @property
    def permissions_compliant(self) -> bool:
        return self.permissions.is_compliant(strict=self.strict)

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
            },
            "trust": None if self.trust is None else _trust_json(self.trust),
        }


def _trust_json(report: TrustReport) -> dict[str, Any]:
    findings: Sequence[dict[str, str]] = [
        {"code": f.code.value, "message": f.message, "severity": f.severity}
        for f in report.findings
    ]
    return {"compliant": report.compliant, "findings": list(findings)}
