#!/usr/bin/env python3
"""A client that stops reading, at full size: what it costs the others and the server.

    .venv/bin/python bench/slow_consumer.py [--servers ours-daphne,ours-uvicorn,node]
        [--clients 200] [--rate 50] [--duration 20] [--payload 2000] [--stalled 1]
        [--backlog 1048576]

For each server, two runs of the `fanout` scenario of ``bench/loadgen.mjs``
(``--clients`` receivers in room ``all``, ``--rate`` broadcasts a second: 200 x 50 =
10k deliveries/s): one as is, one with ``--stalled`` extra clients in the same room
that never read (a websocket on a raw socket with a 4 kB receive buffer). Printed,
one JSON line per run and a table: the healthy clients' send-to-receive p50/p99 and
lost deliveries, the server's peak RSS over its RSS before the broadcasts, and (ours)
when the stalled client was dropped, counted from the first measured broadcast (the
``slow consumer`` line of the server's log).

``--backlog`` sets ``MAX_BACKLOG_BYTES`` for ours (default 1 MiB, so a stalled client
reaches it within the run at these rates; the shipped default is 8 MiB). Node has no
limit: there the stalled client stays until its heartbeat times out (45 s).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import LOADGEN, SERVERS_DIR, Proc, free_port, rss_kb, server_command, wait_socketio
from stalled import stalled_client

PYTHON = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.1)


def one_run(server: str, args: argparse.Namespace, stalled: int) -> dict[str, Any]:
    port = free_port()
    argv, env = server_command(server, port, PYTHON, None)
    env["BENCH_LOG_ENGINE"] = "1"
    env["BENCH_MAX_BACKLOG_BYTES"] = str(args.backlog)
    log = Path(tempfile.mkstemp(prefix=f"slow-{server}-", suffix=".log")[1])
    proc = Proc(argv, env, SERVERS_DIR, log)
    socks: list[socket.socket] = []
    try:
        wait_socketio(port, proc)
        for _ in range(stalled):
            socks.append(stalled_client(port, pause=0.3))
        time.sleep(0.5)
        base_rss = rss_kb(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        cmd = [
            "node",
            str(LOADGEN),
            "--scenario",
            "fanout",
            "--url",
            f"http://127.0.0.1:{port}",
            "--clients",
            str(args.clients),
            "--rate",
            str(args.rate),
            "--duration",
            str(args.duration),
            "--payload",
            str(args.payload),
        ]
        loadgen = subprocess.Popen(
            cmd, cwd=LOADGEN.parent, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        started = None
        result: dict[str, Any] = {}
        assert loadgen.stdout is not None
        for line in loadgen.stdout:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if item.get("event") == "mark" and item.get("name") == "start":
                started = time.time()
            if item.get("event") == "result":
                result = item
        loadgen.wait()
        sampler.stop.set()
        sampler.join()
        evicted = None
        for text in log.read_text(errors="replace").splitlines():
            if "slow consumer" in text and started is not None:
                evicted = round(float(text.split()[0]) - started, 2)
                break
        stats = result.get("result", result)
        return {
            "server": server,
            "stalled": stalled,
            "clients": args.clients,
            "rate": args.rate,
            "payload": args.payload,
            "backlog_limit": args.backlog,
            "p50_ms": stats.get("delivery_latency", {}).get("p50_ms"),
            "p99_ms": stats.get("delivery_latency", {}).get("p99_ms"),
            "deliveries_per_s": round(stats.get("rate") or 0),
            "lost": stats.get("lost"),
            "late": stats.get("late"),
            "rss_base_mib": round(base_rss / 1024, 1),
            "rss_peak_over_base_mib": round((sampler.peak - base_rss) / 1024, 1),
            "evicted_after_s": evicted,
        }
    finally:
        for sock in socks:
            sock.close()
        proc.stop()
        log.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="ours-daphne,ours-uvicorn")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--payload", type=int, default=2000)
    parser.add_argument("--stalled", type=int, default=1)
    parser.add_argument("--backlog", type=int, default=1024 * 1024)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for _ in range(args.rounds):
        for server in args.servers.split(","):
            for stalled in (0, args.stalled):
                row = one_run(server, args, stalled)
                print(json.dumps(row), flush=True)
                rows.append(row)
    # Each round runs a server without, then with the stalled client, back to back: the
    # figure to quote is that pair's ratio of the healthy clients' p99.
    print("\n| round | server | p99 ms without / with the stalled client | ratio |")
    print("|---|---|---|---|")
    for n, (calm, stalled_row) in enumerate(zip(rows[::2], rows[1::2], strict=True)):
        ratio = stalled_row["p99_ms"] / calm["p99_ms"] if calm["p99_ms"] else float("inf")
        print(
            f"| {n // len(args.servers.split(',')) + 1} | {calm['server']} "
            f"| {calm['p99_ms']} / {stalled_row['p99_ms']} | {ratio:.2f}x |"
        )
    print(
        "\n| server | stalled | p50 ms | p99 ms | deliveries/s | lost | late | RSS +MiB "
        "| dropped after s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["server"], r["stalled"]) for r in rows})
    for server, stalled in keys:
        mine = [r for r in rows if (r["server"], r["stalled"]) == (server, stalled)]

        def med(key: str, mine: list[dict[str, Any]] = mine) -> Any:
            values = [r[key] for r in mine if r[key] is not None]
            return round(statistics.median(values), 2) if values else None

        print(
            f"| {server} | {stalled} | {med('p50_ms')} | {med('p99_ms')} | "
            f"{med('deliveries_per_s')} | {med('lost')} | {med('late')} | "
            f"{med('rss_peak_over_base_mib')} | {med('evicted_after_s')} |"
        )


if __name__ == "__main__":
    main()
