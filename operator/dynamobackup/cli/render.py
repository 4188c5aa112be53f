"""`dbr render`: the least-privilege policies for chosen operations, as IAM JSON or as IaC snippets."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import yaml

from dynamobackup.cli.check import add_appliance_arguments, add_operations_arguments
from dynamobackup.cli.errors import UsageError
from dynamobackup.cli.inputs import resolve_appliance, resolve_profile
from dynamobackup.policy.document import PolicyDocument
from dynamobackup.policy.least_privilege import (
    MANAGED_POLICY_MAX_CHARS,
    PolicyTooLargeError,
    permission_documents,
    trust_document,
)

FORMATS = ("json", "cloudformation", "terraform")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the least-privilege permission (and trust) policy for Veeam operations",
        description="Print the permission policy documents a role needs for the chosen operations "
        "(split under the managed-policy size limit) and, with --appliance, its trust policy.",
    )
    add_operations_arguments(parser)
    add_appliance_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="json")
    parser.add_argument(
        "--role-name",
        default="VeeamDynamoDBBackup",
        help="role name used in CloudFormation and Terraform output",
    )
    parser.add_argument(
        "--max-policy-size",
        type=int,
        default=MANAGED_POLICY_MAX_CHARS,
        metavar="CHARS",
        help="split documents above this size (IAM: 6144)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="also write permissions-N.json and trust.json into DIR",
    )
    parser.set_defaults(handler=run_render)


def run_render(args: argparse.Namespace) -> int:
    if args.external_id and not args.appliance:
        raise UsageError("--external-id needs --appliance")
    if args.format != "json" and not args.appliance:
        raise UsageError(
            f"--format {args.format} needs --appliance: a role cannot exist without a trust policy"
        )
    if not ROLE_NAME.match(args.role_name):
        raise UsageError(f"--role-name {args.role_name!r} is not a valid IAM role name")
    profile, operations = resolve_profile(args.profile_version, args.operations)
    try:
        permissions = permission_documents(
            profile.required_actions(operations),
            resource=profile.resource,
            max_chars=args.max_policy_size,
        )
    except PolicyTooLargeError as error:
        raise UsageError(f"--max-policy-size too small: {error}") from None
    trust = None
    if args.appliance:
        trust = trust_document(
            resolve_appliance(args.appliance),
            external_id=args.external_id,
            services=profile.trusted_services,
        )
    if args.output_dir:
        write_documents(args.output_dir, permissions, trust)
    renderers = {"json": as_json, "cloudformation": as_cloudformation, "terraform": as_terraform}
    print(renderers[args.format](args.role_name, permissions, trust))
    return 0


def write_documents(
    folder: Path, permissions: list[PolicyDocument], trust: PolicyDocument | None
) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for index, document in enumerate(permissions, start=1):
            (folder / f"permissions-{index}.json").write_text(document.to_json(indent=2) + "\n")
        if trust is not None:
            (folder / "trust.json").write_text(trust.to_json(indent=2) + "\n")
    except OSError as error:
        raise UsageError(f"cannot write into {folder}: {error.strerror or error}") from None


def as_json(
    _role_name: str, permissions: list[PolicyDocument], trust: PolicyDocument | None
) -> str:
    bundle = {
        "permissionPolicies": [document.to_iam() for document in permissions],
        "trustPolicy": trust.to_iam() if trust else None,
    }
    return json.dumps(bundle, indent=2)


def _policy_name(role_name: str, index: int, count: int) -> str:
    return f"{role_name}-permissions" + (f"-{index}" if count > 1 else "")


def as_cloudformation(
    role_name: str, permissions: list[PolicyDocument], trust: PolicyDocument | None
) -> str:
    assert trust is not None
    policies = [
        {
            "PolicyName": _policy_name(role_name, index, len(permissions)),
            "PolicyDocument": doc.to_iam(),
        }
        for index, doc in enumerate(permissions, start=1)
    ]
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": role_name,
            "Description": "Veeam Backup for AWS DynamoDB backup role",
            "AssumeRolePolicyDocument": trust.to_iam(),
            "Policies": policies,
        },
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {_logical_id(role_name): role},
    }
    return yaml.safe_dump(template, sort_keys=False, width=100)


def as_terraform(
    role_name: str, permissions: list[PolicyDocument], trust: PolicyDocument | None
) -> str:
    assert trust is not None
    name = _terraform_name(role_name)
    blocks = [
        f'resource "aws_iam_role" "{name}" {{\n'
        f'  name               = "{role_name}"\n'
        f'  description        = "Veeam Backup for AWS DynamoDB backup role"\n'
        f"  assume_role_policy = {_heredoc(trust)}\n}}\n"
    ]
    for index, document in enumerate(permissions, start=1):
        blocks.append(
            f'resource "aws_iam_role_policy" "{name}_{index}" {{\n'
            f'  name   = "{_policy_name(role_name, index, len(permissions))}"\n'
            f"  role   = aws_iam_role.{name}.id\n"
            f"  policy = {_heredoc(document)}\n}}\n"
        )
    return "\n".join(blocks)


def _heredoc(document: PolicyDocument) -> str:
    body = "\n".join("    " + line for line in document.to_json(indent=2).splitlines())
    return f"<<-EOT\n{body}\n  EOT"


def _logical_id(role_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", role_name) or "DynamoBackupRole"


def _terraform_name(role_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", role_name).lower()
    return name if name[:1].isalpha() else f"role_{name}"
