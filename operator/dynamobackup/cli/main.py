"""Entry point of the `dbr` command: wires the subcommands and turns bad input into exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dynamobackup.cli.errors import UsageError

# Each module exposes register(subparsers); imported lazily so `dbr check` never loads kopf.
SUBCOMMAND_MODULES = ("check", "profiles", "render", "report", "run")
DISTRIBUTION = "dynamo-backup-role-operator"
# Other distributions add subcommands through this entry point group (the development
# environment adds `dbr dev`), so the operator package never imports them.
PLUGIN_GROUP = "dynamobackup.cli"


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the whole usage on error; users asked for one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


class _VersionAction(argparse.Action):
    """--version, reading the installed version only when asked (importlib.metadata is slow)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command` (a built-in subcommand) only that one is loaded."""
    parser = OneLineErrorParser(
        prog="dbr",
        description="Check, render and enforce Veeam Backup for AWS DynamoDB backup IAM roles.",
    )
    parser.add_argument("--version", action=_VersionAction, default=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(
        dest="command", required=True, parser_class=OneLineErrorParser
    )
    for register in _registrations(command):
        register(subparsers)
    return parser


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _registrations(command: str | None) -> Iterator[Callable[[Any], None]]:
    # A cold `dbr check` loads neither the other subcommands nor the plugin entry points.
    names = (command,) if command in SUBCOMMAND_MODULES else SUBCOMMAND_MODULES
    for name in names:
        yield importlib.import_module(f"dynamobackup.cli.{name}").register
    if command in SUBCOMMAND_MODULES:
        return
    from importlib.metadata import entry_points

    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda entry: entry.name):
        yield plugin.load()


def _command(arguments: Sequence[str]) -> str | None:
    return next((argument for argument in arguments if not argument.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(_command(arguments)).parse_args(arguments)
        return int(args.handler(args))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
