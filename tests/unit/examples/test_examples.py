"""Every example manifest is a valid DynamoBackupRole, and together they cover each mode and operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dynamobackup.api.v1alpha1 import ACCOUNT, KIND, DynamoBackupAccountSpec, DynamoBackupRole
from dynamobackup.reconcile.tenancy import Admission, Binding, TenancySettings, admit

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
    assert len({r.spec.role_name for r in found}) == len(found)


def test_every_example_role_is_admitted_by_the_example_bindings() -> None:
    """The examples work with bindings required (the chart's default), and no role names its
    own way into an account a binding governs."""
    documents = [
        d for path in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())
    ]
    bindings = [
        Binding(
            d["metadata"]["name"],
            d["spec"]["account"]["id"],
            DynamoBackupAccountSpec.parse(d["spec"]),
        )
        for d in documents
        if d and d.get("kind") == ACCOUNT.kind
    ]
    assert {b.account_id for b in bindings} == {"123456789012", "222222222222"}
    settings = TenancySettings(bindings_required=True, operator_namespace="dynamobackup-system")
    for role in roles():
        namespace = role.metadata["namespace"]
        admitted = admit(role.spec, namespace, {}, bindings, settings)
        assert isinstance(admitted, Admission), (role.metadata["name"], admitted)
    cross = [b for b in bindings if b.spec is not None and b.spec.account.assume_role_arn]
    assert cross and all(b.spec and b.spec.account.external_id_secret_ref for b in cross)
