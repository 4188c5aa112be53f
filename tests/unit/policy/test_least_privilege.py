"""Rendered documents grant exactly the profile and respect IAM's size quotas."""

from __future__ import annotations

from dynamobackup.policy.evaluate import evaluate_permissions
from dynamobackup.policy.least_privilege import (
    MANAGED_POLICY_MAX_CHARS,
    permission_documents,
    policy_size,
)
from dynamobackup.policy.profiles import load_profile

ALL = ("BackupPolicy", "ManualBackup", "Restore")


def test_all_operations_fit_one_managed_policy() -> None:
    actions = load_profile().required_actions(ALL)
    (document,) = permission_documents(actions)
    assert policy_size(document) <= MANAGED_POLICY_MAX_CHARS
    report = evaluate_permissions(actions, [document])
    assert report.is_compliant(strict=True)


def test_split_under_a_smaller_limit_keeps_every_action_once() -> None:
    actions = load_profile().required_actions(ALL)
    documents = permission_documents(actions, max_chars=900)
    assert len(documents) >= 3
    assert all(policy_size(d) <= 900 for d in documents)
    granted = [a for d in documents for s in d.statement for a in s.action or ()]
    assert granted == list(actions)
    assert len({s.sid for d in documents for s in d.statement}) == len(documents)
    assert evaluate_permissions(actions, documents).is_compliant(strict=True)
