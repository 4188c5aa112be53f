"""How grants are spread over statements does not change what a document means.

IAM returns a policy as it was written, but people (and other tools) write the same grants in
many shapes: one statement per resource, one per action, several principals in one statement.
The operator must see no drift in a reshaped document (a needless rewrite and a `DriftDetected`
Event each time) and must see drift when a grant really moved.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from dynamobackup.policy.document import PolicyDocument, parse_document
from dynamobackup.policy.normalize import same_meaning


def doc(*statements: dict[str, Any]) -> PolicyDocument:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def trusting(principals: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}


A, B = "arn:aws:dynamodb:*:*:table/a", "arn:aws:dynamodb:*:*:table/b"
ROLE_1, ROLE_2 = "arn:aws:iam::111111111111:role/one", "arn:aws:iam::222222222222:role/two"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(
            # Two actions on A, one of them on B too: regrouped by resource the same grants read
            # "Scan on A and B, Query on A".
            doc(allow(["dynamodb:Scan", "dynamodb:Query"], A), allow("dynamodb:Scan", B)),
            doc(allow("dynamodb:Scan", [A, B]), allow("dynamodb:Query", A)),
            id="actions spread over resources",
        ),
        pytest.param(
            doc(allow("dynamodb:Scan", [A, B]), allow("dynamodb:Query", A)),
            doc(allow(["dynamodb:Scan", "dynamodb:Query"], A), allow("dynamodb:Scan", B)),
            id="resources spread over actions",
        ),
        pytest.param(
            doc(
                {**trusting([ROLE_1, ROLE_2]), "Action": ["sts:AssumeRole", "sts:TagSession"]},
                {**trusting(ROLE_1), "Action": "sts:SetSourceIdentity"},
            ),
            doc(
                {**trusting(ROLE_1), "Action": ["sts:AssumeRole", "sts:TagSession"]},
                {**trusting(ROLE_2), "Action": ["sts:AssumeRole", "sts:TagSession"]},
                {**trusting(ROLE_1), "Action": "sts:SetSourceIdentity"},
            ),
            id="principals spread over actions",
        ),
    ],
)
def test_the_same_grants_spread_differently_mean_the_same(
    left: PolicyDocument, right: PolicyDocument
) -> None:
    assert same_meaning(left, right, partition="aws")
    assert same_meaning(right, left, partition="aws")


def test_a_grant_moved_to_another_resource_is_a_change() -> None:
    before = doc(allow(["dynamodb:Scan", "dynamodb:Query"], A), allow("dynamodb:Scan", B))
    after = doc(allow("dynamodb:Scan", A), allow(["dynamodb:Scan", "dynamodb:Query"], B))
    assert not same_meaning(before, after, partition="aws")


def test_statement_order_never_matters_however_many_statements() -> None:
    """IAM may hand statements back in another order; dozens of distinct grants in any order
    mean the same (the canonical form must not depend on the order they were met in)."""
    # Each grant on its own table, so none merges with another: 200 statements stay 200.
    statements = [
        allow(f"dynamodb:Action{i}", f"arn:aws:dynamodb:*:*:table/t{i}") for i in range(200)
    ]
    shuffled = list(statements)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert same_meaning(doc(*statements), doc(*shuffled), partition="aws")
