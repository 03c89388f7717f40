#!/usr/bin/env python3
"""CPU per message of the MessagePack parser against the JSON one, in one interleaved run.

    .venv/bin/python bench/parser_cost.py [--rounds 5] [--server ours-uvicorn] [--payload 1000]

Each round starts our server twice, ``SOCKETIO["PARSER"] = "json"`` and ``"msgpack"``
(``BENCH_PARSER``), and drives it with ``bench/parser_echo.mjs``: websocket clients of the
official socket.io-client (with socket.io-msgpack-parser for the second) in closed loops
of emit-with-ack of ``{bin: <payload> bytes, n, s}``, which the server acks back. With
JSON a message is a text packet plus a binary attachment (two websocket frames each
way); with MessagePack it is one binary frame. The server's CPU time (utime+stime, from
/proc) is read at the edges of the measured window. Prints one JSON line per run, then
the medians of CPU-seconds per 10k acks and their ratio (msgpack / json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/run.py: servers and /proc accounting)


def one(server: str, parser: str, args: argparse.Namespace, log_dir: Path) -> dict:
    os.environ["BENCH_PARSER"] = parser
    servers = bench.Servers(server, 1, False, bench.default_python(), log_dir, parser)
    try:
        time.sleep(0.3)
        argv = ["node", str(BENCH / "parser_echo.mjs"), "--url", servers.urls[0]]
        argv += ["--parser", parser, "--clients", str(args.clients)]
        argv += ["--duration", str(args.duration), "--payload", str(args.payload)]
        proc = subprocess.Popen(argv, cwd=BENCH, stdout=subprocess.PIPE, text=True)
        marks, result = {}, None
        assert proc.stdout is not None
        for line in proc.stdout:
            msg = json.loads(line)
            if msg["event"] == "mark":
                marks[msg["name"]] = servers.cpu()
            elif msg["event"] == "result":
                result = msg
        proc.wait(timeout=60)
        if result is None or proc.returncode:
            raise RuntimeError(f"parser_echo.mjs failed ({proc.returncode})")
        cpu = marks["end"] - marks["start"]
        return {
            "server": server,
            "parser": parser,
            "payload": args.payload,
            "acks": result["acks"],
            "acks_per_s": round(result["rate"], 1),
            "cpu_s": round(cpu, 3),
            "cpu_per_10k": round(cpu / result["acks"] * 10_000, 4) if result["acks"] else None,
            "tracebacks": servers.tracebacks(),
        }
    finally:
        servers.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--server", default="ours-uvicorn", choices=("ours-uvicorn", "ours-daphne"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--payload", type=int, default=1000, help="bytes of binary per message")
    args = ap.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="sio-parser-cost-"))
    runs: dict[str, list[float]] = {"json": [], "msgpack": []}
    try:
        for _ in range(args.rounds):
            for parser in ("json", "msgpack"):
                record = one(args.server, parser, args, log_dir)
                print(json.dumps(record), flush=True)
                if record["cpu_per_10k"] is not None:
                    runs[parser].append(record["cpu_per_10k"])
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    medians = {p: statistics.median(v) for p, v in runs.items() if v}
    summary = {
        "event": "summary",
        "server": args.server,
        "payload": args.payload,
        **{f"{p}_cpu_per_10k_median": m for p, m in medians.items()},
    }
    if len(medians) == 2:
        summary["msgpack_over_json"] = round(medians["msgpack"] / medians["json"], 3)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
