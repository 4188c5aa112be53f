"""`dbr check`: is a role's set of policies compliant with the Veeam profile? No AWS access needed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dynamobackup.cli.check_text import render_text
from dynamobackup.cli.errors import UsageError
from dynamobackup.cli.inputs import STDIN, load_document, resolve_appliance, resolve_profile
from dynamobackup.policy.normalize import ACCOUNT_ID
from dynamobackup.policy.verdict import Expectation, PolicySource, RoleDocuments, judge

OUTPUT_FORMATS = ("json", "text")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check IAM policy documents against a Veeam permission profile",
        description="Evaluate identity policies (and optionally a permissions boundary and a trust "
        "policy) locally, the way AWS would, for the actions Veeam needs. Exit 0 compliant, "
        "1 not compliant, 2 bad input.",
    )
    add_operations_arguments(parser)
    parser.add_argument(
        "--policy",
        action="append",
        required=True,
        metavar="FILE",
        type=Path,
        help="an identity policy document (inline or managed); repeat for each; - reads stdin",
    )
    parser.add_argument(
        "--boundary", metavar="FILE", type=Path, help="the permissions boundary (- reads stdin)"
    )
    parser.add_argument(
        "--trust", metavar="FILE", type=Path, help="the role's trust policy (- reads stdin)"
    )
    add_appliance_arguments(parser)
    parser.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        help="the role's own 12-digit account: aws:SourceAccount and aws:SourceArn conditions on "
        "the AWS Backup statement must name it (default: accept them)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="excess permissions and extra trusted principals make the role non-compliant",
    )
    parser.add_argument("--output", choices=OUTPUT_FORMATS, default="text")
    parser.set_defaults(handler=run_check)


def add_operations_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operations",
        required=True,
        action="append",
        metavar="OP[,OP...]",
        help="Veeam operations the role serves: BackupPolicy, ManualBackup, Restore",
    )
    parser.add_argument(
        "--profile-version",
        metavar="VERSION",
        help="Veeam release of the permission profile (default: newest shipped)",
    )


def add_appliance_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--appliance",
        metavar="ARN_OR_ACCOUNT",
        help="the Veeam appliance's IAM role ARN or its 12-digit account ID",
    )
    parser.add_argument(
        "--external-id", metavar="ID", help="external ID the appliance must present"
    )


def run_check(args: argparse.Namespace) -> int:
    if args.trust and not args.appliance:
        raise UsageError("--trust needs --appliance (the Veeam appliance's role ARN or account ID)")
    # Without a trust policy there is nothing to check them against; silence would read as a pass.
    for flag, value in (("--appliance", args.appliance), ("--external-id", args.external_id)):
        if value and not args.trust:
            raise UsageError(f"{flag} needs --trust (the role's trust policy to check)")
    inputs = [*args.policy, args.boundary, args.trust]
    if sum(path == STDIN for path in inputs) > 1:
        raise UsageError("only one of --policy, --boundary and --trust can read stdin (-)")
    if args.account is not None and not ACCOUNT_ID.match(args.account):
        raise UsageError(f"--account must be a 12-digit account ID, got {args.account!r}")
    profile, operations = resolve_profile(args.profile_version, args.operations)
    expectation = Expectation(
        profile=profile,
        operations=operations,
        required_actions=profile.required_actions(operations),
        appliance=resolve_appliance(args.appliance) if args.appliance else None,
        external_id=args.external_id,
        account_id=args.account,
        strict=args.strict,
    )
    verdict = judge(expectation, role_documents(args))
    if args.output == "json":
        print(json.dumps(verdict.to_json(), indent=2))
    else:
        print(render_text(verdict))
    return 0 if verdict.compliant else 1


def role_documents(args: argparse.Namespace) -> RoleDocuments:
    """The same value the operator builds from IAM, here from the files given."""

    def source(path: Path) -> PolicySource:
        return PolicySource(str(path), load_document(path))

    return RoleDocuments(
        policies=tuple(source(path) for path in args.policy),
        trust=source(args.trust) if args.trust else None,
        boundary=source(args.boundary) if args.boundary else None,
    )
