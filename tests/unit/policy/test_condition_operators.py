"""The truth each IAM condition operator gives for what is known of a request.

IAM User Guide, "IAM JSON policy elements: Condition operators" and "Multivalued context keys":
a key's values are ORed (NORed by a negated operator); a key absent from the request makes a
positive operator false and a negated one true, `...IfExists` true; `ForAllValues` holds for an
absent key and `ForAnyValue` does not; `Null` tests presence. ArnEquals and ArnLike both take `*`
and `?` as wildcards in each colon-delimited field, case-sensitively; StringEquals takes them
literally. A key whose value is unknown at check time, or an operator this check does not decide
(numeric, date, IP address), is never guessed: unknown.
"""

from __future__ import annotations

from typing import Any

import pytest

from dynamobackup.policy.iam_conditions import ArnSubject, RequestContext, Truth, evaluate

T, F, U = Truth.TRUE, Truth.FALSE, Truth.UNKNOWN
ROLE = "arn:aws:iam::111122223333:role/Veeam"
# Known of some principal of account 111122223333, not which one.
SOMEONE_OF_THE_ACCOUNT = ArnSubject("aws", "iam", "111122223333")
# A request of AWS Backup for account 111122223333, on a resource not known at check time.
BACKUP_FOR_THE_ACCOUNT = ArnSubject("aws", "backup", "111122223333", any_resource_holds=True)
CONTEXT = RequestContext(
    values={
        "k": ("Alpha",),
        "multi": ("a", "b"),
        "role": (ROLE,),
        "someone": (SOMEONE_OF_THE_ACCOUNT,),
        "source": (BACKUP_FOR_THE_ACCOUNT,),
        "flag": ("true",),
    },
    absent=frozenset({"gone"}),
    accepted=frozenset({"trusted"}),
)


def truth(operator: str, key: str, *values: str, context: RequestContext = CONTEXT) -> Truth:
    return evaluate({operator: {key: values}}, context)


