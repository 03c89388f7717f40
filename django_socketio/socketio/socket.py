"""One client's connection to one namespace.

[aio] A `Socket` has its own id (not the Engine.IO sid), rooms, data and
pending acks. It writes through the server's engine; while its connect handler
runs, what it emits is held back so the client sees CONNECT first.

The socket owns its lifecycle (`SocketState`): the namespace tells it to
`accept`, `refuse` or `detach`, and asks `connected`; nobody else changes it.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import AckTimeoutError, EncodeError
from ..stats import STATS
from .acks import AckTable
from .blocking import blocking_outside_loop
from .limits import InboundState
from .namespace import check_event
from .packets import Packet, PacketType
from .recovery import StoredSession
from .rooms import BroadcastOptions

if TYPE_CHECKING:
    from .operators import BroadcastOperator
    from .server import Client, ServerNamespace

logger = logging.getLogger("django_socketio")

#: Socket methods run on the server's loop when called from sync code.
_blocking = blocking_outside_loop(lambda socket: socket.nsp.server)


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the client sent when it connected, like Node's ``socket.handshake``."""

    headers: dict[str, str]
    query: dict[str, str]
    auth: Any
    address: str | None
    time: str
    issued: int
    url: str
    secure: bool
    xdomain: bool
    scope: dict[str, Any] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The serialisable part, as sent to other nodes by `fetch_sockets`."""
        return {
            "headers": self.headers,
            "query": self.query,
            "auth": self.auth,
            "address": self.address,
            "time": self.time,
            "issued": self.issued,
            "url": self.url,
            "secure": self.secure,
            "xdomain": self.xdomain,
        }


@dataclass(slots=True)
class OutgoingPacket:
    """An event on its way to one socket, as outgoing middlewares see it.

    A middleware may change `event` and `args` (for this socket only) or return
    False to drop the packet for this socket.
    """

    event: str
    args: list[Any]
    volatile: bool = False
    broadcast: bool = False  # sent to a room or namespace, not by `socket.emit`


#: ``mw(socket, packet)``, sync or async: return False to drop, change `packet` to rewrite.
OutgoingMiddleware = Callable[["Socket", OutgoingPacket], Any]


async def run_outgoing(
    middlewares: Iterable[OutgoingMiddleware], socket: Socket, packet: OutgoingPacket
) -> bool:
    """Run outgoing middlewares in order; False if one dropped the packet."""
    for middleware in middlewares:
        if await maybe_await(middleware(socket, packet)) is False:
            return False
    return True


def ack_value(args: list[Any]) -> Any:
    """What awaiting an ack returns: nothing, the one argument, or a tuple of them."""
    if not args:
        return None
    return args[0] if len(args) == 1 else tuple(args)


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def generate_id() -> str:
    return secrets.token_urlsafe(15)


async def after_the_next_write() -> None:
    """Return once the ASGI server has written what was sent before (on daphne too).

    The reference server writes the CONNECT packet alone and what the connection
    handler emitted once that write is done; the official test suite's client (Node's
    ``ws``) drops a message that arrives in the same read as the one it waits for.
    Daphne (Twisted) buffers ``send()``s and writes them when the loop next polls the
    socket: one turn of the loop lets that poll come, a second one lets its write run.
    Uvicorn writes at once; the two turns cost it nothing but their own.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)


class SocketState(enum.Enum):
    """Where a socket is in its life; only `Socket`'s own methods move it."""

    #: Middlewares and ``on_connect`` run; what it emits is held back until CONNECT.
    CONNECTING = "connecting"
    #: Rebuilt from a stored session (connection state recovery): rooms rejoined,
    #: missed events waiting to go out before CONNECT; otherwise as CONNECTING.
    RESTORED = "restored"
    #: The client got CONNECT; events flow both ways.
    CONNECTED = "connected"
    #: Refused, or gone (either side left, or the connection closed). Final.
    DISCONNECTED = "disconnected"


class SocketStateError(RuntimeError):
    """A lifecycle step asked of a socket in a state that does not allow it."""


