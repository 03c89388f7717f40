#!/usr/bin/env python3
"""What one flooding client costs everyone else: bystanders' echo latency with and without it.

    .venv/bin/python bench/flood.py                       # ours-daphne, async handler
    .venv/bin/python bench/flood.py --server ours-uvicorn --handler sync_echo

For each limit configuration it starts a fresh server process (``bench/servers/ours``,
``BENCH_LIMITS``): ``off``, no inbound limit at all (as before the limits existed);
``drop`` and ``disconnect``, ``EVENTS_PER_SECOND`` 100, ``EVENTS_BURST`` 200,
``CONNECTIONS_PER_MINUTE`` 10 and that ``EVENT_LIMIT_POLICY``. In each server it measures
the bystanders twice: alone, then while one more client (the flooder, a process of its
own, from its own loopback address) sends events on one websocket as fast as the
connection takes them, without acks, and reconnects at once whenever it is
disconnected. The bystanders (``--clients``, 20 by default, one process, each from its
own loopback address) each emit ``echo`` with an ack every 50 ms and time the ack.
Prints one JSON line per measurement and a table: p50/p99 of the bystanders' echo, and
the ratio of p99 with the flooder to p99 without it in the same server process (the
issue's goal: at most 2x with the limits on). The flooder's events go to the handler
``--handler`` (``echo`` is async, ``sync_echo`` runs in a worker thread).

Standard library plus aiohttp (in requirements.txt); Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # bench/run.py: the shared process helpers
    SERVERS_DIR,
    Proc,
    cpu_seconds,
    default_python,
    free_port,
    rss_kb,
    server_command,
    wait_socketio,
)

CONFIGS = ("off", "drop", "disconnect")
# Loopback addresses, so that CONNECTIONS_PER_MINUTE (per address) sees the flooder apart
# from the bystanders, as it would on a real network.
FLOODER_ADDRESS = ("127.0.0.2", 0)


def bystander_address(index: int) -> tuple[str, int]:
    return (f"127.0.1.{index + 1}", 0)


# -- clients (each run in a process of its own) --------------------------------------


async def _open(session: Any, url: str) -> Any:
    ws = await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
    opened = await ws.receive_str()
    assert opened.startswith("0"), opened
    await ws.send_str("40")
    while True:
        frame = await ws.receive_str()
        if frame.startswith("40"):
            return ws


async def bystanders(url: str, clients: int, seconds: float, interval: float) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def one(index: int) -> None:
        connector = aiohttp.TCPConnector(local_addr=bystander_address(index))
        async with aiohttp.ClientSession(connector=connector) as session:
            await one_client(session, index)

    async def one_client(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal errors
        ws = await _open(session, url)
        waiting: dict[int, asyncio.Future[float]] = {}

        async def read() -> None:
            async for message in ws:
                data = message.data
                if data == "2":
                    await ws.send_str("3")
                elif isinstance(data, str) and data.startswith("43"):
                    ack_id = int(data[2 : data.index("[")])
                    future = waiting.pop(ack_id, None)
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(interval * index / clients)  # spread the clients over a tick
        n = 0
        while time.monotonic() < deadline:
            n += 1
            future = asyncio.get_running_loop().create_future()
            waiting[n] = future
            started = time.perf_counter()
            await ws.send_str(f'42{n}["echo",{n},"{"x" * 80}"]')
            try:
                done = await asyncio.wait_for(future, 10)
                latencies.append(done - started)
            except TimeoutError:
                errors += 1
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
        reader.cancel()
        await ws.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "echoes": len(latencies),
        "errors": errors,
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def _client_frame(text: str) -> bytes:
    """One masked websocket text frame (clients must mask; a fixed key is allowed)."""
    payload = text.encode()
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    short = n < 126
    header = bytes([0x81, 0x80 | n]) if short else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
    return header + key + masked


async def _server_frames(reader: asyncio.StreamReader) -> Any:
    """Text payloads of the (unmasked) frames the server sends."""
    while True:
        head = await reader.readexactly(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        data = await reader.readexactly(n)
        if head[0] & 0x0F == 0x8:  # close
            return
        yield data.decode("utf-8", "replace")


async def _flood_once(host: str, port: int, handler: str, deadline: float) -> tuple[int, bool]:
    """One connection: handshake, CONNECT, then events until the deadline or the close."""
    try:
        reader, writer = await asyncio.open_connection(host, port, local_addr=FLOODER_ADDRESS)
    except OSError:
        return 0, False
    try:
        writer.write(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n", 1)[0]:
            return 0, False  # refused (CONNECTIONS_PER_MINUTE)
        frames = _server_frames(reader)
        assert (await anext(frames)).startswith("0")
        writer.write(_client_frame("40"))
        while not (await anext(frames)).startswith("40"):
            pass
    except (OSError, asyncio.IncompleteReadError, StopAsyncIteration):
        writer.close()
        return 0, False
    disconnected = False

    async def read() -> None:
        nonlocal disconnected
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            async for text in frames:
                if text == "2":
                    writer.write(_client_frame("3"))
                elif text == "41":
                    disconnected = True

    reading = asyncio.ensure_future(read())
    batch = _client_frame(f'42["{handler}","{"y" * 20}"]') * 1000
    sent = 0
    try:
        while time.monotonic() < deadline and not reading.done():
            writer.write(batch)
            await writer.drain()
            sent += 1000
    except OSError:
        pass
    reading.cancel()
    writer.close()
    return sent, disconnected


async def flooder(url: str, seconds: float, handler: str) -> dict[str, Any]:
    """A client that sends events as fast as its connection takes them, and reconnects.

    Raw asyncio streams and frames encoded once, written a thousand at a time: the
    flooder spends almost no CPU per event, so on a shared machine it takes CPU from
    nobody but the server, which is what is being measured. Disconnected, it connects
    again at once (as a script would), until the time is up.
    """
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + seconds
    sent = connections = disconnects = 0
    while time.monotonic() < deadline:
        count, disconnected = await _flood_once(host, int(port), handler, deadline)
        sent += count
        connections += 1
        disconnects += disconnected
        if count == 0:
            await asyncio.sleep(0.05)
    return {
        "sent": sent,
        "per_second": round(sent / seconds),
        "connections": connections,
        "disconnected": disconnects,
    }


# -- orchestration ---------------------------------------------------------------------


def client_process(kind: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", kind, *args], stdout=subprocess.PIPE, text=True
    )


def result_of(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"client process failed ({proc.returncode}):\n{out}")
    return json.loads(out.strip().splitlines()[-1])


def measure(server: str, config: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    port = free_port()
    argv, env = server_command(server, port, default_python(), None)
    env["BENCH_LIMITS"] = config
    log = Path(tempfile.mkstemp(prefix=f"flood-{server}-{config}-", suffix=".log")[1])
    proc = Proc(argv, env, SERVERS_DIR, log)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_socketio(port, proc)
        common = [url, str(args.clients), str(args.duration), str(args.interval)]
        for with_flooder in (False, True):
            cpu0 = cpu_seconds(proc.pid)
            victims = client_process("bystanders", *common)
            flood = None
            if with_flooder:
                flood = client_process("flooder", url, str(args.duration + 1), args.handler)
            calm = result_of(victims)
            flooding = result_of(flood) if flood is not None else None
            rows.append(
                {
                    "server": server,
                    "limits": config,
                    "flooder": with_flooder,
                    "handler": args.handler,
                    **calm,
                    "flooder_sent_per_s": flooding["per_second"] if flooding else None,
                    "flooder_connections": flooding["connections"] if flooding else None,
                    "flooder_disconnected": flooding["disconnected"] if flooding else None,
                    "server_cpu_s": round(cpu_seconds(proc.pid) - cpu0, 2),
                    "server_rss_mib": round(rss_kb(proc.pid) / 1024, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            time.sleep(1)
        if "Traceback" in proc.log_tail(200_000):
            print(f"server log has a traceback:\n{proc.log_tail()}", file=sys.stderr)
    finally:
        proc.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | limits | handler | bystander p50 alone / flooded (ms)"
        " | p99 alone / flooded (ms) | p99 ratio | flooder sent/s | server RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for alone, flooded in zip(rows[::2], rows[1::2], strict=True):
        ratio = flooded["p99_ms"] / alone["p99_ms"] if alone["p99_ms"] else float("inf")
        lines.append(
            f"| {alone['server']} | {alone['limits']} | {alone['handler']} "
            f"| {alone['p50_ms']} / {flooded['p50_ms']} | {alone['p99_ms']} / {flooded['p99_ms']}"
            f" | {ratio:.2f}x | {flooded['flooder_sent_per_s']} | {flooded['server_rss_mib']} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default="ours-daphne", choices=("ours-daphne", "ours-uvicorn"))
    ap.add_argument("--handler", default="echo", choices=("echo", "sync_echo"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "bystanders":
        url, clients, seconds, interval = args.rest
        result = asyncio.run(bystanders(url, int(clients), float(seconds), float(interval)))
        print(json.dumps(result))
        return 0
    if args.role == "flooder":
        url, seconds, handler = args.rest
        print(json.dumps(asyncio.run(flooder(url, float(seconds), handler))))
        return 0
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    rows = []
    for config in args.configs.split(","):
        rows += measure(args.server, config, args)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
