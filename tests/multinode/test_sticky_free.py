"""Polling clients behind a round-robin balancer with no affinity: no sticky sessions.

nginx (tests/balancer.py) sends each HTTP request to the next of three daphne
processes, whichever client sent it, so nearly every GET and POST of a polling
session lands on a process that does not hold it and is forwarded to its owner
over the channel layer. Runs once per channels-redis layer class (`cluster`).
A websocket upgrade moves a new session to the process it reaches (TAKEOVER_WINDOW,
1 s here so that a loaded machine does not miss it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio

from tests.balancer import Balancer, start_balancer
from tests.processes import start_server, terminate

from .conftest import (
    LAYERS,
    NSP,
    ROOT,
    WAIT,
    Cluster,
    ClusterFactory,
    _log_file,
    _tail,
    connected,
    conversation,
    node_env,
    start_nodes,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=list(LAYERS))
def cluster(request: pytest.FixtureRequest, redis: Any) -> Iterator[Cluster]:
    factory = ClusterFactory(redis)
    try:
        yield factory.start(3, request.param, {"SIO_TEST_TAKEOVER_WINDOW": "1"})
    finally:
        factory.close()


@pytest.fixture(scope="module")
def balancer(cluster: Cluster) -> Iterator[Balancer]:
    started = start_balancer([node.port for node in cluster.nodes])
    try:
        yield started
    finally:
        started.stop()


class PollingClient:
    """python-socketio's AsyncClient (on polling only by default), counting its connections."""

    def __init__(
        self, url: str, reconnection: bool = False, transports: tuple[str, ...] = ("polling",)
    ) -> None:
        self.sio = socketio.AsyncClient(
            reconnection=reconnection, reconnection_delay=0.2, reconnection_delay_max=0.5
        )
        self.url = url
        self.transports = list(transports)
        self.connects = 0
        self.disconnects = 0
        self.received: list[tuple[str, list[Any]]] = []
        self.sio.on("connect", self._connect, namespace=NSP)
        self.sio.on("disconnect", self._disconnect, namespace=NSP)
        self.sio.on("*", self._any, namespace=NSP)

    def _connect(self) -> None:
        self.connects += 1

    def _disconnect(self, *args: Any) -> None:
        self.disconnects += 1

    def _any(self, event: str, *args: Any) -> None:
        self.received.append((event, list(args)))

    async def connect(self) -> PollingClient:
        await self.sio.connect(
            self.url, namespaces=[NSP], transports=self.transports, wait_timeout=WAIT
        )
        return self

    async def call(self, event: str, *args: Any, timeout: float = WAIT) -> Any:
        return await self.sio.call(event, args, namespace=NSP, timeout=timeout)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def until(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "text/plain;charset=UTF-8")
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_a_fresh_daphne_process_forwards_its_very_first_request(cluster: Cluster) -> None:
    """daphne has no lifespan: a process starts talking to the others at its first request.

    A process (re)started behind the balancer gets other processes' polls before any
    handshake of its own; it answered them 400 "Session ID unknown" (the client then
    reconnected). Now it starts, learns the owner from the answers to its hello, and
    forwards them.
    """
    status, body = await asyncio.to_thread(
        _http, "GET", f"{cluster.nodes[0].url}/socket.io/?EIO=4&transport=polling"
    )
    assert status == 200, body
    sid = json.loads(body[1:])["sid"]
    log = _log_file("multinode-fresh-")
    process, port = start_server(
        "daphne",
        "tests.conformance.asgi:application",
        cwd=ROOT,
        env=cluster.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # The port listens already; these wait in its backlog until daphne serves them.
        url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling&sid={sid}"
        sent = await asyncio.to_thread(_http, "POST", url, f"40{NSP},".encode())
        assert sent == (200, b"ok"), _tail(log)
        status, body = await asyncio.to_thread(_http, "GET", url)
        # A PING may come first: the owner's heartbeat went on while daphne was starting.
        packets = [p for p in body.split(b"\x1e") if p != b"2"]
        assert status == 200 and packets[0].startswith(f"40{NSP},".encode()), (body, _tail(log))
    finally:
        terminate(process)
        assert "Traceback" not in _tail(log, 200_000), _tail(log)
        log.close()


async def test_a_forwarded_connect_whose_handler_asks_every_process(cluster: Cluster) -> None:
    """on_connect calls fetch_sockets, whose answers reach the owner on its node channel.

    The owner ran the forwarded POST in the loop reading that channel, so the answers
    waited behind it: the POST timed out (400 after REQUEST_TIMEOUT) and the client
    reconnected. The demo's /private namespace does this (tests/multinode/
    test_demo_balancer.py failed when its CONNECT was forwarded).
    """
    first, second, third = (node.url for node in cluster.nodes)
    status, body = await asyncio.to_thread(
        _http, "GET", f"{first}/socket.io/?EIO=4&transport=polling"
    )
    assert status == 200, body
    query = f"/socket.io/?EIO=4&transport=polling&sid={json.loads(body[1:])['sid']}"
    sent = await asyncio.to_thread(_http, "POST", f"{second}{query}", b"40/members,")
    assert sent == (200, b"ok"), cluster.logs()
    status, body = await asyncio.to_thread(_http, "GET", f"{third}{query}")
    packets = [p for p in body.split(b"\x1e") if p != b"2"]
    assert status == 200 and packets[0].startswith(b"40/members,{"), body
    sent = await asyncio.to_thread(_http, "POST", f"{third}{query}", b'42/members,1["count"]')
    assert sent == (200, b"ok")
    status, body = await asyncio.to_thread(_http, "GET", f"{second}{query}")
    assert [p for p in body.split(b"\x1e") if p != b"2"] == [b"43/members,1[1]"], body
    cluster.assert_no_errors()


async def test_the_official_client_on_polling_needs_no_sticky_sessions(
    cluster: Cluster, balancer: Balancer, run_node: Any
) -> None:
    config = {"url": balancer.url, "clients": 4, "messages": 100, "room": "poll"}
    (result,) = await run_node("sticky", json.dumps({**config, "transports": ["polling"]}))
    assert result["errors"] == [], result
    assert result["transports"] == ["polling"] * 4
    assert result["acks"] == [0, 1, 2, 3]
    cluster.assert_no_errors()


async def test_the_official_client_with_upgrades(
    cluster: Cluster, balancer: Balancer, run_node: Any
) -> None:
    """Every session ends on websocket, though two upgrades in three reach another process.

    That process takes the new session over before Socket.IO attaches to it; without
    the takeover those upgrades were refused and the sessions stayed on polling.
    """
    config = {"url": balancer.url, "clients": 6, "messages": 30, "room": "upgrade"}
    (result,) = await run_node("sticky", json.dumps(config))
    assert result["errors"] == [], result
    assert result["transports"] == ["websocket"] * 6, result
    assert result["acks"] == [0, 1, 2, 3, 4, 5]
    cluster.assert_no_errors()


async def test_a_cluster_just_started_moves_its_first_sessions_too(
    redis: Any, run_node: Any
) -> None:
    """Daphne has no lifespan: each process joins the others with its first connection.

    A process's first session was attached at once, before it knew of any other
    process, so its upgrade (reaching another process) was refused and the session
    stayed on polling: after every deployment, the first session of each process.
    Now opening a session starts the process's part first, and while its hello's
    answers may still be coming, the session waits for a takeover as in a running
    deployment. Three processes that never had a connection, the clients one by one.
    """
    own_db = urlsplit(redis.url)._replace(path="/3").geturl()  # no other cluster's nodes
    env = {**node_env("redis", redis), "REDIS_URL": own_db, "SIO_TEST_TAKEOVER_WINDOW": "1"}
    cluster = Cluster("redis", start_nodes(3, env, "cold", warm=False), env, redis)
    balancer = start_balancer([node.port for node in cluster.nodes])
    try:
        config = {"url": balancer.url, "clients": 3, "messages": 10, "room": "cold"}
        (result,) = await run_node("sticky", json.dumps(config))
        assert result["errors"] == [], result
        assert result["transports"] == ["websocket"] * 3, result
        cluster.assert_no_errors()
    finally:
        balancer.stop()
        cluster.stop()
        for node in cluster.nodes:
            node.log.close()


async def test_python_socketio_on_polling(cluster: Cluster, balancer: Balancer) -> None:
    one, two = PollingClient(balancer.url), PollingClient(balancer.url)
    try:
        await one.connect()
        await two.connect()
        assert await one.call("join", ["py"]) == ["py"]
        assert await two.call("join", ["py"]) == ["py"]
        for seq in range(10):
            assert await two.call("bcast", {"to": ["py"]}, seq, b"\x00\xff") is True
        await until(lambda: len(one.received) == 10, "the broadcasts")
        assert one.received == [("b", [seq, b"\x00\xff"]) for seq in range(10)]
        assert await one.call("echo", b"\x01\x02") == [b"\x01\x02"]
        assert one.connects == two.connects == 1 and one.disconnects == two.disconnects == 0
    finally:
        await one.close()
        await two.close()
    cluster.assert_no_errors()


async def test_python_socketio_with_upgrades(cluster: Cluster, balancer: Balancer) -> None:
    """python-engineio upgrades before Socket.IO's CONNECT: taken over all the same."""
    clients = [PollingClient(balancer.url, transports=("polling", "websocket")) for _ in range(3)]
    try:
        for client in clients:
            await client.connect()
            assert client.sio.transport() == "websocket"
            assert await client.call("join", ["pyws"]) == ["pyws"]
        assert await clients[0].call("bcast", {"to": ["pyws"]}, "hi", b"\x07") is True
        await until(lambda: all(c.received == [("b", ["hi", b"\x07"])] for c in clients), "it")
        assert [c.connects for c in clients] == [1, 1, 1]
    finally:
        for client in clients:
            await client.close()
    cluster.assert_no_errors()


async def test_a_killed_process_gives_its_clients_one_clean_reconnect(
    start_cluster: ClusterFactory,
) -> None:
    cluster = await start_cluster(3, "redis")
    balancer = start_balancer([node.port for node in cluster.nodes])
    clients = [PollingClient(balancer.url, reconnection=True) for _ in range(6)]
    try:
        tags = {}
        for node in cluster.nodes:
            async with connected(node.url) as probe:
                tags[(await probe.call("node_info"))["tag"]] = node
        for client in clients:
            await client.connect()
        owners = [tags[client.sio.eio.sid[:4]] for client in clients]
        victim = owners[0]
        victims = [c for c, owner in zip(clients, owners, strict=True) if owner is victim]
        victim.kill()
        await until(lambda: all(c.connects == 2 for c in victims), "the reconnects")
        for client in clients:  # every client works again, wherever its session now is
            await until(lambda c=client: c.sio.connected and c.sio.namespaces, "a connection")
            assert await client.call("echo", "again") == ["again"]
        await asyncio.sleep(1.0)
        for client, owner in zip(clients, owners, strict=True):
            # The killed process's clients reconnect once. Others lose at most the GET that
            # was passing through it (the balancer answers 502): then one reconnect too.
            assert client.connects == (2 if owner is victim else client.connects) <= 2, owners
        cluster.assert_no_errors([n for n in cluster.nodes if n is not victim])
    finally:
        for client in clients:
            await client.close()
        balancer.stop()


async def test_the_official_client_loses_a_killed_owner_fast_and_reconnects_once(
    start_cluster: ClusterFactory,
) -> None:
    """SIGKILL the process owning some polling sessions (no goodbye to the others).

    Their clients' requests, forwarded to a process that no longer answers, fail with
    400 "Session ID unknown" once the owner is missed (NODE_TIMEOUT, 2 s here), not
    after the client's own ping timeout (PING_INTERVAL + PING_TIMEOUT, 15 s here); each
    reconnects once and works. The other clients keep working.
    """
    cluster = await start_cluster(3, "redis")
    balancer = start_balancer([node.port for node in cluster.nodes])
    try:
        async with conversation("killed", {"url": balancer.url, "clients": 6}) as script:
            tags = {}
            for node in cluster.nodes:
                async with connected(node.url) as probe:
                    tags[(await probe.call("node_info"))["tag"]] = node
            ready = await script.hear(60)
            assert ready.get("event") == "ready", ready
            owners = [tags[sid[:4]] for sid in ready["sids"]]
            victim = owners[0]
            victims = [i for i, owner in enumerate(owners) if owner is victim]
            victim.kill()
            await script.say(json.dumps({"victims": victims}))
            result = await script.hear(90)
            assert "error" not in result, result
            assert result["echo"] == [["again"]] * 6
            for i, owner in enumerate(owners):
                # A killed owner's client reconnects once. Others lose at most a request
                # that was passing through the killed process (the balancer answers 502).
                assert result["connects"][i] == 2 if owner is victim else result["connects"][i] <= 2
            # Fast: the owner is missed after NODE_TIMEOUT (2 s); the client's own ping
            # timeout would take 15 s. Bound with room for a loaded machine.
            assert max(result["seconds"]) < 10, result
            cluster.assert_no_errors([n for n in cluster.nodes if n is not victim])
    finally:
        balancer.stop()


async def test_forwarded_requests_in_flight_are_bounded_per_process(redis: Any) -> None:
    """FORWARDED_REQUESTS = 2: a third waiting GET forwarded by one process gets 503.

    Seen from the client: two long polls for sessions of node0 wait at node1; the third
    is refused at once with the documented error; the two waiting ones are still
    answered (by the owner's next PING).
    """
    env = {**node_env("redis", redis), "SIO_TEST_FORWARDED_REQUESTS": "2"}
    cluster = Cluster("redis", start_nodes(2, env, "bounded"), env, redis)
    try:
        await cluster.wait_ready()
        owner, edge = cluster.nodes
        sids = []
        for _ in range(3):
            status, body = await asyncio.to_thread(
                _http, "GET", f"{owner.url}/socket.io/?EIO=4&transport=polling"
            )
            assert status == 200, body
            sids.append(json.loads(body[1:])["sid"])
        url = f"{edge.url}/socket.io/?EIO=4&transport=polling&sid="
        waiting = [
            asyncio.ensure_future(asyncio.to_thread(_http, "GET", url + s)) for s in sids[:2]
        ]
        async with connected(edge.url) as probe:
            while (await probe.call("node_info"))["forwarding"] < 2:
                assert not any(w.done() for w in waiting)
                await asyncio.sleep(0.05)
        started = time.monotonic()
        refused = await asyncio.to_thread(_http, "GET", url + sids[2])
        assert refused == (503, b'{"code":3,"message":"Too many forwarded requests"}')
        assert time.monotonic() - started < 2  # at once, not after a wait
        for status, body in await asyncio.gather(*waiting):
            assert (status, body) == (200, b"2")  # the owner's PING, through node1
        cluster.assert_no_errors()
    finally:
        cluster.stop()
        for node in cluster.nodes:
            node.log.close()
