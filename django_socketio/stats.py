"""This process's counters: traffic, connections, broadcasts, errors, handler latency.

[pure] Plain integers on one slotted object, `STATS`, incremented where the work
happens (the transports, the engine, the Socket.IO server). An increment is one
attribute store, so the counters are always on: nothing to enable, no lock (one
event loop per process does the counting), and nothing on the broadcast path
but one ``broadcasts += 1`` per broadcast and the per-frame counts the
transports already pay for writing. Exporters (``io.stats()``, Prometheus, the
Admin UI's ``server_stats``) read them when asked, which is where any cost
belongs.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

#: Upper bounds (seconds) of the handler latency histogram, Prometheus' defaults.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Counts of observations per bucket (not cumulative), their sum and count."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it) pairs, ending with +Inf."""
        total, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


class Stats:
    """Counters of one process since it started (or since `reset`)."""

    __slots__ = (
        "ack_timeouts",
        "broadcasts",
        "bytes_in_polling",
        "bytes_in_websocket",
        "bytes_out_polling",
        "bytes_out_websocket",
        "connects",
        "disconnects",
        "handler_errors",
        "handler_latency",
        "messages_dropped",
        "packets_in_polling",
        "packets_in_websocket",
        "packets_out_polling",
        "packets_out_websocket",
        "recoveries",
        "recoveries_failed",
        "recovery_evictions",
        "socket_connects",
        "socket_disconnects",
        "upgrades",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.connects = 0  # Engine.IO connections opened
        self.disconnects: dict[str, int] = {}  # Engine.IO close reason -> count
        self.upgrades = 0  # polling -> websocket
        self.socket_connects = 0  # namespace sockets connected
        self.socket_disconnects: dict[str, int] = {}  # disconnect reason -> count
        self.packets_in_polling = 0
        self.packets_in_websocket = 0
        self.packets_out_polling = 0
        self.packets_out_websocket = 0
        self.bytes_in_polling = 0
        self.bytes_in_websocket = 0
        self.bytes_out_polling = 0
        self.bytes_out_websocket = 0
        self.broadcasts = 0  # emits to rooms or namespaces (counted once, not per recipient)
        self.messages_dropped = 0  # not sent to a client behind: volatile, or BACKLOG_POLICY drop
        self.ack_timeouts = 0  # acks the server waited for in vain
        self.handler_errors = 0  # connect/event/disconnect handlers that raised
        self.handler_latency = Histogram()  # seconds per event handler call
        self.recoveries = 0  # sockets restored by connection state recovery
        self.recoveries_failed = 0  # restores asked for and refused (fresh session instead)
        self.recovery_evictions = 0  # live sockets closed because their pid reconnected

    def disconnected(self, reason: str) -> None:
        self.disconnects[reason] = self.disconnects.get(reason, 0) + 1

    def socket_disconnected(self, reason: str) -> None:
        self.socket_disconnects[reason] = self.socket_disconnects.get(reason, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain data (JSON-serialisable, safe to send to other nodes)."""
        latency = self.handler_latency
        return {
            "connects": self.connects,
            "disconnects": dict(self.disconnects),
            "upgrades": self.upgrades,
            "socket_connects": self.socket_connects,
            "socket_disconnects": dict(self.socket_disconnects),
            "packets_in": {
                "polling": self.packets_in_polling,
                "websocket": self.packets_in_websocket,
            },
            "packets_out": {
                "polling": self.packets_out_polling,
                "websocket": self.packets_out_websocket,
            },
            "bytes_in": {"polling": self.bytes_in_polling, "websocket": self.bytes_in_websocket},
            "bytes_out": {"polling": self.bytes_out_polling, "websocket": self.bytes_out_websocket},
            "broadcasts": self.broadcasts,
            "messages_dropped": self.messages_dropped,
            "ack_timeouts": self.ack_timeouts,
            "handler_errors": self.handler_errors,
            "recoveries": self.recoveries,
            "recoveries_failed": self.recoveries_failed,
            "recovery_evictions": self.recovery_evictions,
            "handler_latency": {
                "buckets": [
                    [b if b != float("inf") else "+Inf", n] for b, n in latency.cumulative()
                ],
                "sum": latency.sum,
                "count": latency.count,
            },
        }


def text_size(frame: str | bytes) -> int:
    """Bytes of a frame on the wire: O(1) for bytes and ASCII text (CPython knows)."""
    if type(frame) is bytes or frame.isascii():  # type: ignore[union-attr]
        return len(frame)
    return len(frame.encode("utf-8", "surrogatepass"))  # type: ignore[union-attr]


#: The process's counters.
STATS = Stats()
