"""Fault scenarios: each ends with Scenario.verify (convergence, one role per resource, no orphaned
or duplicated policies or versions, no foreign role touched, no secret anywhere, status on all)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from kubernetes.client import CoordinationV1Api

from dynamobackup.api.v1alpha1 import GROUP, PLURAL, VERSION
from dynamobackup.api.v1alpha1.lifecycle import ABANDON_ANNOTATION
from dynamobackup_devenv import kube
from dynamobackup_devenv.moto_server import moto_client

from .conftest import OWN_ACCOUNT, Scenario, condition, ready, wait_for
from .proxy import FAULTS, Schedule

INLINE = "dynamobackup-permissions"


def test_truncated_assume_role_answers_leak_no_credential(scenario: Scenario) -> None:
    """Defect 1: botocore's ResponseParserError carries the raw body; nothing of it may leave."""
    scenario.start_operator()
    with scenario.proxy.faults(
        Schedule(rate=1.0, faults=("truncated",), only=frozenset({"AssumeRole"}), limit=3)
    ) as record:
        scenario.create(range(2, 13, 5))  # 2, 7, 12: the cross-account resources
        wait_for(lambda: record.injected["truncated"] == 3, 60, "three truncated answers")
        scenario.wait_converged(90)
    assert scenario.proxy.record.secrets, "the proxy saw no credentials: the test proves nothing"
    scenario.verify("truncated AssumeRole answers (credentials inside)", 3)
    reasons = {e.reason for e in scenario.core.list_namespaced_event(scenario.namespace).items}
    assert "AwsBadResponse" in reasons  # the failure was reported, as a reason, not a body


def test_every_kind_of_aws_fault_converges(scenario: Scenario) -> None:
    scenario.start_operator()
    with scenario.proxy.faults(Schedule(rate=0.25, faults=FAULTS, limit=80)) as record:
        scenario.create(range(20))
        wait_for(lambda: scenario.count(lambda o: "status" in o) == 20, 120, "first statuses")
        scenario.delete([f"r{i}" for i in range(0, 20, 6)])  # Delete policy: 0, 6, 12, 18
        survivors = itertools.cycle(sorted(set(scenario.specs) - scenario.deleted))

        def sixty_faults_while_permissions_change() -> bool:
            # Converged roles cost few calls; changed operations keep writes (and faults) coming,
            # managed policies' new versions among them.
            if sum(record.injected.values()) >= 60:
                return True
            scenario.widen_or_narrow(next(survivors))
            return False

        wait_for(sixty_faults_while_permissions_change, 180, "60 faults injected")
    injected = dict(record.injected)
    assert set(injected) >= {"throttle", "after_mutation", "truncated", "delay", "reset"}, injected
    scenario.wait_converged(180)
    scenario.verify(
        "AWS faults of every kind, 25% of calls: " + ", ".join(sorted(injected)),
        sum(injected.values()),
    )


