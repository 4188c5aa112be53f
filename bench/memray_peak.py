"""What the operator held at its high-water mark, from a memray capture (`bench/scale.py --memray`).

Each live allocation at the peak is charged to the innermost frame of its stack that is not the
standard library (so a `copy.deepcopy` made by kopf counts as kopf's) and grouped two ways: by
package and by that frame (file:line, function). `--stacks` also prints the largest full stacks.

    .venv/bin/python bench/memray_peak.py op.bin [--top 25] [--stacks 5]
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from memray import FileReader

MIB = 1024 * 1024
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
Frame = tuple[str, str, int]  # function, file, line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", help="a memray capture file")
    parser.add_argument("--top", type=int, default=25, help="allocation sites to list")
    parser.add_argument("--stacks", type=int, default=0, help="largest full stacks to print")
    args = parser.parse_args()

    reader = FileReader(args.capture)
    meta = reader.metadata
    records = list(reader.get_high_watermark_allocation_records(merge_threads=True))
    total = sum(r.size for r in records)
    by_package: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    under: Counter[str] = Counter()
    by_stack: Counter[tuple[Frame, ...]] = Counter()
    for record in records:
        stack = tuple(record.stack_trace())
        frame = _owner(stack)
        by_package[_package(frame[1]) if frame else "<no Python frame>"] += record.size
        mine = next((f for f in stack if _package(f[1]) == "dynamobackup"), None)
        ours[_site(mine) if mine else "<not under the operator's code>"] += record.size
        for package in {_package(file) for _, file, _ in stack if not _is_stdlib(file)}:
            under[package] += record.size
        by_site[_site(frame) if frame else "<no Python frame>"] += record.size
        by_stack[stack] += record.size

    print(f"capture: {args.capture}, peak heap {meta.peak_memory / MIB:.1f} MiB")
    print(f"live at the high-water mark: {total / MIB:.1f} MiB in {len(records)} stacks\n")
    _table("package (innermost non-stdlib frame)", by_package, total, args.top)
    _table("allocation site (innermost non-stdlib frame)", by_site, total, args.top)
    _table("package anywhere on the stack (overlapping)", under, total, args.top)
    _table("the operator's innermost frame (its code that led to it)", ours, total, args.top)
    for stack, size in by_stack.most_common(args.stacks):
        print(f"\n{size / MIB:.1f} MiB:")
        for function, file, line in [f for f in stack if not _is_stdlib(f[1])][:20]:
            print(f"    {_short(file)}:{line} {function}")
    return 0


def _owner(stack: Sequence[Frame]) -> Frame | None:
    """The innermost frame outside the standard library (the innermost at all when there is none)."""
    for frame in stack:
        if not _is_stdlib(frame[1]):
            return frame
    return stack[0] if stack else None


def _is_stdlib(file: str) -> bool:
    """The standard library, and memray's own launcher (`memray run` is the outermost frame)."""
    path = Path(file)
    if "site-packages" in path.parts:
        return "memray" in path.parts
    return path.is_relative_to(STDLIB) or file.startswith("<frozen")


def _package(file: str) -> str:
    parts = Path(file).parts
    for anchor in ("site-packages", "operator", "devenv"):
        if anchor in parts:
            rest = parts[parts.index(anchor) + 1 :]
            return rest[0].removesuffix(".py") if rest else file
    return "stdlib" if _is_stdlib(file) else _short(file)


def _site(frame: Frame) -> str:
    function, file, line = frame
    return f"{_short(file)}:{line} {function}"


def _short(file: str) -> str:
    parts = Path(file).parts
    for anchor in ("site-packages", "operator", "devenv"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    if Path(file).is_relative_to(STDLIB):
        return str(Path(file).relative_to(STDLIB))
    return file


def _table(title: str, sizes: Counter[str], total: int, top: int) -> None:
    print(f"| {title} | MiB | share |")
    print("| --- | ---: | ---: |")
    for name, size in sizes.most_common(top):
        print(f"| `{name}` | {size / MIB:.1f} | {size / total:.0%} |")
    rest = total - sum(size for _, size in sizes.most_common(top))
    if rest > 0 and "overlapping" not in title:
        print(f"| everything else | {rest / MIB:.1f} | {rest / total:.0%} |")
    print()


if __name__ == "__main__":
    sys.exit(main())
