"""Connection state recovery: what is kept of recent events and of sockets that left.

[pure] Stdlib only. A client that loses its connection comes back within the
window with its private session id (`pid`) and the offset of the last event it
processed; it gets its socket id, rooms and `data` back, and the events it
missed. This module keeps the two things that needs in one process:

- an event log: every recoverable event (no ack id, not volatile) gets the
  next offset and is kept with its target and excluded rooms, bounded by age
  (the window) and by count (`max_events`);
- a session table: `pid` -> `StoredSession`, single use (a restore removes it),
  bounded by age (the window).

Offsets are ``<epoch>.<n>``: `n` counts up from 1 in this log, and `epoch` is
random per log, so an offset from another process or from before a restart is
unknown here instead of meaning some other event.

Quiet connections (reference bugs #5282, #4888): a client whose offset is
missing (it never received an event) or has aged out of the log still
recovers when the session shows that it has every event sent to it: the
session records `last_sent` (the offset of the last recoverable event written
to the socket) and `position` (the newest offset of the log when it left).
If the client's offset equals `last_sent`, every event meant for it before it
left has reached it, and what it missed is what came after `position`.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

#: Disconnect reasons after which a session is kept (as the reference server's list).
RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)


@dataclass(frozen=True, slots=True)
class RecoveryConfig:
    """``SOCKETIO["RECOVERY"]``, read once."""

    #: Seconds a session and the events it may miss are kept.
    max_disconnection_duration: float = 120.0
    #: A recovered socket does not run the connection middlewares again.
    skip_middlewares: bool = True
    #: Events the log keeps at most (the oldest go first): per process in memory,
    #: the stream's MAXLEN (approximate) in Redis.
    max_events: int = 10_000
    #: "auto" (the channels-redis layer's Redis, else memory), "memory", or a Redis URL.
    store: str = "auto"


@dataclass(frozen=True, slots=True)
class StoredSession:
    """What is kept of a socket that may come back."""

    sid: str
    pid: str
    rooms: frozenset[str]
    data: Any
    #: The newest offset of the log when the socket left (None: empty log).
    position: str | None = None
    #: The offset of the last recoverable event written to the socket (None: none).
    last_sent: str | None = None
    #: When it left (epoch seconds; the Redis store sets it: see `StreamFeed.missed`).
    left_at: float | None = None


def reaches(to: frozenset[str], except_rooms: frozenset[str], rooms: Iterable[str]) -> bool:
    """Would a socket in `rooms` (its own id included) have received a broadcast to `to`
    (everyone when empty) except `except_rooms`? The in-memory log and the Redis store ask."""
    mine = rooms if isinstance(rooms, (set, frozenset)) else set(rooms)
    if to and to.isdisjoint(mine):
        return False
    return except_rooms.isdisjoint(mine)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    offset: str
    seq: int
    at: float
    namespace: str
    data: list[Any]  # [event, *args], without the offset
    rooms: frozenset[str]
    except_rooms: frozenset[str]

    def reaches(self, rooms: frozenset[str]) -> bool:
        return reaches(self.rooms, self.except_rooms, rooms)

    def with_offset(self) -> list[Any]:
        return [*self.data, self.offset]


@runtime_checkable
class RecoveryStore(Protocol):
    """Where recoverable events and sessions are kept (this process, or Redis)."""

    async def append(
        self, namespace: str, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str]
    ) -> str:
        """Log a recoverable event; its offset."""
        ...

    async def persist(self, namespace: str, session: StoredSession) -> None:
        """Keep `session` for the window (replacing one with the same pid)."""
        ...

    async def take(self, namespace: str, pid: str) -> StoredSession | None:
        """The session of `pid`, removed (single use); None if unknown or expired."""
        ...


class MemoryRecoveryStore:
    """The log and the sessions of one process (any channel layer, no dependency).

    `clock` gives seconds (monotonic); it is a parameter so tests need no sleep.
    """

    def __init__(
        self,
        window: float = 120.0,
        max_events: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_events = max_events
        self.clock = clock
        self.epoch = secrets.token_hex(4)
        self._events: deque[LoggedEvent] = deque()
        self._seq = 0
        # (namespace, pid) -> (session, expires at); in expiry order (the window is fixed)
        self._sessions: OrderedDict[tuple[str, str], tuple[StoredSession, float]] = OrderedDict()
        #: Events dropped from the log by its size bound before their time was up.
        self.evicted_early = 0

    def __len__(self) -> int:
        return len(self._events)

    @property
    def sessions(self) -> int:
        self._expire_sessions(self.clock())
        return len(self._sessions)

    # -- events ------------------------------------------------------------------

    def log(
        self, namespace: str, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str]
    ) -> str:
        """`append` without a coroutine."""
        now = self.clock()
        self._seq += 1
        offset = f"{self.epoch}.{self._seq}"
        events = self._events
        events.append(LoggedEvent(offset, self._seq, now, namespace, data, rooms, except_rooms))
        horizon = now - self.window
        while events and events[0].at < horizon:
            events.popleft()
        while len(events) > self.max_events:
            events.popleft()
            self.evicted_early += 1
        return offset

    async def append(
        self, namespace: str, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str]
    ) -> str:
        return self.log(namespace, data, rooms, except_rooms)

    @property
    def position(self) -> str | None:
        """The newest offset given (None before the first)."""
        return f"{self.epoch}.{self._seq}" if self._seq else None

    def _seq_of(self, offset: str | None) -> int | None:
        """The number of one of this log's offsets; None for anything else."""
        if not isinstance(offset, str):
            return None
        epoch, _, number = offset.partition(".")
        if epoch != self.epoch or not number.isdigit() or len(number) > 20:
            return None
        seq = int(number)
        return seq if 0 < seq <= self._seq else None

    def _retained(self, seq: int) -> bool:
        """Is every event after `seq` still in the log?"""
        events = self._events
        first = events[0].seq if events else self._seq + 1
        return seq + 1 >= first

    def missed(self, namespace: str, session: StoredSession, offset: Any) -> list[list[Any]] | None:
        """The events after the client's `offset` that `session` must get, with their offsets.

        None if they cannot all be given (a forged offset, or events aged out of the
        log): the caller then starts a fresh session. See the module doc for a
        missing or aged-out offset.
        """
        after = self._seq_of(offset)
        if after is None or not self._retained(after):
            # Not in the log: fine only if the client has all that was sent to it.
            if offset != session.last_sent:
                return None
            after = self._seq_of(session.position) or 0
            if session.position is not None and after == 0:
                return None  # the session comes from another log
            if not self._retained(after):
                return None
        events = self._events
        first = events[0].seq if events else self._seq + 1
        rooms = session.rooms
        return [
            event.with_offset()
            for event in (events[i] for i in range(max(0, after + 1 - first), len(events)))
            if event.namespace == namespace and event.reaches(rooms)
        ]

    # -- sessions ----------------------------------------------------------------

    def _expire_sessions(self, now: float) -> None:
        sessions = self._sessions
        while sessions:
            key, (_session, expires) = next(iter(sessions.items()))
            if expires > now:
                break
            del sessions[key]

    async def persist(self, namespace: str, session: StoredSession) -> None:
        now = self.clock()
        self._expire_sessions(now)
        key = (namespace, session.pid)
        self._sessions.pop(key, None)
        self._sessions[key] = (session, now + self.window)

    async def take(self, namespace: str, pid: str) -> StoredSession | None:
        self._expire_sessions(self.clock())
        found = self._sessions.pop((namespace, pid), None)
        return found[0] if found is not None else None


def restore_request(auth: Any) -> tuple[str, str | None] | None:
    """``(pid, offset)`` if a CONNECT's auth asks to recover a session, else None.

    The offset may be missing (a client that never received an event); anything
    but a string there counts as missing.
    """
    if not isinstance(auth, dict):
        return None
    pid = auth.get("pid")
    if not isinstance(pid, str) or not pid or len(pid) > 100:
        return None
    offset = auth.get("offset")
    return pid, offset if isinstance(offset, str) else None
