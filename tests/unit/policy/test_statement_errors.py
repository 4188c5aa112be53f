"""A single statement's error names the first problem, by element when it has one, and counts
the rest."""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.document import PolicyDocumentError, parse_statement


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({"Effect": "Allow"}, "a statement needs exactly one of Action or NotAction"),
        (
            {"Effect": "Allow", "Action": "a", "NotAction": "b"},
            "a statement needs exactly one of Action or NotAction",
        ),
        (
            {"Effect": "Allow", "Action": "a", "Resourse": "*", "Principal": {"Role": "x"}},
            "Principal: unknown principal type 'Role' (and 1 more problems)",
        ),
        ({"Effect": "allow", "Action": "a"}, "Effect: Input should be 'Allow' or 'Deny'"),
    ],
)
def test_a_statements_error_names_the_first_problem(
    statement: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        parse_statement(statement)
    assert str(caught.value) == message
