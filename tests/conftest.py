"""Shared pytest configuration: a test's tier is the folder it lives in (tests/<tier>/...)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("envfixtures",)

TIERS = ("unit", "integration", "e2e", "faults", "image")
TESTS_ROOT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS_ROOT).parts[0]
        if tier not in TIERS:
            # A test outside the tier folders would silently drop out of the CI selection.
            raise pytest.UsageError(f"{item.nodeid} is not under tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))
