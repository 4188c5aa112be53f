"""Every example manifest is a valid DynamoBackupRole, and together they cover each mode and operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dynamobackup.api.v1alpha1 import KIND, DynamoBackupRole

EXAMPLES = Path(__file__).parents[3] / "examples"


def roles() -> list[DynamoBackupRole]:
    documents = [
        d for path in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())
    ]
    return [DynamoBackupRole.parse(d) for d in documents if d and d.get("kind") == KIND]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_parses(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if document.get("kind") == KIND:
            DynamoBackupRole.parse(document)


def test_examples_cover_every_mode_and_operation() -> None:
    found = roles()
    assert {str(r.spec.mode) for r in found} == {"Enforce", "Audit"}
    assert {str(op) for r in found for op in r.spec.scope.operations} == {
        "BackupPolicy",
        "ManualBackup",
        "Restore",
    }
    assert {str(r.spec.permissions.delivery) for r in found} == {"Inline", "Managed"}
    assert any(r.spec.account.assume_role_arn for r in found)
    assert len({r.spec.role_name for r in found}) == len(found)
