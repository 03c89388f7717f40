"""A client that stops reading, seen from its own side and from everyone else's.

A real daphne and a real uvicorn (``slow_settings``: pings every 25 s, so only
the backlog limit, MAX_BACKLOG_BYTES = 256 KiB, can drop the client in time)
broadcast to a room of HEALTHY raw websocket clients plus one client that
stops reading: a websocket on a raw TCP socket with a small receive buffer that
is never read, or a polling session that stops polling. Asserted: every healthy
client gets every message, in order; the stalled client is disconnected with
reason ``slow consumer`` within EVICTED_WITHIN seconds of the first message,
while its TCP connection is still open (under uvicorn the broadcast used to
wait for it, F1); the server's RSS grows by less than RSS_BOUND. With
``volatile`` the stalled client is not disconnected: volatile packets are
dropped for it once half the limit is unread (F3), so its backlog stays there.

The full-size figures (200 clients, 10k deliveries/s, p99 with and without the
stalled client) come from ``bench/slow_consumer.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import psutil
import pytest
import socketio
from aiohttp import WSMsgType

from .conftest import Server, serve

pytestmark = pytest.mark.e2e

HEALTHY = 20
COUNT = 450  # ticks per test
SIZE = 4_000  # characters per tick
PER_TICK, TICK = 15, 0.1  # 150 ticks/s: 3,000 deliveries/s of 4 kB, 600 kB/s to the stalled one
LIMIT = 256 * 1024  # MAX_BACKLOG_BYTES in slow_settings
EVICTED_WITHIN = 5.0  # seconds from the first tick (about 0.5 s of traffic reach LIMIT)
RSS_BOUND = 40 * 1024 * 1024  # growth of the server's RSS during the flood
WAIT = 60.0  # for hangs only
PREFIX = '42/flood,["tick",'


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def slow_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    yield from serve(request.param, "tests.e2e.slow_settings")


def ws_url(server: Server) -> str:
    return f"{server.ws_url}/socket.io/?EIO=4&transport=websocket"


class Healthy:
    """A raw websocket client in /flood that reads everything and answers pings."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ticks: list[int] = []
        self.acks: dict[int, Any] = {}
        self.sid: str | None = None
        self.connected = asyncio.Event()
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type is not WSMsgType.TEXT:
                break
            data = msg.data
            if data.startswith(PREFIX):
                self.ticks.append(int(data[len(PREFIX) : data.index(",", len(PREFIX))]))
            elif data == "2":
                await self.ws.send_str("3")
            elif data.startswith("40/flood,"):
                self.sid = json.loads(data[9:])["sid"]
                self.connected.set()
            elif data.startswith("43/flood,"):
                ack_id = int(data[9 : data.index("[")])
                self.acks[ack_id] = json.loads(data[data.index("[") :])

    async def call(self, ack_id: int, event: str, *args: Any) -> Any:
        await self.ws.send_str(f"42/flood,{ack_id}" + json.dumps([event, *args]))
        async with asyncio.timeout(WAIT):
            while ack_id not in self.acks:
                await asyncio.sleep(0.02)
        return self.acks.pop(ack_id)[0]


async def healthy_clients(http: aiohttp.ClientSession, server: Server, n: int) -> list[Healthy]:
    clients = []
    for _ in range(n):
        ws = await http.ws_connect(ws_url(server), max_msg_size=0)
        client = Healthy(ws)
        await ws.send_str("40/flood,")
        clients.append(client)
    async with asyncio.timeout(WAIT):
        for client in clients:
            await client.connected.wait()
    return clients