def test_aws_outage_is_no_drift_and_deletions_wait(scenario: Scenario) -> None:
    """Defects 2 and 3: 60 s without AWS, with creates and Delete-policy deletions pending."""
    operator = scenario.start_operator()
    scenario.create(range(6))
    scenario.wait_converged(60)
    with scenario.proxy.outage():
        outage_started = time.monotonic()
        scenario.create(range(6, 10))
        scenario.delete(["r0", "r3"])  # Delete policy, owned roles: must not be abandoned
        scenario.delete(["r4"])  # Retain: the finalizer goes, the role stays
        time.sleep(2)
        scenario.objects.patch_namespaced_custom_object(
            GROUP, VERSION, scenario.namespace, PLURAL, "r3",
            {"metadata": {"annotations": {ABANDON_ANNOTATION: "true"}}},
        )  # fmt: skip
        scenario.abandoned.add("r3")
        # Every drift check in the outage (10 s interval) must read as unknown, never as drift.
        wait_for(
            lambda: all(
                condition(o, "Compliant").get("status") == "Unknown"
                for n, o in scenario.listed().items()
                if n in {"r1", "r2", "r5"}
            ),
            40,
            "Compliant=Unknown on the re-checked resources",
        )
        while time.monotonic() - outage_started < 60:
            objects = scenario.listed()
            assert "r0" in objects, "the deletion was abandoned during the outage"
            for name in ("r1", "r2", "r5"):
                status = objects[name]["status"]
                assert status["compliant"] is True, status  # the last verdict is kept
                assert condition(objects[name], "Ready")["reason"] == "AwsUnreachable", status
            time.sleep(2)
        blocked = condition(scenario.listed()["r0"], "Ready")
        assert blocked["reason"] == "DeletionBlocked" and "AwsUnreachable" in blocked["message"]
        metrics = operator.metrics()
        gauge = 'dynamobackup_resources{compliant="%s",namespace="' + scenario.namespace + '"}'
        assert f"{gauge % 'false'} 0.0" in metrics  # an outage pages nobody
        assert f"{gauge % 'unknown'} 0.0" not in metrics  # it is counted as unknown
    events = scenario.core.list_namespaced_event(scenario.namespace).items
    assert not [e for e in events if e.reason == "NotCompliant"], "an outage was reported as drift"
    assert [e for e in events if e.reason == "DeletionBlocked" and e.involved_object.name == "r0"]
    assert [e for e in events if e.reason == "DeletionAbandoned" and e.involved_object.name == "r3"]
    scenario.wait_converged(120)
    iam = moto_client(scenario.moto.url, "iam", account=OWN_ACCOUNT)
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert scenario.specs["r0"]["roleName"] not in roles  # deleted once AWS was back
    assert scenario.specs["r3"]["roleName"] in roles  # released without deleting, as asked
    resets = scenario.proxy.record.injected["outage"]
    scenario.verify("AWS unreachable for 60 s, creates and deletions pending", resets)


def test_status_lands_after_status_writes_were_refused(scenario: Scenario) -> None:
    """Defect 4: a status PATCH that fails is retried; kopf alone would call the handler done."""
    k8s = scenario.k8s
    policy = f"deny-status-{scenario.namespace}"
    kube.request(k8s, "POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [GROUP], "apiVersions": [VERSION], "operations": ["UPDATE"],
                "resources": [f"{PLURAL}/status"],
            }]},
            "validations": [{"expression": "false", "message": "status writes refused (test)"}],
        },
    })  # fmt: skip
    kube.request(k8s, "POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {
            "policyName": policy,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": scenario.namespace,
            }}},
        },
    })  # fmt: skip
    probe = "r0"
    # An hour between drift checks: only a retry of the handler can bring the status now.
    scenario.create(range(1), driftCheckInterval="1h")
    refused = lambda: _status_write_refused(scenario, probe)  # noqa: E731
    wait_for(refused, 30, "the policy to refuse status writes")
    scenario.start_operator()
    scenario.create(range(3, 5), driftCheckInterval="1h")  # both in the own account
    iam = moto_client(scenario.moto.url, "iam", account=OWN_ACCOUNT)
    names = {scenario.specs[f"r{i}"]["roleName"] for i in range(3, 5)}
    wait_for(lambda: names <= {r["RoleName"] for r in iam.list_roles()["Roles"]}, 60, "the roles")
    time.sleep(3)  # the handlers have finished and their status writes were refused
    for kind in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
        kube.request(k8s, "DELETE", f"/apis/admissionregistration.k8s.io/v1/{kind}/{policy}")
    took = scenario.wait_converged(30)
    scenario.verify(f"status writes refused, then allowed (landed {took:.0f}s after)", 2)


def _status_write_refused(scenario: Scenario, name: str) -> bool:
    try:
        scenario.objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, scenario.namespace, PLURAL, name, {"status": {"mode": "probe"}}
        )
    except Exception as error:
        return "status writes refused" in str(error)
    return False


