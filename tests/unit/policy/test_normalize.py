"""Documents that mean the same normalise to equal values; reshaping never changes a verdict."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import parse_document
from dynamobackup.policy.evaluate import evaluate_permissions
from dynamobackup.policy.normalize import normalize, same_meaning
from dynamobackup.policy.profiles import load_profile
from dynamobackup.policy.trust import Appliance, analyze_trust

APPLIANCE = Appliance.parse("arn:aws:iam::111111111111:role/veeam")


def doc(*statements: dict[str, Any], **top: Any) -> Any:
    return parse_document({"Statement": list(statements), **top})


def test_sid_version_order_case_and_string_vs_list_do_not_matter() -> None:
    left = doc(
        {
            "Sid": "A",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "S3:PutObject"],
            "Resource": "*",
        },
        Version="2012-10-17",
    )
    right = doc(
        {
            "Effect": "Allow",
            "Action": ["s3:putobject", "s3:getobject", "s3:GetObject"],
            "Resource": ["*"],
        }
    )
    assert same_meaning(left, right)
    assert normalize(left) == normalize(right)


def test_account_id_equals_its_root_arn() -> None:
    bare = doc(
        {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}
    )
    arn = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
            "Action": "sts:AssumeRole",
        }
    )
    assert same_meaning(bare, arn)
    assert not same_meaning(bare, arn, partition="aws-cn")


def test_statements_split_or_merged_mean_the_same() -> None:
    merged = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "backup.amazonaws.com", "AWS": "arn:aws:iam::1:role/v"},
            "Action": "sts:AssumeRole",
        }
    )
    split = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::1:role/v"},
            "Action": "sts:AssumeRole",
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "Backup.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
    )
    assert normalize(merged) == normalize(split)


def test_different_meanings_stay_different() -> None:
    base = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}
    assert not same_meaning(doc(base), doc({**base, "Effect": "Deny"}))
    assert not same_meaning(doc(base), doc({**base, "Resource": "arn:aws:s3:::b/*"}))
    assert not same_meaning(
        doc(base), doc({**base, "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    )
    # NotAction of two actions is not two NotAction statements.
    not_both = doc(
        {"Effect": "Allow", "NotAction": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}
    )
    not_each = doc(
        {"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*"},
    )
    assert not same_meaning(not_both, not_each)


def test_condition_keys_are_case_insensitive_values_are_not() -> None:
    lower = doc(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:externalid": "Abc"}},
        }
    )
    upper = doc(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": ["Abc"]}},
        }
    )
    other = doc(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "abc"}},
        }
    )
    assert same_meaning(lower, upper)
    assert not same_meaning(upper, other)


# --- property-based: reshaping a document never changes its normal form or any verdict ---

ACTIONS = [
    *load_profile().required_actions(["BackupPolicy"])[:12],
    "s3:GetObject",
    "backup:*",
    "sns:List*",
]
RESOURCES = ["*", "arn:aws:dynamodb:us-east-1:123456789012:table/t", "arn:aws:sns:*:*:veeam-*"]
PRINCIPALS = [
    ("Service", "backup.amazonaws.com"),
    ("AWS", "111111111111"),
    ("AWS", "arn:aws:iam::111111111111:role/veeam"),
    ("AWS", "arn:aws:iam::222222222222:user/bob"),
    ("AWS", "AROAABCDEFGHIJKLMNOPQR"),
]
CONDITIONS = [
    None,
    {"StringEquals": {"sts:ExternalId": "abc"}},
    {"Bool": {"aws:SecureTransport": "true"}},
]

statements = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Allow", "Deny"]),
        "Action": st.lists(
            st.sampled_from([*ACTIONS, "sts:AssumeRole", "sts:*"]), min_size=1, max_size=6
        ),
        "Resource": st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2),
        "Principal": st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=3),
        "Condition": st.sampled_from(CONDITIONS),
        "NotAction": st.booleans(),
    }
)


def to_json(raw: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": raw["Effect"], "Resource": raw["Resource"]}
    statement["NotAction" if raw["NotAction"] else "Action"] = raw["Action"]
    principal: dict[str, list[str]] = {}
    for kind, value in raw["Principal"]:
        principal.setdefault(kind, []).append(value)
    statement["Principal"] = principal
    if raw["Condition"]:
        statement["Condition"] = raw["Condition"]
    return statement


def reshape(statement: dict[str, Any], data: st.DataObject) -> list[dict[str, Any]]:
    """The same grants spelled differently: case, order, string-vs-list, duplicates, split, Sid."""
    shaped = dict(statement)
    key = "Action" if "Action" in shaped else "NotAction"
    actions = [data.draw(st.sampled_from([a, a.upper(), a.lower()])) for a in shaped[key]]
    actions = data.draw(st.permutations(actions + actions[:1]))
    shaped[key] = (
        actions[0]
        if len({a.lower() for a in actions}) == 1 and data.draw(st.booleans())
        else actions
    )
    shaped["Principal"] = {
        kind: (values[0] if len(values) == 1 else list(reversed(values)))
        for kind, values in reversed(list(shaped["Principal"].items()))
    }
    shaped["Sid"] = data.draw(st.sampled_from(["One", "Two"]))
    if key == "Action" and len({a.lower() for a in actions}) > 1 and data.draw(st.booleans()):
        first, rest = actions[:1], actions[1:]
        return [{**shaped, "Action": first}, {**shaped, "Action": rest}]
    return [shaped]


def verdicts(document: Any) -> tuple[Any, ...]:
    required = load_profile().required_actions(["BackupPolicy"])
    permissions = evaluate_permissions(required, [document], catalog=default_catalog())
    trust = analyze_trust(
        document, APPLIANCE, external_id="abc", services=load_profile().trusted_services
    )
    excess = sorted(e.lower() for e in permissions.excess)
    return (
        permissions.missing,
        permissions.denied,
        permissions.conditional,
        excess,
        sorted((f.code, f.severity) for f in trust.findings),
    )


@given(st.lists(statements, min_size=1, max_size=5))
def test_normalisation_is_idempotent(raw: list[dict[str, Any]]) -> None:
    document = doc(*(to_json(s) for s in raw))
    once = normalize(document)
    assert normalize(once) == once
    assert same_meaning(once, document)


@given(st.lists(statements, min_size=1, max_size=5), st.data())
def test_reordering_and_reshaping_never_change_meaning_or_verdict(
    raw: list[dict[str, Any]], data: st.DataObject
) -> None:
    original = doc(*(to_json(s) for s in raw))
    reshaped_statements = [part for s in raw for part in reshape(to_json(s), data)]
    reshaped = doc(*data.draw(st.permutations(reshaped_statements)), Version="2012-10-17")
    assert normalize(reshaped) == normalize(original)
    assert verdicts(reshaped) == verdicts(original)
    assert verdicts(normalize(original)) == verdicts(original)
