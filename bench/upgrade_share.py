"""The share of polling-first sessions that end up on websocket behind a balancer.

A websocket upgrade that reaches another process than the session's owner takes
the session over within TAKEOVER_WINDOW of its handshake; later ones are refused and
the client stays on polling (forwarded). This counts, for the official client with
its default transports, how many sessions upgrade through nginx round-robin in front
of `--processes` ours-daphne processes, and with ip_hash for comparison (every
request of a client on one process), and how long each took to connect:

    .venv/bin/python bench/upgrade_share.py --processes 3 --clients 60
    .venv/bin/python bench/upgrade_share.py --at-once        # all clients at the same time
    .venv/bin/python bench/upgrade_share.py --polling-only   # what the window costs them
    BENCH_TAKEOVER_WINDOW=0 .venv/bin/python bench/upgrade_share.py   # no takeover
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BENCH, Servers, default_python, start_nginx


def share(policy: str, processes: int, clients: int, at_once: bool, polling_only: bool) -> dict:
    log_dir = Path(tempfile.mkdtemp(prefix="sio-upgrade-"))
    servers = Servers("ours-daphne", processes, True, default_python(), log_dir, policy)
    try:
        balancer, port = start_nginx(servers.ports, policy, log_dir)
        servers.extra.append(balancer)
        config = {"url": f"http://127.0.0.1:{port}", "clients": clients, "at_once": at_once}
        if polling_only:
            config["transports"] = ["polling"]
        done = subprocess.run(
            ["node", str(BENCH / "upgrade_share.mjs"), json.dumps(config)],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=150,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"no result from upgrade_share.mjs:\n{done.stderr[-2000:]}")
        result = json.loads(lines[-1])
        result.pop("event", None)
        return result
    finally:
        servers.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--clients", type=int, default=60)
    ap.add_argument("--at-once", action="store_true", help="connect every client at once")
    ap.add_argument("--polling-only", action="store_true", help='transports: ["polling"]')
    args = ap.parse_args()
    for policy in ("round-robin", "ip_hash"):
        counts = share(policy, args.processes, args.clients, args.at_once, args.polling_only)
        total = sum(counts.get(k, 0) for k in ("websocket", "polling", "failed"))
        ws = counts.get("websocket", 0)
        record = {"policy": policy, "processes": args.processes, **counts}
        record["websocket_share"] = round(ws / total, 3) if total else None
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
