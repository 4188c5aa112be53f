"""Policy text as IAM and files give it: bytes that are not UTF-8, and JSON that merely holds
percent signs, are read without a crash and without URL-decoding."""

from __future__ import annotations

import pytest

from dynamobackup.policy.document import PolicyDocumentError, parse_document


def test_bytes_that_are_not_utf8_give_a_one_line_error() -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        parse_document(b"\xff{")
    assert str(caught.value) == "policy: invalid JSON at line 1 column 1: Expecting value"


def test_a_stray_byte_inside_a_value_is_replaced_not_fatal() -> None:
    raw = b'{"Statement": [{"Effect": "Allow", "Action": "s3:Get\xffObject"}]}'
    (statement,) = parse_document(raw).statement
    assert statement.action == ("s3:Get\ufffdObject",)


@pytest.mark.parametrize(
    ("indent", "where"),
    [("", "line 1 column 46"), ("\n", "line 2 column 46"), ("  ", "line 1 column 48")],
)
def test_json_text_is_never_url_decoded(indent: str, where: str) -> None:
    raw = indent + '{"Statement": [{"Effect": "Allow", "Action": %22s3:GetObject%22}]}'
    with pytest.raises(PolicyDocumentError) as caught:
        parse_document(raw)
    assert str(caught.value) == f"policy: invalid JSON at {where}: Expecting value"
