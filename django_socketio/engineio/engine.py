"""The Engine.IO engine: sid -> session table, one timer per session, wakes writers.

[aio] Plain asyncio; no Django, no Channels. Transports (the consumers) feed it
packets and give it a way to write; the application sees only the narrow
`EngineHandler` interface (connect / message / disconnect), of which the
Socket.IO server is the first user.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol

from ..exceptions import EngineIOError, ErrorCode, PacketError, UpgradeRefused
from ..stats import STATS
from . import packets_v3
from .limits import Throttle, WindowCounter, client_address
from .packets import CLOSE, Packet, PacketType, encode
from .polling import Forwarder
from .session import DISCONNECT, POLLING, WEBSOCKET, EngineConfig, Reason, Session, State, Verdict

logger = logging.getLogger("django_socketio.engineio")

Scope = dict[str, Any]

TOO_MANY_CONNECTIONS = "Too many connections"

_background: set[asyncio.Future[Any]] = set()


def _finished(task: asyncio.Future[Any]) -> None:
    _background.discard(task)
    if not task.cancelled():
        error = task.exception()  # retrieved: never asyncio's "Task exception was never..."
        if error is not None:
            logger.error("background task failed", exc_info=error)


def spawn(coro: Coroutine[Any, Any, Any]) -> None:
    """Run `coro` in the background, keeping a reference until it is done.

    Nobody awaits it, so its exception (a bug: handlers catch their own) is logged
    here, in our logger, with its traceback.
    """
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_finished)


def message_frames(
    messages: list[str | bytes], protocol: int = 4, b64: bool = False
) -> list[str | bytes]:
    """MESSAGE packets encoded for a websocket, once for any number of sessions."""
    if protocol == 3:
        if b64:
            return [packets_v3.encode(Packet(PacketType.MESSAGE, m), b64=True) for m in messages]
        return [packets_v3.message_frame(m) for m in messages]
    return [m if type(m) is bytes else "4" + m for m in messages]


def _frame_kind(session: Session) -> Any:
    """How a session's websocket frames are encoded: the key of a broadcast's cache."""
    return session.protocol if session.protocol == 4 or not session.b64 else "3b64"


def encode_for(session: Session, packet: Packet) -> str | bytes:
    """One packet as a websocket frame of `session`'s protocol."""
    if session.protocol == 3:
        return packets_v3.encode(packet, session.b64)
    return encode(packet)


class EngineHandler(Protocol):
    """What the application above Engine.IO implements."""

    async def on_connect(self, sid: str, scope: Scope) -> None: ...
    async def on_message(self, sid: str, data: str | bytes) -> None: ...
    async def on_disconnect(self, sid: str, reason: str) -> None: ...

    # Optional: ``async def on_upgrade(self, sid: str) -> None``, after polling -> websocket.
    # Optional: ``async def start(self) -> None``, awaited before a request for a sid this
    # process does not hold is looked up (it may belong to another process: see `ready`).


class WebsocketWriter(Protocol):
    async def send_frame(self, frame: str | bytes) -> None: ...
    async def close(self, code: int = 1000) -> None: ...
    def abort(self) -> None: ...

    # Optional: ``def pause_reading(self, seconds: float | None) -> bool``: stop reading
    # the peer for a while or for good, where the ASGI server allows it.


_OK, _PROBE = Verdict.OK, Verdict.PROBE
_CLOSED, _CLOSING = State.CLOSED, State.CLOSING
_MESSAGE = PacketType.MESSAGE
NOOP_INTERVAL = 0.1  # seconds between NOOP answers to GETs during an upgrade
YIELD_EVERY = 64  # packets of one payload handled between two yields to the loop
CLOSE_TIMEOUT = 5.0  # seconds a websocket close may wait for a peer that does not read


class _Resume:
    """Await the rest of a coroutine that was stepped once by hand and suspended.

    `Connection.push` starts an ASGI ``send`` in the emitter's own stack: under
    daphne, and under uvicorn while the peer reads, it completes without
    suspending, at no cost. When it does suspend (uvicorn: the peer stopped
    reading), the writer task takes it over through this, yielding what the
    coroutine yields, so the emitter never waits for a peer.
    """

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Any:
        coro, yielded = self.coro, self.first
        while True:
            try:
                sent = yield yielded
            except BaseException as exc:  # cancellation goes into the coroutine
                try:
                    yielded = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration:
                    return


