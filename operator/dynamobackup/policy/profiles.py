"""Permission profiles: the actions each Veeam operation needs, versioned by Veeam release.

Profiles are data files (`profiles/veeam-<version>.yaml`) shipped in the package; supporting a new
Veeam release means adding a file, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

PROFILE_FILE_PREFIX = "veeam-"
PROFILE_FILE_SUFFIX = ".yaml"


class UnknownProfileError(ValueError):
    """A profile version or operation that is not shipped."""


class OperationProfile(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    description: str
    source: str = Field(description="Help page the actions were taken from.")
    source_updated: str | None = Field(default=None, alias="sourceUpdated")
    actions: tuple[str, ...]

    @field_validator("actions")
    @classmethod
    def _no_duplicates(cls, actions: tuple[str, ...]) -> tuple[str, ...]:
        lowered = [action.lower() for action in actions]
        duplicates = sorted({action for action in lowered if lowered.count(action) > 1})
        if duplicates:
            raise ValueError(f"duplicate actions: {', '.join(duplicates)}")
        return actions


class Profile(BaseModel):
    """All operations of one Veeam release."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    version: str
    product: str
    product_build: str = Field(alias="productBuild")
    resource: str = "*"
    trusted_services: tuple[str, ...] = Field(alias="trustedServices")
    operations: Mapping[str, OperationProfile]

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


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@cache
def list_versions() -> tuple[str, ...]:
    """Shipped profile versions, oldest first."""
    folder = resources.files(__package__).joinpath("profiles")
    names = (entry.name for entry in folder.iterdir())
    versions = (
        name[len(PROFILE_FILE_PREFIX) : -len(PROFILE_FILE_SUFFIX)]
        for name in names
        if name.startswith(PROFILE_FILE_PREFIX) and name.endswith(PROFILE_FILE_SUFFIX)
    )
    return tuple(sorted(versions, key=_version_key))


def newest_version() -> str:
    return list_versions()[-1]


@cache
def load_profile(version: str | None = None) -> Profile:
    """The profile of a Veeam release; the newest shipped one when `version` is None."""
    version = version or newest_version()
    if version not in list_versions():
        known = ", ".join(list_versions())
        raise UnknownProfileError(f"unknown profile version {version!r} (shipped: {known})")
    path = resources.files(__package__).joinpath(
        "profiles", f"{PROFILE_FILE_PREFIX}{version}{PROFILE_FILE_SUFFIX}"
    )
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    profile = Profile.model_validate(data)
    if profile.version != version:
        raise UnknownProfileError(f"{path.name} declares version {profile.version!r}")
    return profile


class OperationChange(BaseModel):
    """How one operation differs between two releases (actions compared case-insensitively)."""

    model_config = ConfigDict(frozen=True)

    operation: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    source_changed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


class ProfileDiff(BaseModel):
    """What changed from one Veeam release's profile to another's."""

    model_config = ConfigDict(frozen=True)

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
