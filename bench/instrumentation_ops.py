#!/usr/bin/env python3
"""Time the instrumentation's own work per message, isolated (microseconds).

    .venv/bin/python bench/instrumentation_ops.py

What the counters add per websocket frame (two increments and a size) and per event
handler call (two clock reads, a histogram observation, an empty observer loop),
timed with `timeit` on the real objects. Divide by the CPU per message that
bench/run.py measures for the same scenario (echo: one frame in, one frame out, one
handler call per ack; fanout: one frame out per delivery) to get the share.
"""

from __future__ import annotations

import time
import timeit

from django_socketio.stats import STATS, text_size

FRAME = '42["echo","' + "x" * 90 + '"]'
OBSERVERS: list[object] = []
N = 1_000_000


def per_frame() -> None:
    stats = STATS
    stats.packets_out_websocket += 1
    stats.bytes_out_websocket += text_size(FRAME)


def per_handler() -> None:
    for _observer in OBSERVERS:
        pass
    started = time.perf_counter()
    STATS.handler_latency.observe(time.perf_counter() - started)


def nothing() -> None:
    pass


def main() -> None:
    base = min(timeit.repeat(nothing, number=N, repeat=5)) / N
    frame = min(timeit.repeat(per_frame, number=N, repeat=5)) / N - base
    handler = min(timeit.repeat(per_handler, number=N, repeat=5)) / N - base
    print(f"per frame:   {frame * 1e6:.3f} us")
    print(f"per handler: {handler * 1e6:.3f} us")
    print(f"echo (2 frames + 1 handler per ack): {(2 * frame + handler) * 1e6:.3f} us")
    print(f"fanout (1 frame per delivery):       {frame * 1e6:.3f} us")


if __name__ == "__main__":
    main()
