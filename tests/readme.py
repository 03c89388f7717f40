"""Code blocks of the README, by their markers, so tests run what users copy.

A block a test uses is preceded by an HTML comment (invisible on GitHub) naming it::

    <!-- quickstart: mysite/settings.py (appended) -->
    ```python
    ...
    ```

`blocks("quickstart")` returns ``{"mysite/settings.py (appended)": "...", ...}``.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

_BLOCK = re.compile(r"<!-- (\w[\w-]*): ([^>]+?) -->\n```[\w-]*\n(.*?)\n```", re.S)


def blocks(kind: str, readme: Path = README) -> dict[str, str]:
    found: dict[str, str] = {}
    for marker, name, code in _BLOCK.findall(readme.read_text()):
        if marker == kind:
            assert name not in found, f"two README blocks are marked {kind}: {name}"
            found[name] = code + "\n"
    return found


def write_project(root: Path, kind: str = "quickstart") -> list[str]:
    """Write the marked blocks into a project made by startproject/startapp at `root`."""
    written = []
    for name, code in blocks(kind).items():
        path, appended = name.removesuffix(" (appended)"), name.endswith(" (appended)")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if appended:
            target.write_text(target.read_text() + "\n\n" + code)
        else:
            target.write_text(code)
        written.append(path)
    return written
