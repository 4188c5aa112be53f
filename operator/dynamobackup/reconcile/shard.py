"""Which operator process owns an object: a stable hash of namespace/name, modulo the shard count.

One process handles a few thousand roles (docs/benchmarks.md); past that the objects are split
over N processes (`dbr run --shard I/N`, the chart's `shards`), each with its own Lease and
standby. The hash depends on nothing but the object's namespace and name, so every process agrees
on the owner without talking to the others, and an object never changes shard during its life.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N` with 0 <= I < N, as `--shard` takes it; raises ValueError otherwise."""
        index, slash, count = text.partition("/")
        if not slash or not index.isdigit() or not count.isdigit():
            raise ValueError(f"--shard {text!r}: expected INDEX/COUNT, like 0/2")
        shard = cls(int(index), int(count))
        if not 0 <= shard.index < shard.count:
            raise ValueError(f"--shard {text!r}: the index must be at least 0 and below the count")
        return shard

    def owns(self, namespace: str, name: str) -> bool:
        return self.count == 1 or shard_of(namespace, name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(namespace: str, name: str, count: int) -> int:
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count
