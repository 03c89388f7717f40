"""The newest Django, not only the pinned 5.2 LTS: Django 6 needs Python 3.12+.

The main suite runs on the pinned versions (`requirements.txt`). Here the parts that
touch Django the most run again in `.venv-newest` (made by scripts/setup with a Python
3.12+ and the newest Django 6): the README's quick start from a fresh `startproject`
(settings, routing, static files, management commands, the README's test examples, two
processes on Redis), the system checks and the Socket.IO server with Django's auth.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[1]
NEWEST_PYTHON = ROOT / ".venv-newest" / "bin" / "python"
SUITES = [
    "tests/quickstart",
    "tests/test_checks.py",
    "tests/test_misconfiguration.py",
    "tests/socketio",
]


def test_the_quick_start_checks_and_server_under_the_newest_django() -> None:
    if not NEWEST_PYTHON.exists():
        require_or_skip(f"{NEWEST_PYTHON} is missing: run scripts/setup with a Python 3.12+")
    version = subprocess.run(
        [NEWEST_PYTHON, "-c", "import django; print(django.VERSION[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(version) >= 6, version
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETT"))}
    done = subprocess.run(
        [NEWEST_PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
