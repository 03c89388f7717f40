"""Real Socket.IO clients against the conformance server (``/``, ``/custom``) and the
namespaces of ``tests/sioapp``: the official npm ``socket.io-client`` (Node, through
``js/sio_client.mjs``) and python-socketio's ``AsyncClient``.

Each client runs over polling only, websocket only, and polling upgraded to websocket:
connecting with an auth payload, refusals (``connect_error`` with ``message`` and
``data``), unknown and dynamic namespaces, events with and without acks both ways,
binary attachments both ways, server-side ack timeouts, rooms, and the disconnect
reasons both sides see (the connect timeout is tested in test_connect_timeout.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio

from .conftest import Server
from .helpers import WAIT

pytestmark = pytest.mark.e2e

MODES = ["polling", "websocket", "upgrade"]
TRANSPORTS: dict[str, list[str] | None] = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": None,  # python-socketio's default: polling, then the upgrade
}
#: The parser the clients of these tests use: "json", or "msgpack" while the tests run
#: again in test_msgpack_clients.py (the conformance server detects it per session).
PARSER = {"name": "json"}

AUTH = {"token": "abc", "n": [1, 2.5, None], "s": "héllo €"}
# One exchange of js/sio_client.mjs `exchange()` on the conformance namespaces.
NODE_ROUND = {
    "messageBack": [1, "two", {"three": [3, None, True]}],
    "ackArgs": ["a", {"b": [1, 2]}, 3.5],
    "emitWithAck": {"first": ["x", {"y": 1}], "second": ["acked", "x", {"y": 1}]},
}
# What the sioapp namespaces answer a connection attempt with.
REFUSED = {"message": "not allowed", "data": {"code": 401}}
INVALID = {"message": "Invalid namespace"}


def bad_token(token: Any) -> dict[str, Any]:
    return {"message": "bad token", "data": {"code": 403, "token": token}}


def hexed(value: Any) -> Any:
    """Bytes as {"$bin": hex} through lists and dicts, like the Node script prints them."""
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, list | tuple):
        return [hexed(item) for item in value]
    if isinstance(value, dict):
        return {key: hexed(item) for key, item in value.items()}
    return value


def expected_transport(mode: str) -> str:
    return "polling" if mode == "polling" else "websocket"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- the official socket.io-client (Node) ---------------------------------------------

NODE_SENT = [
    {"buf": b"\x01\x02\x03", "nested": [b"\xff\xfe", {"deep": b"\x00"}], "n": 1},
    b"\x09",
    "text",
]
SERVER_BIN = {"data": b"\x00\x01", "list": [b"\xff"]}  # what /ops emits as `bin`
CONNECT_CASES = [
    {"namespace": "/refuse", "auth": {"a": 1}},
    {"namespace": "/mw", "auth": {"token": "bad"}},
    {"namespace": "/mw"},
    {"namespace": "/mw", "auth": {"token": "ok"}, "wait": "welcome"},
    {"namespace": "/nope"},
    {"namespace": "/dyn-42", "wait": "hello"},
    {"namespace": "/dyn-x"},
]


def node_runs() -> list[dict[str, Any]]:
    """Every scenario of js/sio_client.mjs these tests check, for one Node process."""
    return [
        {"name": "events", "scenario": "events", "namespaces": ["/", "/custom"], "auth": AUTH},
        {"name": "connect", "scenario": "connect", "cases": CONNECT_CASES},
        {"name": "binary", "scenario": "binary"},
        {"name": "acks", "scenario": "acks"},
        {"name": "disconnect", "scenario": "disconnect"},
        {"name": "rooms", "scenario": "rooms", "room": unique("room")},
        # Last: under daphne it times out (see test_node_empty_binary_attachment).
        {"name": "binary-empty", "scenario": "binary", "empty": True, "timeout": 1500},
    ]


@pytest.fixture
def server(client_server: Server) -> Server:
    """Every test here runs against the conformance server with pingTimeout and
    CONNECT_TIMEOUT 10 s (clients_settings.py): none is about either, and 200 ms to
    answer a ping or 1 s to handshake, upgrade and connect is too little for a client
    process on a loaded machine (test_connect_timeout.py tests the 1 s)."""
    return client_server


_node_results: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}


@pytest.fixture
def node(server, run_node, mode) -> Callable[[str], dict[str, Any]]:
    """``node(name)``: the result of one run of js/sio_client.mjs on `server` in `mode`.

    One Node process per server and mode runs every scenario in turn (Node's start-up
    costs more than a scenario); each test checks its own run.
    """
    key = (server.url, mode, PARSER["name"])
    if key not in _node_results:
        env = {"SIO_PARSER": PARSER["name"]}
        lines = run_node("sio_client", server.url, mode, json.dumps(node_runs()), env=env)
        _node_results[key] = {line["name"]: line for line in lines}

    def result(name: str) -> dict[str, Any]:
        line = _node_results[key].get(name)
        assert line is not None, f"no output for {name}: {_node_results[key]}"
        assert line["event"] == "result", line.get("error")
        return line

    return result


@pytest.mark.parametrize("mode", MODES)
def test_node_events_on_two_namespaces(node, mode):
    """`/` and `/custom` over one connection: auth, events, acks both ways; one leaves
    and comes back."""
    result = node("events")
    assert result["sameConnection"] is True
    namespaces = result["namespaces"]
    assert set(namespaces) == {"/", "/custom"}
    assert namespaces["/"]["id"] != namespaces["/custom"]["id"]
    for name, seen in namespaces.items():
        assert seen["auth"] == [{**AUTH, "nsp": name}]
        assert seen["rounds"] == [NODE_ROUND] * len(result["transports"])
    # /custom leaves and connects again over the same connection; `/` is not disturbed.
    assert result["afterLeave"] == NODE_ROUND
    assert result["rejoined"] == {
        "auth": [{**AUTH, "nsp": "/custom"}],
        "newId": True,
        "sameConnection": True,
        "round": NODE_ROUND,
    }
    if mode == "upgrade":
        assert result["upgraded"] is True
        assert len(result["transports"]) == 2
        assert result["transports"][-1] == "websocket"
    else:
        assert result["transports"] == [mode]


@pytest.mark.parametrize("mode", MODES)
def test_node_connect_outcomes(node, mode):
    outcomes = node("connect")["cases"]
    assert {o["transport"] for o in outcomes} == {expected_transport(mode)}
    by_case = [(o["namespace"], o["connected"], o.get("error"), o["events"]) for o in outcomes]
    assert by_case == [
        ("/refuse", False, REFUSED, []),
        ("/mw", False, bad_token("bad"), []),
        ("/mw", False, bad_token(None), []),
        ("/mw", True, None, [["welcome", {"token": "ok"}]]),
        ("/nope", False, {**INVALID, "data": None}, []),
        ("/dyn-42", True, None, [["hello", "/dyn-42"]]),
        ("/dyn-x", False, {**INVALID, "data": None}, []),
    ]


def server_view(sent: list[Any]) -> list[Any]:
    """How /ops describes what it decoded (bytes as {"bytes": hex})."""
    as_json = json.dumps(hexed(sent))
    return json.loads(as_json.replace('"$bin"', '"bytes"'))


@pytest.mark.parametrize("mode", MODES)
def test_node_binary_both_ways(node, mode):
    result = node("binary")
    assert result["transport"] == expected_transport(mode)
    (ack,) = result["ack"]
    assert ack["received"] == server_view(NODE_SENT)  # the server decoded real bytes
    assert ack["echo"] == hexed(NODE_SENT)  # ... and they came back as Buffers
    assert ack["extra"] == hexed([b"\x02\x03"])
    assert result["bin"] == [hexed(SERVER_BIN)]


@pytest.mark.parametrize("mode", MODES)
def test_node_empty_binary_attachment(node, mode):
    result = node("binary-empty")
    sent = [{**NODE_SENT[0], "nested": [*NODE_SENT[0]["nested"], b""]}, *NODE_SENT[1:]]
    (ack,) = result["ack"]
    assert ack["received"] == server_view(sent)
    assert ack["echo"] == hexed(sent)


@pytest.mark.parametrize("mode", MODES)
def test_node_server_acks_and_ack_timeout(node, mode):
    result = node("acks")
    assert result["questions"] == [[1, {"q": "?"}]]
    assert result["ask"] == [{"answer": ["answer", 1, {"q": "?"}]}]
    assert result["askTimeout"] == ["timeout"]  # the client never acknowledged


@pytest.mark.parametrize("mode", MODES)
def test_node_disconnect_reasons(node, mode):
    cases = node("disconnect")["cases"]
    seen = {c["how"]: (c["clientReason"], c["serverReasons"]) for c in cases}
    assert seen == {
        "client": ("io client disconnect", ["client namespace disconnect"]),
        "server": ("io server disconnect", ["server namespace disconnect"]),
        # socket.io-client's own word for an engine closed under it
        "engine": ("forced close", ["transport close"]),
    }


@pytest.mark.parametrize("mode", MODES)
def test_node_rooms(node, mode):
    result = node("rooms")
    room = result["room"]
    assert result["joined"] == [[[room]], [[room]]]
    assert result["sent"] == [True]
    assert result["b"] == [["hello", {"n": 1}]]
    assert result["a"] == []  # the sender is excluded
    assert result["c"] == []  # not in the room


# -- python-socketio's AsyncClient ----------------------------------------------------


class Client:
    """An AsyncClient that queues what each handled event brings, per namespace."""

    def __init__(self) -> None:
        serializer = "msgpack" if PARSER["name"] == "msgpack" else "default"
        self.sio = socketio.AsyncClient(
            reconnection=False, request_timeout=WAIT, serializer=serializer
        )
        self.queues: dict[tuple[str, str], asyncio.Queue[Any]] = {}

    def record(self, event: str, namespace: str = "/") -> None:
        queue = self.queues.setdefault((namespace, event), asyncio.Queue())

        async def handler(*args: Any) -> None:
            await queue.put(list(args))

        self.sio.on(event, handler, namespace=namespace)

    def answer(self, event: str, respond: Callable[..., Awaitable[Any]], namespace: str) -> None:
        """Acknowledge `event` with ``await respond(*args)`` (and queue its args)."""
        queue = self.queues.setdefault((namespace, event), asyncio.Queue())

        async def handler(*args: Any) -> Any:
            await queue.put(list(args))
            return await respond(*args)

        self.sio.on(event, handler, namespace=namespace)

    async def next(self, event: str, namespace: str = "/") -> list[Any]:
        return await asyncio.wait_for(self.queues[(namespace, event)].get(), WAIT)

    def pending(self, event: str, namespace: str = "/") -> int:
        return self.queues[(namespace, event)].qsize()

    async def connect(self, server, mode: str, namespaces: list[str], auth: Any = None) -> None:
        await self.sio.connect(
            server.url,
            auth=auth,
            namespaces=namespaces,
            transports=TRANSPORTS[mode],
            wait_timeout=WAIT,
        )

    async def call(self, event: str, *args: Any, namespace: str = "/") -> Any:
        return await self.sio.call(event, args, namespace=namespace, timeout=WAIT)

    async def close(self) -> None:
        if self.sio.connected or self.sio.eio.state == "connected":
            await self.sio.disconnect()


async def connected(server, mode: str, namespaces: list[str], auth: Any = None) -> Client:
    client = Client()
    await client.connect(server, mode, namespaces, auth)
    return client


@pytest.mark.parametrize("mode", MODES)
async def test_python_events_on_two_namespaces(server, mode):
    client = Client()
    namespaces = ["/", "/custom"]
    for nsp in namespaces:
        client.record("auth", nsp)
        client.record("message-back", nsp)
        client.record("emit-with-ack", nsp)
    await client.connect(server, mode, namespaces, AUTH)
    try:
        assert client.sio.transport() == expected_transport(mode)
        sids = {nsp: client.sio.get_sid(nsp) for nsp in namespaces}
        assert len(set(sids.values())) == 2
        for nsp in namespaces:
            assert await client.next("auth", nsp) == [AUTH]

            await client.sio.emit("message", (1, "two", {"three": [3, None]}), namespace=nsp)
            assert await client.next("message-back", nsp) == [1, "two", {"three": [3, None]}]
            await client.sio.send("just one", namespace=nsp)  # the `message` event
            assert await client.next("message-back", nsp) == ["just one"]

            assert await client.call("message-with-ack", "a", {"b": [1, 2]}, namespace=nsp) == (
                "a",
                {"b": [1, 2]},
            )
            assert await client.call("message-with-ack", "single", namespace=nsp) == "single"
            assert await client.call("message-with-ack", namespace=nsp) is None
    finally:
        await client.close()


@pytest.mark.parametrize("mode", MODES)
async def test_python_server_emit_with_ack(server, mode):
    """The server's emit_with_ack gets what our handler returns (a tuple spreads)."""
    client = Client()

    async def respond(*args: Any) -> tuple[Any, ...]:
        return ("acked", *args)

    client.answer("emit-with-ack", respond, "/custom")
    await client.connect(server, mode, ["/custom"], {})
    try:
        await client.sio.emit("emit-with-ack", ("x", {"y": 1}), namespace="/custom")
        assert await client.next("emit-with-ack", "/custom") == ["x", {"y": 1}]  # asked
        assert await client.next("emit-with-ack", "/custom") == ["acked", "x", {"y": 1}]
    finally:
        await client.close()


