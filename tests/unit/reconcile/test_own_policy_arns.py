"""The managed policies a deletion looks for: every one this role has or would have.

An interrupted create (the policy made, the attach lost) or a delivery switched back to Inline
leaves operator policies that no longer show on the role; a deletion looks each of these ARNs
up so none outlives the role (aws.manager, plan_deletion).
"""

from __future__ import annotations

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.guardrails import dangerous_actions
from dynamobackup.reconcile.desired import desired_role

from .conftest import OWNER, make_spec

POLICY = "arn:aws:iam::123456789012:policy/dynamobackup/veeam-dynamodb-backup-dynamobackup-"


def test_an_inline_role_looks_for_the_one_policy_managed_delivery_would_have_made() -> None:
    inline = desired_role(make_spec(), OWNER)
    assert inline.possible_managed_policy_arns() == (f"{POLICY}1",)


def test_a_role_split_over_several_policies_looks_for_each() -> None:
    harmless = [a for a in default_catalog().expand("*:*") if a.lower() not in dangerous_actions()]
    longest = sorted(harmless, key=len)[-256:]
    managed = desired_role(
        make_spec(permissions={"delivery": "Managed", "additionalActions": longest}), OWNER
    )
    count = len(managed.permissions)
    assert count >= 2
    assert managed.possible_managed_policy_arns() == tuple(
        f"{POLICY}{index}" for index in range(1, count + 1)
    )
