"""`dbr report`: the fleet compliance report over every DynamoBackupRole and DynamoBackupRoleSet
of a cluster (or of `kubectl get -o json` output): a terminal table, JSON, and a self-contained
HTML page. (The text verdict of one role, `dbr check`, is cli/check_text.py.)"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dynamobackup.cli.errors import UsageError
from dynamobackup.reconcile.fleet import FleetReport, RoleRow, fleet_report, objects_of

FORMATS = ("table", "json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="fleet compliance report over all DynamoBackupRoles and sets (table, JSON, HTML)",
        description="Sum up every DynamoBackupRole and DynamoBackupRoleSet: which accounts are "
        "ready for which Veeam operation, the most-missing actions, trust findings and how old "
        "each check is. Reads the cluster (KUBECONFIG or in-cluster) or `kubectl get -o json` "
        "output given with --from.",
    )
    parser.add_argument(
        "--from",
        dest="sources",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="read objects from `kubectl get dbr,dbrs -A -o json` output instead of the "
        "cluster (repeatable; - for stdin)",
    )
    parser.add_argument(
        "--namespace", "-n", action="append", default=[], metavar="NS", help="only this namespace"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="stdout format")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML page here")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    objects = _from_files(args.sources) if args.sources else _from_cluster(args.namespace)
    if args.namespace:
        objects = [
            o for o in objects if (o.get("metadata") or {}).get("namespace") in args.namespace
        ]
    report = fleet_report(objects, datetime.now(UTC))
    if args.html is not None:
        from dynamobackup.cli.report_html import render_html

        try:
            args.html.write_text(render_html(report), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {args.html}: {error.strerror or error}") from None
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_table(report))
    return 0


def _from_files(paths: Iterable[Path]) -> list[Mapping[str, Any]]:
    documents = []
    for path in paths:
        try:
            text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
            document = json.loads(text)
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
        except (UnicodeDecodeError, ValueError) as error:
            raise UsageError(f"{path}: not the JSON of kubectl get -o json ({error})") from None
        if not isinstance(document, dict):
            raise UsageError(f"{path}: not the JSON of kubectl get -o json (not an object)")
        documents.append(document)
    return objects_of(documents)


def _from_cluster(namespaces: list[str]) -> list[Mapping[str, Any]]:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    from dynamobackup.api.v1alpha1 import GROUP, PLURAL, ROLE_SET, VERSION

    try:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    except (ConfigException, OSError):
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except ConfigException:
            raise UsageError("no cluster: set KUBECONFIG, or give --from FILE") from None
    api = client.CustomObjectsApi()
    objects: list[Mapping[str, Any]] = []
    for plural, kind in ((PLURAL, "DynamoBackupRole"), (ROLE_SET.plural, ROLE_SET.kind)):
        scopes: list[str | None] = list(namespaces) or [None]
        for namespace in scopes:
            try:
                listed: Any = (
                    api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
                    if namespace
                    else api.list_cluster_custom_object(GROUP, VERSION, plural)
                )
            except ApiException as error:
                raise UsageError(f"cannot list {plural}: {error.status} {error.reason}") from None
            except Exception as error:  # urllib3: the API server is unreachable
                raise UsageError(f"cannot reach the cluster ({type(error).__name__})") from None
            objects += [{**item, "kind": kind} for item in listed.get("items", [])]
    return objects


def age(seconds: float | None) -> str:
    """A check's age as kubectl shows ages: 45s, 12m, 3h, 2d; `never` without a check."""
    if seconds is None:
        return "never"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _trust(row: RoleRow) -> str:
    errors = sum(f.severity == "error" for f in row.trust_findings)
    warnings = len(row.trust_findings) - errors
    return "ok" if not row.trust_findings else f"{errors}E {warnings}W"


def render_table(report: FleetReport) -> str:
    counts = report.counts
    lines = [
        f"{counts['roles']} roles, {counts['compliant']} compliant, {counts['notCompliant']} not "
        f"compliant, {counts['failing']} failing, {counts['unknown']} unknown; "
        f"{counts['accounts']} accounts, {counts['sets']} sets",
        "",
    ]
    header = (
        "ACCOUNT",
        "NAMESPACE",
        "NAME",
        "SET",
        "MODE",
        "STATE",
        "REASON",
        "MISSING",
        "TRUST",
        "CHECKED",
    )
    rows = [
        (
            r.account_id,
            r.namespace,
            r.name,
            r.role_set or "-",
            r.mode,
            r.state,
            r.reason or "-",
            str(len(r.missing) + len(r.denied)),
            _trust(r),
            age(r.age_seconds(report.generated_at)),
        )
        for r in report.roles
    ]
    lines += _columns(header, rows)
    if report.sets:
        lines += [
            "",
            *_columns(
                (
                    "NAMESPACE",
                    "SET",
                    "ROLE",
                    "SELECTED",
                    "READY",
                    "COMPLIANT",
                    "NON-COMPLIANT",
                    "FAILING",
                ),
                [
                    (
                        s.namespace,
                        s.name,
                        s.role_name,
                        str(s.selected),
                        str(s.ready),
                        str(s.compliant),
                        str(s.non_compliant),
                        str(s.failing),
                    )
                    for s in report.sets
                ],
            ),
        ]
    if report.most_missing:
        lines += ["", "Most-missing actions:"]
        lines += [f"  {count:>4}  {action}" for action, count in report.most_missing[:10]]
    return "\n".join(lines)


def _columns(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
