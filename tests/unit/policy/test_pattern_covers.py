"""Whether one IAM action pattern covers another: what lets an allow-listed `additionalActions`
pattern admit an entry, and a required wildcard make a granted one no excess."""

from __future__ import annotations

import re

import pytest

from dynamobackup.policy.matching import pattern_covers, wildcard_regex


@pytest.mark.parametrize(
    ("general", "specific", "covers"),
    [
        ("s3:*", "s3:Get*", True),
        ("s3:Get*", "s3:*", False),
        ("s3:GetObject", "s3:GetObject", True),
        ("S3:getobject", "s3:GetObject", True),
        ("s3:GetObject", "s3:GetObjectAcl", False),
        ("s3:GetObject", "s3:Get", False),
        ("s3:Get*Object", "s3:Get", False),
        ("s3:Get*Object", "s3:GetBucket", False),
        ("s3:Get*Object", "s3:GetLegacyObject", True),
        ("s3:Get*Object", "s3:Get*Object", True),
        ("s3:Get*Object", "s3:Get*", False),
        ("s3:Get*", "s3:Get", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:Get?bject", True),
        ("s3:Get?", "s3:Get?", True),
        ("s3:GetO", "s3:Get?", False),
        ("s3:Get?", "s3:Get*", False),
        ("s3:Get?", "s3:Get", False),
        ("s3:Get??", "s3:Get?", False),
        ("*", "ec2:DeleteSnapshot", True),
        ("*", "*", True),
        ("**", "*", True),
        ("*:*", "*", False),
        ("*Object*", "s3:GetObjectAcl", True),
        ("*Object*", "s3:*Acl", False),
        ("*a*a*a", "aaa", True),
        ("*a*a*a", "aa", False),
        ("*a*b*c", "xaybzcx", False),
        ("", "", True),
        ("", "s3:Get", False),
    ],
)
def test_a_pattern_covers_what_every_name_it_admits_is_admitted_by(
    general: str, specific: str, covers: bool
) -> None:
    assert pattern_covers(general, specific) is covers


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("s3:Get*", "s3:GetObject", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:*Object", "s3:Object", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:Getbject", False),
        ("s3:Get?bject", "s3:GetXXbject", False),
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:GetObject", "s3:GetObjectAcl", False),
        ("s3:Get.bject", "s3:GetObject", False),
        ("s3:Get.bject", "s3:Get.bject", True),
        ("arn:aws:iam::1:role/a+b", "arn:aws:iam::1:role/a+b", True),
        ("arn:aws:iam::1:role/a+b", "arn:aws:iam::1:role/aab", False),
        ("*", "line\nbreak", True),
        ("?", "", False),
        ("", "", True),
    ],
)
def test_a_wildcard_pattern_is_the_regular_expression_iam_matches_with(
    pattern: str, name: str, matches: bool
) -> None:
    assert (re.fullmatch(wildcard_regex(pattern), name, re.DOTALL) is not None) is matches
