"""Live fuzzing: random and mutated Engine.IO / Socket.IO input at a real daphne process.

For a bounded time (``FUZZ_SECONDS``, 10 by default) several fuzzers throw at the
server what a broken or hostile client could send: mutations of valid packets
(flipped, cut, doubled, spliced, with huge numbers or separators inside), random text
and bytes, on websockets and in polling payloads, on both the Engine.IO echo
(``/engine.io/``) and Socket.IO (``/socket.io/``), with garbage query strings and
methods too. Meanwhile two well-behaved python-socketio clients (websocket, polling)
keep an echo loop going. What must hold:

- the good clients see nothing: every echo answered, no disconnect;
- the server logs no traceback (no unhandled exception anywhere);
- its RSS goes back to the baseline measured after a warm-up once the fuzzers stop
  and the sessions they abandoned have timed out.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.processes import start_server, terminate

from .conftest import APP, ROOT, Server, _answers

WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_close=5)
FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "10"))
WARM_UP_SECONDS = 2.0
RSS_SLACK = 24 * 1024 * 1024  # bytes above the warm baseline still called "back"

SIO_CORPUS = [
    "0",
    "0/custom,",
    '0{"token":"abc"}',
    "1",
    '2["message","hello"]',
    '20["message-with-ack",1,{"a":[1,2,{"b":null}]}]',
    '2/custom,7["message-with-ack","x"]',
    '3["late"]',
    "30[]",
    '51-["message",{"_placeholder":true,"num":0}]',
    '52-0["message-with-ack",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]',
    '2["disconnecting"]',
    '2["connect"]',
    '4{"message":"from a client"}',
    '2["message",' + "[" * 70 + "]" * 70 + "]",
    '2["message","\\ud800"]',
    '2["message",1e400]',
]
EIO_CORPUS = ["2", "3", "2probe", "3probe", "5", "6", "1", "4hello", "bAAEC", "b!!", ""]


def mutate(rng: random.Random, text: str) -> str:
    """One or more random edits of `text`."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(9)
        i = rng.randrange(len(text) + 1)
        if kind == 0 and text:  # replace a character
            text = text[:i] + rng.choice('[]{}",:0123456789/\\-_ \x1e\x00é😀') + text[i + 1 :]
        elif kind == 1:  # cut
            text = text[:i]
        elif kind == 2:  # double a slice
            j = rng.randrange(i, len(text) + 1)
            text = text[:j] + text[i:j] + text[j:]
        elif kind == 3:  # splice another packet in
            text = text[:i] + rng.choice(SIO_CORPUS) + text[i:]
        elif kind == 4:  # a huge number where a digit was
            text = text[:i] + str(rng.choice([10**16, 2**64, -1, 10**400])) + text[i:]
        elif kind == 5:  # random unicode
            text = text[:i] + "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(5)) + text[i:]
        elif kind == 6:  # a namespace
            text = text[:1] + rng.choice(["/custom,", "/nope,", "/" + "x" * 500 + ","]) + text[1:]
        elif kind == 7:  # grow it
            text = text * rng.randint(2, 50)
        else:  # delete a slice
            j = rng.randrange(i, len(text) + 1)
            text = text[:i] + text[j:]
    return text


def fuzz_frame(rng: random.Random) -> str | bytes:
    roll = rng.random()
    if roll < 0.6:
        return "4" + mutate(rng, rng.choice(SIO_CORPUS))
    if roll < 0.75:
        return mutate(rng, rng.choice(EIO_CORPUS + SIO_CORPUS))
    if roll < 0.9:
        return rng.randbytes(rng.randrange(0, 64))
    return rng.choice(EIO_CORPUS)


async def drain(ws: aiohttp.ClientWebSocketResponse, rng: random.Random) -> None:
    """Read what the server sends; answer some pings, like a sloppy client."""
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT and message.data == "2" and rng.random() < 0.7:
            await ws.send_str("3")


async def websocket_fuzzer(url: str, path: str, deadline: float, seed: int) -> int:
    rng = random.Random(seed)
    sent = 0
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            query = "EIO=4&transport=websocket"
            if rng.random() < 0.05:
                query = mutate(rng, query)
            try:
                async with session.ws_connect(f"{url}/{path}/?{query}", timeout=WS_TIMEOUT) as ws:
                    reader = asyncio.ensure_future(drain(ws, rng))
                    if path == "socket.io" and rng.random() < 0.8:
                        await ws.send_str(rng.choice(["40", "40/custom,", '40{"x":1}']))
                    for _ in range(rng.randint(1, 40)):
                        if ws.closed or time.monotonic() > deadline:
                            break
                        frame = fuzz_frame(rng)
                        if isinstance(frame, bytes):
                            await ws.send_bytes(frame)
                        else:
                            await ws.send_str(frame)
                        sent += 1
                        if rng.random() < 0.2:
                            await asyncio.sleep(0.01)
                    if rng.random() < 0.3:  # leave some open for the heartbeat to reap
                        await asyncio.sleep(rng.random())
                    reader.cancel()
            except (TimeoutError, aiohttp.ClientError, ConnectionError):
                await asyncio.sleep(0.01)
    return sent