STRING_OPERATORS = [
    ("StringEquals", "k", ("Alpha",), T),
    ("StringEquals", "k", ("alpha",), F),
    ("StringEquals", "k", ("Al*",), F),
    ("StringEquals", "k", ("x", "Alpha"), T),
    ("StringNotEquals", "k", ("Alpha",), F),
    ("StringNotEquals", "k", ("alpha",), T),
    ("StringNotEquals", "k", ("x", "Alpha"), F),
    ("StringEqualsIgnoreCase", "k", ("ALPHA",), T),
    ("StringEqualsIgnoreCase", "k", ("Beta",), F),
    ("StringNotEqualsIgnoreCase", "k", ("aLpHa",), F),
    ("StringNotEqualsIgnoreCase", "k", ("Beta",), T),
    ("StringLike", "k", ("Al*",), T),
    ("StringLike", "k", ("A?pha",), T),
    ("StringLike", "k", ("al*",), F),
    ("StringLike", "k", ("Alpha",), T),
    ("StringLike", "k", ("B*", "*ph?"), T),
    ("StringNotLike", "k", ("Al*",), F),
    ("StringNotLike", "k", ("B*",), T),
    ("StringNotLike", "k", ("al*",), T),
]
ABSENT_AND_UNKNOWN_KEYS = [
    ("StringEquals", "gone", ("x",), F),
    ("StringNotEquals", "gone", ("x",), T),
    ("StringLike", "gone", ("*",), F),
    ("StringNotLike", "gone", ("*",), T),
    ("ArnLike", "gone", ("arn:*",), F),
    ("ArnNotLike", "gone", ("arn:*",), T),
    ("Bool", "gone", ("true",), F),
    ("StringEqualsIfExists", "gone", ("x",), T),
    ("StringNotEqualsIfExists", "gone", ("x",), T),
    ("BoolIfExists", "gone", ("true",), T),
    ("StringEqualsIfExists", "k", ("Alpha",), T),
    ("StringEqualsIfExists", "k", ("Beta",), F),
    ("StringNotEqualsIfExists", "k", ("Alpha",), F),
    ("StringEquals", "elsewhere", ("x",), U),
    ("StringNotEquals", "elsewhere", ("x",), U),
    ("Null", "elsewhere", ("true",), U),
    ("StringEquals", "trusted", ("anything",), T),
    ("StringNotEquals", "trusted", ("anything",), T),
    # Condition keys are case-insensitive.
    ("StringEquals", "K", ("Alpha",), T),
    ("StringEquals", "Gone", ("x",), F),
]
SET_OPERATORS = [
    ("ForAnyValue:StringEquals", "multi", ("b",), T),
    ("ForAnyValue:StringEquals", "multi", ("c",), F),
    ("ForAnyValue:StringNotEquals", "multi", ("a",), T),
    ("ForAnyValue:StringNotEquals", "multi", ("a", "b"), F),
    ("ForAllValues:StringEquals", "multi", ("a", "b", "c"), T),
    ("ForAllValues:StringEquals", "multi", ("a",), F),
    ("ForAllValues:StringNotEquals", "multi", ("c",), T),
    ("ForAllValues:StringNotEquals", "multi", ("a",), F),
    ("ForAllValues:StringEquals", "gone", ("a",), T),
    ("ForAllValues:StringNotEquals", "gone", ("a",), T),
    ("ForAnyValue:StringEquals", "gone", ("a",), F),
    ("ForAnyValue:StringNotEquals", "gone", ("a",), F),
    # Without a set operator, one value of the request that matches is enough.
    ("StringEquals", "multi", ("b",), T),
]
NULL_AND_BOOL = [
    ("Null", "gone", ("true",), T),
    ("Null", "gone", ("True",), T),
    ("Null", "gone", ("false",), F),
    ("Null", "k", ("true",), F),
    ("Null", "k", ("false",), T),
    ("Bool", "flag", ("true",), T),
    ("Bool", "flag", ("TRUE",), T),
    ("Bool", "flag", ("false",), F),
    ("Bool", "someone", ("true",), F),
]
UNDECIDED_OPERATORS = [
    ("NumericLessThan", "k", ("3600",), U),
    ("NumericEquals", "gone", ("1",), U),
    ("DateGreaterThan", "k", ("2020-01-01T00:00:00Z",), U),
    ("IpAddress", "k", ("203.0.113.0/24",), U),
    ("NotIpAddress", "gone", ("203.0.113.0/24",), U),
    ("BinaryEquals", "k", ("QmluYXJ5",), U),
]
ARN_OPERATORS = [
    ("ArnEquals", "role", (ROLE,), T),
    ("ArnEquals", "role", ("arn:aws:iam::111122223333:role/veeam",), F),
    ("ArnEquals", "role", ("arn:aws:iam::*:role/Vee?m",), T),
    ("ArnLike", "role", ("arn:aws:iam::111122223333:role/V*",), T),
    ("ArnLike", "role", ("arn:aws:iam::111122223333:role/v*",), F),
    ("ArnNotEquals", "role", (ROLE,), F),
    ("ArnNotLike", "role", ("arn:aws:iam::*:role/Other",), T),
    ("ArnNotLike", "role", ("arn:aws:iam::*:role/*",), F),
    # Only the account is known: a pattern on the whole account holds, one naming a role may.
    ("ArnLike", "someone", ("arn:aws:iam::111122223333:*",), T),
    ("ArnLike", "someone", ("arn:aws:iam::111122223333:**",), T),
    ("ArnEquals", "someone", ("arn:aws:iam::*:*",), T),
    ("ArnLike", "someone", ("arn:aws:iam::111122223333:role/*",), U),
    ("ArnNotLike", "someone", ("arn:aws:iam::111122223333:role/*",), U),
    ("ArnNotLike", "someone", ("arn:aws:iam::111122223333:*",), F),
    ("ArnLike", "someone", ("arn:aws:iam::444455556666:*",), F),
    ("ArnNotLike", "someone", ("arn:aws:iam::444455556666:*",), T),
    ("ArnLike", "someone", ("arn:aws:iam::1111222233??:*",), T),
    ("ArnLike", "someone", ("arn:aws:sts::111122223333:*",), F),
    ("ArnLike", "someone", ("arn:aws:IAM::111122223333:*",), F),
    ("ArnLike", "someone", ("arn:AWS:iam::111122223333:*",), F),
    ("ArnLike", "someone", ("arn:aws-cn:iam::111122223333:*",), F),
    ("ArnLike", "someone", ("arn:a*:iam::111122223333:*",), T),
    ("ArnLike", "someone", ("ARN:aws:iam::111122223333:*",), F),
    ("ArnLike", "someone", ("arn:aws:iam::111122223333",), F),
    ("ArnLike", "someone", ("111122223333",), F),
    ("StringLike", "someone", ("arn:aws:iam::111122223333:*",), T),
    ("StringLike", "someone", ("arn:aws:iam::111122223333:role/*",), U),
    ("StringEquals", "someone", ("arn:aws:iam::111122223333:role/Veeam",), U),
    # StringEquals takes `*` literally, and no ARN in a request holds one.
    ("StringEquals", "someone", ("arn:aws:iam::111122223333:*",), F),
    ("StringNotEquals", "someone", ("arn:aws:iam::111122223333:*",), T),
    # The service's request is for some resource of the account: any resource holds.
    ("ArnLike", "source", ("arn:aws:backup:*:111122223333:backup-vault:*",), T),
    ("ArnEquals", "source", ("arn:aws:backup:us-east-1:111122223333:backup-vault:Vault",), T),
    ("StringEquals", "source", ("arn:aws:backup:us-east-1:111122223333:backup-vault:Vault",), T),
    ("StringEquals", "source", ("arn:aws:backup:*:111122223333:*",), F),
    ("StringEquals", "source", ("arn:aws:backup:us-east-1:11112222333?:backup-vault:Vault",), F),
    ("ArnLike", "source", ("arn:aws:backup:*:444455556666:*",), F),
    ("ArnLike", "source", ("arn:aws:dynamodb:*:111122223333:*",), F),
    ("ArnNotLike", "source", ("arn:aws:backup:*:111122223333:*",), F),
]


