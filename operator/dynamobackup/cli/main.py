"""Entry point of the `dbr` command: wires the subcommands and turns bad input into exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Any

from dynamobackup.cli.errors import UsageError

# Each module exposes register(subparsers); imported lazily so `dbr check` never loads kopf.
SUBCOMMAND_MODULES = ("check", "profiles", "render", "run")
DISTRIBUTION = "dynamo-backup-role-operator"
# Other distributions add subcommands through this entry point group (the development
# environment adds `dbr dev`), so the operator package never imports them.
PLUGIN_GROUP = "dynamobackup.cli"


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the whole usage on error; users asked for one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="dbr",
        description="Check, render and enforce Veeam Backup for AWS DynamoDB backup IAM roles.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(
        dest="command", required=True, parser_class=OneLineErrorParser
    )
    for register in _registrations():
        register(subparsers)
    return parser


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _registrations() -> Iterator[Callable[[Any], None]]:
    for name in SUBCOMMAND_MODULES:
        yield importlib.import_module(f"dynamobackup.cli.{name}").register
    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda entry: entry.name):
        yield plugin.load()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