async def polling_fuzzer(url: str, path: str, deadline: float, seed: int) -> int:
    rng = random.Random(seed)
    sent = 0
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while time.monotonic() < deadline:
            try:
                base = f"{url}/{path}/?EIO=4&transport=polling"
                if rng.random() < 0.1:  # garbage handshakes
                    method = rng.choice(["GET", "POST", "PUT", "OPTIONS", "DELETE"])
                    async with session.request(method, base + "&" + mutate(rng, "sid=x&t=1")):
                        pass
                    continue
                async with session.get(base) as response:
                    body = await response.text()
                if not body.startswith("0{"):
                    continue
                sid = body.split('"sid":"', 1)[1].split('"', 1)[0]
                if rng.random() < 0.1:
                    sid = mutate(rng, sid)
                target = f"{base}&sid={sid}"
                if path == "socket.io" and rng.random() < 0.8:
                    async with session.post(target, data="40"):
                        pass
                for _ in range(rng.randint(1, 10)):
                    if time.monotonic() > deadline:
                        break
                    frames = [fuzz_frame(rng) for _ in range(rng.randint(1, 8))]
                    payload = "\x1e".join(
                        f if isinstance(f, str) else "b" + f.hex() for f in frames
                    )
                    async with session.post(target, data=payload.encode("utf-8", "replace")):
                        pass
                    sent += len(frames)
                    if rng.random() < 0.3:
                        async with session.get(target) as response:
                            await response.read()
            except (TimeoutError, aiohttp.ClientError, ConnectionError, IndexError):
                await asyncio.sleep(0.01)
    return sent


class GoodClient:
    """A well-behaved python-socketio client that echoes in a loop and notes any trouble."""

    def __init__(self, url: str, transport: str) -> None:
        self.url = url
        self.transport = transport
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=10)
        self.echoes = 0
        self.problems: list[str] = []
        self.running = True
        self.sio.on("disconnect", self.disconnected)

    def disconnected(self, *reason: object) -> None:
        if self.running:
            self.problems.append(f"disconnected {reason}")

    async def start(self) -> None:
        await self.sio.connect(self.url, transports=[self.transport], wait_timeout=10)

    async def loop(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                answer = await self.sio.call("message-with-ack", (n, {"i": n}), timeout=10)
            except Exception as exc:
                self.problems.append(f"echo {n}: {type(exc).__name__} {exc}")
                return
            if list(answer) != [n, {"i": n}]:
                self.problems.append(f"echo {n}: wrong answer {answer!r}")
                return
            self.echoes += 1
            await asyncio.sleep(0.02)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def fuzz_server() -> Iterator[Server]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.e2e.fuzz_settings",
        "PYTHONUNBUFFERED": "1",
    }
    log = tempfile.NamedTemporaryFile(prefix="fuzz-daphne-", suffix=".log")  # noqa: SIM115
    process, port = start_server(
        "daphne", APP, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    srv = Server("daphne", f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 20
    while process.poll() is None and time.monotonic() < deadline and not _answers(srv.url):
        time.sleep(0.1)
    if process.poll() is not None or not _answers(srv.url):
        terminate(process)
        text = srv.log_text()
        log.close()
        pytest.fail(f"daphne did not start for the fuzz test:\n{text}", pytrace=False)
    try:
        yield srv
    finally:
        terminate(srv.process)
        srv.log.close()


async def fuzz(url: str, seconds: float, seed: int) -> int:
    deadline = time.monotonic() + seconds
    counts = await asyncio.gather(
        websocket_fuzzer(url, "socket.io", deadline, seed),
        websocket_fuzzer(url, "socket.io", deadline, seed + 1),
        websocket_fuzzer(url, "engine.io", deadline, seed + 2),
        polling_fuzzer(url, "socket.io", deadline, seed + 3),
        polling_fuzzer(url, "engine.io", deadline, seed + 4),
    )
    return sum(counts)


async def test_fuzzing_a_live_daphne_costs_the_good_clients_nothing(fuzz_server):
    url = fuzz_server.url
    pid = fuzz_server.process.pid
    seed = int(os.environ.get("FUZZ_SEED", random.randrange(1 << 30)))
    good = [GoodClient(url, "websocket"), GoodClient(url, "polling")]
    for client in good:
        await client.start()
    stop = asyncio.Event()
    loops = [asyncio.ensure_future(client.loop(stop)) for client in good]

    await fuzz(url, WARM_UP_SECONDS, seed)  # the allocator's working set, then the baseline
    await asyncio.sleep(6)  # abandoned sessions: ping interval + timeout + connect timeout
    baseline = rss(pid)

    sent = await fuzz(url, FUZZ_SECONDS, seed + 100)
    settle = time.monotonic() + 10
    await asyncio.sleep(6)
    while rss(pid) > baseline + RSS_SLACK and time.monotonic() < settle:
        await asyncio.sleep(0.5)
    after = rss(pid)

    stop.set()
    await asyncio.gather(*loops)
    for client in good:
        client.running = False
        await client.sio.disconnect()
    log = fuzz_server.log_text(limit=200_000)
    report = (
        f"seed {seed}: {sent} fuzz frames in {FUZZ_SECONDS} s; echoes "
        f"{[c.echoes for c in good]}; RSS baseline {baseline / 2**20:.1f} MiB, "
        f"after {after / 2**20:.1f} MiB"
    )
    print(report)
    assert sent > 500, report
    for client in good:
        assert client.problems == [], f"{client.transport}: {client.problems}\n{report}"
        assert client.echoes > 20, report
    assert "Traceback" not in log, f"{report}\n{log[-8000:]}"
    assert after <= baseline + RSS_SLACK, report