@pytest.mark.parametrize(
    ("operator", "key", "values", "expected"),
    STRING_OPERATORS
    + ABSENT_AND_UNKNOWN_KEYS
    + SET_OPERATORS
    + NULL_AND_BOOL
    + UNDECIDED_OPERATORS
    + ARN_OPERATORS,
)
def test_each_operator_decides_as_the_iam_user_guide_says(
    operator: str, key: str, values: tuple[str, ...], expected: Truth
) -> None:
    assert truth(operator, key, *values) is expected


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (None, T),
        ({}, T),
        ({"StringEquals": {"k": ("Alpha",), "flag": ("true",)}}, T),
        ({"StringEquals": {"k": ("Alpha",), "flag": ("false",)}}, F),
        ({"StringEquals": {"k": ("Alpha",)}, "Bool": {"flag": ("false",)}}, F),
        ({"StringEquals": {"k": ("Alpha",)}, "NumericLessThan": {"k": ("1",)}}, U),
        ({"StringEquals": {"k": ("Beta",)}, "NumericLessThan": {"k": ("1",)}}, F),
        ({"StringEquals": {"k": ("Alpha",), "elsewhere": ("x",)}}, U),
    ],
)
def test_operators_and_keys_of_a_block_are_anded(
    block: dict[str, Any] | None, expected: Truth
) -> None:
    assert evaluate(block, CONTEXT) is expected


def test_a_value_given_to_a_context_replaces_absence_and_keeps_the_accepted_keys() -> None:
    context = CONTEXT.with_value("Gone", "here")
    assert truth("StringEquals", "gone", "here", context=context) is T
    assert truth("Null", "gone", "true", context=context) is F
    assert truth("StringEquals", "trusted", "anything", context=context) is T
    assert truth("StringEquals", "k", "Alpha", context=context) is T


def test_a_key_taken_out_of_a_context_is_absent() -> None:
    context = CONTEXT.without("K")
    assert truth("Null", "k", "true", context=context) is T
    assert truth("StringNotEquals", "k", "Alpha", context=context) is T
    assert truth("StringEquals", "trusted", "anything", context=context) is T
    assert truth("Bool", "flag", "true", context=context) is T
