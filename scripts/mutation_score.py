"""The mutation score of a finished `mutmut run`, per module: the stage directory is the argument.

Killed counts a mutant that a test failed on or that made the tests time out (an endless loop
is noticed too); every other checked mutant (survived, no tests, suspicious) is listed by name.
Mutants a scoped run did not check are left out of the counts.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from mutmut.stats import status_by_exit_code

DETECTED = {"killed", "timeout"}


def main(stage: Path) -> None:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    left: list[str] = []
    for meta in sorted((stage / "mutants").rglob("*.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[code]
            if status == "not checked":
                continue
            by_module[name.split(".x", 1)[0].split(".x_", 1)[0]][status] += 1
            if status not in DETECTED:
                left.append(f"{status}: {name}")
    print("\n".join(sorted(left)))
    total: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        print(f"{module}: {_line(counts)}")
    print(f"all checked: {_line(total)}")


def _line(counts: Counter[str]) -> str:
    n = sum(counts.values())
    detected = sum(counts[status] for status in DETECTED)
    details = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"{detected} of {n} killed ({100 * detected / max(n, 1):.1f}%): {details}"


if __name__ == "__main__":
    main(Path(sys.argv[1]))
