"""The connect timeout, with raw Engine.IO sessions at /socket.io/ of the conformance
server (CONNECT_TIMEOUT 1 s): a session that joins no namespace is closed, whether it
polls, holds a websocket or was refused a namespace (as the reference server, a refusal
does not stop the timer); a connected one outlives it.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from aiohttp import WSMsgType

from .helpers import closed, receive, request

pytestmark = pytest.mark.e2e

CONNECT_TIMEOUT = 1.0  # SOCKETIO["CONNECT_TIMEOUT"] of the conformance server


def sio_url(server, transport: str, sid: str | None = None) -> str:
    base = server.ws_url if transport == "websocket" else server.url
    url = f"{base}/socket.io/?EIO=4&transport={transport}"
    return url + (f"&sid={sid}" if sid else "")


async def open_ws(http: aiohttp.ClientSession, server) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(sio_url(server, "websocket"))
    opened = await receive(ws)
    assert isinstance(opened, str) and opened.startswith("0{"), opened
    return ws


def assert_closed_after_connect_timeout(started: float) -> None:
    elapsed = time.monotonic() - started
    assert CONNECT_TIMEOUT * 0.5 < elapsed < CONNECT_TIMEOUT + 3, elapsed


async def closed_by_timeout_websocket(server, http) -> None:
    started = time.monotonic()
    async with await open_ws(http, server) as ws:
        await closed(ws)  # answering pings meanwhile: only the connect timeout closes it
    assert_closed_after_connect_timeout(started)


async def closed_by_timeout_polling(server, http) -> None:
    started = time.monotonic()
    status, body = await request(http, "GET", sio_url(server, "polling"))
    assert status == 200 and body.startswith("0{"), body
    sid = json.loads(body[1:])["sid"]
    while True:  # poll, answering pings, until the session ends
        status, body = await request(http, "GET", sio_url(server, "polling", sid))
        if status != 200 or "1" in body.split("\x1e"):
            break
        if "2" in body.split("\x1e"):
            await request(http, "POST", sio_url(server, "polling", sid), data="3")
        assert time.monotonic() - started < CONNECT_TIMEOUT + 3, "never closed"
    assert_closed_after_connect_timeout(started)


async def closed_by_timeout_after_invalid_namespace(server, http) -> None:
    """Like the reference server, a refused namespace does not stop the timer."""
    started = time.monotonic()
    async with await open_ws(http, server) as ws:
        await ws.send_str("40/nope,")
        assert await receive(ws) == '44/nope,{"message":"Invalid namespace"}'
        await closed(ws)
    assert_closed_after_connect_timeout(started)


async def test_sessions_that_join_no_namespace_are_closed(server, http):
    """Engine.IO sessions at /socket.io/ that never connect a namespace, at once."""
    await asyncio.gather(
        closed_by_timeout_websocket(server, http),
        closed_by_timeout_polling(server, http),
        closed_by_timeout_after_invalid_namespace(server, http),
    )


async def test_a_connected_session_outlives_the_connect_timeout(server, http):
    async with await open_ws(http, server) as ws:
        await ws.send_str('40{"k":1}')
        connect = await receive(ws)
        assert connect.startswith('40{"sid":'), connect
        assert await receive(ws) == '42["auth",{"k":1}]'
        deadline = time.monotonic() + CONNECT_TIMEOUT * 1.3
        while (left := deadline - time.monotonic()) > 0:  # answer pings, nothing else
            try:
                msg = await asyncio.wait_for(ws.receive(), left)
            except TimeoutError:
                break
            assert msg.type is WSMsgType.TEXT and msg.data == "2", msg
            await ws.send_str("3")
        await ws.send_str('421["message-with-ack","still here"]')
        assert await receive(ws) == '431["still here"]'
