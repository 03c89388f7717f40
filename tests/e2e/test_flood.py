"""A client that floods events, seen from its own side, under daphne and uvicorn.

With ``EVENT_LIMIT_POLICY = "disconnect"`` (``flood_settings``): the flooder gets a
DISCONNECT for its namespace and its connection is closed; under daphne the server stops
reading it at once (otherwise autobahn parses everything already sent, a second of CPU,
until its close handshake times out); its address cannot connect again within the minute
(CONNECTIONS_PER_MINUTE is used up); a client next to it keeps its echo. With "drop"
(``flood_drop_settings``) the flooder stays connected and is not read for up to a
second each time it goes over its rate, under both servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from .conftest import Server, serve

pytestmark = pytest.mark.e2e

FLOODER = "127.0.0.2"
BYSTANDER = "127.0.0.3"
FLOOD_SECONDS = 2.0  # the flooder writes this long, or until the server closes
CPU_BOUND = 0.5  # seconds of server CPU while it floods (daphne without the pause: ~1 s+)
WAIT = 30.0  # for hangs only


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def flood_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    yield from serve(request.param, "tests.e2e.flood_settings")


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def drop_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    yield from serve(request.param, "tests.e2e.flood_drop_settings")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_frame(text: str) -> bytes:
    """One masked websocket text frame (clients must mask; a fixed key is allowed)."""
    payload, key = text.encode(), b"\x01\x02\x03\x04"
    assert len(payload) < 126
    return (
        bytes([0x81, 0x80 | len(payload)])
        + key
        + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    )


async def server_frames(reader: asyncio.StreamReader) -> AsyncIterator[str]:
    """Text of the server's frames; ends with a close frame."""
    while True:
        head = await reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        data = await reader.readexactly(n)
        if head[0] & 0x0F == 0x8:
            return
        yield data.decode()


async def raw_websocket(srv: Server) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = srv.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(FLOODER, 0))
    writer.write(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: http://127.0.0.1\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), reader, writer


async def test_a_flooder_is_disconnected_not_read_and_not_let_back(flood_server: Server) -> None:
    srv = flood_server
    connector = aiohttp.TCPConnector(local_addr=(BYSTANDER, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        bystander = await http.ws_connect(f"{srv.ws_url}/socket.io/?EIO=4&transport=websocket")
        assert (await bystander.receive_str()).startswith("0")
        await bystander.send_str("40")
        assert (await bystander.receive_str()).startswith("40")

        status, reader, writer = await raw_websocket(srv)
        assert status == 101
        frames = server_frames(reader)
        assert (await anext(frames)).startswith("0")
        writer.write(client_frame("40"))
        assert (await anext(frames)).startswith("40")
        seen: list[str] = []

        async def read() -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                async for text in frames:
                    seen.append(text)
            seen.append("closed")

        reading = asyncio.ensure_future(read())
        batch = client_frame('42["message-with-ack","flood"]') * 1000
        cpu = cpu_seconds(srv.process.pid)
        deadline = time.monotonic() + FLOOD_SECONDS
        sent = 0
        with contextlib.suppress(OSError, TimeoutError):
            while time.monotonic() < deadline:
                writer.write(batch)
                await asyncio.wait_for(writer.drain(), deadline - time.monotonic())
                sent += len(batch)
        await asyncio.wait_for(reading, WAIT)
        spent = cpu_seconds(srv.process.pid) - cpu
        writer.transport.abort()

        assert seen[-2:] == ["41", "closed"], seen[-5:]  # DISCONNECT, then the close
        assert sent > 1_000_000, sent  # the flood did not stop at our side
        if srv.kind == "daphne":
            # Read no further than the frames before the close: not the megabytes behind.
            assert spent < CPU_BOUND, (spent, sent)

        # The same address cannot come back within the minute...
        status, _, again = await raw_websocket(srv)
        again.close()
        assert status == 403
        # ...and the client next to it noticed nothing.
        await bystander.send_str('421["message-with-ack","still here"]')
        while not (frame := await asyncio.wait_for(bystander.receive_str(), WAIT)).startswith("43"):
            if frame == "2":
                await bystander.send_str("3")
        assert frame == '431["still here"]'
        await bystander.close()


async def test_with_drop_a_flooder_stays_and_is_read_only_at_its_rate(drop_server: Server) -> None:
    srv = drop_server
    status, reader, writer = await raw_websocket(srv)
    assert status == 101
    frames = server_frames(reader)
    assert (await anext(frames)).startswith("0")
    writer.write(client_frame("40"))
    assert (await anext(frames)).startswith("40")
    seen: list[str] = []

    async def read() -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            async for text in frames:
                seen.append(text)
                if text == "2":
                    writer.write(client_frame("3"))
        seen.append("closed")

    reading = asyncio.ensure_future(read())
    batch = client_frame('42["message-with-ack","flood"]') * 1000
    cpu = cpu_seconds(srv.process.pid)
    deadline = time.monotonic() + FLOOD_SECONDS
    sent = 0
    with contextlib.suppress(TimeoutError):
        while time.monotonic() < deadline:
            writer.write(batch)
            await asyncio.wait_for(writer.drain(), deadline - time.monotonic())
            sent += len(batch)
    spent = cpu_seconds(srv.process.pid) - cpu
    # Still connected: its events over the rate were dropped, the connection kept.
    assert "41" not in seen and "closed" not in seen, seen[-5:]
    # The server read the first megabyte at most (not the flood: ~100k events a second of
    # CPU), then waited while TCP held the rest back.
    assert spent < CPU_BOUND, (spent, sent)
    reading.cancel()
    writer.transport.abort()
