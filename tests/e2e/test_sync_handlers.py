"""Sync handlers and Django types under real servers, seen by python-socketio's client.

The ``/sync`` namespace of ``tests/sioapp/sockets.py`` (sync handlers, no ``await``) under
daphne and uvicorn, over polling and websocket: it emits from ``on_connect``, joins and
broadcasts to rooms, waits for the client's ack from its worker thread, disconnects the
socket (its sync ``on_disconnect`` runs), and sends Django types as an emit and an ack.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.sioapp.sockets import DJANGO_TYPES_JSON

from .test_socketio_clients import Client, unique

pytestmark = pytest.mark.e2e

MODES = ["polling", "websocket"]


async def sync_client(server, mode: str) -> Client:
    client = Client()
    for event in ("welcome", "room-message", "types"):
        client.record(event, "/sync")
    await client.connect(server, mode, ["/sync"])
    assert await client.next("welcome", "/sync") == [client.sio.get_sid("/sync")]
    return client


@pytest.mark.parametrize("mode", MODES)
async def test_sync_handlers_act_on_the_socket(server, mode):
    room = unique("room")
    a, b = [await sync_client(server, mode) for _ in range(2)]
    try:
        assert await a.call("join", room, namespace="/sync") == [room]
        assert await b.call("join", room, namespace="/sync") == [room]
        assert await a.call("to-room", room, "hi", {"n": 1}, namespace="/sync") is True
        assert await b.next("room-message", "/sync") == ["hi", {"n": 1}]
        assert await b.call("leave", room, namespace="/sync") == []
        assert await a.call("to-room", room, "after", namespace="/sync") is True
        await a.call("reason", "x", namespace="/sync")  # a round trip for a and b
        await b.call("reason", "x", namespace="/sync")
        assert a.pending("room-message", "/sync") == b.pending("room-message", "/sync") == 0
    finally:
        for client in (a, b):
            await client.close()


@pytest.mark.parametrize("mode", MODES)
async def test_a_sync_handler_waits_for_an_ack_and_disconnects_the_socket(server, mode):
    client = await sync_client(server, mode)
    disconnected = asyncio.Event()
    client.sio.on("disconnect", lambda *reason: disconnected.set(), namespace="/sync")

    async def respond(*args):
        return ("answer", *args)

    client.answer("question", respond, "/sync")
    try:
        assert await client.call("ask", 1, namespace="/sync") == ("answer", 1)
        sid = client.sio.get_sid("/sync")
        await client.sio.emit("kick", namespace="/sync")
        await asyncio.wait_for(disconnected.wait(), 10)
    finally:
        await client.close()
    other = await sync_client(server, mode)
    try:
        assert await other.call("reason", sid, namespace="/sync") == "server namespace disconnect"
    finally:
        await other.close()


@pytest.mark.parametrize("mode", MODES)
async def test_django_types_in_an_emit_and_an_ack(server, mode):
    client = await sync_client(server, mode)
    try:
        assert await client.call("types", namespace="/sync") == DJANGO_TYPES_JSON
        assert await client.next("types", "/sync") == [DJANGO_TYPES_JSON]
    finally:
        await client.close()
