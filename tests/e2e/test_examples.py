"""The demo's core: every example reaches the verdict the README promises."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient, CustomObjectsApi

from dynamobackup.api.v1alpha1 import ACCOUNT, GROUP, VERSION
from dynamobackup_devenv import demo, kube
from dynamobackup_devenv.controlplane import Cluster
from dynamobackup_devenv.moto_server import AwsHelper
from dynamobackup_devenv.operator_process import OperatorProcess


@pytest.fixture
def examples_namespace(k8s: ApiClient) -> Iterator[str]:
    yield "veeam-backup"
    # The bindings are cluster-scoped and govern accounts other tests use: they go too.
    objects = CustomObjectsApi(k8s)
    for item in objects.list_cluster_custom_object(GROUP, VERSION, ACCOUNT.plural)["items"]:
        if item["metadata"]["name"] in demo.EXAMPLE_BINDINGS:
            objects.delete_cluster_custom_object(
                GROUP, VERSION, ACCOUNT.plural, item["metadata"]["name"]
            )
    kube.delete_namespace(k8s, "veeam-backup")
    kube.delete_namespace(k8s, "dynamobackup-system")


def test_examples_reach_their_verdicts(
    control_plane: Cluster,
    k8s: ApiClient,
    aws: AwsHelper,
    operator: OperatorProcess,
    examples_namespace: str,
) -> None:
    demo.seed_aws(aws.endpoint_url)
    demo.apply_examples(control_plane.kubeconfig)
    items = {
        i["metadata"]["name"]: i["status"]
        for i in demo.wait_for_verdicts(k8s)
        if i["metadata"]["namespace"] == examples_namespace
    }

    def ready(name: str) -> tuple[str, str]:
        condition = next(c for c in items[name]["conditions"] if c["type"] == "Ready")
        return condition["status"], condition["reason"]

    assert ready("backup-policy") == ("True", "Reconciled")
    assert ready("manual-backup") == ("True", "Reconciled")
    assert items["manual-backup"]["managedPolicyArns"] == [
        "arn:aws:iam::123456789012:policy/dynamobackup/veeam-dynamodb-manual-backup-dynamobackup-1"
    ]
    assert ready("restore-prod") == ("True", "Reconciled")
    assert (
        items["restore-prod"]["roleArn"] == "arn:aws:iam::222222222222:role/veeam-dynamodb-restore"
    )

    legacy = items["legacy-audit"]
    assert ready("legacy-audit") == ("False", "DriftDetected")
    assert "backup-storage:MountCapsule" in legacy["missingActions"]
    assert "dynamodb:DescribeTable" not in legacy["missingActions"]
    assert legacy["missingCount"] == len(legacy["missingActions"]) == 27
    assert [f["code"] for f in legacy["trustFindings"]] == ["ExcessPrincipal"]
    assert "s3:*" in legacy["excessActions"]
    text = demo.summary(list(demo.wait_for_verdicts(k8s)))
    assert "veeam-backup/legacy-audit: Ready=False (DriftDetected)" in text
    assert "missing (27): backup-storage:MountCapsule" in text
    # Nothing was written to the audited role.
    iam = aws.client("iam")
    assert iam.list_role_policies(RoleName=demo.LEGACY_ROLE)["PolicyNames"] == ["veeam-backup"]
