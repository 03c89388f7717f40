"""Counting what clients send: token buckets, log throttles, per-client counters.

[pure] stdlib only; time is handed in (`now`, seconds on any monotonic clock),
so every limit is tested without sleeping. The server decides what to do when
a limit says no; this module only counts.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; one token per event.

    A client that stays under `rate` is never refused; one that was idle may send
    `burst` events at once. Refused events do not use tokens, so a flooder is
    refused exactly while it sends faster than `rate`.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def take(self, now: float, tokens: float = 1.0) -> bool:
        """Spend `tokens` if there are that many; False (and nothing spent) if not."""
        self._refill(now)
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

    def retry_after(self, now: float, tokens: float = 1.0) -> float:
        """Seconds until `tokens` are available (0 if they are now)."""
        self._refill(now)
        return max(0.0, (tokens - self._tokens) / self.rate)


class Throttle:
    """At most `burst` reports at once and one per `interval` seconds after that.

    For log lines a client can provoke: the first ones are written, the following
    ones are only counted, and the next written line says how many were left out.
    """

    __slots__ = ("_bucket", "suppressed")

    def __init__(self, interval: float, now: float, burst: int = 1) -> None:
        self._bucket = TokenBucket(1.0 / interval, burst, now)
        self.suppressed = 0

    def allow(self, now: float) -> int | None:
        """None: stay quiet. Otherwise report now; the number is how many were held back."""
        if not self._bucket.take(now):
            self.suppressed += 1
            return None
        held, self.suppressed = self.suppressed, 0
        return held


class WindowCounter:
    """How many times each key was seen in the current fixed window (e.g. per minute).

    Keys are client addresses. The table holds at most `max_keys` keys: when it is
    full the oldest key of the window is forgotten (an attacker rotating addresses
    only gets its oldest address forgiven, the table never grows past the bound).
    """

    __slots__ = ("_counts", "_window_end", "max_keys", "window")

    def __init__(self, window: float, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._window_end: float | None = None

    def hit(self, key: str, now: float) -> int:
        """Count one more for `key`; returns its count in the current window."""
        if self._window_end is None or now >= self._window_end:
            self._counts.clear()
            self._window_end = now + self.window
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return count

    def retry_after(self, now: float) -> float:
        return 0.0 if self._window_end is None else max(0.0, self._window_end - now)

    def __len__(self) -> int:
        return len(self._counts)


@dataclass(slots=True)
class LimitCounters:
    """What the inbound limits refused since the server started (plain integers).

    Read them as ``io.limit_counters.events_rate_limited`` and so on.
    """

    events_rate_limited: int = 0  # events dropped by EVENTS_PER_SECOND
    events_over_in_flight: int = 0  # events dropped by MAX_HANDLERS_IN_FLIGHT
    sockets_disconnected: int = 0  # sockets disconnected by the "disconnect" policy
    connections_refused: int = 0  # handshakes refused by CONNECTIONS_PER_MINUTE
    namespaces_refused: int = 0  # CONNECTs refused by MAX_NAMESPACES_PER_CONNECTION
    rooms_refused: int = 0  # joins refused by MAX_ROOMS_PER_SOCKET
    reserved_events: int = 0  # connections closed for sending a reserved event name
    protocol_violations: int = 0  # connections closed for a packet out of place


class InboundState:
    """One socket's inbound bookkeeping, owned by the server's event dispatch."""

    __slots__ = ("bad_arguments", "bucket", "dropped", "failures", "in_flight", "sync_slot")

    def __init__(self) -> None:
        self.bucket: TokenBucket | None = None  # EVENTS_PER_SECOND, made on first event
        self.in_flight = 0  # event handlers started and not finished
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