class Socket:
    """A client connected to a namespace. Handlers get it as their first argument."""

    def __init__(self, namespace: ServerNamespace, client: Client, auth: Any) -> None:
        self.id = client.socket_id(namespace.name) or generate_id()
        self.nsp = namespace
        self.client = client
        self.handshake: Handshake = client.handshake(auth)
        #: Anything the application wants to keep with this socket.
        self.data: dict[str, Any] = {}
        self.state = SocketState.CONNECTING
        self._pending: list[str | bytes] = []  # frames held back while connecting
        #: The private session id sent with CONNECT when recovery is on (else None).
        self.pid: str | None = None
        #: This socket took over a disconnected one's id, rooms and data (recovery).
        self.recovered = False
        #: The offset of the last recoverable event written to it (recovery).
        self.last_sent: str | None = None
        self._missed: list[list[Any]] = []  # events to replay before CONNECT
        #: Acks this side awaits: callbacks, or the futures `emit_with_ack` awaits.
        self.acks = AckTable()
        self._any_listeners: list[Callable[..., Any]] = []
        self._any_outgoing: list[Callable[..., Any]] = []
        self._middlewares: list[Callable[..., Any]] = []
        self._outgoing: list[OutgoingMiddleware] = []
        #: What the inbound limits count for this socket (the server's `_admit` reads it).
        self.inbound = InboundState()

    # -- identity ----------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.nsp.name

    @property
    def user(self) -> Any:
        """The Django user of the connection (AnonymousUser when not logged in)."""
        return self.client.user

    @property
    def session(self) -> Any:
        """The Django session of the connection, if the session app is installed."""
        return self.client.session

    @property
    def scope(self) -> dict[str, Any]:
        return self.client.scope

    @property
    def rooms(self) -> set[str]:
        return set(self.nsp.rooms.rooms_of(self.id))

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.namespace}>"

    # -- lifecycle ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """The client got CONNECT and has not left."""
        return self.state is SocketState.CONNECTED

    def _require(self, action: str, *states: SocketState) -> None:
        if self.state not in states:
            raise SocketStateError(f"cannot {action} {self!r}: it is {self.state.value}")

    def restore(self, session: StoredSession, missed: list[list[Any]], offset: str | None) -> None:
        """Become the socket `session` describes; `missed` (with offsets) go out first.

        The namespace registers it under its old id and rejoins its rooms.
        """
        self._require("restore", SocketState.CONNECTING)
        self.id = session.sid
        self.pid = session.pid
        self.data = session.data
        self.recovered = True
        self._missed = missed
        self.last_sent = missed[-1][-1] if missed else offset
        self.state = SocketState.RESTORED

    async def accept(self) -> None:
        """Send the missed events (if restored), CONNECT, then what was emitted meanwhile.

        The state moves to CONNECTED only once all of that is written: until then what
        is emitted to the socket (a broadcast arriving during one of the awaits here)
        keeps joining `_pending`, behind what was held back, instead of overtaking it.
        """
        waiting = (SocketState.CONNECTING, SocketState.RESTORED)
        self._require("accept", *waiting)
        missed, self._missed = self._missed, []
        STATS.socket_connects += 1
        client = self.client
        write = self.nsp.server.engine.write_many
        for data in missed:
            frames = await self._replay_frames(data)
            if frames:
                write(client.eio_sid, frames, None, False)
        await client.send_packet(client.connect_packet(self))
        if self._pending:
            await after_the_next_write()
        if self.state not in waiting:  # it left meanwhile
            return
        self.state = SocketState.CONNECTED
        pending, self._pending = self._pending, []
        if pending:
            self.write_frames(pending)
        for observer in self.nsp.server.observers:
            observer.socket_connected(self)

    def refuse(self) -> bool:
        """A middleware or ``on_connect`` refused it: what it emitted is dropped.

        False if it had already gone (its connection closed while it was connecting).
        """
        if self.state is SocketState.DISCONNECTED:
            return False
        self._require("refuse", SocketState.CONNECTING, SocketState.RESTORED)
        self._pending = []
        self._missed = []
        self.state = SocketState.DISCONNECTED
        return True

    def detach(self) -> bool:
        """It left (either side, or the connection closed); True if it was connected.

        Awaited acks fail now. Idempotent: a second call returns False.
        """
        was_connected = self.state is SocketState.CONNECTED
        self.state = SocketState.DISCONNECTED
        self._pending = []
        self._missed = []
        self.acks.fail_all(ConnectionError(f"{self!r} disconnected"))
        return was_connected

    # -- sending -----------------------------------------------------------------

    @_blocking
    async def emit(
        self, event: str, *args: Any, callback: Callable[..., Any] | None = None
    ) -> bool:
        """Send `event` to this client; `callback(*ack_args)` runs when it acknowledges.

        Never waits for the client. Returns False when the packet was not sent: the
        socket is disconnected, or the client has not read enough of what it was
        sent (``MAX_BACKLOG_BYTES`` / ``MAX_BACKLOG_PACKETS``; with the default
        ``BACKLOG_POLICY`` it is then disconnected with reason ``slow consumer``).
        """
        check_event(event)
        ack_id = None
        if callback is not None:
            ack_id = self.acks.register(lambda a: callback(*a))
        sent = await self._emit(event, args, ack_id)
        if not sent:
            self.acks.forget(ack_id)
        return sent

    @_blocking
    async def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> bool:
        """Emit the ``message`` event."""
        return await self.emit("message", *args, callback=callback)

    @_blocking
    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Emit and wait for the client's ack; returns its argument (a tuple if several)."""
        return ack_value(
            await self.wait_ack(event, *(await self.emit_expecting_ack(event, args)), timeout)
        )

    async def emit_expecting_ack(
        self, event: str, args: tuple[Any, ...]
    ) -> tuple[int, asyncio.Future[list[Any]]]:
        """Emit with a new ack id; the future gets the answer (or fails if not sent)."""
        check_event(event)
        ack_id, future = self.acks.future()
        if not await self._emit(event, args, ack_id):
            self.acks.forget(ack_id)
            future.set_exception(ConnectionError(f"{event!r} was not sent to {self!r}"))
        return ack_id, future

    async def wait_ack(
        self, event: str, ack_id: int, future: asyncio.Future[list[Any]], timeout: float | None
    ) -> list[Any]:
        """The answer to `ack_id`, or AckTimeoutError after `timeout` (the id is then forgotten)."""
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.acks.forget(ack_id)
            STATS.ack_timeouts += 1
            raise AckTimeoutError(f"no ack for {event!r} within {timeout} s") from None

    def timeout(self, seconds: float) -> TimedSocket:
        """``await socket.timeout(5).emit_with_ack(...)`` raises AckTimeoutError after 5 s."""
        return TimedSocket(self, seconds)

    async def _emit(self, event: str, args: tuple[Any, ...], ack_id: int | None) -> bool:
        offset = None
        store = self.nsp.server.recovery_store
        if store is not None and ack_id is None:
            if getattr(store, "delivers", False):
                # Through the log like a broadcast to its own room (see recovery_redis.py):
                # delivered by the log's reader, in the log's order, to wherever it is.
                await self.nsp.log_recoverable(
                    store, event, args, BroadcastOptions(rooms=frozenset((self.id,)))
                )
                for observer in self.nsp.server.observers:
                    observer.event_sent(self, event, args)
                return True
            # Recoverable: logged as sent to this socket's own room, replayed if it drops
            # (outgoing middlewares run again on the replay, as on a broadcast). Also
            # after it left: an emit from ``on_disconnect`` reaches it when it recovers.
            offset = await store.append(
                self.nsp.name, [event, *args], frozenset((self.id,)), frozenset()
            )
        if self._outgoing or self.nsp.outgoing:
            out = OutgoingPacket(event, list(args))
            if not await run_outgoing((*self.nsp.outgoing, *self._outgoing), self, out):
                return False
            event, args = out.event, tuple(out.args)
        if offset is not None:
            args = (*args, offset)
            self.last_sent = offset
        packet = Packet(PacketType.EVENT, self.nsp.name, [event, *args], ack_id)
        try:
            frames = self.client.encode(packet)
        except (TypeError, ValueError) as exc:
            self.acks.forget(ack_id)
            raise EncodeError(f"cannot encode the arguments of event {event!r}: {exc}") from exc
        if not await self.send_frames(frames):
            return False
        for observer in self.nsp.server.observers:
            observer.event_sent(self, event, args)
        for listener in self._any_outgoing:
            await maybe_await(listener(event, *args))
        return True

    async def _replay_frames(self, data: list[Any]) -> list[str | bytes] | None:
        """One missed event (its offset last), through the outgoing middlewares, encoded."""
        event, *args = data
        if self._outgoing or self.nsp.outgoing:
            out = OutgoingPacket(event, args[:-1], broadcast=True)
            if not await run_outgoing((*self.nsp.outgoing, *self._outgoing), self, out):
                return None
            event, args = out.event, [*out.args, args[-1]]
        try:
            return self.client.encode(Packet(PacketType.EVENT, self.nsp.name, [event, *args]))
        except (TypeError, ValueError) as exc:  # a middleware made it unencodable
            logger.error("cannot replay event %r to %r: %s", event, self, exc)
            return None

    async def receive_ack(self, ack_id: int | None, args: list[Any]) -> None:
        """The client answered `ack_id`: wake its waiter (a failing callback is logged)."""
        callback = self.acks.resolve(ack_id, args)
        if callback is None:
            return
        try:
            await maybe_await(callback(args))
        except Exception:
            STATS.handler_errors += 1
            logger.exception("ack callback of %r failed", self)

    async def send_frames(
        self,
        frames: list[str | bytes],
        encoded: dict[Any, Any] | None = None,
        volatile: bool = False,
    ) -> bool:
        """Send Socket.IO frames, all or none; False if they were not sent."""
        return self.write_frames(frames, encoded, volatile)

    def write_frames(
        self,
        frames: list[str | bytes],
        encoded: dict[Any, Any] | None = None,
        volatile: bool = False,
    ) -> bool:
        """`send_frames` without a coroutine (writing never waits for the client).

        `encoded` caches them as transport frames, shared by a broadcast's recipients.
        """
        state = self.state
        if state is SocketState.CONNECTING or state is SocketState.RESTORED:
            self._pending.extend(frames)
            return True
        if state is not SocketState.CONNECTED:
            return False
        return self.nsp.server.engine.write_many(self.client.eio_sid, frames, encoded, volatile)

    # -- rooms -------------------------------------------------------------------

    @_blocking
    async def join(self, rooms: str | Iterable[str]) -> None:
        await self.nsp.join(self.id, [rooms] if isinstance(rooms, str) else list(rooms))

    @_blocking
    async def leave(self, room: str) -> None:
        await self.nsp.leave(self.id, [room])

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to `room` (or several), without this socket."""
        return self.nsp.to(room).except_(self.id)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self.nsp.except_(room).except_(self.id)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Everyone in the namespace but this socket."""
        return self.nsp.except_(self.id)

    # -- listeners and middleware --------------------------------------------------

    @property
    def outgoing_listeners(self) -> list[Callable[..., Any]]:
        """The ``on_any_outgoing`` listeners, which a broadcast's delivery calls (read only)."""
        return self._any_outgoing

    @property
    def outgoing_middlewares(self) -> list[OutgoingMiddleware]:
        """This socket's own ``use_outgoing`` middlewares (read only)."""
        return self._outgoing

    async def run_incoming(self, event: str, args: list[Any]) -> None:
        """Before a handler: this socket's ``use`` middlewares, then its ``on_any`` listeners."""
        for middleware in self._middlewares:
            await maybe_await(middleware(event, args))
        for listener in self._any_listeners:
            await maybe_await(listener(event, *args))

    def on_any(self, listener: Callable[..., Any]) -> None:
        """Call ``listener(event, *args)`` for every incoming event."""
        self._any_listeners.append(listener)

    def on_any_outgoing(self, listener: Callable[..., Any]) -> None:
        """Call ``listener(event, *args)`` for every event emitted to this socket."""
        self._any_outgoing.append(listener)

    def use_outgoing(self, middleware: OutgoingMiddleware) -> OutgoingMiddleware:
        """Run ``middleware(socket, packet)`` on each event sent to this socket (emits and
        broadcasts): change ``packet.event`` / ``packet.args``, or return False to drop it."""
        if not self._outgoing:
            self.nsp.outgoing_sockets += 1
        self._outgoing.append(middleware)
        return middleware

    def use(self, middleware: Callable[[str, list[Any]], Awaitable[None] | None]) -> None:
        """Run ``middleware(event, args)`` before each incoming event; raising drops it."""
        self._middlewares.append(middleware)

    # -- closing -----------------------------------------------------------------

    @_blocking
    async def disconnect(self, close: bool = False) -> None:
        """Disconnect from this namespace; with `close`, close the whole connection."""
        if self.state is SocketState.DISCONNECTED:
            return
        if close:
            await self.client.close()
            return
        await self.send_frames(self.client.encode(Packet(PacketType.DISCONNECT, self.nsp.name)))
        await self.nsp.remove(self, "server namespace disconnect")


class TimedSocket:
    """`socket.timeout(s)`: emits whose acks must arrive within `s` seconds."""

    __slots__ = ("seconds", "socket")

    def __init__(self, socket: Socket, seconds: float) -> None:
        self.socket = socket
        self.seconds = seconds

    @blocking_outside_loop(lambda timed: timed.socket.nsp.server)
    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        return await self.socket.emit_with_ack(event, *args, timeout=self.seconds)

    @blocking_outside_loop(lambda timed: timed.socket.nsp.server)
    async def emit(self, event: str, *args: Any, callback: Callable[..., Any]) -> None:
        """Node-style: ``callback(err, *ack_args)``; `err` is None, an AckTimeoutError, or a
        ConnectionError if the socket disconnected first."""
        socket = self.socket
        ack_id, future = await socket.emit_expecting_ack(event, args)

        async def wait() -> None:
            try:
                values = await socket.wait_ack(event, ack_id, future, self.seconds)
            except (AckTimeoutError, ConnectionError) as exc:
                await maybe_await(callback(exc))
            else:
                await maybe_await(callback(None, *values))

        socket.nsp.server.spawn(wait())
