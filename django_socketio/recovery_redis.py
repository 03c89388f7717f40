"""Connection state recovery across processes: one Redis stream, single-use sessions.

[aio] Plain asyncio and redis-py (which channels-redis already depends on); no
Django, no Channels. `server.py` builds it from the settings.

Why a stream, and why every recoverable broadcast travels through it
----------------------------------------------------------------------
A client that recovers sends the offset of the last event it processed and
expects every later event meant for it, once. "Later" has to mean one order
that every process agrees on, and the order each client saw events in has to
be that order. If the offset came from an XADD while the event itself
travelled over the channel layer, two publishers on two processes could be
seen in one order by a client (layer delivery) and stored in the other (XADD
order): "everything after my offset" would then replay an event the client
already had, or skip one it never got.

So, with this store, a recoverable broadcast (no ack, not volatile, not
`local`; socket emits included) is **only** XADDed, and every process reads
the stream in order (XREAD, one reader task per process, as Node's
redis-streams adapter does) and delivers each entry to its own sockets,
tagged with the entry id as the offset. Every socket therefore receives its
events in stream order, whichever process emitted them, and a client's offset
says exactly which prefix of the stream it has processed: the missed events
are the matching entries after it (XRANGE with an exclusive start).

Two more rules close the gaps around a restore on process B:
- B replays up to its reader's position R (everything up to R has been
  delivered to B's live sockets, and nothing after it): the replay is taken
  with the reader paused (`StreamFeed.lock`), and the caller makes the socket a
  member of its rooms before its next await, so the reader's next entry (> R)
  reaches it live. Nothing falls between replay and live delivery, nothing is
  in both.
- If B's reader is behind the client's offset (the client came from a process
  that read further), B waits until it reaches it, so that no entry up to the
  offset is delivered live again.

Sessions are single use (GETDEL) and expire after the recovery window (PX).
The stream is trimmed by size on every XADD (``MAXLEN ~``) and by age by each
reader (``XTRIM MINID ~``, the window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgpack

from .socketio.recovery import StoredSession, reaches

__all__ = ["RedisRecoveryStore", "StoredSession", "StreamEntry", "StreamFeed", "parse_offset"]

logger = logging.getLogger("django_socketio.recovery")

_STREAM_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
READ_COUNT = 100  # entries per XREAD
READ_BLOCK_MS = 1000  # an idle reader wakes up this often (to trim, and to notice a stop)
CATCH_UP_TIMEOUT = 5.0  # seconds a restore waits for this process's reader to reach the offset
EVICT_TIMEOUT = 3.0  # seconds a restore waits for another process to close the session's socket
LIVE_TTL_MS = 24 * 3600 * 1000  # a live socket's marker outlasts a killed process by at most this
LIVE = b"1"  # a live socket's marker without a snapshot
EVICT = "evict"  # the kind of a stream entry asking the process with a pid's socket to close it


def parse_offset(offset: Any) -> tuple[int, int] | None:
    """A stream entry id as a pair of ints; None for anything else (a forged offset)."""
    if not isinstance(offset, str):
        return None
    found = _STREAM_ID.match(offset)
    return (int(found[1]), int(found[2])) if found else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One recoverable broadcast, as every process reads it from the stream."""

    offset: str
    namespace: str
    data: list[Any]  # [event, *args], without the offset
    rooms: frozenset[str]
    except_rooms: frozenset[str]
    #: "" for an event; EVICT for a request to close a live socket (`data`: [pid, asker]).
    kind: str = ""

    def reaches(self, rooms: Iterable[str]) -> bool:
        return not self.kind and reaches(self.rooms, self.except_rooms, rooms)

    def with_offset(self) -> list[Any]:
        return [*self.data, self.offset]


def _encode_entry(
    namespace: str, data: list[Any], rooms: Iterable[str], excl: Iterable[str], kind: str = ""
):
    fields = {
        b"n": namespace.encode("utf-8", "surrogatepass"),
        b"d": msgpack.packb([data, sorted(rooms), sorted(excl)], use_bin_type=True),
    }
    if kind:
        fields[b"k"] = kind.encode()
    return fields


