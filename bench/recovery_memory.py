"""Memory of connection state recovery's in-memory log: bytes per 10,000 events.

    .venv/bin/python bench/recovery_memory.py [--events 10000] [--payload 100]

Logs `--events` broadcasts shaped like the fan-out scenario's (an event name and a
string of `--payload` characters, to room ``all``) into a `MemoryRecoveryStore`
(window 120 s, MAX_EVENTS large enough to keep them all) and prints one JSON line:
the bytes tracemalloc sees the log allocate per event (its record: offset, time,
data list, rooms), next to the payload it keeps alive for the window (the peer
figure: what must be kept at least), and both per 10k events.
"""

from __future__ import annotations

import argparse
import json
import tracemalloc

from django_socketio.socketio.recovery import MemoryRecoveryStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--payload", type=int, default=100)
    args = parser.parse_args()
    store = MemoryRecoveryStore(window=120.0, max_events=args.events)
    rooms, none = frozenset({"all"}), frozenset()
    payloads = [f"{n:08d}".ljust(args.payload, "x") for n in range(args.events)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for payload in payloads:
        store.log("/", ["b", payload], rooms, none)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    raw = sum(len(p) for p in payloads)
    print(
        json.dumps(
            {
                "events": len(store),
                "payload_chars": args.payload,
                "record_bytes_per_event": round(used / args.events, 1),
                "payload_bytes_per_event": raw / args.events,
                "mb_per_10k_events": round((used + raw) / args.events * 10_000 / 1e6, 3),
                "record_to_payload": round(used / raw, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
