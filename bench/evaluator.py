"""Benchmark of the local policy evaluator: one role, 49 required actions, about ten statements.

Run with `make bench` (or `.venv/bin/python bench/evaluator.py`). Prints a Markdown table; the
numbers recorded in docs/benchmarks.md come from this script.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.document import PolicyDocument, parse_document
from dynamobackup.policy.evaluate import evaluate_permissions
from dynamobackup.policy.normalize import normalize
from dynamobackup.policy.profiles import load_profile
from dynamobackup.policy.trust import Appliance, analyze_trust

SEED = Path(__file__).parents[1] / "tests" / "data" / "seed-backup-policy.json"
APPLIANCE = Appliance.parse("arn:aws:iam::111111111111:role/VeeamImpersonation")
# SimulatePrincipalPolicy returns at most 1000 results per page; Veeam's check issues one per role
# and first asks GetContextKeysForPrincipalPolicy for the keys to pass.
SIMULATOR_CALLS_PER_CHECK = 2


def realistic_role() -> tuple[list[PolicyDocument], PolicyDocument]:
    """The seed's 49 actions spread over 8 statements, plus a Deny, a wildcard and a conditional grant."""
    actions = json.loads(SEED.read_text())["Statement"][0]["Action"]
    statements = [
        {"Sid": f"Part{i}", "Effect": "Allow", "Action": actions[i::8], "Resource": "*"}
        for i in range(8)
    ]
    statements.append({"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"})
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["s3:Get*", "logs:*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        }
    )
    policy = parse_document({"Version": "2012-10-17", "Statement": statements})
    trust = parse_document(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "backup.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": APPLIANCE.role_arn},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": "abc"}},
                },
            ]
        }
    )
    return [policy], trust


def per_call_seconds(function: Callable[[], object], repeat: int = 7, number: int = 2000) -> float:
    """Median over `repeat` runs of the mean time of `number` calls (warm caches, as in the operator)."""
    function()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def main() -> None:
    started = time.perf_counter()
    catalog = default_catalog()
    catalog_load = time.perf_counter() - started
    required = load_profile().required_actions(["BackupPolicy"])
    services = load_profile().trusted_services
    policies, trust = realistic_role()
    raw = policies[0].to_json()
    statements = sum(len(p.statement) for p in policies)

    def evaluate() -> object:
        return evaluate_permissions(required, policies, None, catalog)

    report = evaluate_permissions(required, policies, None, catalog)
    assert len(report.allowed) == len(required), report
    cases = {
        f"evaluate permissions ({len(required)} actions, {statements} statements, excess incl.)": evaluate,
        "analyze trust (2 statements)": lambda: analyze_trust(
            trust, APPLIANCE, external_id="abc", services=services
        ),
        "parse the policy from IAM JSON text": lambda: parse_document(raw),
        "normalize the policy (canonical form)": lambda: normalize(policies[0]),
        "whole check: parse + evaluate + trust": lambda: (
            evaluate_permissions(required, [parse_document(raw)], None, catalog),
            analyze_trust(trust, APPLIANCE, external_id="abc", services=services),
        ),
    }
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}, {platform.system()}")
    print(
        f"Action catalog: {len(catalog)} actions, loaded once per process in {catalog_load * 1000:.0f} ms\n"
    )
    print("| operation | µs per call | calls per second |")
    print("| --- | ---: | ---: |")
    for name, function in cases.items():
        seconds = per_call_seconds(function)
        print(f"| {name} | {seconds * 1e6:.1f} | {1 / seconds:,.0f} |")
    print(
        f"\nAWS policy-simulator calls avoided per role check: {SIMULATOR_CALLS_PER_CHECK} "
        "(GetContextKeysForPrincipalPolicy + SimulatePrincipalPolicy); our check makes 0 AWS calls."
    )


if __name__ == "__main__":
    main()