def _decode_entry(offset: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry | None:
    try:
        data, rooms, excl = msgpack.unpackb(fields[b"d"], raw=False)
        return StreamEntry(
            _text(offset),
            fields[b"n"].decode("utf-8", "surrogatepass"),
            list(data),
            frozenset(rooms),
            frozenset(excl),
            fields[b"k"].decode() if b"k" in fields else "",
        )
    except (KeyError, ValueError, TypeError, msgpack.UnpackException):
        logger.warning("skipping stream entry %r: not one of ours", offset)
        return None


class RedisRecoveryStore:
    """Sessions and recent recoverable events in Redis, shared by every process.

    `client` is a ``redis.asyncio.Redis``. Keys: ``<prefix>:events`` (the stream)
    and ``<prefix>:session:<namespace>:<pid>`` (one per disconnected socket).
    """

    #: Recoverable broadcasts are delivered by reading the stream (see the module doc),
    #: not directly nor over the channel layer.
    delivers = True

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "sio",
        window: float = 120.0,
        max_events: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.stream = f"{prefix}:events"
        self.window = window
        self.max_events = max_events
        self.clock = clock

    def _session_key(self, namespace: str, pid: str) -> str:
        return f"{self.prefix}:session:{namespace}:{pid}"

    def _live_key(self, namespace: str, pid: str) -> str:
        return f"{self.prefix}:live:{namespace}:{pid}"

    # -- events ----------------------------------------------------------------------

    async def append(
        self,
        namespace: str,
        data: list[Any],
        rooms: frozenset[str],
        except_rooms: frozenset[str],
    ) -> str:
        """Log a recoverable broadcast; its offset (the entry id). Raises on a Redis failure."""
        offset = await self.client.xadd(
            self.stream,
            _encode_entry(namespace, data, rooms, except_rooms),
            maxlen=self.max_events,
            approximate=True,
        )
        return _text(offset)

    async def read(
        self, after: str, count: int = READ_COUNT, block_ms: int | None = READ_BLOCK_MS
    ) -> list[StreamEntry]:
        """The entries after `after`, waiting up to `block_ms` for one (None: no wait)."""
        found = await self.client.xread({self.stream: after}, count=count, block=block_ms)
        entries = []
        for _stream, items in found or ():
            for offset, fields in items:
                entry = _decode_entry(offset, fields)
                if entry is not None:
                    entries.append(entry)
                else:  # keep the position moving past it
                    entries.append(StreamEntry(_text(offset), "", [], frozenset(), frozenset()))
        return entries

    async def last_offset(self) -> str:
        """The id of the newest entry ("0-0" for an empty stream): where a new reader starts."""
        newest = await self.client.xrevrange(self.stream, "+", "-", count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def contains(self, offset: str) -> bool:
        return bool(await self.client.xrange(self.stream, offset, offset, count=1))

    async def missed(
        self, namespace: str, rooms: Iterable[str], offset: str, upto: str
    ) -> list[list[Any]]:
        """The events of `namespace` for a socket in `rooms`, after `offset`, up to `upto`.

        Each with its offset as last argument, in stream order.
        """
        rooms = frozenset(rooms)
        found: list[list[Any]] = []
        start = "(" + offset
        while parse_offset(upto) > parse_offset(start[1:]):  # type: ignore[operator]
            page = await self.client.xrange(self.stream, start, upto, count=1000)
            if not page:
                break
            for raw_offset, fields in page:
                entry = _decode_entry(raw_offset, fields)
                if entry is not None and entry.namespace == namespace and entry.reaches(rooms):
                    found.append(entry.with_offset())
            start = "(" + _text(page[-1][0])
        return found

    async def trim(self) -> None:
        """Drop the entries older than the recovery window."""
        horizon = int((self.clock() - self.window) * 1000)
        if horizon > 0:
            await self.client.xtrim(self.stream, minid=f"{horizon}-0", approximate=True)

    # -- sessions ----------------------------------------------------------------------

    def _pack(self, session: StoredSession, left_at: float | None) -> bytes:
        """`session` as stored; raises if its `data` cannot be serialised."""
        return msgpack.packb(
            {
                "sid": session.sid,
                "pid": session.pid,
                "rooms": sorted(session.rooms),
                "data": session.data,
                "position": session.position,
                "last_sent": session.last_sent,
                "left_at": left_at,
            },
            use_bin_type=True,
        )

    @staticmethod
    def _unpack(blob: bytes, pid: str) -> StoredSession | None:
        try:
            raw = msgpack.unpackb(blob, raw=False)
            return StoredSession(
                raw["sid"],
                raw["pid"],
                frozenset(raw["rooms"]),
                raw["data"],
                raw.get("position"),
                raw.get("last_sent"),
                raw.get("left_at"),
            )
        except (KeyError, ValueError, TypeError, msgpack.UnpackException):
            logger.warning("dropped an unreadable stored session for pid %r", pid)
            return None

    async def persist(self, namespace: str, session: StoredSession) -> None:
        """Keep `session` for the window; raises if its `data` cannot be serialised."""
        blob = self._pack(session, self.clock())
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(
                self._session_key(namespace, session.pid), blob, px=max(1, int(self.window * 1000))
            )
            pipe.delete(self._live_key(namespace, session.pid))  # no longer live: kept
            await pipe.execute()

    # -- live sockets (half-open reconnections across processes, socket.io #4880) ------------

    async def hold(self, namespace: str, pid: str, snapshot: StoredSession | None = None) -> None:
        """A socket with `pid` is live on some process (until `persist` or `release`).

        With its `snapshot` (its rooms and `data` now): what is restored if that process
        is killed before it can persist the session (`take_live`). Without one (or if
        its `data` cannot be serialised), only the mark.
        """
        blob = LIVE
        if snapshot is not None:
            try:
                blob = self._pack(snapshot, None)
            except (TypeError, ValueError, OverflowError):
                logger.debug("the live snapshot of pid %r cannot be serialised", pid)
        await self.client.set(self._live_key(namespace, pid), blob, px=LIVE_TTL_MS)

    async def take_live(self, namespace: str, pid: str) -> StoredSession | None:
        """The last snapshot of a live socket whose process did not close it, removed."""
        blob = await self.client.getdel(self._live_key(namespace, pid))
        return None if blob is None or blob == LIVE else self._unpack(blob, pid)

    async def release(self, namespace: str, pid: str) -> None:
        """The socket with `pid` left for good (nothing to recover)."""
        await self.client.delete(self._live_key(namespace, pid))

    async def held(self, namespace: str, pid: str) -> bool:
        return bool(await self.client.exists(self._live_key(namespace, pid)))

    async def request_eviction(self, namespace: str, pid: str, asker: str = "") -> None:
        """Ask every process, through the stream, to close its socket with `pid`.

        `asker` names the reader that asks: it is about to restore that very pid, and
        must not close its own new socket when the entry comes round (`StreamFeed`).
        """
        await self.client.xadd(
            self.stream,
            _encode_entry(namespace, [pid, asker], (), (), EVICT),
            maxlen=self.max_events,
            approximate=True,
        )

    async def take(self, namespace: str, pid: str) -> StoredSession | None:
        """The persisted session of `pid`, removed (single use); None if unknown or expired."""
        blob = await self.client.getdel(self._session_key(namespace, pid))
        return None if blob is None else self._unpack(blob, pid)

    async def take_or_held(self, namespace: str, pid: str) -> tuple[StoredSession | None, bool]:
        """`take`, and whether a socket with `pid` is live, read at one instant.

        Two separate reads could fall on either side of a `persist` (which stores the
        session and drops the live mark at once): no session yet, then no longer live.
        """
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.getdel(self._session_key(namespace, pid))
            pipe.exists(self._live_key(namespace, pid))
            blob, live = await pipe.execute()
        return (None if blob is None else self._unpack(blob, pid)), bool(live)

    async def retains_after(self, position: str, left_at: float | None) -> bool:
        """Is every entry after `position` (the newest when a session left at
        `left_at`) still in the stream?

        Trimming removes the oldest entries. If the oldest kept is at or before
        `position`, or older than the moment the session left, nothing after
        `position` went (it was the newest then). Otherwise entries went that may
        have come after it: by age, which cannot touch an entry newer than a session
        still inside the window; or by size (``MAXLEN ~`` never leaves fewer than
        `max_events`), and then the entries newer than those removed, all still
        inside the window, would still fill the stream. Fewer than `max_events`
        entries: nothing after `position` was trimmed.
        """
        at = parse_offset(position)
        if at is None:
            return False
        oldest = await self.client.xrange(self.stream, "-", "+", count=1)
        if not oldest:
            return True  # nothing kept: nothing was added since (the window is not over)
        first = parse_offset(_text(oldest[0][0]))
        if first is None or first <= at:
            return True
        if left_at is not None and first[0] < int(left_at * 1000):
            return True
        return await self.client.xlen(self.stream) < self.max_events

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


Deliver = Callable[[StreamEntry], Awaitable[None]]


class StreamFeed:
    """This process's reader of the stream: delivers every entry in order, once.

    `deliver(entry)` writes an entry to the local sockets it selects. `position`
    is the last entry handed to `deliver` (and finished): every live socket of
    this process has been given every matching entry up to it, and none after.
    `lock` is held while entries are delivered; `restore` holds it while it reads
    the replay, so the replay ends exactly at `position`.
    """

    def __init__(self, store: RedisRecoveryStore, deliver: Deliver, trim_every: float = 10.0):
        self.store = store
        self.deliver = deliver
        self.trim_every = trim_every
        self.position = "0-0"
        self.lock = asyncio.Lock()
        self.delivered = 0
        self.errors = 0
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.token = uuid.uuid4().hex  # names this reader in the eviction requests it makes

    async def start(self) -> None:
        if self._task is None:
            self.position = await self.store.last_offset()
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            # redis-py may turn a cancellation that lands in a blocking read into a
            # connection error, which the loop would retry: the flag ends it either way.
            self._stopping = True
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.1
        trimmed = time.monotonic()
        while not self._stopping:
            try:
                entries = await self.store.read(self.position)
                if time.monotonic() - trimmed > self.trim_every:
                    trimmed = time.monotonic()
                    await self.store.trim()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors += 1
                logger.warning("reading the recovery stream failed (%s); retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            if not entries:
                continue
            async with self.lock:
                for entry in entries:
                    if entry.namespace and not self._asked_by_me(entry):
                        try:
                            await self.deliver(entry)
                        except Exception:
                            logger.exception("delivering stream entry %s failed", entry.offset)
                    self.position = entry.offset
                    self.delivered += 1
            self._moved.set()
            self._moved = asyncio.Event()
            await asyncio.sleep(0)  # let the rest of the process run between batches

    def _asked_by_me(self, entry: StreamEntry) -> bool:
        """An eviction this reader asked for: the socket with that pid here is the new one."""
        return entry.kind == EVICT and entry.data[1:2] == [self.token]

    async def reached(self, offset: str, timeout: float = CATCH_UP_TIMEOUT) -> bool:
        """Wait until this reader has delivered `offset`; False if it did not in time."""
        target = parse_offset(offset)
        if target is None:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while parse_offset(self.position) < target:  # type: ignore[operator]
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), left)
        return True

    async def take(self, namespace: str, pid: str) -> StoredSession | None:
        """The stored session of `pid`, used up; None if there is none.

        If the socket holding `pid` is still live on some process (the client came
        back before that process saw its connection die: a half-open connection),
        that process is asked through the stream to close it; it persists its
        session as it does for any lost connection, and that session is the one
        taken. One socket per id, on every process. If nobody closes it within
        EVICT_TIMEOUT, its process is gone (killed): the snapshot it kept of the
        socket (rooms and `data` as of its last join or leave) is taken instead.
        """
        store = self.store
        session, live = await store.take_or_held(namespace, pid)
        if session is not None or not live:
            return session
        await store.request_eviction(namespace, pid, self.token)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVICT_TIMEOUT
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            session, live = await store.take_or_held(namespace, pid)
            if session is not None or not live:
                return session
        logger.info("pid %r: the process holding it did not close it; its snapshot", pid[:40])
        return await store.take_live(namespace, pid)

    async def missed(
        self, namespace: str, session: StoredSession, offset: str | None
    ) -> list[list[Any]] | None:
        """What `session`'s client missed after its `offset`, up to `position`; None if
        that cannot be told whole (a forged offset, entries trimmed): a fresh session.

        A client whose offset is not in the stream (it never got an event, or its
        last one was trimmed by age) still recovers if it is the last event written
        to the socket (`last_sent`): it had everything, and missed what came after
        the reader's position when it left (reference bugs #5282 and #4888).
        The caller must join the socket's rooms before its next await (`replay`).
        """
        store = self.store
        if parse_offset(offset) is not None and await store.contains(offset):  # type: ignore[arg-type]
            start = offset
        elif offset == session.last_sent and session.position is not None:
            start = session.position
            if not await store.retains_after(start, session.left_at):
                return None
        else:
            return None
        if not await self.reached(start):  # type: ignore[arg-type]
            return None
        return await self.replay(namespace, session.rooms, start)  # type: ignore[arg-type]

    async def replay(self, namespace: str, rooms: Iterable[str], offset: str) -> list[list[Any]]:
        """The events after `offset` a socket in `rooms` missed, up to `position`.

        The caller must make the socket a member of its rooms before its next
        await: from then on the reader delivers to it what comes after `position`.
        """
        async with self.lock:
            return await self.store.missed(namespace, rooms, offset, self.position)