def test_sigkill_at_three_points_of_a_100_resource_batch(scenario: Scenario) -> None:
    scenario.start_operator()
    scenario.create(range(100))
    for point in (10, 50, 90):
        wait_for(
            lambda p=point: scenario.count(lambda o: "status" in o) >= p, 240, f"{point} statuses"
        )
        scenario.kill(scenario.operators[-1])
        scenario.start_operator()
    scenario.wait_converged(300)
    scenario.verify("SIGKILL of the operator at 10, 50 and 90 of 100 resources", 3)


def test_apiserver_restart_and_a_120s_outage(scenario: Scenario) -> None:
    scenario.start_operator()
    scenario.create(range(40))
    wait_for(lambda: scenario.count(lambda o: "status" in o) >= 8, 120, "8 statuses")
    scenario.plane.stop_apiserver()
    scenario.plane.start_apiserver()
    wait_for(lambda: scenario.count(lambda o: "status" in o) >= 20, 180, "20 statuses")
    scenario.plane.stop_apiserver()
    time.sleep(120)
    scenario.plane.start_apiserver()
    scenario.wait_converged(240)
    scenario.verify("kube-apiserver restart, then a 120 s outage, during 40 creates", 2)


def test_etcd_restart(scenario: Scenario) -> None:
    scenario.start_operator()
    scenario.create(range(20))
    wait_for(lambda: scenario.count(lambda o: "status" in o) >= 5, 120, "5 statuses")
    scenario.plane.restart_etcd(down_for=5)
    scenario.wait_converged(180)
    scenario.verify("etcd restart (5 s down) during 20 creates", 1)


def test_two_operators_one_writer_and_the_standby_takes_over(scenario: Scenario) -> None:
    """Defect 5: two processes at once make the writes of one; SIGKILL hands over within 30 s."""
    lease = ("--leader-elect", f"--lease-namespace={scenario.namespace}", "--lease-name=dbr")
    first = scenario.start_operator(*lease)
    second = scenario.start_operator(*lease)
    scenario.create(range(10))
    scenario.wait_converged(90)
    inline = [n for n, s in scenario.specs.items() if "permissions" not in s]
    iam = {
        a: moto_client(scenario.moto.url, "iam", account=a) for a in (OWN_ACCOUNT, "222222222222")
    }
    scenario.proxy.record.forwarded_mutations.clear()
    for name in inline:
        _drop_an_action(
            iam[scenario.specs[name]["account"]["id"]], scenario.specs[name]["roleName"]
        )
    wait_for(
        lambda: scenario.proxy.record.forwarded_mutations["PutRolePolicy"] >= len(inline), 60,
        "the drift repairs",
    )  # fmt: skip
    time.sleep(12)  # one more drift interval: a second writer would repair (or fight) now
    assert dict(scenario.proxy.record.forwarded_mutations) == {"PutRolePolicy": len(inline)}
    holder = CoordinationV1Api(scenario.k8s).read_namespaced_lease("dbr", scenario.namespace)
    leader = first if holder.spec.holder_identity.endswith(f"-{first.process.pid}") else second
    standby = second if leader is first else first
    assert holder.spec.holder_identity.endswith(f"-{leader.process.pid}")
    assert "became the leader" not in standby.log()
    print(f"RSS-KIB leader {_rss_kib(leader.process.pid)} standby {_rss_kib(standby.process.pid)}")
    scenario.kill(leader)
    killed_at = time.monotonic()
    scenario.create(range(10, 11))
    took = wait_for(lambda: ready(scenario.listed()["r10"]), 30, "the standby to take over")
    assert "became the leader" in standby.log()
    scenario.verify(f"two operators at once; leader SIGKILLed, standby took over in {took:.0f}s", 1)
    print(f"TAKEOVER-SECONDS {took:.1f} (Ready {took:.1f}s after the SIGKILL at {killed_at:.0f})")


def _drop_an_action(iam: Any, role: str) -> None:
    document = iam.get_role_policy(RoleName=role, PolicyName=INLINE)["PolicyDocument"]
    document["Statement"][0]["Action"].pop()
    iam.put_role_policy(RoleName=role, PolicyName=INLINE, PolicyDocument=json.dumps(document))


def _rss_kib(pid: int | None) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
