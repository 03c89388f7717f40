"""Real clients against the Engine.IO echo server: the official npm ``engine.io-client``
(Node), python-engineio's ``AsyncClient``, and raw clients that stop answering.

Each client runs over polling only, websocket only, and polling upgraded to
websocket, with text and binary messages both ways.
"""

from __future__ import annotations

import asyncio
import json
import time

import engineio
import pytest

from .helpers import (
    WAIT,
    assert_session_gone,
    closed,
    error,
    open_polling,
    open_websocket,
    poll,
    post,
    receive,
)

pytestmark = pytest.mark.e2e

MODES = ["polling", "websocket", "upgrade"]
PING_BOUND = 3.0  # pingInterval 0.3 + pingTimeout 0.2, with a generous margin


# -- the official engine.io-client (Node) -------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_official_client_echo(server, run_node, mode):
    lines = run_node("eio_echo", server.url, mode)
    problems = [line for line in lines if line["event"] in ("error", "upgradeError", "timeout")]
    assert not problems, lines
    result = lines[-1]
    assert result["event"] == "result", lines

    opened = next(line for line in lines if line["event"] == "open")
    assert opened["transport"] == ("websocket" if mode == "websocket" else "polling")

    sent, received = result["sent"], result["received"]
    assert received == sent  # every message once, in order, as it was sent
    assert {"t": "hello"} in sent
    assert {"t": "héllo €亜Б 😀"} in sent
    assert {"t": ""} in sent
    assert {"b": "AQIDBA=="} in sent
    assert any(item.get("t_len") == 100_000 for item in sent)
    assert any(item.get("b_len") == 100_000 for item in sent)
    assert sent[-1] == {"t": "after heartbeats"}  # still connected after several pings

    if mode == "upgrade":
        assert result["upgraded"] is True
        assert result["transport"] == "websocket"
        assert result["events"][:3] == ["open", "upgrading", "upgrade"]
        upgrade = next(line for line in lines if line["event"] == "upgrade")
        assert upgrade["transport"] == "websocket"
        assert upgrade["sent"] >= 30  # sent at open and while upgrading, before the switch
        assert len(sent) >= 30 + 10 + 10 + 58
    else:
        assert result["upgraded"] is False
        assert result["transport"] == mode
        assert "upgrading" not in result["events"]


# -- python-engineio's AsyncClient --------------------------------------------------

MESSAGES = [
    "hello",
    "héllo €亜Б 😀",
    b"\x01\x02\x03\x04",
    b"\x00\xff\x00",
    "x" * 100_000,
    bytes(range(256)) * 400,
]


@pytest.mark.parametrize("mode", MODES)
async def test_python_engineio_client_echo(server, mode):
    transports = {
        "polling": ["polling"],
        "websocket": ["websocket"],
        "upgrade": ["polling", "websocket"],
    }[mode]
    client = engineio.AsyncClient(request_timeout=WAIT)
    messages: asyncio.Queue[str | bytes] = asyncio.Queue()

    @client.on("message")
    async def on_message(data):
        await messages.put(data)

    async def next_message() -> str | bytes:
        return await asyncio.wait_for(messages.get(), WAIT)

    await client.connect(server.url, transports=transports, engineio_path="engine.io")
    try:
        assert client.transport() == ("polling" if mode == "polling" else "websocket")
        for data in MESSAGES:
            await client.send(data)
            assert await next_message() == data

        # Back-to-back, in bursts of 10: python-engineio's client refuses a polling
        # payload of more than 16 packets (engineio.payload.Payload.max_decode_packets),
        # and the server, like the reference one, answers a poll with all it has queued.
        for start in range(0, 60, 10):
            burst = [f"m{i}" if i % 3 else bytes([i, 0xFF]) for i in range(start, start + 10)]
            for data in burst:
                await client.send(data)
            assert [await next_message() for _ in burst] == burst

        await asyncio.sleep(1.0)  # through a few heartbeats
        await client.send("after heartbeats")
        assert await next_message() == "after heartbeats"
        assert client.state == "connected"
    finally:
        await client.disconnect()


# -- clients that stop answering ----------------------------------------------------


async def test_websocket_client_that_stops_answering_pings_is_dropped(server, http):
    ws, handshake = await open_websocket(http, server)
    async with ws:
        for _ in range(2):  # a well-behaved client for two heartbeats
            assert await receive(ws, pong=False) == "2"
            await ws.send_str("3")
        await ws.send_str("4alive")
        assert await receive(ws, pong=False) == "4alive"
        assert await receive(ws, pong=False) == "2"  # ... then silence
        silent_since = time.monotonic()
        await closed(ws, pong=False)
        assert time.monotonic() - silent_since < PING_BOUND
    await assert_session_gone(http, server, handshake["sid"])


async def test_polling_client_that_never_polls_is_dropped(server, http):
    sid, _ = await open_polling(http, server)
    opened = time.monotonic()
    # POSTs do not answer pings: the session must still time out.
    while True:
        status, body = await post(http, server, sid, "4anyone there?")
        if status != 200:
            break
        assert time.monotonic() - opened < PING_BOUND, "the session never timed out"
        await asyncio.sleep(0.05)
    assert (status, json.loads(body)) == (400, error(1))
    assert (await poll(http, server, sid))[0] == 400


async def test_polling_client_that_polls_but_never_pongs_is_dropped(server, http):
    sid, _ = await open_polling(http, server)
    assert await poll(http, server, sid) == (200, "2")
    pinged = time.monotonic()
    # The next poll waits; the session times out and the poll ends with CLOSE.
    assert await poll(http, server, sid) == (200, "1")
    assert time.monotonic() - pinged < PING_BOUND
    await assert_session_gone(http, server, sid)


async def test_a_silent_session_is_dropped_while_a_live_client_stays(server, http):
    """A silent client's timeout does not disturb a live python-engineio client."""
    client = engineio.AsyncClient(request_timeout=WAIT)
    messages: asyncio.Queue[str | bytes] = asyncio.Queue()

    @client.on("message")
    async def on_message(data):
        await messages.put(data)

    await client.connect(server.url, transports=["websocket"], engineio_path="engine.io")
    try:
        silent, handshake = await open_websocket(http, server)
        async with silent:
            await closed(silent, pong=False)
        await assert_session_gone(http, server, handshake["sid"])
        await client.send(b"\x00still here")
        assert await asyncio.wait_for(messages.get(), WAIT) == b"\x00still here"
    finally:
        await client.disconnect()
