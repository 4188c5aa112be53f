"""Shared pytest configuration: a test's tier is the folder it lives in (tests/<tier>/...)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ("envfixtures",)

TIERS = ("unit", "integration", "e2e", "faults", "image")
TESTS_ROOT = Path(__file__).parent

# Property tests explore new examples on every run; scripts/mutation runs them derandomised (the
# same examples every time, no example database, fewer of them: each survivor reruns them), so
# its recorded score is reproducible.
settings.register_profile("explore", max_examples=150, deadline=None)
settings.register_profile(
    "mutation", max_examples=60, deadline=None, derandomize=True, database=None
)
settings.load_profile(os.environ.get("DBR_HYPOTHESIS_PROFILE", "explore"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS_ROOT).parts[0]
        if tier not in TIERS:
            # A test outside the tier folders would silently drop out of the CI selection.
            raise pytest.UsageError(f"{item.nodeid} is not under tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))
