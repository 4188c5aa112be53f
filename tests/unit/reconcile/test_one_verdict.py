"""`dbr check` and the operator give the same verdict on the same documents: both build a
RoleDocuments value (from files, from IAM) and call policy.verdict.judge."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dynamobackup.cli.main import main
from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedRole

from .conftest import APPLIANCE, OWNER, make_spec, observed_from


def document(*statements: dict[str, Any]) -> ObservedDocument:
    return ObservedDocument(
        parse_document({"Version": "2012-10-17", "Statement": list(statements)})
    )


def allow(*actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*"}


def with_trust(desired: DesiredRole, *extra: dict[str, Any], replace_all: bool = False) -> Any:
    statements = [] if replace_all else desired.trust.to_iam()["Statement"]
    return document(*statements, *extra)


def scenarios(desired: DesiredRole) -> dict[str, ObservedRole]:
    correct = observed_from(desired)
    narrowed = desired.permissions[0].to_iam()["Statement"][0]
    narrowed["Action"] = [a for a in narrowed["Action"] if a != "kms:Decrypt"]
    return {
        "correct": correct,
        "missing": replace(correct, inline_policies={INLINE_POLICY_NAME: document(narrowed)}),
        "dangerous": replace(
            correct,
            inline_policies={**correct.inline_policies, "admin": document(allow("iam:*"))},
        ),
        "excess": replace(
            correct,
            inline_policies={**correct.inline_policies, "reads": document(allow("s3:Get*"))},
        ),
        "source-ip": replace(
            correct,
            trust=with_trust(
                desired,
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "backup.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": APPLIANCE},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"sts:ExternalId": "ext-123"},
                        "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                    },
                },
                replace_all=True,
            ),
        ),
        "other-account-service": replace(
            correct,
            trust=with_trust(
                desired,
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "backup.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}},
                },
                replace_all=True,
            ),
        ),
        "two-ids": replace(
            correct,
            trust=with_trust(
                desired,
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "111111111111"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": ["ext-123", "other"]}},
                },
            ),
        ),
    }


def cli_verdict(
    role: ObservedRole, desired: DesiredRole, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    files = []
    for index, observed in enumerate(role.inline_policies.values()):
        assert observed.document is not None
        path = tmp_path / f"policy-{index}.json"
        path.write_text(observed.document.to_json())
        files += ["--policy", str(path)]
    assert role.trust.document is not None
    trust = tmp_path / "trust.json"
    trust.write_text(role.trust.document.to_json())
    args = [
        "check",
        "--operations",
        ",".join(desired.operations),
        *files,
        "--trust",
        str(trust),
        "--appliance",
        APPLIANCE,
        "--external-id",
        "ext-123",
        "--account",
        desired.account_id,
        "--output",
        "json",
        *(["--strict"] if desired.exclusive else []),
    ]
    code = main(args)
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == (0 if report["compliant"] else 1)
    return report


@pytest.mark.parametrize("exclusive", [False, True])
def test_cli_and_operator_agree(
    exclusive: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired = desired_role(make_spec(permissions={"exclusive": exclusive}), OWNER)
    verdicts: dict[str, bool] = {}
    for name, role in scenarios(desired).items():
        operator = assess(desired, role, default_catalog())
        expected = operator.verdict.to_json()
        cli = cli_verdict(role, desired, tmp_path, capsys)
        # The CLI cannot know who put a policy there: with exclusive that is the only difference.
        foreign = expected["permissions"].pop("foreign")
        assert cli["permissions"].pop("foreign") == []
        if exclusive and foreign:
            expected["compliant"] = expected["permissions"]["compliant"] = cli["compliant"]
            assert operator.compliant is False
        assert cli == expected, name
        verdicts[name] = cli["compliant"]
    assert verdicts == {
        "correct": True,
        "missing": False,
        "dangerous": False,
        "excess": not exclusive,
        "source-ip": False,
        "other-account-service": False,
        "two-ids": not exclusive,
    }


def test_audit_judges_only_the_settings_the_spec_declares() -> None:
    # Before: a correct hand-made role failed Audit only because its description differed from
    # the default description the spec never asked for.
    audit = desired_role(make_spec(mode="Audit"), OWNER)
    by_hand = replace(observed_from(audit), description="made by hand", max_session_duration=3600)
    assert assess(audit, by_hand, default_catalog()).compliant
    stated = desired_role(make_spec(mode="Audit", description="ours"), OWNER)
    report = assess(stated, by_hand, default_catalog())
    assert report.drifted_settings == ("description",) and not report.compliant
    enforce = desired_role(make_spec(), OWNER)
    assert assess(
        enforce, replace(by_hand, tags=observed_from(enforce).tags), default_catalog()
    ).drifted_settings == ("description",)


def test_a_foreign_dangerous_policy_is_never_compliant_whatever_exclusive_says() -> None:
    desired = desired_role(make_spec(), OWNER)
    role = observed_from(desired)
    role = replace(
        role, inline_policies={**role.inline_policies, "admin": document(allow("iam:*"))}
    )
    report = assess(desired, role, default_catalog())
    assert report.dangerous == ("iam:*",) and not report.compliant
    assert report.foreign_policies == ("inline:admin",)
