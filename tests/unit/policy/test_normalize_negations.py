"""The Not* elements, Principal "*" and multi-valued conditions keep their meaning when normalised.

A drifted policy that differs only in one of these must still be drift (the plan rewrites it), and
a policy IAM returns reordered must still be no drift. The property tests in test_normalize.py
never generate these elements.
"""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.document import parse_document
from dynamobackup.policy.normalize import normalize, same_meaning

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
TOPIC = "arn:aws:sns:us-east-1:123456789012:veeam"


def document(*statements: dict[str, Any]) -> Any:
    return parse_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**elements: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "dynamodb:Scan", **elements}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # NotResource grants everything but the listed resources: not the same as Resource.
        ([allow(Resource=TABLE)], [allow(NotResource=TABLE)]),
        # Everything but (A and B) is not (everything but A) plus (everything but B).
        (
            [allow(NotResource=[TABLE, TOPIC])],
            [allow(NotResource=TABLE), allow(NotResource=TOPIC)],
        ),
        # Principal "*" trusts everyone; the same statement without a principal trusts no one.
        ([allow(Resource="*", Principal="*")], [allow(Resource="*")]),
        (
            [allow(Resource="*", Principal={"AWS": "111111111111"})],
            [allow(Resource="*", NotPrincipal={"AWS": "111111111111"})],
        ),
        (
            [allow(Resource="*", NotPrincipal={"AWS": ["111111111111", "222222222222"]})],
            [
                allow(Resource="*", NotPrincipal={"AWS": "111111111111"}),
                allow(Resource="*", NotPrincipal={"AWS": "222222222222"}),
            ],
        ),
        # Condition values are case-sensitive.
        (
            [allow(Resource="*", Condition={"StringEquals": {"aws:PrincipalTag/team": "A"}})],
            [allow(Resource="*", Condition={"StringEquals": {"aws:PrincipalTag/team": "a"}})],
        ),
    ],
)
def test_different_meanings_are_drift(
    left: list[dict[str, Any]], right: list[dict[str, Any]]
) -> None:
    assert not same_meaning(document(*left), document(*right))


def test_reordered_not_elements_and_condition_values_are_no_drift() -> None:
    written = document(
        allow(
            NotResource=[TABLE, TOPIC],
            NotPrincipal={"AWS": ["111111111111", "222222222222"]},
            Condition={"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}},
        )
    )
    returned = document(
        allow(
            NotResource=[TOPIC, TABLE, TOPIC],
            NotPrincipal={
                "AWS": ["arn:aws:iam::222222222222:root", "arn:aws:iam::111111111111:root"]
            },
            Condition={"StringEquals": {"aws:principaltag/team": ["b", "a", "b"]}},
        )
    )
    assert same_meaning(written, returned)


def test_the_normal_form_keeps_every_not_element_and_public_principal() -> None:
    normal = normalize(
        document(
            allow(NotResource=[TOPIC, TABLE], NotPrincipal={"AWS": "111111111111"}),
            {"Effect": "Deny", "NotAction": "sts:*", "Resource": "*", "Principal": "*"},
        )
    ).to_iam()["Statement"]
    assert normal == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:scan"],
            "NotResource": [TABLE, TOPIC],
            "NotPrincipal": {"AWS": ["arn:aws:iam::111111111111:root"]},
        },
        {"Effect": "Deny", "NotAction": ["sts:*"], "Resource": ["*"], "Principal": "*"},
    ]


def test_a_bare_account_id_means_the_root_of_the_partition_compared_in() -> None:
    by_arn = document(allow(Resource="*", Principal={"AWS": "arn:aws-cn:iam::111111111111:root"}))
    by_id = document(allow(Resource="*", Principal={"AWS": "111111111111"}))
    assert same_meaning(by_arn, by_id, partition="aws-cn")
    assert same_meaning(by_id, by_arn, partition="aws-cn")
    assert not same_meaning(by_arn, by_id)