def stalled_websocket(server: Server) -> socket.socket:
    """A websocket in /flood on a raw socket with a 4 kB receive buffer, never read."""
    parts = urlsplit(server.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = b"40/flood,"
    mask = os.urandom(4)
    sock.sendall(
        bytes([0x81, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )
    return sock


async def stalled_polling(http: aiohttp.ClientSession, server: Server) -> str:
    """A polling session in /flood that stops polling once connected; its sid."""
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    async with http.get(base) as response:
        sid = json.loads((await response.text())[1:])["sid"]
    async with http.post(f"{base}&sid={sid}", data="40/flood,") as response:
        assert response.status == 200
    async with http.get(f"{base}&sid={sid}") as response:
        assert (await response.text()).startswith("40/flood,")
    return sid


class RssPeak:
    """The largest RSS of a process, sampled every 50 ms while in use."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.peak = self.process.memory_info().rss

    async def __aenter__(self) -> RssPeak:
        self.task = asyncio.create_task(self.sample())
        return self

    async def sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.05)

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()


async def flood(
    server: Server, stall: str, volatile: bool = False
) -> tuple[list[Healthy], dict[str, Any], list[dict[str, Any]], RssPeak]:
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        clients = await healthy_clients(http, server, HEALTHY)
        leader = clients[0]
        before = await leader.call(1, "reasons")
        raw = None
        if stall == "websocket":
            raw = await asyncio.to_thread(stalled_websocket, server)
        else:
            await stalled_polling(http, server)
        async with asyncio.timeout(WAIT):
            while await leader.call(2, "members") != HEALTHY + 1:
                await asyncio.sleep(0.05)
        try:
            async with RssPeak(server.process.pid) as rss:
                result = await leader.call(3, "flood", COUNT, SIZE, PER_TICK, TICK, volatile)
                try:  # volatile ticks may be dropped: then wait a little, not for all
                    async with asyncio.timeout(3.0 if volatile else WAIT):
                        while any(len(c.ticks) < COUNT for c in clients):
                            await asyncio.sleep(0.05)
                except TimeoutError:
                    if not volatile:
                        raise
            reasons = (await leader.call(4, "reasons"))[len(before) :]
        finally:
            if raw is not None:
                raw.close()
            for client in clients:
                await client.ws.close()
                client.task.cancel()
        return clients, result, reasons, rss


@pytest.mark.parametrize("stall", ["websocket", "polling"])
async def test_a_client_that_stops_reading_is_disconnected_and_costs_nobody(
    slow_server: Server, stall: str
):
    clients, result, reasons, rss = await flood(slow_server, stall)
    for client in clients:
        assert client.ticks == list(range(COUNT))
    slow = [r for r in reasons if r["reason"] == "slow consumer"]
    assert len(slow) == 1, reasons
    assert slow[0]["t"] - result["started"] < EVICTED_WITHIN, (slow, result)
    assert rss.peak - rss.baseline < RSS_BOUND, (rss.baseline, rss.peak)


async def test_volatile_packets_are_dropped_for_a_client_that_cannot_take_them(
    slow_server: Server,
):
    clients, result, reasons, rss = await flood(slow_server, "websocket", volatile=True)
    assert not [r for r in reasons if r["reason"] == "slow consumer"], reasons
    assert result["largest"] <= LIMIT // 2, result
    assert rss.peak - rss.baseline < RSS_BOUND, (rss.baseline, rss.peak)
    for client in clients:  # the healthy ones may miss a few, not most
        assert len(client.ticks) > COUNT // 2


async def test_an_official_client_that_reads_answers_the_probes_and_gets_everything(
    slow_server: Server,
):
    """python-socketio over a websocket, sent 7 times MAX_BACKLOG_BYTES: the extra pings
    that measure its backlog are answered like heartbeat pings, so it is never dropped."""
    client = socketio.AsyncClient(reconnection=False)
    ticks: list[int] = []
    client.on("tick", lambda i, payload: ticks.append(i), namespace="/flood")
    await client.connect(slow_server.url, namespaces=["/flood"], transports=["websocket"])
    try:
        result = await client.call(
            "flood", (COUNT, SIZE, PER_TICK, TICK, False), namespace="/flood", timeout=WAIT
        )
        async with asyncio.timeout(WAIT):
            while len(ticks) < COUNT:
                await asyncio.sleep(0.05)
        assert ticks == list(range(COUNT))
        assert result["largest"] < LIMIT
        assert client.connected
    finally:
        await client.disconnect()