async def attempt(server, mode: str, namespace: str, auth: Any, wait: str | None = None):
    """Connect one client to `namespace`: ("connected", has a sid, [`wait` event args])
    or ("refused", connect_error data)."""
    client = Client()
    client.record("connect_error", namespace)
    if wait:
        client.record(wait, namespace)
    try:
        await client.connect(server, mode, [namespace], auth)
    except socketio.exceptions.ConnectionError:
        assert not client.sio.connected
        return ("refused", *(await client.next("connect_error", namespace)))
    try:
        events = [await client.next(wait, namespace)] if wait else []
        return ("connected", client.sio.get_sid(namespace) is not None, events)
    finally:
        await client.close()


@pytest.mark.parametrize("mode", MODES)
async def test_python_connect_outcomes(server, mode):
    outcomes = await asyncio.gather(
        attempt(server, mode, "/refuse", {"a": 1}),
        attempt(server, mode, "/mw", {"token": "bad"}),
        attempt(server, mode, "/mw", None),
        attempt(server, mode, "/mw", {"token": "ok"}, wait="welcome"),
        attempt(server, mode, "/nope", None),
        attempt(server, mode, "/dyn-42", None, wait="hello"),
        attempt(server, mode, "/dyn-x", None),
    )
    assert outcomes == [
        ("refused", REFUSED),
        ("refused", bad_token("bad")),
        ("refused", bad_token(None)),
        ("connected", True, [[{"token": "ok"}]]),
        ("refused", INVALID),
        ("connected", True, [["/dyn-42"]]),
        ("refused", INVALID),
    ]


