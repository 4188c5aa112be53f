"""The data files shipped beside these modules: profiles, the action catalog, dangerous actions.

They are read as plain files next to this module rather than through importlib.resources: the
package is always installed as files (wheel, editable install, the image), and importing
importlib.resources' readers (tempfile, zipfile, ...) cost a cold `dbr check` about 15 ms.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent


def read_text(*parts: str) -> str:
    """A shipped data file's text, by its path under policy/."""
    return FOLDER.joinpath(*parts).read_text(encoding="utf-8")
