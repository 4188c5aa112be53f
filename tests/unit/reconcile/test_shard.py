"""Objects split over shards: every object has exactly one owner, and the split is even."""

from __future__ import annotations

from collections import Counter

import pytest

from dynamobackup.reconcile.shard import Shard, shard_of

pytestmark = pytest.mark.unit


def test_every_object_has_exactly_one_owner_and_the_split_is_even() -> None:
    shards = [Shard(i, 3) for i in range(3)]
    names = [(f"team-{i % 7}", f"role-{i}") for i in range(3000)]
    owners = Counter(sum(shard.owns(*name) for shard in shards) for name in names)
    assert owners == {1: 3000}
    sizes = Counter(shard_of(*name, 3) for name in names)
    assert all(900 < size < 1100 for size in sizes.values()), sizes


def test_the_owner_depends_only_on_namespace_and_name() -> None:
    assert shard_of("a", "b", 5) == shard_of("a", "b", 5)
    assert Shard().owns("any", "thing")


@pytest.mark.parametrize("text", ["2/2", "x/2", "1", "-1/2", "0/0", ""])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--shard"):
        Shard.parse(text)


def test_a_shard_reads_back_as_written() -> None:
    assert str(Shard.parse("1/4")) == "1/4" and Shard.parse("1/4") == Shard(1, 4)
