"""An appliance given by its account ID is trusted in the role's own partition: the trust
policy names the account's root in aws-cn for a China role, never in the commercial one."""

from __future__ import annotations

from dynamobackup.reconcile.desired import desired_role

from .conftest import OWNER, make_spec


def test_an_appliance_account_is_trusted_in_the_roles_partition() -> None:
    spec = make_spec(
        account={"id": "123456789012", "partition": "aws-cn"},
        trust={
            "applianceRoleArn": None,
            "applianceAccountId": "111111111111",
            "externalId": "ext-123",
        },
    )
    (appliance,) = [
        statement
        for statement in desired_role(spec, OWNER).trust.to_iam()["Statement"]
        if "AWS" in statement["Principal"]
    ]
    assert appliance["Principal"] == {"AWS": ["arn:aws-cn:iam::111111111111:root"]}
