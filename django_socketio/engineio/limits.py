"""Counting what clients send: token buckets, log throttles, per-address windows.

[pure] stdlib only; time is handed in (`now`, seconds on any monotonic clock),
so every limit is tested without sleeping. The callers decide what to do when a
limit says no; this module only counts. The Socket.IO layer's per-socket limits
(`django_socketio.socketio.limits`) are built from the same parts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


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

    def fill(self, key: str, now: float, count: int) -> None:
        """Count `key` as seen at least `count` times in the current window."""
        if self.hit(key, now) < count:
            self._counts[key] = count

    def retry_after(self, now: float) -> float:
        return 0.0 if self._window_end is None else max(0.0, self._window_end - now)

    def __len__(self) -> int:
        return len(self._counts)


def client_address(
    peer: Iterable[object] | None,
    headers: Iterable[tuple[bytes, bytes]],
    trusted_header: str | None,
) -> str | None:
    """The client's address: the peer's, or what the configured proxy header says.

    Only `trusted_header` (set by the operator's own proxy) is read, never a
    header by default: any client can send ``X-Forwarded-For``. The proxy appends
    the address it saw, so the last entry is the one to trust.
    """
    if trusted_header is not None:
        name = trusted_header.lower().encode("latin-1")
        value = None
        for key, raw in headers:
            if key.lower() == name:
                value = raw  # the last occurrence, like the last entry
        if value is not None:
            last = value.decode("latin-1").rsplit(",", 1)[-1].strip()
            if last:
                return last
    if peer:
        return str(next(iter(peer)))
    return None
