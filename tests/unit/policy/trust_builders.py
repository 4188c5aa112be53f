"""Builders shared by the trust tests: trust documents, statements and the verdict's codes."""

from __future__ import annotations

from typing import Any

from dynamobackup.policy.document import PolicyDocument, parse_document
from dynamobackup.policy.profiles import load_profile
from dynamobackup.policy.trust import Appliance, TrustReport, analyze_trust

ROLE = "arn:aws:iam::111111111111:role/VeeamImpersonation"
APPLIANCE = Appliance.parse(ROLE)
SERVICE = {
    "Effect": "Allow",
    "Principal": {"Service": "backup.amazonaws.com"},
    "Action": "sts:AssumeRole",
}
SERVICES = load_profile().trusted_services


def analyze(document: PolicyDocument, appliance: Appliance, **options: Any) -> TrustReport:
    """The trust verdict with the services the profile trusts (AWS Backup), unless given."""
    options.setdefault("services", SERVICES)
    return analyze_trust(document, appliance, **options)


def trust(*statements: dict[str, Any]) -> PolicyDocument:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)})


def trusting(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def codes(report: TrustReport) -> list[str]:
    return [f.code.value for f in report.findings]
