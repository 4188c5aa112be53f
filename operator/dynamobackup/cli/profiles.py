"""`dbr profiles`: the shipped Veeam releases, their sources, and what changed between two of them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dynamobackup.cli.errors import UsageError
from dynamobackup.policy.profiles import (
    Profile,
    ProfileDiff,
    UnknownProfileError,
    diff_profiles,
    list_versions,
    load_profile,
)

OUTPUT_FORMATS = ("text", "json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profiles",
        help="list the Veeam releases whose permission profiles ship, or compare two",
        description="Without --diff: every shipped Veeam release, its product build, the actions "
        "of each operation and the help page they come from. With --diff OLD NEW: the actions, "
        "operations and trusted services that differ between two releases.",
    )
    parser.add_argument(
        "--diff",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="show what changed from release OLD to release NEW",
    )
    parser.add_argument("--output", choices=OUTPUT_FORMATS, default="text")
    parser.set_defaults(handler=run_profiles)


def run_profiles(args: argparse.Namespace) -> int:
    if args.diff:
        old, new = (_load(version) for version in args.diff)
        diff = diff_profiles(old, new)
        print(json.dumps(_diff_json(diff), indent=2) if args.output == "json" else _diff_text(diff))
        return 0
    profiles = [load_profile(version) for version in list_versions()]
    if args.output == "json":
        print(json.dumps({"profiles": [_profile_json(p) for p in profiles]}, indent=2))
    else:
        print("\n\n".join(_profile_text(p) for p in profiles))
    return 0


def _load(version: str) -> Profile:
    try:
        return load_profile(version)
    except UnknownProfileError as error:
        raise UsageError(str(error)) from None


def _profile_json(profile: Profile) -> dict[str, Any]:
    return {
        "version": profile.version,
        "product": profile.product,
        "productBuild": profile.product_build,
        "trustedServices": list(profile.trusted_services),
        "operations": {
            name: {
                "actionCount": len(operation.actions),
                "source": operation.source,
                "sourceUpdated": operation.source_updated,
            }
            for name, operation in profile.operations.items()
        },
    }


def _profile_text(profile: Profile) -> str:
    lines = [
        f"Veeam {profile.version}: {profile.product}, build {profile.product_build}",
        f"  trusted services: {', '.join(profile.trusted_services)}",
    ]
    for name, operation in profile.operations.items():
        updated = f" (updated {operation.source_updated})" if operation.source_updated else ""
        lines.append(f"  {name}: {len(operation.actions)} actions, {operation.source}{updated}")
    return "\n".join(lines)


def _diff_json(diff: ProfileDiff) -> dict[str, Any]:
    return {
        "old": diff.old,
        "new": diff.new,
        "permissionsChanged": diff.permissions_changed,
        "operationsAdded": list(diff.operations_added),
        "operationsRemoved": list(diff.operations_removed),
        "trustedServicesAdded": list(diff.trusted_services_added),
        "trustedServicesRemoved": list(diff.trusted_services_removed),
        "operations": {
            change.operation: {
                "added": list(change.added),
                "removed": list(change.removed),
                "sourceChanged": change.source_changed,
            }
            for change in diff.operations
        },
    }


def _diff_text(diff: ProfileDiff) -> str:
    lines = [f"Veeam {diff.old} -> {diff.new}"]
    for label, items in (
        ("operations added", diff.operations_added),
        ("operations removed", diff.operations_removed),
        ("trusted services added", diff.trusted_services_added),
        ("trusted services removed", diff.trusted_services_removed),
    ):
        if items:
            lines.append(f"  {label}: {', '.join(items)}")
    for change in diff.operations:
        if not change.changed:
            moved = " (documented on another page)" if change.source_changed else ""
            lines.append(f"  {change.operation}: unchanged{moved}")
            continue
        lines.append(f"  {change.operation}:")
        lines += [f"    + {action}" for action in change.added]
        lines += [f"    - {action}" for action in change.removed]
    if not diff.permissions_changed:
        lines.append(
            "  no permission changes: roles compliant with one are compliant with the other"
        )
    return "\n".join(lines)
