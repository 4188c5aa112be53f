"""The README's `dbr check` worked example, run on the files under examples/check/: the output a
reader sees in the README is the output the command gives."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dynamobackup.cli.main import main

REPO = Path(__file__).parents[3]


def worked_example() -> tuple[list[str], str]:
    """(the command's arguments after `dbr`, its output) from the README's console block."""
    readme = (REPO / "README.md").read_text()
    (block,) = re.findall(r"```console\n(\$ dbr check .*?)```", readme, flags=re.S)
    lines = block.splitlines()
    command = lines[0].removeprefix("$ ")
    rest = 1
    while command.endswith("\\"):
        command = command.removesuffix("\\") + " " + lines[rest].strip()
        rest += 1
    argv = shlex.split(command)
    assert argv[0] == "dbr"
    return argv[1:], "\n".join(lines[rest:]) + "\n"


def test_the_readme_worked_example_prints_what_the_readme_shows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv, shown = worked_example()
    assert any(arg.startswith("examples/check/") for arg in argv), "the example's files ship"
    monkeypatch.chdir(REPO)
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    assert out == shown
