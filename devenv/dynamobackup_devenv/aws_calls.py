"""Which AWS calls change state: what tests and benchmarks count to show that a check only reads.

The operator itself never needs this split (it counts every call alike), so it lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

# IAM, STS and Organizations name their operations by verb.
MUTATING_PREFIXES = (
    "Create",
    "Put",
    "Update",
    "Delete",
    "Attach",
    "Detach",
    "Tag",
    "Untag",
    "Remove",
    "Add",
    "Set",
)

Count = TypeVar("Count", int, float)


def mutating(by_operation: Mapping[str, Count]) -> dict[str, Count]:
    """The calls that change AWS state, by operation name."""
    return {op: n for op, n in by_operation.items() if op.startswith(MUTATING_PREFIXES)}
