#!/usr/bin/env python3
"""A bounded soak: mixed traffic for a while, the server's RSS and open files sampled.

    .venv/bin/python bench/soak.py [--server ours-daphne] [--minutes 30] [--clients 50]

One server process (``bench/servers/ours``, or any server of ``bench/run.py``), and
in this process: ``--clients`` steady websocket clients in room ``all`` that emit
``echo`` with an ack every second and read everything; one broadcaster sending
``--rate`` broadcasts a second of ``--payload`` characters to the room; churn: every
second a client connects (websocket or polling, alternately), joins, emits, and
leaves (half of them politely, half by dropping the TCP connection); and every
``--stall-every`` seconds a client that joins the room and then never reads (a raw
socket with a 4 kB receive buffer), dropped by the server as a slow consumer once
``--backlog`` bytes (MAX_BACKLOG_BYTES, 512 KiB here so that it happens within the
stall) are unread.

Every ``--sample`` seconds one JSON line: elapsed time, server RSS (MiB), open file
descriptors, steady clients' echo round trips (p50/p99 ms), connects and errors so far.
At the end a summary: RSS and fds at the first sample after warm-up, at the end and
their peaks, and the slow-consumer drops the server logged. Not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import SERVERS_DIR, Proc, free_port, rss_kb, server_command, wait_socketio
from stalled import stalled_client

PYTHON = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Steady:
    """A websocket client in room ``all``: reads everything, echoes once a second."""

    def __init__(self, http: aiohttp.ClientSession, url: str, stats: dict[str, Any]) -> None:
        self.http, self.url, self.stats = http, url, stats
        self.acks: dict[int, asyncio.Future[float]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        ws = await self.http.ws_connect(f"{self.url}&transport=websocket", max_msg_size=0)
        await ws.send_str("40")
        reader = asyncio.create_task(self.read(ws))
        await ws.send_str('421["join"]')
        n = 10
        try:
            while not stop.is_set():
                n += 1
                future = asyncio.get_running_loop().create_future()
                self.acks[n] = future
                started = time.perf_counter()
                await ws.send_str(f'42{n}["echo","x"]')
                try:
                    await asyncio.wait_for(future, 10)
                    self.stats["rtt"].append((time.perf_counter() - started) * 1000)
                except TimeoutError:
                    self.stats["errors"] += 1
                self.acks.pop(n, None)
                await asyncio.sleep(1)
        finally:
            reader.cancel()
            await ws.close()

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            data = msg.data
            if data == "2":
                await ws.send_str("3")
            elif isinstance(data, str) and data.startswith("43"):
                ack = int(data[2 : data.index("[")])
                future = self.acks.get(ack)
                if future is not None and not future.done():
                    future.set_result(0.0)
        self.stats["steady_closed"] += 1


async def broadcaster(http, url: str, rate: float, payload: int, stop: asyncio.Event) -> None:
    ws = await http.ws_connect(f"{url}&transport=websocket")
    await ws.send_str("40")
    filler = "p" * payload

    async def drain() -> None:
        async for msg in ws:
            if msg.data == "2":
                await ws.send_str("3")

    reader = asyncio.create_task(drain())
    try:
        while not stop.is_set():
            await ws.send_str("42" + json.dumps(["bcast", {"p": filler}]))
            await asyncio.sleep(1 / rate)
    finally:
        reader.cancel()
        await ws.close()


async def churn_one(http, url: str, port: int, k: int, stats: dict[str, Any]) -> None:
    try:
        if k % 4 == 1:
            ws = await http.ws_connect(f"{url}&transport=websocket")
            await ws.send_str("40")
            await ws.send_str('421["join"]')
            await ws.send_str('422["echo","churn"]')
            await asyncio.sleep(0.5)
            await ws.close()
        elif k % 4 == 3:  # join, then drop the TCP connection (RST, no close frame)
            sock = await asyncio.to_thread(stalled_client, port)
            await asyncio.sleep(0.5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        else:
            base = f"{url}&transport=polling"
            async with http.get(base) as r:
                sid = json.loads((await r.text())[1:])["sid"]
            async with http.post(f"{base}&sid={sid}", data="40") as r:
                await r.read()
            async with http.get(f"{base}&sid={sid}") as r:
                await r.read()
            async with http.post(f"{base}&sid={sid}", data='421["join"]\x1e422["echo","p"]') as r:
                await r.read()
            if k % 4 == 0:
                async with http.post(f"{base}&sid={sid}", data="1") as r:
                    await r.read()
            # else: simply stop polling; the heartbeat (or the backlog) ends it
        stats["connects"] += 1
    except (aiohttp.ClientError, OSError, ValueError, TimeoutError):
        stats["errors"] += 1


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def soak(args: argparse.Namespace) -> None:
    port = free_port()
    argv, env = server_command(args.server, port, PYTHON, None)
    env["BENCH_LOG_ENGINE"] = "1"
    env["BENCH_MAX_BACKLOG_BYTES"] = str(args.backlog)
    log = Path(tempfile.mkstemp(prefix="soak-", suffix=".log")[1])
    proc = Proc(argv, env, SERVERS_DIR, log)
    stop = asyncio.Event()
    stats: dict[str, Any] = {"rtt": [], "errors": 0, "connects": 0, "steady_closed": 0}
    stalls: list[socket.socket] = []
    samples: list[dict[str, Any]] = []
    try:
        await asyncio.to_thread(wait_socketio, port, proc)
        url = f"http://127.0.0.1:{port}/socket.io/?EIO=4"
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            tasks = [asyncio.create_task(Steady(http, url, stats).run(stop))]
            for _ in range(args.clients - 1):
                tasks.append(asyncio.create_task(Steady(http, url, stats).run(stop)))
            tasks.append(asyncio.create_task(broadcaster(http, url, args.rate, args.payload, stop)))
            started = time.monotonic()
            end = started + args.minutes * 60
            next_sample = started
            k = 0
            churn: set[asyncio.Task[None]] = set()
            while time.monotonic() < end:
                k += 1
                task = asyncio.create_task(churn_one(http, url, port, k, stats))
                churn.add(task)
                task.add_done_callback(churn.discard)
                if k % args.stall_every == 0:
                    for old in stalls:
                        old.close()
                    stalls = [await asyncio.to_thread(stalled_client, port)]
                if time.monotonic() >= next_sample:
                    rtt, stats["rtt"] = stats["rtt"], []
                    sample = {
                        "t_s": round(time.monotonic() - started),
                        "rss_mib": round(rss_kb(proc.pid) / 1024, 1),
                        "fds": open_fds(proc.pid),
                        "echo_p50_ms": pct(rtt, 0.5),
                        "echo_p99_ms": pct(rtt, 0.99),
                        "connects": stats["connects"],
                        "errors": stats["errors"],
                        "steady_closed": stats["steady_closed"],
                    }
                    samples.append(sample)
                    print(json.dumps(sample), flush=True)
                    next_sample += args.sample
                await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*tasks, *churn, return_exceptions=True)
    finally:
        for sock in stalls:
            with contextlib.suppress(OSError):
                sock.close()
        proc.stop()
    dropped = sum("slow consumer" in line for line in log.read_text(errors="replace").splitlines())
    log.unlink(missing_ok=True)
    warm = [s for s in samples if s["t_s"] >= args.warmup] or samples
    p99s = [s["echo_p99_ms"] for s in warm if s["echo_p99_ms"] is not None]
    print(
        json.dumps(
            {
                "summary": True,
                "server": args.server,
                "minutes": args.minutes,
                "rss_mib_after_warmup": warm[0]["rss_mib"],
                "rss_mib_end": warm[-1]["rss_mib"],
                "rss_mib_peak": max(s["rss_mib"] for s in warm),
                "fds_after_warmup": warm[0]["fds"],
                "fds_end": warm[-1]["fds"],
                "fds_peak": max(s["fds"] for s in warm),
                "echo_p99_ms_median": statistics.median(p99s) if p99s else None,
                "connects": stats["connects"],
                "errors": stats["errors"],
                "steady_closed": stats["steady_closed"],
                "slow_consumers_dropped": dropped,
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="ours-daphne")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--payload", type=int, default=2000)
    parser.add_argument("--stall-every", type=int, default=30)
    parser.add_argument("--sample", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--backlog", type=int, default=512 * 1024, help="MAX_BACKLOG_BYTES")
    asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    main()