class Connection:
    """The asyncio side of one session: its pending poll, its websocket, its timer.

    Writing to a websocket never waits for the peer: `push` writes at once when
    nothing is ahead and the ASGI server takes the frame without waiting;
    otherwise the frames wait in `out` for this connection's writer task. How
    much may wait is bounded by the session's backlog limits.
    """

    __slots__ = (
        "attached",
        "held",
        "held_size",
        "hold_timer",
        "latest",
        "lent_to",
        "out",
        "poll",
        "posting",
        "probe",
        "probe_timer",
        "replayed",
        "scope",
        "session",
        "timer",
        "writer",
        "ws",
    )

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        self.poll: asyncio.Future[None] | None = None
        self.ws: WebsocketWriter | None = None
        self.probe: WebsocketWriter | None = None
        self.probe_timer: asyncio.TimerHandle | None = None  # UPGRADE_TIMEOUT of the probe
        self.timer: asyncio.TimerHandle | None = None
        self.out: deque[str | bytes] = deque()
        self.writer: asyncio.Task[None] | None = None
        self.posting = False  # a POST is being handled (one at a time)
        #: The application was told of this session (`Engine._attach`).
        self.attached = False
        #: Messages from the client the application has not been handed yet (None: all
        #: were): kept while the session may still move to another process.
        self.held: deque[str | bytes] | None = None
        self.held_size = 0  # their bytes (text: characters), while the session may move
        #: Resolved once the application has been handed every held message.
        self.replayed: asyncio.Future[None] | None = None
        self.hold_timer: asyncio.TimerHandle | None = None  # the end of TAKEOVER_WINDOW
        #: The process whose websocket is taking this session over (`Engine.lend`).
        self.lent_to: str | None = None
        #: VOLATILE_LATEST: the newest volatile message the client could not take yet
        #: (frames, size, count, messages); sent when it catches up.
        self.latest: tuple[Any, int, int, Any] | None = None

    @property
    def sid(self) -> str:
        return self.session.sid

    def wake(self) -> None:
        """Something was queued or the state changed: let the writer look (sync)."""
        if self.ws is not None:
            if self.session.queue:
                session = self.session
                self.push([encode_for(session, p) for p in session.take()])
        elif self.poll is not None and not self.poll.done():
            self.poll.set_result(None)

    def push(self, frames: Iterable[str | bytes]) -> None:
        """Write encoded frames to the websocket after what waits already; never awaits."""
        ws = self.ws
        if ws is None:
            return
        if self.writer is not None:
            self.out.extend(frames)
            return
        it = iter(frames)
        for frame in it:
            coro = ws.send_frame(frame)
            try:
                waiting = coro.send(None)
            except StopIteration:
                continue
            except Exception:
                logger.debug("websocket write failed for %s", self.sid, exc_info=True)
                return  # the transport is gone; its consumer reports the loss
            # The server makes us wait (the peer is not reading): a task finishes this
            # frame and writes the rest, and later frames queue behind it.
            self.out.extend(it)
            self.writer = asyncio.get_running_loop().create_task(
                self._drain(ws, _Resume(coro, waiting))
            )
            return

    async def _drain(self, ws: WebsocketWriter, current: _Resume) -> None:
        try:
            await current
            out = self.out
            while out:
                await ws.send_frame(out.popleft())
        except Exception:
            logger.debug("websocket write failed for %s", self.sid, exc_info=True)
        finally:
            self.writer = None
        if self.latest is not None:
            self.send_latest()

    def send_latest(self) -> None:
        """Write the kept volatile message if the client can take it now."""
        latest = self.latest
        if latest is None or not self.idle:
            return
        frames, size, count, messages = latest
        session = self.session
        if session.closed or session.admit(size, count, volatile=True) is not _OK:
            return
        self.latest = None
        if self.ws is not None:
            self.push(frames)
        else:
            session.queue.extend(Packet(_MESSAGE, message) for message in messages)
            self.wake()

    @property
    def idle(self) -> bool:
        """Could a message go out now without waiting behind others (what volatile asks)?"""
        if self.ws is not None:
            return self.writer is None
        return self.poll is not None and not self.poll.done()


