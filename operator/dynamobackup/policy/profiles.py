"""Permission profiles: the actions each Veeam operation needs, versioned by Veeam release.

Profiles are data files (`profiles/veeam-<version>.yaml`), one per Veeam release; supporting a new
release means adding a file and running `make catalog`, which writes all of them as one JSON file
(`profiles/compiled.json`, checked by a unit test like the action catalog). The package reads that
file: `dbr check` loads a profile on every run, and importing PyYAML alone cost it about 28 ms. For
the same reason the types are plain frozen dataclasses checked by a short parser, not pydantic
models (building those was most of a cold check's start-up).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from dynamobackup.policy import shipped

PROFILE_FILE_PREFIX = "veeam-"
PROFILE_FILE_SUFFIX = ".yaml"
COMPILED_FILE = "compiled.json"


class UnknownProfileError(ValueError):
    """A profile version or operation that is not shipped."""


class ProfileFileError(ValueError):
    """A shipped profile file that does not describe a profile; the message names the field."""


@dataclass(frozen=True)
class OperationProfile:
    description: str
    source: str  # the help page the actions were taken from
    actions: tuple[str, ...]
    source_updated: str | None = None


@dataclass(frozen=True)
class Profile:
    """All operations of one Veeam release."""

    version: str
    product: str
    product_build: str
    trusted_services: tuple[str, ...]
    operations: Mapping[str, OperationProfile]
    resource: str = "*"

    def operation(self, name: str) -> OperationProfile:
        try:
            return self.operations[name]
        except KeyError:
            known = ", ".join(self.operations)
            raise UnknownProfileError(
                f"unknown operation {name!r} for Veeam {self.version} (known: {known})"
            ) from None

    def required_actions(self, operations: Iterable[str]) -> tuple[str, ...]:
        """The union of the actions of `operations`, sorted case-insensitively, without duplicates."""
        by_lower: dict[str, str] = {}
        for name in operations:
            for action in self.operation(name).actions:
                by_lower.setdefault(action.lower(), action)
        return tuple(sorted(by_lower.values(), key=str.lower))

    def sources(self, operations: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({self.operation(name).source for name in operations}))


def version_key(version: str) -> tuple[int, ...]:
    """Sorts release numbers as numbers: 9 before 10."""
    return tuple(int(part) for part in version.split("."))


def profile_file_name(version: str) -> str:
    return f"{PROFILE_FILE_PREFIX}{version}{PROFILE_FILE_SUFFIX}"


@cache
def _compiled() -> Mapping[str, Any]:
    """Each shipped profile file's data by version, as `make catalog` wrote them."""
    profiles: Mapping[str, Any] = json.loads(shipped.read_text("profiles", COMPILED_FILE))[
        "profiles"
    ]
    return profiles


@cache
def list_versions() -> tuple[str, ...]:
    """Shipped profile versions, oldest first."""
    return tuple(sorted(_compiled(), key=version_key))


def newest_version() -> str:
    return list_versions()[-1]


@cache
def load_profile(version: str | None = None) -> Profile:
    """The profile of a Veeam release; the newest shipped one when `version` is None."""
    version = version or newest_version()
    if version not in list_versions():
        known = ", ".join(list_versions())
        raise UnknownProfileError(f"unknown profile version {version!r} (shipped: {known})")
    name = profile_file_name(version)
    try:
        profile = parse_profile(_compiled()[version])
    except ProfileFileError as error:
        raise ProfileFileError(f"{name}: {error}") from None
    if profile.version != version:
        raise UnknownProfileError(f"{name} declares version {profile.version!r}")
    return profile


# --- reading a profile file -----------------------------------------------------------------

_PROFILE_KEYS = {"version", "product", "productBuild", "resource", "trustedServices", "operations"}
_OPERATION_KEYS = {"description", "source", "sourceUpdated", "actions"}


def parse_profile(data: Any) -> Profile:
    """A profile from a profile file's data; raises ProfileFileError naming the field."""
    _check_keys(data, _PROFILE_KEYS, "")
    operations = data.get("operations")
    if not isinstance(operations, Mapping) or not operations:
        raise ProfileFileError("operations: must map operation names to their actions")
    resource = _optional_string(data, "resource", "")
    return Profile(
        version=_string(data, "version", ""),
        product=_string(data, "product", ""),
        product_build=_string(data, "productBuild", ""),
        resource="*" if resource is None else resource,
        trusted_services=_strings(data, "trustedServices", ""),
        operations=MappingProxyType(
            {
                str(name): _operation(value, f"operations.{name}.")
                for name, value in operations.items()
            }
        ),
    )


def _operation(data: Any, where: str) -> OperationProfile:
    _check_keys(data, _OPERATION_KEYS, where)
    description = _string(data, "description", where)
    source = _string(data, "source", where)
    source_updated = _optional_string(data, "sourceUpdated", where)
    actions = _strings(data, "actions", where)
    lowered = [action.lower() for action in actions]
    duplicates = sorted({action for action in lowered if lowered.count(action) > 1})
    if duplicates:
        raise ProfileFileError(f"{where}actions: duplicate actions: {', '.join(duplicates)}")
    return OperationProfile(description, source, actions, source_updated)


def _check_keys(data: Any, allowed: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ProfileFileError(f"{where.removesuffix('.') or 'the file'}: must be a mapping")
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ProfileFileError(f"{where}{unknown[0]}: unknown field")


def _string(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _optional_string(data, key, where)
    if value is None:
        raise ProfileFileError(f"{where}{key}: required")
    return value


def _optional_string(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        # YAML reads 10 and 2025-04-28 as a number and a date; the files quote such values.
        raise ProfileFileError(f"{where}{key}: must be a string (quote it)")
    return value


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProfileFileError(f"{where}{key}: must be a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class OperationChange:
    """How one operation differs between two releases (actions compared case-insensitively)."""

    operation: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    source_changed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass(frozen=True)
class ProfileDiff:
    """What changed from one Veeam release's profile to another's."""

    old: str
    new: str
    operations_added: tuple[str, ...] = ()
    operations_removed: tuple[str, ...] = ()
    trusted_services_added: tuple[str, ...] = ()
    trusted_services_removed: tuple[str, ...] = ()
    operations: tuple[OperationChange, ...] = ()

    @property
    def permissions_changed(self) -> bool:
        return bool(
            self.operations_added
            or self.operations_removed
            or self.trusted_services_added
            or self.trusted_services_removed
            or any(change.changed for change in self.operations)
        )


def diff_profiles(old: Profile, new: Profile) -> ProfileDiff:
    common = [name for name in new.operations if name in old.operations]
    return ProfileDiff(
        old=old.version,
        new=new.version,
        operations_added=tuple(name for name in new.operations if name not in old.operations),
        operations_removed=tuple(name for name in old.operations if name not in new.operations),
        trusted_services_added=_only_in(new.trusted_services, old.trusted_services),
        trusted_services_removed=_only_in(old.trusted_services, new.trusted_services),
        operations=tuple(
            _diff_operation(name, old.operations[name], new.operations[name]) for name in common
        ),
    )


def _diff_operation(name: str, old: OperationProfile, new: OperationProfile) -> OperationChange:
    return OperationChange(
        operation=name,
        added=_only_in(new.actions, old.actions),
        removed=_only_in(old.actions, new.actions),
        source_changed=old.source != new.source,
    )


def _only_in(items: Iterable[str], others: Iterable[str]) -> tuple[str, ...]:
    lowered = {other.lower() for other in others}
    return tuple(sorted((item for item in items if item.lower() not in lowered), key=str.lower))