PY_SENT = [{"buf": b"\x01\x02\x03", "nested": [b"\xff\xfe", {"deep": b"\x00" * 300}]}, b"\t"]


@pytest.mark.parametrize("mode", MODES)
async def test_python_binary_both_ways(server, mode):
    client = Client()
    client.record("bin", "/ops")
    await client.connect(server, mode, ["/ops"])
    try:
        ack = await client.call("binary", *PY_SENT, namespace="/ops")
        assert ack["received"] == server_view(PY_SENT)
        assert ack["echo"] == PY_SENT
        assert ack["extra"] == [b"\x02\x03"]
        assert await client.next("bin", "/ops") == [SERVER_BIN]
    finally:
        await client.close()


@pytest.mark.parametrize("mode", MODES)
async def test_python_empty_binary_attachment(server, mode):
    client = Client()
    client.record("bin", "/ops")
    await client.connect(server, mode, ["/ops"])
    try:
        sent = [[b"", b"\x01"]]
        ack = await asyncio.wait_for(client.call("binary", *sent, namespace="/ops"), 1.5)
        assert ack["echo"] == sent
        assert ack["received"] == [[{"bytes": ""}, {"bytes": "01"}]]
    finally:
        await client.close()


@pytest.mark.parametrize("mode", MODES)
async def test_python_server_acks_and_ack_timeout(server, mode):
    client = Client()
    released = asyncio.Event()

    async def answer(*args: Any) -> tuple[Any, ...]:
        return ("answer", *args)

    async def late(*args: Any) -> str:
        await released.wait()  # python-socketio always acks: answer after the timeout
        return "too late"

    client.answer("question", answer, "/ops")
    client.answer("no-answer", late, "/ops")
    await client.connect(server, mode, ["/ops"])
    try:
        assert await client.call("ask", 1, {"q": "?"}, namespace="/ops") == {
            "answer": ["answer", 1, {"q": "?"}]
        }
        assert await client.next("question", "/ops") == [1, {"q": "?"}]
        assert await client.call("ask-timeout", namespace="/ops") == "timeout"
        released.set()  # the late ack is ignored; the connection carries on
        assert await client.call("ask", "again", namespace="/ops") == {
            "answer": ["answer", "again"]
        }
    finally:
        released.set()
        await client.close()


