"""Which IAM, STS and Organizations operations the operator's code can call, read from its source.

Any attribute named like an IAM or STS client method counts, whatever object it is read from, and
whether or not it is called on the spot (apply.py passes bound methods to a helper). Paginators and
waiters count by the operation named in their string argument.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

import dynamobackup

PACKAGE = Path(dynamobackup.__file__).parent
AWS_LAYER = PACKAGE / "aws"
SERVICES = ("iam", "sts", "organizations")
FACTORIES = frozenset({"get_paginator", "get_waiter"})

# IAM authorizes tags passed to a Create call as a second action on the new resource.
TAG_ON_CREATE = {"iam:CreateRole": "iam:TagRole", "iam:CreatePolicy": "iam:TagPolicy"}


@cache
def operations() -> dict[str, str]:
    """snake_case client method -> `service:OperationName`, for every IAM, STS and Organizations
    operation. Where services share a method name (create_policy, delete_policy, list_policies),
    the first service listed wins: IAM's, since the code calls no Organizations write."""
    session = botocore.session.get_session()
    names: dict[str, str] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            names.setdefault(xform_name(operation), f"{service}:{operation}")
    return names


def calls_in_source(source: str, where: str = "<source>") -> set[str]:
    known = operations()
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Attribute) and node.attr in known:
            found.add(known[node.attr])
        if isinstance(node, ast.Call) and _factory_name(node) in FACTORIES:
            found.add(_factory_operation(node, where))
    return found


def _factory_name(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _factory_operation(call: ast.Call, where: str) -> str:
    argument = call.args[0] if call.args else None
    name = argument.value if isinstance(argument, ast.Constant) else None
    if not isinstance(name, str) or name not in operations():
        # A computed name cannot be checked against the policy: write it as a literal.
        raise ValueError(f"{where}:{call.lineno}: paginator or waiter of a non-literal operation")
    return operations()[name]


def calls_in_aws_layer() -> set[str]:
    found: set[str] = set()
    for path in sorted(AWS_LAYER.glob("*.py")):
        found |= calls_in_source(path.read_text(), str(path))
    return found


def required_actions() -> set[str]:
    """What the operator's principal must be allowed: every call plus tag-on-create."""
    calls = calls_in_aws_layer()
    return calls | {TAG_ON_CREATE[c] for c in calls if c in TAG_ON_CREATE}


def modules_importing_aws_sdk() -> set[Path]:
    """Modules that import boto3 or botocore (and so could call AWS outside the scanned layer)."""
    found: set[Path] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = _imported_modules(node)
            if any(n.split(".")[0] in {"boto3", "botocore"} for n in names):
                found.add(path)
    return found


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    return []
