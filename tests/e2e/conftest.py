"""End-to-end fixtures: the conformance server as a real process, and official Node clients.

`server` starts ``tests.conformance.asgi:application`` (Engine.IO echo at ``/engine.io/``,
pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000) under daphne and under
uvicorn, once per session each, and yields a `Server` (base `url`, `ws_url`, `kind`).
A failing test gets the server's log attached to its report, and a test during which
the server logged a traceback fails. `run_node` runs a script of ``tests/e2e/js/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest

from tests.conftest import require_or_skip
from tests.processes import node_binary, start_server, terminate

from .helpers import WAIT
from .official import Sockets

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
SERVERS = ("daphne", "uvicorn")
APP = "tests.conformance.asgi:application"
START_TIMEOUT = 20.0
SERVER_FIXTURES = ("server", "client_server")  # whose log a test's outcome looks at


@dataclass
class Server:
    kind: str
    url: str  # http://127.0.0.1:PORT, no trailing slash
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    checked: int = 0  # how much of the log was searched for tracebacks

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:]

    def log_text(self, limit: int = 20_000, start: int = 0) -> str:
        self.log.flush()
        text = Path(self.log.name).read_bytes()[start:].decode("utf-8", "replace")
        return text[-limit:]

    def log_size(self) -> int:
        self.log.flush()
        return Path(self.log.name).stat().st_size


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/engine.io/?EIO=4&transport=polling", timeout=2) as r:
            return r.status == 200 and r.read(1) == b"0"
    except (OSError, urllib.error.URLError):
        return False


def launch(kind: str, settings: str = "tests.conformance.settings") -> Server:
    """Start `kind` on a socket of its own and wait until it answers; fail with its log."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONUNBUFFERED": "1",
    }
    log = tempfile.NamedTemporaryFile(prefix=f"e2e-{kind}-", suffix=".log")  # noqa: SIM115
    options = ("--lifespan", "off") if kind == "uvicorn" else ()
    process, port = start_server(
        kind, APP, *options, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    srv = Server(kind, f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        if _answers(srv.url):
            return srv
        time.sleep(0.1)
    terminate(process)
    text = srv.log_text()
    log.close()
    pytest.fail(f"{kind} did not start on port {port}:\n{text}", pytrace=False)


def serve(kind: str, settings: str = "tests.conformance.settings") -> Iterator[Server]:
    """`launch` `kind` for as long as the fixture lasts (skipped if it is not installed)."""
    try:
        __import__(kind)
    except ImportError:
        require_or_skip(f"{kind} is not installed")
    srv = launch(kind, settings)
    try:
        yield srv
    finally:
        terminate(srv.process)
        srv.log.close()


@pytest.fixture(scope="session", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A conformance server process (daphne, then uvicorn): its `url`, `ws_url`, `kind`."""
    yield from serve(request.param)


@pytest.fixture(scope="session", params=SERVERS)
def client_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The conformance server with pingTimeout 10 s (clients_settings.py), for the tests
    of the official clients that are not about the heartbeat."""
    yield from serve(request.param, "tests.e2e.clients_settings")


@pytest.fixture
async def http() -> Any:
    """An aiohttp session for raw Engine.IO requests."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        yield session


@pytest.fixture
async def websockets() -> Any:
    """``websockets(url)``: a `JsWebSocket` (the official suites' WebSocket), closed after."""
    sockets = Sockets()
    yield sockets
    await sockets.close_all()


@pytest.fixture(autouse=True)
def _server_did_not_crash(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which the server logged a traceback (an application error)."""
    names = [name for name in SERVER_FIXTURES if name in request.fixturenames]
    servers = {id(srv): srv for srv in map(request.getfixturevalue, names)}.values()
    yield
    for srv in servers:
        if srv.log.closed:
            continue
        start, srv.checked = srv.checked, srv.log_size()
        new = srv.log_text(start=start)
        if "Traceback" in new:
            pytest.fail(f"the {srv.kind} server logged an error:\n{new[-8000:]}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the server's log to the report of a failing test that used one."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        servers = {id(srv): srv for name in SERVER_FIXTURES if (srv := funcargs.get(name))}
        for srv in servers.values():
            if isinstance(srv, Server) and not srv.log.closed:
                report.sections.append((f"{srv.kind} server log (tail)", srv.log_text(8_000)))
    return report


# -- Node ----------------------------------------------------------------------


@pytest.fixture
def run_node() -> Callable[..., list[dict[str, Any]]]:
    """``run_node("script", url, *args, timeout=20, env=None)``: run ``tests/e2e/js/script.mjs``.

    The script prints one JSON object per line; they come back as a list. A non-zero
    exit or a hang (the timeout) fails the test with the script's output.
    """
    node = node_binary("engine.io-client")

    def run(
        script: str, *args: str, timeout: float = 20.0, env: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        path = JS_DIR / f"{script}.mjs"
        try:
            done = subprocess.run(
                [node, str(path), *args],
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"{script}.mjs timed out after {timeout}s\nstdout:\n{exc.stdout}\n"
                f"stderr:\n{exc.stderr}",
                pytrace=False,
            )
        if done.returncode != 0:
            pytest.fail(
                f"{script}.mjs exited {done.returncode}\nstdout:\n{done.stdout}\n"
                f"stderr:\n{done.stderr}",
                pytrace=False,
            )
        lines = []
        for line in done.stdout.splitlines():
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    pytest.fail(f"{script}.mjs printed a non-JSON line: {line!r}")
        return lines

    return run
