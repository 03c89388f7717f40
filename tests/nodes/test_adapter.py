"""Two or three servers in one process, on one in-memory channel layer.

What crosses between them is only what `internode` declares; these tests drive
the adapter's side of it without daphne or Redis (tests/multinode does it with both).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from channels.layers import InMemoryChannelLayer

from django_socketio.adapter import NODES_GROUP, ChannelLayerAdapter
from django_socketio.internode import MessageError
from django_socketio.socketio.server import SocketIOServer


class Node(SocketIOServer):
    def __init__(self, layer: InMemoryChannelLayer) -> None:
        super().__init__()
        self.layer = layer

    def make_adapter(self) -> ChannelLayerAdapter:
        return ChannelLayerAdapter(
            self, self.layer, heartbeat_interval=0.05, node_timeout=1.0, request_timeout=2.0
        )


async def wait_for(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def nodes():
    layer = InMemoryChannelLayer(expiry=5)
    servers = [Node(layer) for _ in range(3)]
    for server in servers:
        await server.start()
    await wait_for(lambda: all(len(s.adapter.live_nodes()) == 2 for s in servers))
    yield servers
    for server in servers:
        await server.adapter.stop()


async def test_nodes_find_each_other_and_answer_questions(nodes):
    a, b, c = nodes
    stats = await a.ask_nodes("server_stats")
    assert sorted(s["node_id"] for s in stats) == sorted([b.adapter.node_id, c.adapter.node_id])
    assert 0 <= a.adapter.heard_ago(b.adapter.node_id) < 1.0
    assert a.adapter.heard_ago("nobody") is None
    status = await a.ask_nodes("server_status")
    assert len(status) == 2 and all("namespaces" in s for s in status)


async def test_a_question_nobody_registered_an_answer_for_is_answered_with_none(nodes):
    a, _, _ = nodes
    assert await a.ask_nodes("sockets", timeout=1) == [None, None]


async def test_an_undeclared_question_raises_before_anything_is_sent(nodes):
    a, _, _ = nodes
    sent = a.adapter.stats.sent
    with pytest.raises(MessageError, match="unknown request kind 'what'"):
        await a.ask_nodes("what")
    with pytest.raises(MessageError, match="payload has no 'rooms'"):
        await a.adapter.request(a.of("/"), "sockets_join", {"opts": {}})
    assert a.adapter.stats.sent == sent


async def test_namespace_commands_reach_every_node(nodes):
    a, b, _ = nodes
    seen = []

    async def on_server_event(event, *args):
        seen.append((event, args))
        return "done"

    b.of("/")._on_server_event = on_server_event
    answers = await a.of("/").server_side_emit_with_ack("ping", 1)
    assert sorted(answers, key=str) == [None, "done"]
    assert seen == [("ping", (1,))]
    assert await a.of("/").fetch_sockets() == []


async def test_a_broadcast_with_acks_and_no_recipients_completes_at_once(nodes):
    a, _, _ = nodes
    assert await a.of("/").timeout(1).emit_with_ack("x") == []


async def test_garbage_on_the_node_channel_is_dropped_and_the_node_keeps_serving(nodes, caplog):
    a, b, _ = nodes
    caplog.set_level(logging.WARNING, "django_socketio.adapter")
    await b.adapter.layer.send(b.adapter.channel, {"type": "sio.nothing", "node": "x"})
    await b.adapter.layer.send(b.adapter.channel, {"type": "sio.heartbeat", "node": "x"})
    await b.adapter.layer.send(
        b.adapter.channel, {"type": "sio.request", "node": "x", "kind": "what", "payload": {}}
    )
    stats = await a.ask_nodes("server_stats")
    assert len(stats) == 2
    await wait_for(lambda: len([r for r in caplog.records if "dropped" in r.message]) == 3)


async def test_a_stopped_node_says_goodbye_and_a_silent_one_is_forgotten(nodes):
    a, b, c = nodes
    await c.adapter.stop()
    await wait_for(lambda: c.adapter.node_id not in a.adapter.live_nodes())
    # b goes silent without a goodbye: forgotten after node_timeout
    for task in b.adapter._tasks:
        task.cancel()
    await b.adapter.layer.group_discard(NODES_GROUP, b.adapter.channel)
    await wait_for(lambda: a.adapter.live_nodes() == set(), timeout=3)
    assert await a.ask_nodes("server_stats") == []
