"""Raw Engine.IO v4 over aiohttp: just enough to speak the protocol by hand."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import WSMsgType

if TYPE_CHECKING:
    from .conftest import Server

SEP = "\x1e"
WAIT = 5.0  # for hangs only


def polling_url(server: Server, sid: str | None = None, eio: str | None = "4") -> str:
    url = f"{server.url}/engine.io/?transport=polling"
    if eio is not None:
        url += f"&EIO={eio}"
    if sid is not None:
        url += f"&sid={sid}"
    return url


def websocket_url(server: Server, sid: str | None = None) -> str:
    url = f"{server.ws_url}/engine.io/?EIO=4&transport=websocket"
    if sid is not None:
        url += f"&sid={sid}"
    return url


def error(code: int) -> dict[str, Any]:
    messages = {
        0: "Transport unknown",
        1: "Session ID unknown",
        2: "Bad handshake method",
        3: "Bad request",
        4: "Forbidden",
        5: "Unsupported protocol version",
    }
    return {"code": code, "message": messages[code]}


async def request(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, str]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.text()


async def open_polling(http: aiohttp.ClientSession, server: Server) -> tuple[str, dict[str, Any]]:
    """A new polling session: (sid, handshake)."""
    status, body = await request(http, "GET", polling_url(server))
    assert status == 200, body
    assert body[0] == "0", body
    handshake = json.loads(body[1:])
    return handshake["sid"], handshake


async def post(http: aiohttp.ClientSession, server: Server, sid: str, body: str | bytes):
    return await request(http, "POST", polling_url(server, sid), data=body)


async def poll(http: aiohttp.ClientSession, server: Server, sid: str) -> tuple[int, str]:
    return await request(http, "GET", polling_url(server, sid))


async def poll_packets(http: aiohttp.ClientSession, server: Server, sid: str) -> list[str]:
    """Poll until something other than server PINGs arrives; answer those PINGs."""
    while True:
        status, body = await poll(http, server, sid)
        assert status == 200, body
        packets = body.split(SEP)
        if "2" in packets:
            assert (await post(http, server, sid, "3")) == (200, "ok")
            packets = [p for p in packets if p != "2"]
        if packets:
            return packets


async def receive(ws: aiohttp.ClientWebSocketResponse, pong: bool = True) -> str | bytes:
    """The next message; server PINGs are answered (and skipped) unless `pong` is False."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            raise AssertionError(f"expected a message, got {msg.type!r} {msg.data!r}")
        if pong and msg.data == "2":
            await ws.send_str("3")
            continue
        return msg.data


async def closed(ws: aiohttp.ClientWebSocketResponse, pong: bool = True) -> int | None:
    """Wait for the server to close the websocket; its close code. Fails on a message."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return ws.close_code
        if msg.type is WSMsgType.TEXT and msg.data == "2":  # a PING: answered or ignored
            if pong:
                await ws.send_str("3")
            continue
        raise AssertionError(f"expected the websocket to close, got {msg.type!r} {msg.data!r}")


async def open_websocket(
    http: aiohttp.ClientSession, server: Server, **kwargs: Any
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(websocket_url(server), **kwargs)
    first = await receive(ws)
    assert isinstance(first, str) and first[0] == "0", first
    return ws, json.loads(first[1:])


async def assert_session_gone(http: aiohttp.ClientSession, server: Server, sid: str) -> None:
    """The server forgets `sid` (at once, or just after it closed the transport)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        status, body = await poll(http, server, sid)
        if status == 400 and json.loads(body) == error(1):
            return
        assert asyncio.get_running_loop().time() < deadline, (status, body)
        await asyncio.sleep(0.01)
