"""Reading the CLI's inputs; every failure becomes a one-line UsageError (exit 2)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from dynamobackup.cli.errors import UsageError
from dynamobackup.policy.document import PolicyDocument, PolicyDocumentError, parse_document
from dynamobackup.policy.profiles import Profile, UnknownProfileError, load_profile
from dynamobackup.policy.trust import Appliance

STDIN = Path("-")


def load_document(path: Path) -> PolicyDocument:
    """A policy document from a file, or from standard input when the path is `-`."""
    try:
        text = sys.stdin.read() if path == STDIN else path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    try:
        return parse_document(text, source="<stdin>" if path == STDIN else str(path))
    except PolicyDocumentError as error:
        raise UsageError(str(error)) from None


def resolve_profile(
    version: str | None, operation_args: Sequence[str]
) -> tuple[Profile, tuple[str, ...]]:
    """The profile and the deduplicated operations from repeated, comma-separated --operations."""
    names = [name.strip() for arg in operation_args for name in arg.split(",") if name.strip()]
    if not names:
        raise UsageError("--operations needs at least one of BackupPolicy, ManualBackup, Restore")
    try:
        profile = load_profile(version)
        for name in names:
            profile.operation(name)
    except UnknownProfileError as error:
        raise UsageError(str(error)) from None
    return profile, tuple(dict.fromkeys(names))


def resolve_appliance(value: str) -> Appliance:
    try:
        return Appliance.parse(value)
    except ValueError as error:
        raise UsageError(str(error)) from None
