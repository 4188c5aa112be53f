"""Cold start of `dbr check` against a bare Python start, in fresh processes on this machine.

Each round runs `python -c pass` and then the README's worked example (`dbr check` on the files
under examples/check/) as new processes, so both see the same load; the table gives the median
and the fastest of the wall times, the median CPU time (user + system) and the ratio to the bare
start. One untimed run of each comes first so that compiled bytecode exists (a cold process, not
a cold disk): as after `pip install`, which compiles it; the bytecode goes to a temporary
directory (PYTHONPYCACHEPREFIX), never into the source tree, even when PYTHONDONTWRITEBYTECODE is
set. `--no-bytecode` measures without it (every module compiled from source on every run, as an
editable install does under PYTHONDONTWRITEBYTECODE). `--imports N` adds the N slowest imports of one `dbr check` (`python -X importtime`,
cumulative, top-level packages only) and the third-party packages it loaded.

    .venv/bin/python bench/cli_start.py            # 20 rounds
    .venv/bin/python bench/cli_start.py --rounds 50 --imports 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK_ARGS = (
    "check",
    "--operations",
    "BackupPolicy",
    "--policy",
    "examples/check/drifted.json",
    "--trust",
    "examples/check/trust.json",
    "--appliance",
    "arn:aws:iam::111111111111:role/VeeamImpersonation",
)
NOT_COMPLIANT = 1  # the worked example's role is drifted: exit code 1 is the expected answer


def dbr_command() -> list[str]:
    """The installed `dbr` script beside this Python (what a user runs), else the module."""
    script = Path(sys.executable).with_name("dbr")
    if script.exists():
        return [str(script), *CHECK_ARGS]
    return [sys.executable, "-m", "dynamobackup.cli.main", *CHECK_ARGS]


def child_environment(bytecode_cache: str | None) -> dict[str, str]:
    environment = dict(os.environ)
    if bytecode_cache is None:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment.pop("PYTHONPYCACHEPREFIX", None)
    else:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = bytecode_cache
    return environment


def timed_run(
    command: Sequence[str], expected: int, environment: Mapping[str, str]
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != expected:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}, expected {expected}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(rounds: int, environment: Mapping[str, str]) -> dict[str, list[tuple[float, float]]]:
    commands = {
        "python -c pass": ([sys.executable, "-c", "pass"], 0),
        "dbr check (README example)": (dbr_command(), NOT_COMPLIANT),
    }
    for command, expected in commands.values():
        timed_run(command, expected, environment)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, (command, expected) in commands.items():
            samples[name].append(timed_run(command, expected, environment))
    return samples


def print_table(samples: dict[str, list[tuple[float, float]]]) -> None:
    bare = statistics.median(wall for wall, _ in samples["python -c pass"])
    print("| process | median wall ms | fastest wall ms | median CPU ms | x bare start |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in samples.items():
        walls = [wall for wall, _ in runs]
        cpu = statistics.median(cpu for _, cpu in runs)
        median = statistics.median(walls)
        print(
            f"| {name} | {median * 1e3:.1f} | {min(walls) * 1e3:.1f} | {cpu * 1e3:.1f} "
            f"| {median / bare:.2f} |"
        )


def print_imports(top: int, environment: Mapping[str, str]) -> None:
    command = dbr_command()
    python = [sys.executable, "-X", "importtime"]
    argv = [*python, *command] if command[0] != sys.executable else [*python, *command[1:]]
    result = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, check=False, env=environment
    )
    cumulative: list[tuple[int, str]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, micros, name = line.removeprefix("import time:").split("|")
        if not name.startswith(" " * 3):  # top-level imports only (nested ones are inside them)
            cumulative.append((int(micros), name.strip()))
    print(f"\nSlowest top-level imports of one `dbr check` (cumulative ms, of {len(cumulative)}):")
    for micros, name in sorted(cumulative, reverse=True)[:top]:
        print(f"  {micros / 1e3:7.1f}  {name}")
    loaded = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    third_party = sorted(name for name in loaded if _third_party(name))
    print(f"Third-party packages loaded: {', '.join(third_party) or 'none'}")


def _third_party(name: str) -> bool:
    if name in sys.stdlib_module_names or name.startswith(("_", "dynamobackup")):
        return False
    # importtime also lists imports that failed (copy.py tries `org.python.core`, Jython's).
    return name not in {"sitecustomize", "usercustomize"} and find_spec(name) is not None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--imports", type=int, default=0, metavar="N")
    parser.add_argument("--no-bytecode", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dbr-bytecode-") as cache:
        environment = child_environment(None if args.no_bytecode else cache)
        before = os.getloadavg()[0]
        samples = measure(args.rounds, environment)
        after = os.getloadavg()[0]
        print(
            f"{args.rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
            f"{'no bytecode cache' if args.no_bytecode else 'bytecode cached'}, "
            f"load average {before:.2f} before and {after:.2f} after\n"
        )
        print_table(samples)
        if args.imports:
            print_imports(args.imports, environment)


if __name__ == "__main__":
    main()
