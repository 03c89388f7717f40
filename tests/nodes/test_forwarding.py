"""Long-polling across processes: three engines on one in-memory channel layer.

Each `Node` is an Engine.IO echo application with its own engine, consumers and
channel-layer adapter; a request sent to one node's consumer stands for a request
a round-robin balancer sent to that process. The reference (socket.io's
cluster-engine test/in-memory.ts) is ported here: read and write across nodes,
immediate and deferred, several writes in order, close from either side, pings,
invalid ids, upgrades. The nodes attach sessions at once (TAKEOVER_WINDOW 0) unless a
test is about the takeover of a session by the process its upgrade websocket reached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from channels.layers import InMemoryChannelLayer
from channels.testing import ApplicationCommunicator, HttpCommunicator, WebsocketCommunicator

from django_socketio.adapter import ChannelLayerAdapter
from django_socketio.conf import build_settings
from django_socketio.engineio.consumers import PollingConsumer, WebsocketConsumer
from django_socketio.engineio.engine import Engine, spawn
from tests.consumers.helpers import SEP, Echo, error, handshake, http_scope, poll, post, request

UNKNOWN = error(1, "Session ID unknown")


class Node(Echo):
    """One process: an echo application, its engine, consumers and adapter."""

    def __init__(self, layer: InMemoryChannelLayer, **overrides) -> None:
        super().__init__()
        self.settings = build_settings(
            {
                "PING_INTERVAL": 25,
                "PING_TIMEOUT": 20,
                "MAX_PAYLOAD": 1000,
                "TAKEOVER_WINDOW": 0,
                **overrides,
            }
        )
        self.engine = Engine(self, self.settings.engine)
        self.namespaces: dict = {}
        self.node_requests: dict = {}
        self.adapter = ChannelLayerAdapter(
            self,
            layer,
            heartbeat_interval=0.05,
            node_timeout=1.0,
            request_timeout=1.0,
            forwarded_requests=self.settings.forwarded_requests,
        )
        self.http = PollingConsumer.as_asgi(engine=self.engine, settings=self.settings)
        self.ws = WebsocketConsumer.as_asgi(engine=self.engine, settings=self.settings)

    def spawn(self, coro) -> None:
        spawn(coro)

    async def start(self) -> None:
        if self.adapter.channel is None:  # idempotent, as the engine expects
            await self.adapter.start()


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def start_nodes(count: int = 3, **overrides) -> list[Node]:
    layer = InMemoryChannelLayer(expiry=60)
    nodes = [Node(layer, **overrides) for _ in range(count)]
    for node in nodes:
        await node.start()
    await wait_for(lambda: all(len(n.adapter.live_nodes()) == count - 1 for n in nodes))
    return nodes


@pytest.fixture
async def nodes():
    started = await start_nodes()
    yield started
    for node in started:
        await node.adapter.stop()


def sid_of(node: Node) -> str:
    (sid,) = node.engine.connections
    return sid


async def test_a_sid_names_its_owner_and_keeps_the_reference_shape(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    assert len(sid) == 20 and sid.startswith(a.engine.node_tag)
    assert set(sid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert await b.adapter.forwarding.owner(sid) == a.adapter.node_id
    assert await a.adapter.forwarding.owner(sid) is None  # its own


async def test_a_fresh_process_forwards_its_first_request(nodes):
    """Under daphne (no lifespan) a process starts its adapter at its first request.

    When that request is a poll for another process's session, the process starts,
    learns the owner's tag from the answers to its hello and forwards it: no 400.
    """
    a, _, _ = nodes
    fresh = Node(a.adapter.layer)
    fresh.adapter._in_memory = False  # stands for a process on a shared (Redis) layer
    try:
        sid = await handshake(a)
        assert fresh.adapter.channel is None  # nothing started it yet
        sent = await post(fresh, sid, b"4hello")
        assert (sent["status"], sent["body"]) == (200, b"ok")
        got = await poll(fresh, sid)
        assert (got["status"], got["body"]) == (200, b"4hello")  # the echo, from a's session
        assert fresh.adapter.forwarding.forwarded == 2
    finally:
        await fresh.adapter.stop()


async def test_a_fresh_process_still_says_unknown_for_a_tag_nobody_has(nodes):
    a, _, _ = nodes
    fresh = Node(a.adapter.layer)
    fresh.adapter._in_memory = False
    try:
        got = await poll(fresh, "zzzz" + "A" * 16)
        assert (got["status"], got["body"]) == (400, UNKNOWN)
    finally:
        await fresh.adapter.stop()


async def test_read_on_another_node(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    await a.engine.send(sid, "hello")
    response = await poll(b, sid)
    assert response["status"] == 200 and response["body"] == b"4hello"
    assert b.adapter.forwarding.forwarded == 1 and sid not in b.engine.connections
    assert response["headers"][b"content-type"] == b"text/plain; charset=UTF-8"


async def test_read_on_another_node_deferred(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    pending = asyncio.ensure_future(poll(b, sid))
    await asyncio.sleep(0.2)
    assert not pending.done()
    await a.engine.send(sid, "hello")
    response = await asyncio.wait_for(pending, 5)
    assert response["body"] == b"4hello"


async def test_writes_on_other_nodes_arrive_in_order(nodes):
    a, b, c = nodes
    sid = await handshake(a)
    for i in range(6):
        response = await post((b, c)[i % 2], sid, f"4m{i}{SEP}4n{i}")
        assert response["status"] == 200 and response["body"] == b"ok"
        assert response["headers"][b"content-type"] == b"text/html"
    assert [data for _, data in a.messages] == [x for i in range(6) for x in (f"m{i}", f"n{i}")]
    # the echoes wait at the owner, for a GET wherever it lands
    response = await poll(c, sid)
    assert response["body"].decode().split(SEP)[:2] == ["4m0", "4n0"]


async def test_close_from_the_owner_reaches_the_forwarded_get(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    pending = asyncio.ensure_future(poll(b, sid))
    await asyncio.sleep(0.1)
    await a.engine.close(sid)
    response = await asyncio.wait_for(pending, 5)
    assert response["body"] == b"1"
    await wait_for(lambda: a.disconnected == [(sid, "forced close")])
    assert (await poll(b, sid))["body"] == UNKNOWN


async def test_close_from_the_client_through_another_node(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    assert (await post(b, sid, "1"))["body"] == b"ok"
    await wait_for(lambda: a.disconnected == [(sid, "transport close")])


async def test_pings_come_from_the_owner_and_pongs_go_back_through_others():
    nodes = await start_nodes(PING_INTERVAL=0.3, PING_TIMEOUT=0.5)
    try:
        a, b, c = nodes
        sid = await handshake(a)
        for _ in range(3):
            assert (await asyncio.wait_for(poll(b, sid), 5))["body"] == b"2"
            assert (await post(c, sid, "3"))["body"] == b"ok"
        assert a.disconnected == []
        # no pong: the owner's timers close the session, wherever the GETs landed
        assert (await asyncio.wait_for(poll(c, sid), 5))["body"] == b"2"
        await wait_for(lambda: a.disconnected == [(sid, "ping timeout")])
        response = await poll(b, sid)
        assert response["status"] == 400 and response["body"] == UNKNOWN
    finally:
        for node in nodes:
            await node.adapter.stop()


@pytest.mark.parametrize("kind", ["garbage", "unknown tag", "owner does not know it"])
async def test_invalid_and_foreign_sids_fail_fast_as_unknown(nodes, kind):
    a, b, _ = nodes
    await handshake(a)
    sid = {
        "garbage": "abc",
        "unknown tag": "~~~~" + "x" * 16,
        "owner does not know it": a.engine.node_tag + "y" * 16,
    }[kind]
    began = time.monotonic()
    for method in ("GET", "POST"):
        response = await request(b, method, f"EIO=4&transport=polling&sid={sid}", body=b"4x")
        assert response["status"] == 400 and response["body"] == UNKNOWN
    assert time.monotonic() - began < 0.9  # an answer, not a timeout (REQUEST_TIMEOUT 1)


async def test_max_payload_is_enforced_where_the_post_arrived(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    response = await post(b, sid, "4" + "x" * 1000)
    assert response["status"] == 413
    assert response["body"] == b'{"code":3,"message":"Payload too large"}'
    await wait_for(lambda: a.disconnected == [(sid, "transport error")])


async def test_a_bad_payload_gets_the_local_error(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    response = await post(b, sid, "9nonsense")
    assert response["status"] == 400 and response["body"] == error(3, "Bad request")
    await wait_for(lambda: a.disconnected == [(sid, "parse error")])


async def test_a_second_concurrent_get_closes_the_session_local_or_remote(nodes):
    a, b, c = nodes
    sid = await handshake(a)
    first = asyncio.ensure_future(poll(b, sid))
    await wait_for(lambda: a.engine.connections[sid].poll is not None)
    second = await poll(c, sid)
    assert second["status"] == 400 and second["body"] == error(3, "Bad request")
    await asyncio.wait_for(first, 5)
    await wait_for(lambda: a.disconnected == [(sid, "transport error")])
    # and a local GET against a forwarded one
    sid = await handshake(a)
    first = asyncio.ensure_future(poll(b, sid))
    await wait_for(lambda: a.engine.connections[sid].poll is not None)
    assert (await poll(a, sid))["status"] == 400
    await asyncio.wait_for(first, 5)


async def test_an_aborted_forwarded_get_is_a_lost_local_get(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    comm = ApplicationCommunicator(b.http, http_scope("GET", f"EIO=4&transport=polling&sid={sid}"))
    await comm.send_input({"type": "http.request", "body": b""})
    await wait_for(lambda: a.engine.connections[sid].poll is not None)
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(timeout=5)
    await wait_for(lambda: a.disconnected == [(sid, "transport error")])


async def test_the_owner_gone_makes_forwarded_requests_fail_fast(nodes):
    a, b, _ = nodes
    sid = await handshake(a)
    pending = asyncio.ensure_future(poll(b, sid))
    await wait_for(lambda: a.engine.connections[sid].poll is not None)
    began = time.monotonic()
    await a.adapter.stop()  # its goodbye: b forgets it and fails what waits for it
    response = await asyncio.wait_for(pending, 5)
    assert response["status"] == 400 and response["body"] == UNKNOWN
    response = await post(b, sid, "4x")
    assert response["status"] == 400 and response["body"] == UNKNOWN
    assert time.monotonic() - began < 0.9


async def test_forwarded_requests_in_flight_are_bounded():
    nodes = await start_nodes(2, FORWARDED_REQUESTS=1, NODE_CHANNEL_CAPACITY=10)
    try:
        a, b = nodes
        one, two = await handshake(a), await handshake(a)
        pending = asyncio.ensure_future(poll(b, one))
        await wait_for(lambda: a.engine.connections[one].poll is not None)
        refused = await poll(b, two)
        assert refused["status"] == 503
        assert json.loads(refused["body"]) == {"code": 3, "message": "Too many forwarded requests"}
        assert b.adapter.forwarding.refused == 1
        await a.engine.send(one, "x")
        assert (await asyncio.wait_for(pending, 5))["body"] == b"4x"
    finally:
        for node in nodes:
            await node.adapter.stop()


def websocket(node: Node, sid: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(node.ws, f"/engine.io/?EIO=4&transport=websocket&sid={sid}")


async def probed(node: Node, sid: str) -> WebsocketCommunicator:
    """A websocket on `node` for `sid` whose probe was answered (the session is its to take)."""
    ws = websocket(node, sid)
    assert (await ws.connect())[0]
    await ws.send_to(text_data="2probe")
    assert await ws.receive_from(timeout=5) == "3probe"
    return ws


async def closed(ws: WebsocketCommunicator) -> bool:
    return (await ws.receive_output(timeout=5))["type"] == "websocket.close"


async def test_a_late_websocket_upgrade_on_another_node_is_refused_and_polling_goes_on(nodes):
    a, b, _ = nodes
    sid = await handshake(a)  # attached at once here: too late to move
    ws = websocket(b, sid)
    assert (await ws.connect())[0]
    await ws.send_to(text_data="2probe")
    assert await closed(ws)  # no 3probe: a failed probe to clients, which keep polling
    await a.engine.send(sid, "still here")
    assert (await poll(b, sid))["body"] == b"4still here"
    assert (await post(b, sid, "4more"))["body"] == b"ok"
    assert a.disconnected == [] and b.connected == []


async def test_an_unknown_owner_refuses_the_websocket_before_the_handshake(nodes):
    _, b, _ = nodes
    connected, _ = await websocket(b, "~~~~" + "x" * 16).connect()
    assert not connected  # HTTP 403


@pytest.fixture
async def slow_nodes():
    # A window no loaded machine misses; the reference's 300 ms is the default.
    started = await start_nodes(TAKEOVER_WINDOW=5)
    yield started
    for node in started:
        await node.adapter.stop()


async def test_a_websocket_on_another_node_takes_the_new_session_over(slow_nodes):
    """The reference's takeover: the session moves whole, with what the client sent.

    The owner never tells its application of the session; the websocket's node does,
    with the messages posted before the move (through a third node) first, in order,
    once, then what comes on the websocket.
    """
    a, b, c = slow_nodes
    sid = await handshake(a)
    assert (await post(c, sid, f"4one{SEP}4two"))["body"] == b"ok"
    pending = asyncio.ensure_future(poll(c, sid))
    assert a.connected == [] and a.messages == []  # held for TAKEOVER_WINDOW
    ws = await probed(b, sid)
    assert (await asyncio.wait_for(pending, 5))["body"] == b"6"  # the client stops polling
    await ws.send_to(text_data="5")
    await ws.send_to(text_data="4three")
    for echo in ("4one", "4two", "4three"):
        assert await ws.receive_from(timeout=5) == echo
    assert b.connected == [sid] and [m for _, m in b.messages] == ["one", "two", "three"]
    assert sid in b.engine.connections and sid not in a.engine.connections
    assert a.connected == [] and a.messages == [] and a.disconnected == []
    assert b.engine.connections[sid].session.transport == "websocket"
    await ws.send_to(text_data="1")
    await wait_for(lambda: b.disconnected == [(sid, "transport close")])
    assert a.disconnected == []


async def test_a_probe_that_fails_leaves_the_session_with_its_owner(slow_nodes):
    a, b, c = slow_nodes
    sid = await handshake(a)
    assert (await post(c, sid, "4kept"))["body"] == b"ok"
    ws = await probed(b, sid)
    await ws.disconnect()  # before the client's UPGRADE
    await wait_for(lambda: a.connected == [sid])  # attached at the owner at once
    assert [m for _, m in a.messages] == ["kept"]
    assert (await poll(c, sid))["body"] == b"4kept"
    assert (await post(b, sid, "4more"))["body"] == b"ok"
    assert (await poll(b, sid))["body"] == b"4more"
    assert b.connected == [] and a.disconnected == []


async def test_a_taker_that_goes_away_leaves_the_session_with_its_owner(slow_nodes):
    a, b, c = slow_nodes
    sid = await handshake(a)
    _taker = await probed(b, sid)  # kept open: the taker goes, not its websocket
    await b.adapter.stop()  # its goodbye
    await wait_for(lambda: a.connected == [sid])
    assert (await post(c, sid, "4on"))["body"] == b"ok"
    assert (await poll(c, sid))["body"] == b"4on"


async def test_an_upgrade_on_the_owner_hands_the_session_to_its_application_at_once(slow_nodes):
    a, b, _ = slow_nodes
    sid = await handshake(a)
    assert (await post(b, sid, "4early"))["body"] == b"ok"
    ws = await probed(a, sid)
    await wait_for(lambda: a.messages == [(sid, "early")])  # not 5 s later
    await ws.send_to(text_data="5")
    assert await ws.receive_from(timeout=5) == "4early"
    assert a.connected == [sid] and b.connected == []
    await ws.disconnect()


async def test_a_session_closed_within_the_window_is_never_seen(slow_nodes):
    a, b, _ = slow_nodes
    sid = await handshake(a)
    assert (await post(b, sid, f"4lost{SEP}1"))["body"] == b"ok"
    await wait_for(lambda: sid not in a.engine.connections)
    assert a.connected == a.messages == a.disconnected == []


async def test_a_second_node_cannot_claim_a_session_being_taken(slow_nodes):
    a, b, c = slow_nodes
    sid = await handshake(a)
    first = await probed(b, sid)
    second = websocket(c, sid)
    assert (await second.connect())[0]
    await second.send_to(text_data="2probe")
    assert await closed(second)
    await first.send_to(text_data="5")
    await wait_for(lambda: b.connected == [sid])
    assert c.connected == [] and a.connected == []
    await first.disconnect()


async def test_a_layer_expiry_shorter_than_a_poll_is_reported_at_start(caplog):
    caplog.set_level(logging.WARNING, "django_socketio.adapter")
    node = Node(InMemoryChannelLayer(expiry=10))  # PING_INTERVAL 25 + REQUEST_TIMEOUT 1
    await node.start()
    try:
        assert any("expiry (10 s) is shorter" in r.getMessage() for r in caplog.records)
    finally:
        await node.adapter.stop()


async def test_a_get_forwarded_to_an_owner_that_went_silent_fails_at_node_timeout(nodes):
    """A killed owner says no goodbye: the waiting GET fails once the owner is missed.

    Not at its own bound (REQUEST_TIMEOUT + PING_INTERVAL: 26 s here), and without
    another request arriving to notice it.
    """
    a, b, _ = nodes
    sid = await handshake(a)
    for task in a.adapter._tasks:  # as if killed: no heartbeats, no answers, no goodbye
        task.cancel()
    started = time.monotonic()
    comm = HttpCommunicator(b.http, "GET", f"/engine.io/?EIO=4&transport=polling&sid={sid}")
    got = await comm.get_response(timeout=10)  # the helpers' `poll` gives up after 1 s
    assert (got["status"], got["body"]) == (400, UNKNOWN)
    assert time.monotonic() - started < 5  # node_timeout is 1 s


async def test_a_session_lent_to_a_silent_taker_comes_back_in_time(slow_nodes):
    """Bounded: a taker that claimed and then said nothing (killed) does not keep it.

    Here the bound given to `lend` (the owner uses UPGRADE_TIMEOUT + 2 x REQUEST_TIMEOUT);
    a taker that stops beating is also missed after NODE_TIMEOUT (the goodbye test).
    """
    a, b, _ = slow_nodes
    sid = await handshake(a)
    assert (await post(b, sid, "4mine"))["body"] == b"ok"
    assert a.engine.lend(sid, "a-process-that-died", 0.3)
    assert (await poll(b, sid))["body"] == b"6"  # upgrading: the client stops polling
    await wait_for(lambda: a.connected == [sid])
    assert (await poll(b, sid))["body"] == b"4mine"
    assert a.engine.give_away(sid, "a-process-that-died") is None  # too late


async def test_more_than_one_post_s_worth_within_the_window_ends_it(slow_nodes):
    """Bounded: what a session holds for a takeover is one POST's worth (MAX_PAYLOAD 1000).

    Past it the session stays with its owner and the application gets it all, in order.
    """
    a, b, _ = slow_nodes
    sid = await handshake(a)
    began = time.monotonic()
    for i in range(3):
        assert (await post(b, sid, f"4{i}" + "x" * 400))["body"] == b"ok"
    await wait_for(lambda: len(a.messages) == 3)
    assert time.monotonic() - began < 4  # not at the end of the 5 s window
    assert [m[:1] for _, m in a.messages] == ["0", "1", "2"] and a.connected == [sid]


async def test_an_engine_io_v3_session_is_taken_over_too():
    """Socket.IO 2.x clients (ALLOW_EIO3) move the same way: v3 payloads, v3 pings.

    What they posted before the move is held in the v3 framing and replayed once, in
    order; on the websocket the client pings and the new owner answers.
    """
    nodes = await start_nodes(TAKEOVER_WINDOW=5, ALLOW_EIO3=True)
    try:
        a, b, c = nodes
        opened = (await request(a, "GET", "EIO=3&transport=polling&b64=1"))["body"].decode()
        length, _, rest = opened.partition(":")
        sid = json.loads(rest[1 : int(length)])["sid"]
        v3 = f"EIO=3&transport=polling&b64=1&sid={sid}"
        assert (await request(c, "POST", v3, body=b"4:4one4:4two"))["body"] == b"ok"
        pending = asyncio.ensure_future(request(c, "GET", v3))
        ws = WebsocketCommunicator(b.ws, f"/engine.io/?EIO=3&transport=websocket&sid={sid}")
        assert (await ws.connect())[0]
        await ws.send_to(text_data="2probe")
        assert await ws.receive_from(timeout=5) == "3probe"
        assert (await asyncio.wait_for(pending, 5))["body"] == b"1:6"
        await ws.send_to(text_data="5")
        await ws.send_to(text_data="4three")
        for echo in ("4one", "4two", "4three"):
            assert await ws.receive_from(timeout=5) == echo
        assert b.connected == [sid] and [m for _, m in b.messages] == ["one", "two", "three"]
        assert a.connected == [] and sid not in a.engine.connections
        await ws.send_to(text_data="2")
        assert await ws.receive_from(timeout=5) == "3"
        await ws.disconnect()
    finally:
        for node in nodes:
            await node.adapter.stop()
