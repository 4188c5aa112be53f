"""The fix `dbr check` suggests for an action AWS does not have ("did you mean ...?")."""

from __future__ import annotations

import pytest

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.evaluate import closest_action


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [
        ("dynamodb:ListTabls", "dynamodb:ListTables"),
        ("DYNAMODB:describetabel", "dynamodb:DescribeTable"),
        ("kms:Decrpyt", "kms:Decrypt"),
        ("dynamodb:DescribeTable:", "dynamodb:DescribeTable"),
        # Nothing of the service is spelled closely enough (dynamodb:Query is 71% alike).
        ("dynamodb:Xyzzy", None),
        ("madeup:Thing", None),
    ],
)
def test_the_closest_action_of_the_same_service_is_suggested(
    written: str, suggestion: str | None
) -> None:
    assert closest_action(written, default_catalog()) == suggestion
