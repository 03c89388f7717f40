"""The README's quick start, followed word for word in a fresh project.

`django-admin startproject mysite` and `manage.py startapp chat` make the project; the
README's marked code blocks (settings, asgi.py, sockets.py, the page, urls.py, the
tests, pytest.ini) are written into it as a user would paste them (see tests/readme.py),
so the README cannot drift from what is tested. `npm install socket.io-client` is stood
in for by the repository's own copy (installed by ``npm ci``). Then:

- ``manage.py check`` reports nothing;
- the README's handler tests pass under ``manage.py test`` and under pytest;
- the page, under daphne, ``manage.py runserver`` and uvicorn, loads the client from static
  files, connects, gets its ack, sees /private refused, and upgrades to a websocket, in
  headless Chromium;
- "Running several processes": the README's Redis layer block, two daphne processes,
  ``socketio_emit`` reaching a client on each, ``socketio_status`` seeing both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.conftest import require_or_skip
from tests.multinode.conftest import RedisServer
from tests.processes import ROOT, free_port, terminate
from tests.readme import blocks, write_project

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parent / "browser.mjs"
CLIENT = ROOT / "node_modules" / "socket.io-client"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
START_TIMEOUT = 60.0


def user_env() -> dict[str, str]:
    """The environment of a user's shell: no settings module of ours, no test flags."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=user_env(), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("newuser")
    run([sys.executable, "-m", "django", "startproject", "mysite"], cwd=root)
    site = root / "mysite"
    run([sys.executable, "manage.py", "startapp", "chat"], cwd=site)
    written = write_project(site)
    assert written == [
        "mysite/settings.py",
        "mysite/asgi.py",
        "chat/sockets.py",
        "chat/templates/chat/index.html",
        "mysite/urls.py",
        "chat/tests.py",
        "pytest.ini",
        "chat/test_pytest_style.py",
    ]
    if CLIENT.is_dir():  # `npm install socket.io-client`
        (site / "node_modules").mkdir()
        (site / "node_modules" / "socket.io-client").symlink_to(CLIENT)
    run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=site)
    return site


def test_check_is_clean(project: Path) -> None:
    done = run([sys.executable, "manage.py", "check"], cwd=project)
    assert done.stdout.strip() == "System check identified no issues (0 silenced)."
    assert done.stderr == ""


def test_readme_tests_under_manage_py_test(project: Path) -> None:
    done = run([sys.executable, "manage.py", "test", "-v", "2"], cwd=project)
    assert "test_ack_and_room (chat.tests.ChatTests.test_ack_and_room) ... ok" in done.stderr
    assert "test_private_needs_a_login" in done.stderr
    assert "Ran 2 tests" in done.stderr and "\nOK" in done.stderr


def test_readme_tests_under_pytest(project: Path) -> None:
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert done.stdout.splitlines()[-1].startswith("3 passed"), done.stdout
    assert "warning" not in done.stdout.lower(), done.stdout


# -- the page in a browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        require_or_skip("node is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        require_or_skip(f"{CHROMIUM} is missing: apt-get install chromium")
    for package in (CLIENT, ROOT / "node_modules" / "playwright-core"):
        if not package.is_dir():
            require_or_skip(f"{package} is missing: run `npm ci`")
    return node  # type: ignore[return-value]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _command(server: str, port: int) -> list[str]:
    if server == "daphne":  # the README's command, on a free port
        where = ["-b", "127.0.0.1", "-p", str(port)]
        return [
            sys.executable,
            "-m",
            "daphne",
            *where,
            "--websocket_timeout",
            "-1",
            "mysite.asgi:application",
        ]
    if server == "uvicorn":  # the README's (Speed) command, on a free port
        where = ["--host", "127.0.0.1", "--port", str(port)]
        options = ["--lifespan", "on", "--ws-per-message-deflate", "false"]
        return [sys.executable, "-m", "uvicorn", *where, *options, "mysite.asgi:application"]
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]


@contextlib.contextmanager
def serve(kind: str, project: Path) -> Iterator[str]:
    """The project served as the README says (daphne, runserver, uvicorn); yields its URL."""
    for _attempt in range(3):  # a free port can be taken before the server binds it
        port = free_port()
        log = tempfile.NamedTemporaryFile(prefix="quickstart-", suffix=".log")  # noqa: SIM115
        process = subprocess.Popen(
            _command(kind, port), cwd=project, env=user_env(), stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            if process.poll() is None and _answers(url):
                yield url
                return
            text = Path(log.name).read_text(errors="replace")
            if "already in use" not in text:
                pytest.fail(f"{kind} did not start:\n{text[-5000:]}", pytrace=False)
        finally:
            terminate(process)
            log.close()
    pytest.fail(f"{kind}: no free port in 3 attempts", pytrace=False)


@pytest.fixture(params=["daphne", "runserver", "uvicorn"])
def server(request: pytest.FixtureRequest, project: Path) -> Iterator[str]:
    with serve(request.param, project) as url:
        yield url


def test_the_page_in_chromium(node: str, server: str) -> None:
    done = subprocess.run(
        [node, str(SCRIPT), server], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    result = json.loads(lines[-1])
    assert "error" not in result, result
    assert result["pageErrors"] == [] and result["failedRequests"] == [], result
    assert sorted(result["log"]) == ["ack: hi", "connected", "private: login required"]
    assert result["transport"] == "websocket"


# -- two processes over Redis -----------------------------------------------------------------


async def _lobby_client(url: str) -> tuple[socketio.AsyncClient, asyncio.Queue[Any]]:
    client = socketio.AsyncClient(reconnection=False)
    news: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", news.put_nowait, namespace="/chat")
    await client.connect(url, namespaces=["/chat"], wait_timeout=10)  # Chat joins "lobby"
    return client, news


async def test_two_processes_as_the_readme_says(
    project: Path, redis: RedisServer, tmp_path: Path
) -> None:
    site = tmp_path / "mysite"
    shutil.copytree(project, site, symlinks=True)
    [layers] = blocks("several").values()
    assert "redis://127.0.0.1:6379/0" in layers
    write_project(site, "several")
    settings = site / "mysite" / "settings.py"  # the test's private Redis, its own database
    private = redis.url.rsplit("/", 1)[0] + "/7"
    settings.write_text(settings.read_text().replace("redis://127.0.0.1:6379/0", private))
    manage = [sys.executable, "manage.py"]
    with serve("daphne", site) as first, serve("daphne", site) as second:
        # Daphne has no lifespan: Socket.IO starts with the first connection, and the
        # command says so rather than leave a new user wondering where the servers are.
        done = await asyncio.to_thread(run, [*manage, "socketio_status", "--wait", "1"], site)
        assert done.stdout.startswith("0 server process(es) seen"), done.stdout
        assert "under daphne with its first Socket.IO connection" in done.stdout
        clients = [await _lobby_client(first), await _lobby_client(second)]
        try:
            command = [*manage, "socketio_emit", "news", '"hello"', "--namespace", "/chat"]
            done = await asyncio.to_thread(run, [*command, "--to", "lobby"], site)
            assert "emitted 'news' to lobby in /chat" in done.stdout
            for _client, news in clients:
                assert await asyncio.wait_for(news.get(), 10) == "hello"
            done = await asyncio.to_thread(run, [*manage, "socketio_status", "--json"], site)
            report = json.loads(done.stdout)
            assert report["nodes_seen"] == 2, report
            per_process = [p["namespaces"]["/chat"]["rooms"] for p in report["processes"]]
            assert per_process == [{"lobby": 1}, {"lobby": 1}]
        finally:
            for client, _news in clients:
                await client.disconnect()
