"""The mutation score of a finished `mutmut run`: the stage directory is the argument.

Killed counts a mutant that a test failed on or that made the tests time out (an endless loop
is noticed too); every other mutant (survived, no tests, suspicious) is listed by name.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

DETECTED = {"killed", "timeout"}


def main(stage: Path) -> None:
    counts: Counter[str] = Counter()
    left: list[str] = []
    for meta in sorted((stage / "mutants").rglob("*.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[code]
            counts[status] += 1
            if status not in DETECTED:
                left.append(f"{status}: {name}")
    total = sum(counts.values())
    detected = sum(counts[status] for status in DETECTED)
    print("\n".join(sorted(left)))
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    print(f"mutation score: {detected} of {total} mutants killed ({100 * detected / total:.1f}%)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
