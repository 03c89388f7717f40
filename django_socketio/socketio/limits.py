"""The per-socket inbound limits: their settings, each socket's state, the counters.

[pure] stdlib only; the counting parts (token bucket, throttle) are Engine.IO's
(`django_socketio.engineio.limits`). The server decides what to do when a limit
says no.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engineio.limits import Throttle, TokenBucket

__all__ = ["InboundLimits", "InboundState", "LimitCounters", "Throttle", "TokenBucket"]


@dataclass(slots=True)
class LimitCounters:
    """What the inbound limits refused since the server started (plain integers).

    Read them as ``io.limit_counters.events_rate_limited`` and so on.
    """

    events_rate_limited: int = 0  # events dropped by EVENTS_PER_SECOND
    events_over_in_flight: int = 0  # events dropped by MAX_HANDLERS_IN_FLIGHT
    sockets_disconnected: int = 0  # sockets disconnected by the "disconnect" policy
    namespaces_refused: int = 0  # CONNECTs refused by MAX_NAMESPACES_PER_CONNECTION
    rooms_refused: int = 0  # joins refused by MAX_ROOMS_PER_SOCKET
    reserved_events: int = 0  # connections closed for sending a reserved event name
    protocol_violations: int = 0  # connections closed for a packet out of place


class InboundState:
    """One socket's inbound bookkeeping, owned by the server's event dispatch."""

    __slots__ = (
        "bad_arguments",
        "bucket",
        "dropped",
        "failures",
        "in_flight",
        "refused_in_a_row",
        "sync_slot",
    )

    def __init__(self) -> None:
        self.bucket: TokenBucket | None = None  # EVENTS_PER_SECOND, made on first event
        self.in_flight = 0  # event handlers started and not finished
        self.refused_in_a_row = 0  # events over the rate since one was let through
        self.dropped: Throttle | None = None  # the "events dropped" log line
        self.failures: Throttle | None = None  # handler tracebacks
        self.bad_arguments = False  # the "arguments do not fit" line was written
        self.sync_slot: Any = None  # the server's semaphore for this socket's sync handlers


DROP = "drop"
DISCONNECT = "disconnect"
POLICIES = (DROP, DISCONNECT)


@dataclass(frozen=True, slots=True)
class InboundLimits:
    """The per-socket limits on what a client sends (the SOCKETIO keys in brackets).

    None switches a limit off. See the README's Limits section for what the
    offending client sees.
    """

    events_per_second: float | None = None  # [EVENTS_PER_SECOND] token bucket refill
    events_burst: int | None = None  # [EVENTS_BURST] bucket size; None: max(1, rate)
    max_handlers_in_flight: int | None = 100  # [MAX_HANDLERS_IN_FLIGHT] per socket
    sync_handlers_per_socket: int = 1  # [SYNC_HANDLERS_PER_SOCKET] in worker threads at once
    policy: str = DROP  # [EVENT_LIMIT_POLICY] "drop" or "disconnect"
    error_ack: bool = False  # [EVENT_LIMIT_ERROR_ACK] answer a refused event's ack id
    max_namespaces: int | None = 100  # [MAX_NAMESPACES_PER_CONNECTION]
    max_rooms: int | None = None  # [MAX_ROOMS_PER_SOCKET], not counting the socket's own

    def bucket(self, now: float) -> TokenBucket | None:
        rate = self.events_per_second
        if rate is None:
            return None
        burst = self.events_burst if self.events_burst is not None else max(1, round(rate))
        return TokenBucket(rate, burst, now)
