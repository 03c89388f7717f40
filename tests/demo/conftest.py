"""The chat demo (demo_project) as a real daphne process, for the browser test.

`demo_server` migrates a temporary SQLite database, creates the demo user and starts
``demo_project.asgi:application`` under daphne on a free port, with the demo's own
settings (``DJANGO_SETTINGS_MODULE=demo_project.settings``) and the in-memory channel
layer. A failing test gets the server's log attached to its report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.processes import start_server, terminate

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


@dataclass
class DemoServer:
    url: str  # http://127.0.0.1:PORT, no trailing slash
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def log_text(self, limit: int = 20_000) -> str:
        self.log.flush()
        return Path(self.log.name).read_bytes().decode("utf-8", "replace")[-limit:]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def demo_env(db_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo_project.settings",
        "DEMO_DB_PATH": str(db_path),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)  # one process: the in-memory channel layer
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        pytest.fail(
            f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    env = demo_env(tmp_path_factory.mktemp("demo") / "db.sqlite3")
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(env, "create_demo_user")
    server = start_demo(env)
    try:
        wait_for_demo(server, time.monotonic() + START_TIMEOUT)
        yield server
    finally:
        terminate(server.process)
        server.log.close()


def start_demo(env: dict[str, str], prefix: str = "demo-daphne-") -> DemoServer:
    """``demo_project.asgi:application`` under daphne on a free port, its log in a temp file."""
    log = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log")  # noqa: SIM115
    process, port = start_server(
        "daphne",
        "demo_project.asgi:application",
        "--websocket_timeout",
        "-1",
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return DemoServer(f"http://127.0.0.1:{port}", process, log)


def wait_for_demo(server: DemoServer, deadline: float) -> None:
    """Until the demo answers; the test fails with its log if it exits or `deadline` passes."""
    while not _answers(server.url):
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"the demo did not start at {server.url}:\n{server.log_text()}", pytrace=False
            )
        time.sleep(0.1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the demo server's log to the report of a failing test that used it."""
    report = yield
    server = getattr(item, "funcargs", {}).get("demo_server")
    if report.failed and isinstance(server, DemoServer):
        report.sections.append(("demo server log (tail)", server.log_text(8_000)))
    return report
