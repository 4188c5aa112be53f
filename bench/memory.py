"""Where the operator's idle memory goes: RSS and tracemalloc per step of what `dbr run` loads.

Each step is what the operator does before its first object, in order; the RSS delta is what the
kernel charges for it (pages touched, C libraries included). tracemalloc's own bookkeeping costs
memory too, so RSS is measured without it; `--trace` measures the Python allocations per step
instead and `--top N` lists the N packages that allocated most: the profile behind the numbers in
docs/benchmarks.md.

    .venv/bin/python bench/memory.py            # RSS per step
    .venv/bin/python bench/memory.py --trace --top 15
"""

from __future__ import annotations

import argparse
import gc
import importlib
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def imported(*modules: str) -> Callable[[], Any]:
    return lambda: [importlib.import_module(module) for module in modules]


def iam_clients(count: int) -> Callable[[], Any]:
    """`count` accounts reached by AssumeRole: clients of the one shared session, as the operator."""

    def make() -> Any:
        session = importlib.import_module("dynamobackup.aws.session")
        provider = session.SessionProvider(session.AwsSettings(endpoint_url="http://127.0.0.1:1"))
        clients = [
            provider._new_client(  # the factory the provider uses for assumed credentials
                provider._base,
                "iam",
                "aws",
                aws_access_key_id=f"AKIA{index:016d}",
                aws_secret_access_key="secret",
                aws_session_token="token",
            )
            for index in range(count)
        ]
        for client in clients:  # the operation models a reconcile and a sweep use
            for name in (
                "GetRole",
                "CreateRole",
                "PutRolePolicy",
                "GetAccountAuthorizationDetails",
            ):
                client.meta.service_model.operation_model(name).output_shape  # noqa: B018
        return clients

    return make


STEPS: list[tuple[str, Callable[[], Any]]] = [
    ("pydantic and the API models", imported("dynamobackup.api.v1alpha1")),
    ("policy engine and profiles (PyYAML)", imported("dynamobackup.policy.profiles")),
    # Before kopf, which imports it too when it is installed (kopf._cogs.helpers.thirdparty).
    ("kubernetes client (status writes, Lease)", imported("kubernetes.client")),
    ("kopf (with aiohttp)", imported("kopf")),
    ("boto3 and botocore", imported("boto3")),
    ("prometheus_client", imported("prometheus_client")),
    ("the operator's modules", imported("dynamobackup.handlers.registry", "dynamobackup.cli.run")),
    (
        "the action catalog (aws-actions.txt)",
        lambda: importlib.import_module("dynamobackup.policy.catalog").default_catalog(),
    ),
    ("the first IAM client", iam_clients(1)),
    ("9 more accounts' IAM clients", iam_clients(9)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", action="store_true", help="tracemalloc deltas, not RSS")
    parser.add_argument("--top", type=int, default=0, help="with --trace: the N top packages")
    args = parser.parse_args()
    measure = (lambda: tracemalloc.get_traced_memory()[0]) if args.trace else rss
    if args.trace:
        tracemalloc.start()
    kept: list[Any] = []
    print(f"| step | {'Python allocations' if args.trace else 'RSS'} MiB |")
    print("| --- | ---: |")
    print(f"| Python itself (interpreter, site) | {measure() / MIB:.1f} |")
    for name, step in STEPS:
        gc.collect()
        before = measure()
        kept.append(step())
        gc.collect()
        print(f"| {name} | {(measure() - before) / MIB:.1f} |")
    print(f"| **total** | **{measure() / MIB:.1f}** |")
    if args.trace and args.top:
        by_package: Counter[str] = Counter()
        for stat in tracemalloc.take_snapshot().statistics("filename"):
            by_package[_package(stat.traceback[0].filename)] += stat.size
        print("\n| package (tracemalloc) | MiB |\n| --- | ---: |")
        for package, size in by_package.most_common(args.top):
            print(f"| {package} | {size / MIB:.1f} |")


def _package(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "dynamobackup" in parts:
        return "dynamobackup"
    return "stdlib" if "python3" in filename else Path(filename).name


if __name__ == "__main__":
    main()
