"""The Veeam help pages' permission lists, read from their checked-in text (tests/data/sources/).

The one independent source of the profiles' actions and counts: tests compare the shipped
profiles with these lists and take every count from them, never from the profile files they test.
The backup page is the seed page as published (its JSON is invalid, so the actions are read as
quoted `service:Action` names, never parsed as JSON); the restore page is not stored, so its list
is the transcription in the project's reference facts.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SOURCES = Path(__file__).parent / "data" / "sources"
BACKUP_PAGE = SOURCES / "vbaws-10-role_permissions_backup_dynamo.md"
RESTORE_PAGE = SOURCES / "vbaws-10-role_permissions_restore_dynamo.md"

# The paragraph of the backup page that introduces each operation's list.
BACKUP_SECTIONS = {
    "BackupPolicy": "IAM roles specified in the [backup policy settings]",
    "ManualBackup": "IAM roles used to perform backup operations manually",
}
QUOTED_ACTION = re.compile(r'"([a-z0-9-]+:[A-Za-z0-9]+)')


@cache
def documented_actions(operation: str) -> tuple[str, ...]:
    """The actions the Veeam 10 help page lists for `operation`, in the page's order."""
    if operation == "Restore":
        return _restore_actions()
    text = BACKUP_PAGE.read_text()
    start = text.index(BACKUP_SECTIONS[operation])
    table = text[text.index("| {", start) : text.index("} |", start)]
    return tuple(QUOTED_ACTION.findall(table))


def documented_count(*operations: str) -> int:
    """How many distinct actions the listed operations need together (case-insensitively)."""
    return len({a.lower() for op in operations for a in documented_actions(op)})


def _restore_actions() -> tuple[str, ...]:
    text = RESTORE_PAGE.read_text()
    listing = " ".join(text[text.index("actions:") + len("actions:") :].split()).rstrip(".")
    actions: list[str] = []
    for entry in listing.split(";"):
        service, _, names = entry.strip().strip("`").partition(":")
        names = names.lstrip("`")
        actions += [f"{service}:{name.strip()}" for name in names.split(",") if name.strip()]
    return tuple(actions)
