"""Each fault on its own turns the verdict non-compliant, and says which part of the status it is.

test_desired_and_compliance.py puts several faults in one case; here one fault per case, so a
check that stopped working cannot hide behind another that still fires.
"""

from __future__ import annotations

from dataclasses import replace

from dynamobackup.policy import shipped
from dynamobackup.policy.catalog import CATALOG_FILE, ActionCatalog, default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.reconcile.compliance import assess
from dynamobackup.reconcile.desired import desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy

from .conftest import OWNER, make_spec, observed_from

BOUNDARY = "arn:aws:iam::123456789012:policy/backup-boundary"


def test_a_missing_role_reports_only_its_missing_permissions_whatever_the_spec_sets() -> None:
    desired = desired_role(
        make_spec(permissionsBoundaryArn=BOUNDARY, tags={"cost-center": "42"}), OWNER
    )
    report = assess(desired, None, default_catalog())
    assert report.drifted_settings == ()
    assert report.permissions.missing == desired.required_actions
    assert not report.compliant


def test_an_unreadable_trust_policy_says_why_in_its_finding() -> None:
    desired = desired_role(make_spec(), OWNER)
    role = observed_from(desired, trust=ObservedDocument(None, "invalid JSON at line 3"))
    (finding,) = assess(desired, role, default_catalog()).trust.findings
    assert finding.message == "the trust policy cannot be read: invalid JSON at line 3"


def test_the_verdict_uses_the_action_catalog_the_operator_was_given() -> None:
    # An action newer than the shipped catalog is unknown (a typo, mostly) unless the catalog
    # the operator runs with knows it.
    desired = desired_role(make_spec(), OWNER)
    newer = parse_document(
        {"Statement": [{"Effect": "Allow", "Action": "dynamodb:NewerAction", "Resource": "*"}]}
    )
    role = observed_from(desired)
    role = replace(role, inline_policies={**role.inline_policies, "extra": ObservedDocument(newer)})
    assert assess(desired, role, default_catalog()).verdict.unknown == ("dynamodb:NewerAction",)
    updated = ActionCatalog.from_text(
        "\n".join(
            f"{line} NewerAction" if line.startswith("dynamodb ") else line
            for line in shipped.read_text(CATALOG_FILE).splitlines()
        )
    )
    assert assess(desired, role, updated).verdict.unknown == ()


def test_an_unreadable_boundary_is_named_and_makes_permissions_non_compliant() -> None:
    desired = desired_role(make_spec(permissionsBoundaryArn=BOUNDARY), OWNER)
    boundary = ObservedManagedPolicy(
        arn=BOUNDARY,
        name="backup-boundary",
        path="/",
        document=ObservedDocument(None, "invalid JSON"),
    )
    report = assess(desired, observed_from(desired, boundary=boundary), default_catalog())
    assert report.unreadable_policies == (BOUNDARY,)
    assert not report.permissions_compliant and report.trust_compliant


def test_audit_judges_the_settings_the_spec_declares() -> None:
    declared = desired_role(
        make_spec(mode="Audit", maxSessionDuration=7200, permissionsBoundaryArn=BOUNDARY), OWNER
    )
    role = observed_from(declared, max_session_duration=3600, permissions_boundary_arn=None)
    report = assess(declared, role, default_catalog())
    assert report.drifted_settings == ("maxSessionDuration", "permissionsBoundaryArn")
    assert not report.compliant


def test_audit_leaves_settings_the_spec_does_not_declare_to_whoever_made_the_role() -> None:
    undeclared = desired_role(make_spec(mode="Audit"), OWNER)
    role = observed_from(undeclared, max_session_duration=7200, permissions_boundary_arn=BOUNDARY)
    report = assess(undeclared, role, default_catalog())
    assert report.drifted_settings == ()
    assert report.compliant
