"""An object's shard is fixed for good: across processes, restarts and operator upgrades.

During a rolling upgrade the old and the new operator run side by side; if the hash moved an
object, two processes would both, or neither, handle it. So the shards of a few objects are
pinned here as published values, not recomputed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from dynamobackup.reconcile.shard import Shard, shard_of

PINNED = [
    ("team-a", "backup-role", 4, 3),
    ("team-a", "restore-role", 4, 0),
    ("team-b", "backup-role", 4, 3),
    ("prod", "dynamodb-backup", 7, 0),
    ("prod", "dynamodb-backup", 1000, 69),
]


@pytest.mark.parametrize(("namespace", "name", "count", "shard"), PINNED)
def test_an_objects_shard_never_changes(namespace: str, name: str, count: int, shard: int) -> None:
    assert shard_of(namespace, name, count) == shard
    owners = [index for index in range(count) if Shard(index, count).owns(namespace, name)]
    assert owners == [shard]


def test_with_two_shards_every_object_has_exactly_one_owner() -> None:
    shards = [Shard.parse("0/2"), Shard.parse("1/2")]
    names = [(f"team-{i % 5}", f"role-{i}") for i in range(1000)]
    owners = Counter(tuple(s.index for s in shards if s.owns(*name)) for name in names)
    assert set(owners) == {(0,), (1,)}
    assert 450 < owners[(0,)] < 550