async def server_reasons(server, sids: list[str]) -> dict[str, list[str]]:
    """What /ops's on_disconnect recorded for each of `sids`, asked by another client."""
    observer = await connected(server, "websocket", ["/ops"])
    try:
        deadline = time.monotonic() + WAIT
        while True:
            reasons = await observer.call("last-reasons", namespace="/ops")
            found = {sid: [r["reason"] for r in reasons if r["id"] == sid] for sid in sids}
            if all(found.values()) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.02)
    finally:
        await observer.close()


@pytest.mark.parametrize("mode", MODES)
async def test_python_disconnect_reasons(server, mode):
    clients = {how: Client() for how in ("client", "server", "engine")}
    for client in clients.values():
        client.record("disconnect", "/ops")
        await client.connect(server, mode, ["/ops"])
    sids = {how: c.sio.get_sid("/ops") for how, c in clients.items()}
    try:
        if mode != "polling":
            # python-socketio's disconnect() closes its websocket before its write loop
            # has sent the DISCONNECT packet it queued, so the server would only see the
            # websocket close ("transport close"): send the packet first and let it land.
            packet_class = clients["client"].sio.packet_class
            packet = packet_class(socketio.packet.DISCONNECT, namespace="/ops")
            await clients["client"].sio.eio.send(packet.encode())
            await server_reasons(server, [sids["client"]])
        await clients["client"].sio.disconnect()
        await clients["server"].sio.emit("kick", namespace="/ops")
        engine = clients["engine"].sio.eio
        if engine.current_transport == "websocket":
            await engine.ws.close()  # the websocket goes, without an Engine.IO CLOSE
        else:
            await engine.disconnect()  # a CLOSE packet over polling
        client_reasons = {how: await c.next("disconnect", "/ops") for how, c in clients.items()}
    finally:
        for client in clients.values():
            await client.close()
    assert client_reasons["client"] == ["client disconnect"]
    assert client_reasons["server"] == ["server disconnect"]
    reasons = await server_reasons(server, list(sids.values()))
    assert {how: reasons[sid] for how, sid in sids.items()} == {
        "client": ["client namespace disconnect"],
        "server": ["server namespace disconnect"],
        "engine": ["transport close"],
    }


@pytest.mark.parametrize("mode", MODES)
async def test_python_rooms(server, mode):
    room = unique("room")
    a, b, c = clients = [await connected(server, mode, ["/ops"]) for _ in range(3)]
    for client in clients:
        client.record("room-message", "/ops")
    try:
        assert await a.call("join", room, namespace="/ops") == [room]
        assert await b.call("join", room, namespace="/ops") == [room]
        assert await a.call("to-room", room, "hello", {"n": 1}, namespace="/ops") is True
        assert await b.next("room-message", "/ops") == ["hello", {"n": 1}]
        # Round trips after the broadcast: anything for a or c would have come first.
        await a.call("join", room, namespace="/ops")
        await c.call("join", unique("other"), namespace="/ops")
        assert a.pending("room-message", "/ops") == 0  # the sender is excluded
        assert c.pending("room-message", "/ops") == 0  # not in the room
        assert b.pending("room-message", "/ops") == 0  # once
    finally:
        for client in clients:
            await client.close()