async def _close_websocket(
    sid: str, ws: WebsocketWriter, writer: asyncio.Task[None] | None
) -> None:
    """Close `ws` after its writer is done, within CLOSE_TIMEOUT; else abort its consumer."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            if writer is not None:
                await asyncio.wait((writer,))
            await ws.close(1000)
        return
    except TimeoutError:
        logger.info("websocket of %s did not take its close within %s s", sid, CLOSE_TIMEOUT)
    except Exception:
        logger.debug("closing websocket of %s failed", sid, exc_info=True)
    if writer is not None:
        writer.cancel()
    ws.abort()


TAG_LENGTH = 4  # characters of a sid that name the process owning it


def generate_tag() -> str:
    """A process's sid prefix: 4 URL-safe characters (24 random bits)."""
    return secrets.token_urlsafe(3)


def generate_sid(tag: str | None = None) -> str:
    """20 URL-safe characters like the reference server's ids: the owner's tag + 96 random bits.

    Clients treat the sid as opaque; another process reads the tag to forward a
    polling request to the owner (`polling.Forwarder`).
    """
    return (tag if tag is not None else generate_tag()) + secrets.token_urlsafe(12)


def tag_of(sid: str) -> str:
    return sid[:TAG_LENGTH]


class Engine:
    """All Engine.IO sessions of this process."""

    def __init__(
        self,
        handler: EngineHandler,
        config: EngineConfig | None = None,
    ) -> None:
        self.handler = handler
        self.config = config or EngineConfig()
        self.connections: dict[str, Connection] = {}
        #: New sessions refused by CONNECTIONS_PER_MINUTE since the start.
        self.connections_refused = 0
        #: The prefix of every sid this process issues (see `generate_sid`).
        self.node_tag = generate_tag()
        #: Reaches sessions of other processes (set by the channel-layer adapter).
        self.forwarder: Forwarder | None = None
        self.stopping = False  # the process is stopping: new sessions are refused (HTTP 503)
        self._handshakes = WindowCounter(60.0)
        self._refusal_log: Throttle | None = None
        # Optional: told when a session switched to websocket (the Admin UI shows it).
        self._on_upgrade: Callable[[str], Awaitable[None]] | None = getattr(
            handler, "on_upgrade", None
        )
        self._start: Callable[[], Awaitable[None]] | None = getattr(handler, "start", None)

    async def ready(self) -> None:
        """Let the handler start before a sid this process does not hold is judged,
        and before a session is opened.

        Under an ASGI server without lifespan (daphne) the handler (and with it the
        cross-process forwarding) starts at the first connection: a fresh process whose
        first request is another process's poll would otherwise call it unknown, and
        its first session would be attached before the process could know that another
        process may take it over (`_may_move`).
        """
        start = self._start
        if start is not None:
            await start()
            self._start = None  # once is enough: the next requests skip the call

    def now(self) -> float:
        # The loop's clock, because timers are scheduled with loop.call_at.
        return asyncio.get_running_loop().time()

    # -- opening -----------------------------------------------------------------

    def _address(self, scope: Scope) -> str | None:
        return client_address(
            scope.get("client"), scope.get("headers", ()), self.config.client_address_header
        )

    def bar_address(self, sid: str) -> None:
        """Refuse this session's address new connections for the rest of the minute.

        For a client disconnected for flooding (EVENT_LIMIT_POLICY "disconnect"):
        it has used up its CONNECTIONS_PER_MINUTE, so a script that reconnects at
        once floods once a minute, not that many times. No-op without that limit.
        """
        limit = self.config.connections_per_minute
        conn = self.connections.get(sid)
        if limit is None or conn is None:
            return
        address = self._address(conn.scope)
        if address is not None:
            self._handshakes.fill(address, self.now(), limit)

    def admit(self, scope: Scope) -> None:
        """Count a new session's handshake; EngineIOError (HTTP 403) past the per-minute limit.

        Called by the transports before `open`, for handshakes only (an upgrade
        websocket joins an existing session and is not counted).
        """
        if self.stopping:
            # A client retries elsewhere (behind a balancer) rather than open a session
            # that the process would take down with it.
            raise EngineIOError(ErrorCode.FORBIDDEN, 503, "Server is shutting down")
        limit = self.config.connections_per_minute
        if limit is None:
            return
        address = self._address(scope)
        if address is None:
            return
        now = self.now()
        if self._handshakes.hit(address, now) <= limit:
            return
        self.connections_refused += 1
        if self._refusal_log is None:
            self._refusal_log = Throttle(10.0, now)
        held = self._refusal_log.allow(now)
        if held is not None:
            logger.warning(
                "refusing new connections from %s: CONNECTIONS_PER_MINUTE is %d%s",
                address[:100],
                limit,
                f" ({held} more refused since the last such line)" if held else "",
            )
        raise EngineIOError(ErrorCode.FORBIDDEN, message=TOO_MANY_CONNECTIONS)

    async def open(
        self,
        transport: str,
        scope: Scope,
        ws: WebsocketWriter | None = None,
        protocol: int = 4,
        b64: bool = False,
    ) -> Connection:
        """A new session speaking Engine.IO `protocol` (4, or 3 for Socket.IO 2.x clients)."""
        await self.ready()
        sid = generate_sid(self.node_tag)
        while sid in self.connections:  # 96 random bits: never, but cheap to be sure
            sid = generate_sid(self.node_tag)
        session = Session(sid, transport, self.config, self.now(), protocol, b64)
        conn = Connection(session, scope)
        conn.ws = ws
        self.connections[session.sid] = conn
        self._schedule(conn)
        session.send(session.open_packet())
        conn.wake()
        if self._may_move(session):
            conn.held = deque()
            conn.hold_timer = asyncio.get_running_loop().call_later(
                self.config.takeover_window, self._hold_ended, conn
            )
        else:
            await self._attach(conn)
        return conn

    # -- a session moving to the process its websocket reached --------------------------
    #
    # Behind a balancer without affinity, a client's upgrade websocket may reach another
    # process than its polling requests (forwarded to the owner, see forwarding.py). As
    # the reference's cluster engine does, a new polling session is kept from the
    # application for TAKEOVER_WINDOW: if its websocket probes another process
    # meanwhile, the session moves there whole (same sid), with the messages the client
    # sent so far, and the application first sees it there. Later upgrades reaching
    # another process are refused and the session stays on polling.

    def _may_move(self, session: Session) -> bool:
        forwarder = self.forwarder
        return (
            session.transport == POLLING
            and self.config.takeover_window > 0
            and WEBSOCKET in self.config.transports
            and forwarder is not None
            and forwarder.may_have_peers()
        )

    async def _attach(self, conn: Connection) -> None:
        """Hand the session to the application: connect, then what the client sent so far.

        Messages arriving meanwhile queue behind the held ones, so the application
        sees them in the order the client sent them.
        """
        if conn.attached or self.connections.get(conn.sid) is not conn:
            return  # attached already (a second call), or closed before the application knew
        if conn.hold_timer is not None:
            conn.hold_timer.cancel()
            conn.hold_timer = None
        conn.attached = True
        STATS.connects += 1
        held = conn.held
        if held is None:
            await self._call(self.handler.on_connect, conn.sid, conn.scope)
            return
        replayed = conn.replayed = asyncio.get_running_loop().create_future()
        await self._call(self.handler.on_connect, conn.sid, conn.scope)
        while held:
            await self._call(self.handler.on_message, conn.sid, held.popleft())
        conn.held = conn.replayed = None
        replayed.set_result(None)

    async def _hold(self, conn: Connection, data: str | bytes) -> None:
        """A message from the client of a session the application has not had all of yet.

        While they are handed over, the request that brought it waits, as it would wait
        for the handlers of its messages. Before that (the session may still move),
        more than one POST's worth (MAX_PAYLOAD, MAX_PAYLOAD_PACKETS) ends the wait: the
        session stays here and the application gets them, with its own limits.
        """
        held = conn.held
        assert held is not None
        held.append(data)
        if conn.replayed is not None:
            await conn.replayed
            return
        conn.held_size += len(data)
        c = self.config
        if conn.held_size > c.max_payload or len(held) > (c.max_payload_packets or len(held)):
            if conn.lent_to is not None:
                self._unlend(conn)
            spawn(self._attach(conn))

    def _hold_ended(self, conn: Connection) -> None:
        """TAKEOVER_WINDOW is over, or a lent session was neither moved nor given back."""
        conn.hold_timer = None
        if conn.attached or self.connections.get(conn.sid) is not conn:
            return
        if conn.lent_to is not None:
            logger.info("session %s: node %s did not finish taking it", conn.sid, conn.lent_to)
            self._unlend(conn)
        spawn(self._attach(conn))

    def lend(self, sid: str, to: str, timeout: float) -> bool:
        """A websocket that reached process `to` probes `sid`: let it take the session over?

        Yes while the application has not seen the session and nothing else upgrades
        it. Its GETs then get NOOP, as during a local upgrade, so the client stops
        polling; within `timeout` the session is moved (`give_away`) or given back.
        """
        conn = self.connections.get(sid)
        if (
            conn is None
            or conn.attached
            or conn.lent_to is not None
            or conn.probe is not None
            or not conn.session.lend()
        ):
            return False
        conn.lent_to = to
        if conn.hold_timer is not None:
            conn.hold_timer.cancel()
        conn.hold_timer = asyncio.get_running_loop().call_later(timeout, self._hold_ended, conn)
        conn.wake()
        return True

    def give_away(self, sid: str, to: str) -> list[str | bytes] | None:
        """The client upgraded on `to`'s websocket: forget the session, hand over its messages."""
        conn = self.connections.get(sid)
        if conn is None or conn.attached or conn.lent_to != to:
            return None
        held = list(conn.held or ())
        self._forget(conn)
        conn.session.fail(Reason.TRANSPORT_CLOSE)  # a GET still here gets NOOP, not CLOSE
        if conn.poll is not None and not conn.poll.done():
            conn.poll.set_result(None)
        return held

    def take_back(self, sid: str, by: str) -> None:
        """The websocket that reached `by` failed before the upgrade: the session stays here."""
        conn = self.connections.get(sid)
        if conn is not None and not conn.attached and conn.lent_to == by:
            self._unlend(conn)
            spawn(self._attach(conn))

    def take_back_all(self, by: str) -> None:
        """Process `by` is gone: the sessions it was taking over stay here."""
        for conn in list(self.connections.values()):
            if conn.lent_to == by:
                self.take_back(conn.sid, by)

    def _unlend(self, conn: Connection) -> None:
        conn.lent_to = None
        conn.session.abort_upgrade()
        conn.wake()

    async def adopt(
        self,
        sid: str,
        scope: Scope,
        ws: WebsocketWriter,
        held: Iterable[str | bytes],
        protocol: int = 4,
        b64: bool = False,
    ) -> Connection | None:
        """Take over another process's session on the websocket `ws` (see `lend`).

        The application sees a session already on websocket, and the messages the
        client sent before the move, in order. None if `sid` is somehow held here.
        """
        if sid in self.connections:
            return None
        session = Session(sid, WEBSOCKET, self.config, self.now(), protocol, b64)
        conn = Connection(session, scope)
        conn.ws = ws
        conn.held = deque(held)
        self.connections[sid] = conn
        self._schedule(conn)
        STATS.upgrades += 1
        await self._attach(conn)
        if self._on_upgrade is not None:
            await self._call(self._on_upgrade, sid)
        return conn

    def lookup(self, sid: str | None, transport: str) -> Connection:
        """The session a request names, or the error the client should get."""
        conn = self.connections.get(sid) if sid else None
        if conn is not None:
            self._catch_up(conn)
        if conn is None or conn.session.state is State.CLOSED:
            raise EngineIOError(ErrorCode.UNKNOWN_SID)
        if transport == WEBSOCKET:
            # Only a polling session can be upgraded, by one websocket at a time.
            if not conn.session.can_upgrade() or conn.probe is not None:
                raise UpgradeRefused
        elif conn.session.transport != transport:
            raise EngineIOError(ErrorCode.BAD_REQUEST)
        return conn

    # -- the application's API ----------------------------------------------------

    async def send(self, sid: str, data: str | bytes, volatile: bool = False) -> bool:
        """Send one MESSAGE without waiting for the client.

        False if it was not sent: the session is gone, a volatile message found the
        client behind, or the client's backlog is full (see `_refuse`).
        """
        conn = self.connections.get(sid)
        if conn is None:
            return False
        if type(data) is str:
            frame: str | bytes = "4" + data
        elif conn.session.protocol == 4:
            frame = data
        else:
            frame = message_frames([data], 3, conn.session.b64)[0]
        return self._write(conn, (frame,), len(frame), 1, volatile, (data,))

    async def send_many(
        self,
        sid: str,
        messages: list[str | bytes],
        cache: dict[Any, Any] | None = None,
        volatile: bool = False,
    ) -> bool:
        """Send several MESSAGEs, all or none (see `write_many`)."""
        return self.write_many(sid, messages, cache, volatile)

    def write_many(
        self,
        sid: str,
        messages: list[str | bytes],
        cache: dict[Any, Any] | None = None,
        volatile: bool = False,
    ) -> bool:
        """`send_many` without a coroutine, for a broadcast's loop over its recipients.

        A broadcast passes the same `cache` for every recipient: the messages are
        encoded as websocket frames, and measured, once (per Engine.IO protocol),
        not per session.
        """
        conn = self.connections.get(sid)
        if conn is None:
            return False
        session = conn.session
        kind = _frame_kind(session)
        entry = cache.get(kind) if cache is not None else None
        if entry is None:
            frames = message_frames(messages, session.protocol, session.b64)
            entry = (frames, sum(map(len, frames)))
            if cache is not None:
                cache[kind] = entry
        frames, size = entry
        return self._write(conn, frames, size, len(frames), volatile, messages)

    def _write(
        self,
        conn: Connection,
        frames: Iterable[str | bytes],
        size: int,
        count: int,
        volatile: bool,
        messages: Iterable[str | bytes],
    ) -> bool:
        # On every message to every recipient: module constants, no enum lookups.
        session = conn.session
        state = session.state
        if state is _CLOSED or state is _CLOSING:
            return False
        if volatile and not conn.idle:
            return self._keep_latest(conn, frames, size, count, messages)
        verdict = session.admit(size, count, volatile)
        if verdict is not _OK and verdict is not _PROBE:
            if volatile:
                return self._keep_latest(conn, frames, size, count, messages)
            return self._refuse(conn, verdict)
        if conn.ws is not None:
            conn.push(frames)
            if verdict is _PROBE:
                session.probe()
                conn.wake()
            return True
        queue = session.queue
        for message in messages:
            queue.append(Packet(_MESSAGE, message))
        if verdict is _PROBE:
            session.probe()
        conn.wake()
        return True

    def _keep_latest(
        self,
        conn: Connection,
        frames: Iterable[str | bytes],
        size: int,
        count: int,
        messages: Iterable[str | bytes],
    ) -> bool:
        """A volatile message the client cannot take now: dropped, or with VOLATILE_LATEST
        kept (replacing an older one) until it can."""
        if not self.config.volatile_latest:
            STATS.messages_dropped += 1
            return False
        if conn.latest is not None:
            STATS.messages_dropped += 1  # the older one will never be sent
        conn.latest = (list(frames), size, count, list(messages))
        return True

    def _refuse(self, conn: Connection, verdict: Verdict) -> bool:
        """Apply the backlog policy to a message the session did not take; always False."""
        STATS.messages_dropped += 1
        if verdict is Verdict.FULL and self.config.backlog_policy == DISCONNECT:
            nbytes, npackets = conn.session.backlog()
            logger.info(
                "closing session %s: slow consumer (%d bytes, %d packets unread; "
                "MAX_BACKLOG_BYTES %d, MAX_BACKLOG_PACKETS %d)",
                conn.sid,
                nbytes,
                npackets,
                self.config.max_backlog_bytes,
                self.config.max_backlog_packets,
            )
            conn.session.fail(Reason.SLOW_CONSUMER)
            spawn(self._finalize(conn))
        return False

    def protocol(self, sid: str) -> int:
        """The Engine.IO protocol revision of a session (4 unless it is a v3 client)."""
        conn = self.connections.get(sid)
        return conn.session.protocol if conn is not None else 4

    def writable(self, sid: str) -> bool:
        """Could a packet go out right now, without waiting behind others?"""
        conn = self.connections.get(sid)
        if conn is None or conn.session.closed or not conn.idle:
            return False
        return conn.session.admit(0, 0, volatile=True) is not Verdict.DROPPED

    def backlog(self, sid: str) -> tuple[int, int] | None:
        """Bytes and packets sent to `sid` that it has not confirmed reading (None: gone)."""
        conn = self.connections.get(sid)
        return None if conn is None else conn.session.backlog()

    async def close(self, sid: str, reason: str = Reason.FORCED_CLOSE) -> None:
        """Close a session from the server side, after delivering what is queued."""
        conn = self.connections.get(sid)
        if conn is None:
            return
        conn.wake()
        conn.session.close(reason, self.now(), flush=True)
        if conn.session.state is State.CLOSING:
            conn.wake()
            self._schedule(conn)
        else:
            await self._finalize(conn, drain=True)

    def pause_reading(self, sid: str, seconds: float | None = None) -> bool:
        """Stop reading a misbehaving client's websocket, for `seconds` or (None) for good.

        For a flood: what it sends meanwhile stays in the kernel instead of costing
        the server's one event loop, and TCP pushes back on the client. False when
        the session has no websocket or its ASGI server does not allow it (only
        daphne does; see `consumers._readable_transport`).
        """
        conn = self.connections.get(sid)
        ws = conn.ws if conn is not None else None
        pause = getattr(ws, "pause_reading", None)
        if pause is None:
            return False
        if seconds is not None:
            # Its PONGs wait too: keep them in time.
            seconds = min(seconds, self.config.ping_timeout / 2)
        return pause(seconds)

    async def shutdown(self) -> None:
        """Close every session as a forced server close (a recoverable reason)."""
        for conn in list(self.connections.values()):
            conn.session.fail(Reason.SERVER_SHUTDOWN)
            await self._finalize(conn)

    # -- what transports call -------------------------------------------------------

    async def receive(self, conn: Connection, packets: Iterable[Packet], via: str) -> None:
        """Feed packets that arrived on transport `via`."""
        session = conn.session
        ponged = False
        for n, packet in enumerate(packets, 1):
            if not n % YIELD_EVERY:
                await asyncio.sleep(0)  # a big payload must not hold up everyone else
                if session.state is State.CLOSED:
                    break
            try:
                out = session.receive(packet, self.now(), via)
            except PacketError as exc:
                if via != session.transport and conn.probe is not None:
                    # A failed probe ends the upgrade attempt, not the session.
                    logger.info("closing the upgrade websocket of %s: %s", conn.sid, exc)
                    probe, conn.probe = conn.probe, None
                    session.abort_upgrade()
                    conn.wake()
                    await probe.close(1002)
                    return
                logger.info("closing session %s: %s", conn.sid, exc)
                session.fail(Reason.PARSE_ERROR)
                break
            if out is None:
                ponged = ponged or packet.type is PacketType.PONG
                continue
            if out.type is PacketType.MESSAGE:
                if conn.held is not None:
                    await self._hold(conn, out.data)
                else:
                    await self._call(self.handler.on_message, conn.sid, out.data)
            elif conn.probe is not None:  # PONG probe: answer on the probing websocket
                probe = conn.probe
                try:
                    await probe.send_frame(encode(out))
                except Exception:  # the probe went away already: stay on polling
                    self.probe_closed(conn, probe)
                conn.wake()  # a pending poll now gets NOOP (or, after a failed probe, data)
        if via == WEBSOCKET and conn.probe is not None and session.transport == WEBSOCKET:
            conn.wake()  # the pending poll, if any, ends before the writer switches
            conn.ws, conn.probe = conn.probe, None
            self._stop_probe_timer(conn)
            # v3: base64 or binary is each transport's own choice (its request's b64).
            session.b64 = getattr(conn.ws, "b64", session.b64)
            STATS.upgrades += 1
            if self._on_upgrade is not None:
                await self._call(self._on_upgrade, conn.sid)
            conn.wake()
        elif session.queue:
            conn.wake()
        if session.state is State.CLOSED:
            await self._finalize(conn)
        elif ponged:
            self._schedule(conn)  # the next ping is due one interval from now, not at the deadline
            if conn.latest is not None:  # the backlog shrank: maybe the client can take it
                conn.send_latest()

    async def deliver(self, conn: Connection, data: str | bytes) -> None:
        """A MESSAGE that arrived on the session's current transport."""
        if conn.held is not None:
            await self._hold(conn, data)  # the application is still being handed earlier ones
        elif conn.session.state is not State.CLOSED:
            await self._call(self.handler.on_message, conn.sid, data)

    async def fail(self, conn: Connection, reason: str) -> None:
        """The transport failed (parse error, lost poll, websocket closed)."""
        conn.session.fail(reason)
        await self._finalize(conn)

    def begin_poll(self, conn: Connection) -> list[Packet] | asyncio.Future[None]:
        """Answer a GET now, or return a future that resolves when it can be answered."""
        if conn.session.state is State.UPGRADING and conn.poll is None:
            # The NOOPs that tell a client to stop polling while it upgrades go out at
            # most every NOOP_INTERVAL (as Node), not as fast as a client asks for them.
            conn.poll = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(NOOP_INTERVAL, conn.wake)
            return conn.poll
        answer = conn.session.poll_answer()
        if answer is not None:
            self._after_poll(conn)
            return answer
        if conn.poll is not None:
            raise EngineIOError(ErrorCode.BAD_REQUEST)  # caller fails the session
        conn.poll = asyncio.get_running_loop().create_future()
        if conn.latest is not None:
            conn.send_latest()  # a GET waits: the kept volatile message can go
        return conn.poll

    def end_poll(self, conn: Connection) -> list[Packet]:
        conn.poll = None
        answer = conn.session.poll_answer()
        self._after_poll(conn)
        return answer or []

    def _after_poll(self, conn: Connection) -> None:
        # A poll can be what closes a session (the last GET of a server close).
        if conn.session.state is State.CLOSED and conn.sid in self.connections:
            spawn(self._finalize(conn))

    def begin_probe(self, conn: Connection, writer: WebsocketWriter) -> None:
        """A websocket came to upgrade `conn`: it has UPGRADE_TIMEOUT to finish (Node: 10 s)."""
        conn.probe = writer
        self._stop_probe_timer(conn)
        if not conn.attached:  # upgrading here: the session will not move
            spawn(self._attach(conn))
        conn.probe_timer = asyncio.get_running_loop().call_later(
            self.config.upgrade_timeout, self._probe_timed_out, conn, writer
        )

    def _probe_timed_out(self, conn: Connection, writer: WebsocketWriter) -> None:
        conn.probe_timer = None
        if conn.probe is writer:
            logger.info("closing the upgrade websocket of %s: the upgrade timed out", conn.sid)
            self.probe_closed(conn, writer)
            conn.wake()  # the session goes on polling
            spawn(_close_websocket(conn.sid, writer, None))

    @staticmethod
    def _stop_probe_timer(conn: Connection) -> None:
        if conn.probe_timer is not None:
            conn.probe_timer.cancel()
            conn.probe_timer = None

    def probe_closed(self, conn: Connection, writer: WebsocketWriter) -> None:
        if conn.probe is writer:
            conn.probe = None
            self._stop_probe_timer(conn)
            conn.session.abort_upgrade()

    # -- internals ---------------------------------------------------------------

    def _schedule(self, conn: Connection) -> None:
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        due = conn.session.next_timer()
        if due is not None:
            loop = asyncio.get_running_loop()
            conn.timer = loop.call_at(due, self._on_timer, conn)

    def _catch_up(self, conn: Connection) -> None:
        """Fire the timers that are already due before judging a request against the session.

        On a busy event loop a timer runs late; a request that arrives after the ping
        timeout must still find the session closed, as it would on an idle server.
        """
        now = self.now()
        due = conn.session.next_timer()
        while due is not None and due <= now and conn.session.state is not State.CLOSED:
            if conn.timer is not None:
                conn.timer.cancel()
            self._on_timer(conn)
            due = conn.session.next_timer()

    def _on_timer(self, conn: Connection) -> None:
        conn.timer = None
        session = conn.session
        now = self.now()
        due = session.next_timer()
        if due is not None and due < now and session.transport == POLLING and conn.poll is None:
            # A late timer, and no GET was waiting for the PING: an idle server would
            # have queued it at `due`, and the client, not polling, could not have told
            # the difference. Its PONG is due PING_TIMEOUT after that, not after our delay.
            now = due
        if session.handle_timer(now):
            conn.wake()
        if session.state is State.CLOSED:
            spawn(self._finalize(conn))
        else:
            self._schedule(conn)

    def _forget(self, conn: Connection) -> bool:
        """Drop a closed session from the table; True the first time only."""
        if self.connections.get(conn.sid) is not conn:
            return False
        del self.connections[conn.sid]
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        if conn.hold_timer is not None:
            conn.hold_timer.cancel()
            conn.hold_timer = None
        return True

    async def _finalize(self, conn: Connection, drain: bool = False) -> None:
        """Tell everyone a session is closed: the application first, then its transports.

        Closing a websocket is not awaited here: a peer that does not read could make
        it wait. With `drain` (a server-side close), what is queued goes out first.
        """
        first = self._forget(conn)
        if conn.poll is not None and not conn.poll.done():
            conn.poll.set_result(None)  # the pending GET answers and the session is gone
        ws, probe, writer = conn.ws, conn.probe, conn.writer
        conn.ws = conn.probe = None
        conn.latest = None
        if not drain:
            conn.out.clear()
            if writer is not None:
                writer.cancel()
            writer = None
        if first and conn.attached:  # else the application never saw it
            STATS.disconnected(conn.session.reason or "")
            await self._call(self.handler.on_disconnect, conn.sid, conn.session.reason or "")
        for transport in (ws, probe):
            if transport is not None:
                spawn(_close_websocket(conn.sid, transport, writer if transport is ws else None))

    async def _call(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await fn(*args)
        except Exception:
            logger.exception("Engine.IO handler %s failed", getattr(fn, "__qualname__", fn))


__all__ = [
    "CLOSE",
    "POLLING",
    "WEBSOCKET",
    "Connection",
    "Engine",
    "EngineConfig",
    "EngineHandler",
    "Reason",
    "WebsocketWriter",
]
