"""docs/iam/ cannot go stale: every IAM and STS call in the code is allowed, and nothing else is.

The scan reads operator/dynamobackup/aws/ (the only layer that talks to AWS); a new boto3 call there
fails these tests until the policy grants it, and a grant the code no longer needs fails them too.
"""

from __future__ import annotations

from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data

from dynamobackup.policy.document import parse_document

from .code_calls import (
    AWS_LAYER,
    PACKAGE,
    calls_in_aws_layer,
    calls_in_source,
    modules_importing_aws_sdk,
    required_actions,
)
from .simulator import DOCS_IAM, as_list, load

TARGET = "operator-target-account.json"
MANAGEMENT = "operator-management-account.json"
DISCOVERY = "operator-organizations-discovery.json"
MANAGED_POLICY_MAX_CHARS = 6144  # IAM's quota for a managed policy, whitespace not counted


def granted(policy: dict[str, Any], prefix: str = "") -> set[str]:
    """Actions some Allow statement names (the documents list actions literally, no wildcards)."""
    return {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if action.startswith(prefix)
    }


def test_the_scan_sees_direct_calls_bound_methods_and_paginators() -> None:
    source = (
        "iam.get_role(RoleName='x')\n"
        "helper(self.iam.delete_role_policy, RoleName='x')\n"
        "iam.get_paginator('list_role_policies').paginate(RoleName='x')\n"
        "sts.get_caller_identity()\n"
    )
    assert calls_in_source(source) == {
        "iam:GetRole",
        "iam:DeleteRolePolicy",
        "iam:ListRolePolicies",
        "sts:GetCallerIdentity",
    }
    with pytest.raises(ValueError, match="non-literal"):
        calls_in_source("iam.get_paginator(name)")


def test_the_scan_finds_the_calls_the_operator_is_known_to_make() -> None:
    calls = calls_in_aws_layer()
    assert {"iam:GetRole", "iam:ListRolePolicies", "sts:AssumeRole"} <= calls
    assert "iam:ListInstanceProfilesForRole" in calls  # deletion's in-use check, in manager.py


def test_only_the_aws_layer_imports_the_sdk() -> None:
    # Otherwise the scan of aws/ would not see every call; devenv/ is test and demo tooling.
    importing = {p for p in modules_importing_aws_sdk() if p.parent != PACKAGE / "devenv"}
    assert importing and all(p.parent == AWS_LAYER for p in importing)


def test_the_target_account_policy_allows_every_iam_call() -> None:
    needed = {a for a in required_actions() if a.startswith("iam:")}
    missing = needed - granted(load(TARGET))
    assert not missing, f"docs/iam/{TARGET} lacks {sorted(missing)}"


def test_the_management_account_policy_allows_every_call() -> None:
    needed = {a for a in required_actions() if not a.startswith("organizations:")}
    missing = needed - granted(load(MANAGEMENT))
    assert not missing, f"docs/iam/{MANAGEMENT} lacks {sorted(missing)}"


def test_the_discovery_policy_allows_every_organizations_call() -> None:
    needed = {a for a in required_actions() if a.startswith("organizations:")}
    assert {"organizations:ListAccounts", "organizations:ListChildren"} <= needed
    missing = needed - granted(load(DISCOVERY))
    assert not missing, f"docs/iam/{DISCOVERY} lacks {sorted(missing)}"


def test_discovery_only_reads_the_organization() -> None:
    assert all(a.split(":")[1].startswith(("Describe", "List")) for a in granted(load(DISCOVERY)))


def test_the_policies_grant_nothing_the_code_does_not_need() -> None:
    for name in (TARGET, MANAGEMENT, DISCOVERY):
        excess = granted(load(name)) - required_actions()
        assert not excess, f"docs/iam/{name} grants {sorted(excess)}, which the code never calls"


def test_the_management_policy_repeats_the_target_statements_exactly() -> None:
    # Roles in the operator's own account get exactly the rights it has in a target account.
    management = [s for s in load(MANAGEMENT)["Statement"] if not _is_sts(s)]
    assert management == load(TARGET)["Statement"]


def _is_sts(statement: dict[str, Any]) -> bool:
    return all(action.startswith("sts:") for action in as_list(statement["Action"]))


def test_the_deny_on_the_operators_own_role_covers_every_role_mutation() -> None:
    policy = load(TARGET)
    (deny,) = [s for s in policy["Statement"] if s["Sid"] == "NeverChangeTheOperatorsOwnRole"]
    role_writes = {
        action
        for s in policy["Statement"]
        if s["Effect"] == "Allow" and s["Sid"] != "ReadRoles"
        for action in as_list(s["Action"])
        if as_list(s["Resource"]) == ["arn:aws:iam::*:role/*"] and action != "iam:CreateRole"
    }
    assert set(as_list(deny["Action"])) == role_writes


@pytest.mark.parametrize("name", [TARGET, MANAGEMENT, DISCOVERY, "target-account-trust.json"])
def test_the_documents_are_valid_and_fit_a_managed_policy(name: str) -> None:
    text = (DOCS_IAM / name).read_text()
    parse_document(text, source=name)
    assert len("".join(text.split())) <= MANAGED_POLICY_MAX_CHARS


@pytest.mark.parametrize("name", [TARGET, MANAGEMENT, DISCOVERY])
def test_each_statement_uses_resources_and_conditions_its_actions_support(name: str) -> None:
    for statement in load(name)["Statement"]:
        for action in as_list(statement["Action"]):
            supported = _supported(action)
            for resource in as_list(statement["Resource"]):
                assert _resource_kind(resource) in supported, f"{action} on {resource}"
                keys = supported[_resource_kind(resource)]
                for key in _condition_keys(statement):
                    assert any(_key_matches(k, key) for k in keys), f"{action}: {key}"


def _supported(action: str) -> dict[str, list[str]]:
    """Resource kind (`role`, `policy` or `*`) -> condition keys, from policy_sentry's IAM data."""
    service, name = action.split(":")
    entries = get_action_data(service, name)[service]
    assert entries, f"{action} is not an IAM action"
    return {_resource_kind(e["resource_arn_format"]): e["condition_keys"] for e in entries}


def _resource_kind(arn: str) -> str:
    return "*" if arn == "*" else arn.split(":")[5].split("/", maxsplit=1)[0]


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key for keys in statement.get("Condition", {}).values() for key in keys}


def _key_matches(template: str, key: str) -> bool:
    # policy_sentry writes tag keys as a placeholder: aws:ResourceTag/${TagKey}
    prefix = template.split("${", maxsplit=1)[0]
    return key.lower() == template.lower() or ("${" in template and key.startswith(prefix))
