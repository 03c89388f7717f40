"""The Socket.IO server: the Engine's first user.

[aio] Plain asyncio. It implements the engine's three callbacks; decodes each
client's packets with that client's own decoder; connects sockets to
namespaces (middlewares, then the namespace's ``on_connect``); runs each event
handler in its own task, so a slow handler stalls neither the receive loop
nor the heartbeat; and acknowledges with the handler's return value.
Django-specific parts (settings, the user, sync handlers) are hooks that
`django_socketio.server` fills in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import inspect
import logging
import math
import os
import re
import socket as _socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from ..engineio.engine import Engine, EngineConfig, spawn
from ..engineio.session import Reason
from ..exceptions import (
    AckTimeoutError,
    ConnectionRefused,
    EmitError,
    EncodeError,
    PacketError,
    RoomLimitExceeded,
    shorten,
)
from ..stats import STATS
from .adapter import Adapter, RemoteSocket
from .blocking import blocking_outside_loop, delegating
from .limits import DISCONNECT, InboundLimits, LimitCounters, Throttle
from .msgpack_parser import MsgPackParser
from .namespace import RESERVED_EVENTS, Namespace, check_event
from .observer import Observer
from .operators import BroadcastOperator
from .packets import JSONParser, Packet, PacketDecoder, PacketType, Parser, plain_data
from .recovery import (
    RECOVERABLE_REASONS,
    MemoryRecoveryStore,
    RecoveryConfig,
    StoredSession,
    restore_request,
)
from .rooms import BroadcastOptions, RoomIndex
from .socket import (
    Handshake,
    OutgoingMiddleware,
    OutgoingPacket,
    Socket,
    SocketState,
    ack_value,
    generate_id,
    maybe_await,
    run_outgoing,
)

logger = logging.getLogger("django_socketio")
STATUS_MAX_ROOMS = 1000  # rooms per namespace in one status answer

#: A socket's handler tracebacks: the first few, then one per interval (seconds).
FAILURE_LOG_BURST = 5
FAILURE_LOG_INTERVAL = 10.0
#: A limit's log line ("events dropped", "namespaces refused"...): once per interval.
LIMIT_LOG_INTERVAL = 10.0
T = TypeVar("T")
N = TypeVar("N", bound=type[Namespace])  # a Namespace subclass, kept as itself by register()

Middleware = Callable[[Socket, Any], Awaitable[None] | None]

#: Namespace actions run on the server's loop when called from sync code.
_blocking = blocking_outside_loop(lambda nsp: nsp.server)


RATE_LIMITED = "rate_limited"
TOO_MANY_IN_FLIGHT = "too_many_in_flight"
_LIMIT_NAMES = {
    RATE_LIMITED: "over EVENTS_PER_SECOND",
    TOO_MANY_IN_FLIGHT: "MAX_HANDLERS_IN_FLIGHT handlers still running",
}
TOO_MANY_NAMESPACES = "Too many namespaces"


class AlreadyRegistered(Exception):
    """A handler class is already registered for this namespace."""


class DisconnectReason:
    """Why a socket left, as the reference server words it."""

    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"
    TRANSPORT_CLOSE = Reason.TRANSPORT_CLOSE
    TRANSPORT_ERROR = Reason.TRANSPORT_ERROR
    PING_TIMEOUT = Reason.PING_TIMEOUT
    PARSE_ERROR = Reason.PARSE_ERROR
    SERVER_SHUTTING_DOWN = "server shutting down"
    FORCED_CLOSE = Reason.FORCED_CLOSE  # recovery: a reconnection took its place
    RATE_LIMITED = "rate limited"  # EVENT_LIMIT_POLICY "disconnect"


MAX_READ_PAUSE = 1.0  # seconds a client over its event rate is not read (PING_TIMEOUT is more)

# Closes for what a client sent: its connection is not read any more while it closes.
_MISBEHAVIOUR = frozenset({DisconnectReason.PARSE_ERROR, DisconnectReason.RATE_LIMITED})


class Outgoing:
    """One packet, encoded once per parser its recipients use.

    A broadcast builds one; each recipient asks for its own parser's frames
    (encoded on first demand) and a cache the engine fills with those frames as
    Engine.IO websocket frames. A broadcast from another node arrives already
    encoded, for every parser in use (`SocketIOServer.parsers_in_use`).
    """

    __slots__ = ("_by_parser", "packet")

    def __init__(
        self, packet: Packet | None, encoded: dict[str, list[str | bytes]] | None = None
    ) -> None:
        self.packet = packet
        self._by_parser: dict[str, tuple[list[str | bytes], dict[Any, Any]]] = {
            name: (frames, {}) for name, frames in (encoded or {}).items()
        }

    def frames(self, parser: Parser) -> tuple[list[str | bytes], dict[Any, Any]]:
        """`parser`'s frames, and the engine's cache of them as transport frames."""
        entry = self._by_parser.get(parser.name)
        if entry is None:
            if self.packet is None:
                raise LookupError(f"the broadcast carries no {parser.name} encoding")
            entry = self._by_parser[parser.name] = (parser.encode(self.packet), {})
        return entry

    def encoded(self, parsers: Iterable[Parser]) -> dict[str, list[str | bytes]]:
        return {parser.name: self.frames(parser)[0] for parser in parsers}


class Client:
    """One Engine.IO session seen from Socket.IO: its parser, decoder and sockets."""

    __slots__ = (
        "attachment_timer",
        "connect_timer",
        "decoder",
        "eio_sid",
        "parser",
        "protocol",
        "scope",
        "server",
        "session",
        "sockets",
        "user",
    )

    def __init__(
        self, server: SocketIOServer, eio_sid: str, scope: dict[str, Any], protocol: int = 4
    ) -> None:
        self.server = server
        self.eio_sid = eio_sid
        self.scope = scope
        #: The Engine.IO protocol: 4, or 3 for Socket.IO 1.x/2.x clients, which speak
        #: Socket.IO protocol v4 (the JSON parser; `/` connected without a CONNECT).
        self.protocol = protocol
        # Detecting the parser waits for the first message (always a CONNECT).
        self.parser: Parser | None
        if protocol == 3:
            self.parser = server.parsers["json"]
        else:
            self.parser = None if server.detect_parser else server.parser
        self.decoder: PacketDecoder | None = self.parser.decoder() if self.parser else None
        self.sockets: dict[str, Socket] = {}
        self.connect_timer: asyncio.TimerHandle | None = None
        self.attachment_timer: asyncio.TimerHandle | None = None  # see on_message
        self.user: Any = None
        self.session: Any = None

    @property
    def transport(self) -> str:
        """``polling`` or ``websocket``: what carries this connection now."""
        conn = self.server.engine.connections.get(self.eio_sid)
        return conn.session.transport if conn is not None else "polling"

    def handshake(self, auth: Any) -> Handshake:
        scope = self.scope
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        query_string = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client")
        now = time.time()
        return Handshake(
            headers=headers,
            query=dict(parse_qsl(query_string, keep_blank_values=True)),
            auth=auth,
            address=client[0] if client else None,
            time=time.strftime("%a %b %d %Y %H:%M:%S GMT", time.gmtime(now)),
            issued=int(now * 1000),
            url=scope.get("path", "") + ("?" + query_string if query_string else ""),
            secure=scope.get("scheme") in ("https", "wss"),
            xdomain="origin" in headers,
            scope=scope,
        )

    def detect(self, data: str | bytes) -> PacketDecoder:
        """Pick the parser from the first message: MessagePack is binary, JSON is text."""
        self.parser = self.server.parsers["msgpack" if type(data) is not str else "json"]
        self.decoder = self.parser.decoder()
        return self.decoder

    def encode(self, packet: Packet) -> list[str | bytes]:
        return (self.parser or self.server.parser).encode(packet)

    def socket_id(self, namespace: str) -> str | None:
        """A v3 client computes its socket ids from the Engine.IO id; others get a new one."""
        if self.protocol != 3:
            return None
        return self.eio_sid if namespace == "/" else f"{namespace}#{self.eio_sid}"

    def connect_packet(self, socket: Socket) -> Packet:
        """CONNECT: with the socket id (v5), or bare (v4, Engine.IO v3 clients)."""
        data: dict[str, Any] | None = None
        if self.protocol != 3:
            data = (
                {"sid": socket.id} if socket.pid is None else {"sid": socket.id, "pid": socket.pid}
            )
        return Packet(PacketType.CONNECT, socket.namespace, data)

    def connect_error(self, namespace: str, data: dict[str, Any]) -> Packet:
        """CONNECT_ERROR: ``{"message", "data"}`` (v5); ``data`` or the message (v4)."""
        if self.protocol == 3:
            return Packet(PacketType.CONNECT_ERROR, namespace, data.get("data") or data["message"])
        return Packet(PacketType.CONNECT_ERROR, namespace, data)

    async def send_packet(self, packet: Packet) -> None:
        send = self.server.engine.send
        for frame in self.encode(packet):
            await send(self.eio_sid, frame)

    async def close(self) -> None:
        """Disconnect every namespace, then close the connection."""
        for socket in list(self.sockets.values()):
            # DISCONNECT first, as Node does: a client told "io server disconnect" does
            # not reconnect; one that only sees the transport close does.
            await socket.disconnect()
        await self.server.engine.close(self.eio_sid)


def _query_as_auth(packet: Packet) -> Packet:
    """Socket.IO v4 (Engine.IO v3 clients): ``/chat?token=x`` is namespace and auth."""
    namespace, _, query = packet.namespace.partition("?")
    auth = dict(parse_qsl(query, keep_blank_values=True))
    if packet.type is PacketType.CONNECT:
        return Packet(packet.type, namespace, auth, packet.id)
    return Packet(packet.type, namespace, packet.data, packet.id)


class ServerNamespace:
    """A namespace on the server (``io.of("/chat")``): its sockets, rooms and handler."""

    def __init__(self, server: SocketIOServer, name: str, handler: Namespace | None = None) -> None:
        self.server = server
        self.name = name
        self.sockets: dict[str, Socket] = {}
        self.pids: dict[str, Socket] = {}  # recovery: private session id -> live socket
        #: Shared store: sockets whose rooms changed since their live snapshot was written.
        #: pid -> (the socket, futures resolved once a snapshot taken after them is written)
        self._stale: dict[str, tuple[Socket, list[asyncio.Future[None]]]] = {}
        self._snapshot_writer: asyncio.Task[None] | None = None
        self.rooms = RoomIndex()
        self.middlewares: list[Middleware] = []
        self.outgoing: list[OutgoingMiddleware] = []  # see use_outgoing
        self.outgoing_sockets = 0  # sockets with their own outgoing middlewares
        self.handler: Namespace | None = None
        self.events: dict[str, Callable[..., Awaitable[Any]]] = {}
        self.handler_methods: dict[str, Callable[..., Any]] = {}
        self.sync_events: frozenset[str] = frozenset()
        #: Made from a registered pattern on a client's CONNECT; removed with its last socket.
        self.dynamic = False
        self._on_connect: Callable[..., Awaitable[Any]] | None = None
        self._on_disconnect: Callable[..., Awaitable[Any]] | None = None
        self._on_server_event: Callable[..., Awaitable[Any]] | None = None
        if handler is not None:
            self.set_handler(handler)

    def __repr__(self) -> str:
        return f"<ServerNamespace {self.name}>"

    def set_handler(self, handler: Namespace) -> None:
        self.handler = handler
        bind = self.server.bind_handler
        self.handler_methods = {
            event: getattr(handler, method)
            for event, method in type(handler).event_handlers().items()
        }
        self.events = {event: bind(method) for event, method in self.handler_methods.items()}
        self.sync_events = frozenset(
            event
            for event, method in self.handler_methods.items()
            if not inspect.iscoroutinefunction(method)
        )
        cls = type(handler)
        self._on_connect = (
            bind(handler.on_connect) if cls.on_connect is not Namespace.on_connect else None
        )
        self._on_disconnect = (
            bind(handler.on_disconnect)
            if cls.on_disconnect is not Namespace.on_disconnect
            else None
        )
        self._on_server_event = (
            bind(handler.on_server_event)
            if cls.on_server_event is not Namespace.on_server_event
            else None
        )
        self.middlewares.extend(handler.middlewares)

    # -- public API -------------------------------------------------------------------

    def use(self, middleware: Middleware) -> Middleware:
        """Add a connection middleware: ``mw(socket, auth)``; raise ConnectionRefused to refuse."""
        self.middlewares.append(middleware)
        return middleware

    def use_outgoing(self, middleware: OutgoingMiddleware) -> OutgoingMiddleware:
        """Run ``middleware(socket, packet)`` on each event sent to each socket of this
        namespace, broadcasts included: change ``packet.event`` / ``packet.args`` for that
        socket, or return False to drop it. Without any, broadcasts are encoded once."""
        self.outgoing.append(middleware)
        return middleware

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        return BroadcastOperator(self).to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        return BroadcastOperator(self).except_(room)

    @property
    def local(self) -> BroadcastOperator:
        return BroadcastOperator(self).local

    def timeout(self, seconds: float) -> BroadcastOperator:
        return BroadcastOperator(self).timeout(seconds)

    # The actions below return the operator's awaitable, or its result when called
    # from sync code (see `blocking`).

    @delegating
    def emit(self, event: str, *args: Any) -> Awaitable[None]:
        """Send `event` to every socket of the namespace."""
        return BroadcastOperator(self).emit(event, *args)

    @delegating
    def send(self, *args: Any) -> Awaitable[None]:
        return BroadcastOperator(self).emit("message", *args)

    def emit_sync(self, event: str, *args: Any) -> None:
        """`emit` from sync code: a Django view, a signal handler, a management command."""
        BroadcastOperator(self).emit_sync(event, *args)

    @delegating
    def fetch_sockets(self) -> Awaitable[list[Socket | RemoteSocket]]:
        return BroadcastOperator(self).fetch_sockets()

    @delegating
    def sockets_join(self, room: str | Iterable[str]) -> Awaitable[None]:
        return BroadcastOperator(self).sockets_join(room)

    @delegating
    def sockets_leave(self, room: str | Iterable[str]) -> Awaitable[None]:
        return BroadcastOperator(self).sockets_leave(room)

    @delegating
    def disconnect_sockets(self, close: bool = False) -> Awaitable[None]:
        return BroadcastOperator(self).disconnect_sockets(close)

    @_blocking
    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send `event` to this namespace's handler on every other node."""
        await self.server.adapter.request(
            self, "server_side_emit", {"event": event, "args": list(args)}
        )

    @_blocking
    async def server_side_emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Like `server_side_emit`, returning each other node's handler result."""
        return await self.server.adapter.request(
            self, "server_side_emit", {"event": event, "args": list(args)}, timeout
        )

    # -- broadcasting -------------------------------------------------------------------

    def select(self, opts: BroadcastOptions) -> list[Socket]:
        """The local sockets `opts` selects."""
        sockets = self.sockets
        return [sockets[sid] for sid in list(self.rooms.recipients(opts)) if sid in sockets]

    async def broadcast(self, event: str, args: tuple[Any, ...], opts: BroadcastOptions) -> None:
        """Encode once, write to the local recipients, publish to the other nodes.

        Raises `EmitError` when the event could reach no process: this one serves no
        clients (a management command, a WSGI process) and the channel layer is
        missing, in memory, or failed. A serving process only logs a layer failure:
        its own clients got the event.
        """
        check_event(event)
        STATS.broadcasts += 1
        for observer in self.server.observers:
            observer.broadcast_sent(self, event, args, opts)
        server = self.server
        adapter = server.adapter  # first: setting up configures the parsers (outside a server)
        store, offset = server.recovery_store, None
        if store is not None and not opts.volatile:
            if getattr(store, "delivers", False):
                if not opts.local:
                    await self.log_recoverable(store, event, args, opts)
                    return
            else:
                # Recoverable: the offset goes last, the same for every recipient.
                offset = await store.append(
                    self.name, [event, *args], opts.rooms, opts.except_rooms
                )
        data = [event, *args] if offset is None else [event, *args, offset]
        outgoing = Outgoing(Packet(PacketType.EVENT, self.name, data))
        parsers = [server.parser] if opts.local else server.parsers_in_use()
        try:
            encoded = outgoing.encoded(parsers)  # once per parser; local recipients reuse it
        except (TypeError, ValueError) as exc:
            raise EncodeError(f"cannot encode the arguments of event {event!r}: {exc}") from exc
        await self.deliver(outgoing, opts, event, args, offset)
        serving = server.serving
        try:
            published = not opts.local and await adapter.publish(
                self, encoded, opts, strict=not serving
            )
        except EmitError as exc:
            raise EmitError(f"event {event!r} reached no one: {exc}") from exc.__cause__
        if not published and not serving:
            raise EmitError(f"event {event!r} reached no one: {server.unreachable_reason()}")

    async def log_recoverable(
        self, store: Any, event: str, args: tuple[Any, ...], opts: BroadcastOptions
    ) -> None:
        """A recoverable broadcast with a store that delivers (Redis): only logged there.

        Every serving process reads the log and delivers each entry to its own
        sockets (`SocketIOServer.deliver_entry`), so every socket gets its events in
        the log's order, the order its offset refers to (see recovery_redis.py).
        """
        try:  # as the clients will see them, and as msgpack can store them
            wire = plain_data(list(args), getattr(self.server.parser, "default", None))
        except (TypeError, ValueError) as exc:
            raise EncodeError(f"cannot encode the arguments of event {event!r}: {exc}") from exc
        try:
            await store.append(self.name, [event, *wire], opts.rooms, opts.except_rooms)
        except Exception as exc:
            raise EmitError(f"event {event!r} reached no one: the recovery store failed") from exc

    async def deliver(
        self,
        outgoing: Outgoing | dict[str, list[str | bytes]],
        opts: BroadcastOptions,
        event: str | None = None,
        args: tuple[Any, ...] = (),
        offset: str | None = None,
    ) -> None:
        """Write an encoded packet to the local sockets `opts` selects.

        `outgoing` may be the encodings another node published (parser name ->
        frames). With `event`, each recipient's ``on_any_outgoing`` listeners hear it too.
        `offset`: the recovery offset the packet carries last (not in `args`).
        """
        if not isinstance(outgoing, Outgoing):
            outgoing = Outgoing(None, outgoing)
        if self.outgoing or self.outgoing_sockets:
            await self._deliver_through_middlewares(outgoing, opts, event, args, offset)
            return
        default = self.server.parser
        volatile = opts.volatile
        for socket in self.select(opts):
            try:
                frames, cache = outgoing.frames(socket.client.parser or default)
            except LookupError:
                # Once per LIMIT_LOG_INTERVAL: it would repeat for every recipient.
                self.server.log_limit(
                    "encoding", "broadcast to %r skipped: no encoding for its parser", socket
                )
                continue
            if offset is not None:  # even if refused below: it is due (see recovery.py)
                socket.last_sent = offset
            # Never waits for a client: a slow one is refused (and, by default,
            # disconnected) by the engine, the others are written to at once.
            if not socket.write_frames(frames, cache, volatile):
                continue
            if event is not None:
                for listener in socket.outgoing_listeners:
                    await maybe_await(listener(event, *args))

    async def _deliver_through_middlewares(
        self,
        outgoing: Outgoing,
        opts: BroadcastOptions,
        event: str | None,
        args: tuple[Any, ...],
        offset: str | None,
    ) -> None:
        """`deliver` when outgoing middlewares exist: each socket's copy may differ."""
        default = self.server.parser
        if event is None:  # from another node: decode once to show the middlewares
            data = outgoing.packet.data if outgoing.packet is not None else None
            if data is None:
                for parser in self.server.parsers_in_use():
                    try:
                        frames = outgoing.frames(parser)[0]
                    except LookupError:
                        continue
                    decoder = parser.decoder()
                    for frame in frames:
                        packet = decoder.feed(frame)
                    data = packet.data if packet is not None else None
                    break
            if not data:
                return
            event, *rest = data
            if self.server.recovery_store is not None and not opts.volatile and rest:
                *rest, offset = rest  # the sender's offset, not an argument
            args = tuple(rest)
        for socket in self.select(opts):
            out = OutgoingPacket(event, list(args), opts.volatile, broadcast=True)
            if not await run_outgoing((*self.outgoing, *socket.outgoing_middlewares), socket, out):
                continue
            if out.event == event and out.args == list(args):
                try:
                    frames, cache = outgoing.frames(socket.client.parser or default)
                except LookupError:
                    continue
                sent = await socket.send_frames(frames, cache, opts.volatile)
            else:
                tail = [] if offset is None else [offset]
                own = Packet(PacketType.EVENT, self.name, [out.event, *out.args, *tail])
                sent = await socket.send_frames(socket.client.encode(own), volatile=opts.volatile)
            if sent:
                if offset is not None:
                    socket.last_sent = offset
                for listener in socket.outgoing_listeners:
                    await maybe_await(listener(out.event, *out.args))

    async def broadcast_with_ack(
        self, event: str, args: tuple[Any, ...], opts: BroadcastOptions, timeout: float | None
    ) -> list[Any]:
        STATS.broadcasts += 1
        for observer in self.server.observers:
            observer.broadcast_sent(self, event, args, opts)
        if opts.local:
            responses, complete = await self.local_broadcast_with_ack(event, args, opts, timeout)
        else:
            try:  # as the clients will see them: the layer's serialiser knows no Decimal
                wire = tuple(plain_data(args, getattr(self.server.parser, "default", None)))
            except (TypeError, ValueError) as exc:
                raise EncodeError(f"cannot encode the arguments of event {event!r}: {exc}") from exc
            (local, local_done), (remote, remote_done) = await asyncio.gather(
                self.local_broadcast_with_ack(event, args, opts, timeout),
                self.server.adapter.broadcast_with_ack(self, event, wire, opts, timeout),
            )
            responses, complete = local + remote, local_done and remote_done
        if not complete:
            raise AckTimeoutError(
                f"not every client acknowledged {event!r} within {timeout} s", responses
            )
        return responses

    async def local_broadcast_with_ack(
        self,
        event: str,
        args: tuple[Any, ...],
        opts: BroadcastOptions,
        timeout: float | None,
        on_ack: Callable[[Any], Any] | None = None,
    ) -> tuple[list[Any], bool]:
        """Emit to each local recipient with its own ack id: (responses, all arrived)."""
        waits = [(s, *await s.emit_expecting_ack(event, args)) for s in self.select(opts)]
        futures = [future for _, _, future in waits]
        if not futures:
            return [], True

        def acked(f: asyncio.Future[list[Any]]) -> bool:
            # A recipient that disconnected fails its future: no ack from it, not an error.
            return not f.cancelled() and f.exception() is None

        if on_ack is not None:
            for future in futures:
                future.add_done_callback(lambda f: acked(f) and on_ack(ack_value(f.result())))
        await asyncio.wait(futures, timeout=timeout)
        for socket, ack_id, future in waits:
            if not future.done():  # timed out: forget the ack id, ignore a late answer
                socket.acks.forget(ack_id)
                future.cancel()
                STATS.ack_timeouts += 1
        responses = [ack_value(f.result()) for f in futures if acked(f)]
        return responses, len(responses) == len(futures)

    # -- queries and commands over the selected sockets, on every node -------------------

    async def run(self, kind: str, opts: BroadcastOptions, payload: dict[str, Any]) -> None:
        """Apply a command here and, unless `local`, on every other node."""
        await self.run_local(kind, opts, payload)
        await self.run_remote(kind, opts, payload)

    async def run_remote(
        self, kind: str, opts: BroadcastOptions, payload: dict[str, Any]
    ) -> list[Any]:
        """The other nodes' answers to a command (none when `local`)."""
        if opts.local:
            return []
        return await self.server.adapter.request(self, kind, {**payload, "opts": opts.to_dict()})

    async def run_local(self, kind: str, opts: BroadcastOptions, payload: dict[str, Any]) -> Any:
        """One node's part of a command (also what a remote request runs)."""
        sockets = self.select(opts)
        if kind == "fetch_sockets":
            return [
                {
                    "id": s.id,
                    "namespace": self.name,
                    "rooms": sorted(s.rooms),
                    "data": s.data,
                    "handshake": s.handshake.to_dict(),
                }
                for s in sockets
            ]
        if kind == "sockets_join":
            for socket in sockets:
                with contextlib.suppress(RoomLimitExceeded):  # counted and logged
                    await socket.join(payload["rooms"])
        elif kind == "sockets_leave":
            for socket in sockets:
                for room in payload["rooms"]:
                    await socket.leave(room)
        elif kind == "disconnect_sockets":
            for socket in sockets:
                await socket.disconnect(bool(payload.get("close")))
        elif kind == "server_side_emit":
            if self._on_server_event is None:
                return None
            return await self._on_server_event(payload["event"], *payload["args"])
        else:
            raise ValueError(f"unknown command {kind!r}")
        return None

    # -- rooms (the multi-node adapter hooks in here) ---------------------------------

    async def join(self, sid: str, rooms: list[str]) -> None:
        max_rooms = self.server.inbound.max_rooms
        if max_rooms is not None:
            self._check_room_limit(sid, rooms, max_rooms)
        observers = self.server.observers
        if observers:
            socket = self.sockets.get(sid)
            if socket is not None and socket.connected:
                mine = self.rooms.rooms_of(sid)
                new = [room for room in dict.fromkeys(rooms) if room not in mine]
                if new:
                    for observer in observers:
                        observer.rooms_joined(socket, new)
        created = self.rooms.join(sid, rooms)
        if created:
            await self.server.adapter.rooms_created(self, created)
        await self._snapshot_written(sid)

    def _check_room_limit(self, sid: str, rooms: list[str], max_rooms: int) -> None:
        """Refuse, before joining any, rooms that would take `sid` past MAX_ROOMS_PER_SOCKET."""
        mine = self.rooms.rooms_of(sid)
        new = {room for room in rooms if room not in mine and room != sid}
        if new and len(mine) - (sid in mine) + len(new) > max_rooms:
            server = self.server
            server.limit_counters.rooms_refused += 1
            server.log_limit(
                "rooms",
                "socket %s refused %d more room(s): MAX_ROOMS_PER_SOCKET is %d",
                sid,
                len(new),
                max_rooms,
            )
            raise RoomLimitExceeded(sid, max_rooms)

    async def leave(self, sid: str, rooms: list[str]) -> None:
        observers = self.server.observers
        if observers:
            socket = self.sockets.get(sid)
            if socket is not None and socket.connected:
                mine = self.rooms.rooms_of(sid)
                gone = [room for room in dict.fromkeys(rooms) if room in mine]
                if gone:
                    for observer in observers:
                        observer.rooms_left(socket, gone)
        emptied = self.rooms.leave(sid, rooms)
        if emptied:
            await self.server.adapter.rooms_emptied(self, emptied)
        await self._snapshot_written(sid)

    # -- lifecycle ----------------------------------------------------------------------

    async def add(self, client: Client, auth: Any) -> bool:
        """Connect `client` to this namespace (True), or answer CONNECT_ERROR (False)."""
        socket = Socket(self, client, auth)
        rooms = await self._recover(socket, auth)
        # No await between `_recover` and joining: an event logged from here on
        # reaches the socket live, one logged before is in its missed events.
        client.sockets[self.name] = socket
        self.sockets[socket.id] = socket
        if socket.pid is not None:
            self.pids[socket.pid] = socket
        with contextlib.suppress(RoomLimitExceeded):  # a restored socket keeps what fits
            await self.join(socket.id, rooms)
        await self._hold(socket)
        recovery = self.server.recovery
        skip = socket.recovered and recovery is not None and recovery.skip_middlewares
        try:
            for middleware in () if skip else (*self.server.middlewares, *self.middlewares):
                await maybe_await(middleware(socket, auth))
            if self._on_connect is not None:
                await self._on_connect(socket, auth)
        except ConnectionRefused as exc:
            await self._refuse(socket, exc.error_data())
            return False
        except Exception:
            STATS.handler_errors += 1
            logger.exception("connect handler of namespace %s failed", self.name)
            await self._refuse(socket, {"message": "Internal server error"})
            return False
        if client.sockets.get(self.name) is not socket:  # the connection closed meanwhile
            return False
        await socket.accept()
        self._snapshot_later(socket.id)  # the rooms and data its connect handler gave it
        return True

    async def _recover(self, socket: Socket, auth: Any) -> list[str]:
        """With recovery on: give `socket` a pid, and restore the session `auth` names.

        Returns the rooms the socket joins: its own id, or its old rooms. A live
        socket holding the same pid (a reconnection before the old connection was
        seen to die) is disconnected first, and its state is the one restored.
        """
        server = self.server
        store = server.recovery_store
        if store is None:
            return [socket.id]
        request = restore_request(auth)
        if request is not None:
            pid, offset = request
            live = self.pids.get(pid)
            if live is not None:
                await self.evict(live)
            feed = server.recovery_feed
            session = missed = None
            try:
                # The feed closes a live socket on another process first (one per id).
                session = await (feed or store).take(self.name, pid)
                if session is not None and session.sid not in self.sockets:
                    if feed is not None:  # then no await before joining the rooms (see add)
                        missed = await feed.missed(self.name, session, offset)
                    elif not getattr(store, "delivers", False):
                        missed = store.missed(self.name, session, offset)
            except Exception:  # the store is out of reach: a fresh session, not no answer
                logger.exception("could not restore the session of pid %r", pid[:40])
            if session is not None and missed is not None and session.sid not in self.sockets:
                socket.restore(session, missed, offset)
                STATS.recoveries += 1
                return sorted(session.rooms | {session.sid})
            STATS.recoveries_failed += 1
        socket.pid = generate_id()
        return [socket.id]

    async def evict(self, live: Socket) -> None:
        """Close `live`, whose session a reconnection is taking over (a half-open
        connection, socket.io #4880): its session is kept, as for a lost connection."""
        STATS.recovery_evictions += 1
        await live.send_frames(live.client.encode(Packet(PacketType.DISCONNECT, self.name)))
        await self.remove(live, DisconnectReason.FORCED_CLOSE)

    async def _hold(self, socket: Socket) -> None:
        """With a shared store: mark `socket`'s pid live, so a reconnection elsewhere
        closes it first (`StreamFeed.take`), with a snapshot of what it has now: what
        that reconnection restores if this process is killed."""
        store = self.server.recovery_store
        if socket.pid is not None and getattr(store, "delivers", False):
            try:
                await store.hold(self.name, socket.pid, self._snapshot(socket))
            except Exception:
                logger.exception("could not mark the session of %r live", socket)

    def _snapshot(self, socket: Socket) -> StoredSession:
        """What is kept of `socket` for its recovery: its rooms and data now, and where
        the log stands (every matching event up to `position` was written to it)."""
        server = self.server
        feed = server.recovery_feed
        return StoredSession(
            socket.id,
            socket.pid,  # type: ignore[arg-type]
            frozenset(self.rooms.rooms_of(socket.id)),
            socket.data,
            feed.position if feed is not None else server.recovery_store.position,
            socket.last_sent,
        )

    def _snapshot_later(self, sid: str) -> asyncio.Future[None] | None:
        """A connected socket's rooms changed: rewrite its live snapshot, in the background.

        One writer per namespace, one write per socket however many changes came
        meanwhile, each with the socket's state when it is written: the last write is
        the latest state. The future resolves once a snapshot taken after this call is
        written (or failed); None if there is nothing to write.
        """
        socket = self.sockets.get(sid)
        if (
            socket is None
            or socket.pid is None
            or not socket.connected
            or not getattr(self.server.recovery_store, "delivers", False)
        ):
            return None
        written = asyncio.get_running_loop().create_future()
        entry = self._stale.get(socket.pid)
        if entry is not None and entry[0] is socket:
            entry[1].append(written)
        else:
            self._stale[socket.pid] = (socket, [written])
        if self._snapshot_writer is None:
            self._snapshot_writer = asyncio.ensure_future(self._write_snapshots())
        return written

    async def _snapshot_written(self, sid: str) -> None:
        """`join` and `leave` return once the change is in the socket's snapshot: a room
        joined is kept even if this process is killed the next moment."""
        written = self._snapshot_later(sid)
        if written is not None:
            await written

    async def _write_snapshots(self) -> None:
        store = self.server.recovery_store
        try:
            while self._stale:
                pid, (socket, waiting) = next(iter(self._stale.items()))
                del self._stale[pid]
                try:
                    if self.pids.get(pid) is socket and socket.connected:
                        await store.hold(self.name, pid, self._snapshot(socket))
                    # else gone: its session was persisted or released
                except Exception:
                    logger.exception("could not keep a snapshot of %r", socket)
                finally:
                    for written in waiting:
                        if not written.done():
                            written.set_result(None)
        finally:
            self._snapshot_writer = None
            if self._stale:  # cancelled (the loop is closing): nobody waits for ever
                for _, waiting in self._stale.values():
                    for written in waiting:
                        if not written.done():
                            written.set_result(None)
                self._stale.clear()

    async def _release(self, socket: Socket) -> None:
        store = self.server.recovery_store
        if socket.pid is not None and getattr(store, "delivers", False):
            try:
                await store.release(self.name, socket.pid)
            except Exception:
                logger.exception("could not unmark the session of %r", socket)

    async def _persist(self, socket: Socket, reason: str) -> None:
        """Keep what a socket that may come back needs (before it leaves its rooms)."""
        store = self.server.recovery_store
        if store is None or socket.pid is None:
            return
        if reason not in RECOVERABLE_REASONS:
            await self._release(socket)
            return
        session = self._snapshot(socket)
        try:
            await store.persist(self.name, session)
        except Exception:
            logger.exception("could not keep the session of %r for recovery", socket)

    async def _refuse(self, socket: Socket, data: dict[str, Any]) -> None:
        socket.refuse()
        await self._forget(socket)
        await self._release(socket)
        await socket.client.send_packet(socket.client.connect_error(self.name, data))

    async def _forget(self, socket: Socket) -> bool:
        if self.sockets.get(socket.id) is not socket:
            return False
        del self.sockets[socket.id]
        if socket.pid is not None and self.pids.get(socket.pid) is socket:
            del self.pids[socket.pid]
        if socket.outgoing_middlewares:
            self.outgoing_sockets -= 1
        if socket.client.sockets.get(self.name) is socket:
            del socket.client.sockets[self.name]
        await self.leave(socket.id, list(self.rooms.rooms_of(socket.id)))
        if self.dynamic and not self.sockets:
            # As Node's cleanupEmptyChildNamespaces: a client must not be able to leave
            # one namespace object behind per name it made up (audit F8).
            self.server.drop_namespace(self)
        return True

    async def remove(self, socket: Socket, reason: str) -> None:
        """The socket left (either side, or the connection closed): clean up, tell the handler."""
        state = socket.state
        if state is SocketState.DISCONNECTED:
            # Removed already, or being removed by a call still awaiting: a second one
            # must not release the pid while the first is persisting its session (a
            # reconnection elsewhere would find neither the session nor the live mark).
            return
        restored = state is SocketState.RESTORED
        was_connected = socket.detach()
        if (was_connected or restored) and self.sockets.get(socket.id) is socket:
            # A restored session whose connection closed before its CONNECT went out (a
            # process stopping meanwhile) was taken from the store: keep it again. Its
            # client replays from the offset it sends next time.
            await self._persist(socket, reason)
        elif socket.pid is not None and self.pids.get(socket.pid) is socket:
            await self._release(socket)  # a new session closed while connecting: no pid out
        if not await self._forget(socket):
            return
        if not was_connected:
            return
        STATS.socket_disconnected(reason)
        for observer in self.server.observers:
            observer.socket_disconnected(socket, reason)
        if self._on_disconnect is not None:
            try:
                await self._on_disconnect(socket, reason)
            except Exception:
                STATS.handler_errors += 1
                logger.exception("disconnect handler of namespace %s failed", self.name)

    async def dispatch(self, socket: Socket, packet: Packet) -> None:
        """Run the handler of one incoming event and send its ack."""
        event, *args = packet.data
        handler = self.events.get(event)
        for observer in self.server.observers:
            observer.event_received(socket, event, args)
        in_handler = False
        try:
            await socket.run_incoming(event, args)
            if handler is None:
                return
            in_handler = True
            if event in self.sync_events:
                # One socket's sync handlers take at most SYNC_HANDLERS_PER_SOCKET worker
                # threads; the rest wait here, not in the thread's queue ahead of everyone
                # else's handlers (audit F5).
                state = socket.inbound
                if state.sync_slot is None:
                    state.sync_slot = asyncio.Semaphore(
                        self.server.inbound.sync_handlers_per_socket
                    )
                async with state.sync_slot:
                    if not socket.connected:
                        return  # it left while its event waited: nobody to answer
                    started = time.perf_counter()
                    result = await handler(socket, *args)
            else:
                started = time.perf_counter()
                result = await handler(socket, *args)
            STATS.handler_latency.observe(time.perf_counter() - started)
        except Exception as exc:
            STATS.handler_errors += 1
            self._handler_failed(socket, event, args, exc, in_handler)
            return
        finally:
            for observer in self.server.observers:
                observer.event_handled(socket, event)
        if packet.id is not None and socket.connected:
            ack_args = (
                list(result) if isinstance(result, tuple) else [] if result is None else [result]
            )
            try:
                frames = socket.client.encode(
                    Packet(PacketType.ACK, self.name, ack_args, packet.id)
                )
            except (TypeError, ValueError) as exc:
                # The client gets no ack (as when the handler raises); its timeout fires.
                logger.error(
                    "cannot encode the ack of event %r in namespace %s: %s", event, self.name, exc
                )
                return
            await socket.send_frames(frames)

    def _handler_failed(
        self, socket: Socket, event: str, args: list[Any], exc: Exception, in_handler: bool
    ) -> None:
        """Log a failed event without letting one client fill the log (audit F12)."""
        state = socket.inbound
        if (
            in_handler
            and isinstance(exc, TypeError)
            and not self._arguments_fit(event, socket, args)
        ):
            # The client sent arguments the handler's signature cannot take: its
            # mistake, not a server bug, so no traceback; once per socket.
            if not state.bad_arguments:
                state.bad_arguments = True
                logger.info(
                    "socket %s sent %r with %d argument(s) that handler %s does not take "
                    "(reported once per socket)",
                    socket.id,
                    event,
                    len(args),
                    self.handler_methods[event].__qualname__,
                )
            return
        now = self.server.now()
        if state.failures is None:
            state.failures = Throttle(FAILURE_LOG_INTERVAL, now, FAILURE_LOG_BURST)
        held = state.failures.allow(now)
        if held is None:
            return
        logger.error(
            "handler for event %r in namespace %s failed",
            event,
            self.name,
            exc_info=exc,
        )
        if held:
            logger.error(
                "%d more failures of socket %s's handlers were not logged", held, socket.id
            )

    def _arguments_fit(self, event: str, socket: Socket, args: list[Any]) -> bool:
        method = self.handler_methods.get(event)
        if method is None:
            return True
        try:
            inspect.signature(method).bind(socket, *args)
        except TypeError:
            return False
        except ValueError:  # no signature to read (a builtin): assume it fits
            return True
        return True


class SocketIOServer:
    """All namespaces of this process, on top of one Engine.IO engine."""

    def __init__(
        self,
        engine_config: EngineConfig | None = None,
        connect_timeout: float = 45.0,
        parser: Parser | None = None,
        adapter: Adapter | None = None,
    ) -> None:
        self.engine_config = engine_config
        self._adapter = adapter
        self._adapter_started: asyncio.Future[None] | None = None
        self.connect_timeout = connect_timeout
        #: The parser of every session, unless `detect_parser`; also the parser of
        #: sessions whose parser is not known yet.
        self.parser: Parser = parser or JSONParser()
        #: Pick each session's parser from its first message (``PARSER = "auto"``).
        self.detect_parser = False
        self.parsers: dict[str, Parser] = {
            "json": self.parser if self.parser.name == "json" else JSONParser(),
            "msgpack": self.parser if self.parser.name == "msgpack" else MsgPackParser(),
        }
        self.namespaces: dict[str, ServerNamespace] = {}
        self.dynamic: list[tuple[re.Pattern[str], Namespace]] = []
        self._unknown_namespaces: set[str] = set()
        self.middlewares: list[Middleware] = []
        self.clients: dict[str, Client] = {}
        self._engine: Engine | None = None
        #: Instrumentation (`Observer`s): told of connections, rooms and events.
        self.observers: list[Observer] = []
        #: This process in the Admin UI, the Django admin and metrics: host#pid.
        self.server_id = f"{_socket.gethostname()}#{os.getpid()}"
        self.started = time.time()
        #: What the inbound limits refused, as plain integers.
        self.limit_counters = LimitCounters()
        #: The per-socket limits (`DjangoSocketIOServer` reads them from SOCKETIO).
        self.inbound = InboundLimits()
        self._limit_logs: dict[str, Throttle] = {}
        #: Questions other nodes may ask this process (`ask_nodes`): kind -> answer(payload).
        #: The kinds are declared in `django_socketio.internode` (RequestKind, NODE_QUESTIONS).
        self.node_requests: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "server_stats": self._stats_request,
            "server_status": self._status_request,
        }
        #: The event loop the server runs on; sync code's calls are run there.
        self.loop: asyncio.AbstractEventLoop | None = None
        #: This process serves clients (its ASGI endpoint was built, or a client
        #: connected), so an emit here reaches its own clients without any layer.
        self.serving = False
        #: Connection state recovery (``SOCKETIO["RECOVERY"]``): None when off.
        self.recovery: RecoveryConfig | None = None
        self._recovery_store: Any = None
        #: With a store that delivers (Redis): this serving process's reader of its
        #: log (`recovery_redis.StreamFeed`), which calls `deliver_entry`.
        self.recovery_feed: Any = None

    @property
    def recovery_store(self) -> Any:
        """Where recoverable events and sessions are kept (`recovery.RecoveryStore`)."""
        return self._recovery_store

    def enable_recovery(self, config: RecoveryConfig, store: Any = None) -> None:
        """Turn connection state recovery on, with `store` (this process's memory by default).

        A store with ``delivers`` true (Redis) carries every recoverable broadcast to
        the serving processes, which then need a `recovery_feed`.
        """
        self.recovery = config
        self._recovery_store = (
            store
            if store is not None
            else MemoryRecoveryStore(config.max_disconnection_duration, config.max_events)
        )

    async def deliver_entry(self, entry: Any) -> None:
        """Write one entry of the recovery log (`recovery_redis.StreamEntry`) to the
        local sockets it reaches, tagged with its offset."""
        nsp = self.namespaces.get(entry.namespace)
        if nsp is None or not nsp.sockets:
            return
        if entry.kind:  # a reconnection elsewhere takes over this pid's session
            live = nsp.pids.get(entry.data[0]) if entry.kind == "evict" and entry.data else None
            if live is not None:
                await nsp.evict(live)
            return
        event, *args = entry.data
        outgoing = Outgoing(Packet(PacketType.EVENT, nsp.name, entry.with_offset()))
        opts = BroadcastOptions(rooms=entry.rooms, except_rooms=entry.except_rooms)
        await nsp.deliver(outgoing, opts, event, tuple(args), entry.offset)

    # -- set-up ---------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._setup()
        return self._engine  # type: ignore[return-value]

    @property
    def adapter(self) -> Adapter:
        if self._engine is None:
            self._setup()
        return self._adapter  # type: ignore[return-value]

    def _setup(self) -> None:
        # Lazily, so that building the server (at import) reads no settings.
        self.configure()
        if self._adapter is None:
            self._adapter = self.make_adapter()
        self._engine = Engine(self, self.engine_config)

    def configure(self) -> None:
        """Hook: fill in configuration before the engine starts (reads Django settings)."""

    def use_parser(self, name: str) -> None:
        """Speak `name` ("json", "msgpack") with every session, or "auto": detect it per session."""
        self.detect_parser = name == "auto"
        self.parser = self.parsers["json" if name == "auto" else name]

    def parsers_in_use(self) -> list[Parser]:
        """The parsers a broadcast is encoded with for the other nodes.

        Engine.IO v3 clients always speak JSON, whatever ``PARSER`` says.
        """
        if self.detect_parser:
            return list(self.parsers.values())
        eio3 = self.engine_config is not None and self.engine_config.allow_eio3
        json = self.parsers["json"]
        return [self.parser, json] if eio3 and self.parser is not json else [self.parser]

    def make_adapter(self) -> Adapter:
        """Hook: how this server reaches the other nodes (none by default)."""
        return Adapter()

    def bind_handler(self, method: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """Make a handler awaitable; sync handlers run in a worker thread."""
        if inspect.iscoroutinefunction(method):
            return method

        async def run(*args: Any) -> Any:
            return await asyncio.to_thread(method, *args)

        return functools.update_wrapper(run, method)

    async def authenticate(self, client: Client) -> None:
        """Hook: set `client.user` and `client.session` from the handshake scope."""

    def run_from_thread(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` for sync code (a thread with no event loop); block; return its result.

        On the server's loop while it runs, since the sockets live there; otherwise
        (no server in this process) on a new loop, which can only reach other processes.
        """
        loop = self.loop
        if loop is not None and loop.is_running():
            return asyncio.run_coroutine_threadsafe(coro, loop).result()
        return asyncio.run(coro)

    def unreachable_reason(self) -> str:
        """Hook: why an emit from this process can reach no server process."""
        return "this process serves no clients and has no other nodes to publish to"

    def spawn(self, coro: Awaitable[Any]) -> None:
        spawn(coro)

    # -- what an operator reads ------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """This process's counters and gauges, as plain data (see the README, Metrics)."""
        engine = self._engine
        connections = engine.connections.values() if engine is not None else ()
        websocket = sum(1 for c in connections if c.session.transport == "websocket")
        total = len(connections)
        layer = getattr(self._adapter, "stats", None)
        return {
            "server_id": self.server_id,
            "node_id": getattr(self._adapter, "node_id", None),
            "hostname": _socket.gethostname(),
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "connections": {"polling": total - websocket, "websocket": websocket},
            "sockets": {
                name: len(nsp.sockets) for name, nsp in self.namespaces.items() if nsp.sockets
            },
            **STATS.snapshot(),
            "limits": {
                **dataclasses.asdict(self.limit_counters),
                "connections_refused": engine.connections_refused if engine is not None else 0,
            },
            "layer": {
                "sent": getattr(layer, "sent", 0),
                "received": getattr(layer, "received", 0),
                "dropped": getattr(layer, "dropped", 0),
                "errors": getattr(layer, "errors", 0),
            },
        }

    async def cluster_stats(self) -> list[dict[str, Any]]:
        """`stats()` of this process, then of every other process that answers in time."""
        return [
            self.stats(),
            *(answer for answer in await self.ask_nodes("server_stats") if answer),
        ]

    async def _stats_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.stats()

    async def _status_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.status()

    async def ask_nodes(
        self, kind: str, payload: dict[str, Any] | None = None, timeout: float | None = None
    ) -> list[Any]:
        """Every other node's answer to `kind` (a key of its `node_requests`).

        `kind` is one of the questions declared in `django_socketio.internode`
        (NODE_QUESTIONS); another kind, or a payload without the declared fields,
        raises `MessageError` (a ValueError) here, before anything is sent.
        """
        return await self.adapter.request(self.of("/"), kind, payload or {}, timeout)

    def status(self, max_rooms: int = STATUS_MAX_ROOMS) -> dict[str, Any]:
        """What this process serves, for ``manage.py socketio_status``: plain data.

        Per namespace: its sockets and its rooms with their local sizes (the room each
        socket has of its own id left out), the `max_rooms` largest, so that a node
        with a room per user still answers with a small message.
        """
        stats = self.stats()
        namespaces: dict[str, Any] = {}
        for name, nsp in self.namespaces.items():
            if nsp.handler is None and not nsp.sockets:
                continue
            sizes = [(len(m), r) for r, m in nsp.rooms.rooms.items() if r not in nsp.sockets]
            largest = sorted(sizes, key=lambda pair: (-pair[0], pair[1]))[:max_rooms]
            namespaces[name] = {
                "sockets": len(nsp.sockets),
                "rooms": dict((room, size) for size, room in largest),
                "rooms_total": len(sizes),
            }
        keys = ("node_id", "hostname", "pid", "uptime", "connections")
        return {**{key: stats[key] for key in keys}, "namespaces": namespaces}

    #: The clock the limits count with: monotonic seconds (what the event loop uses too),
    #: read once per incoming event, so the cheapest there is.
    now = staticmethod(time.monotonic)

    def log_limit(self, kind: str, message: str, *args: Any) -> None:
        """Log that a limit refused something, at most once per LIMIT_LOG_INTERVAL per kind."""
        now = self.now()
        throttle = self._limit_logs.get(kind)
        if throttle is None:
            throttle = self._limit_logs[kind] = Throttle(LIMIT_LOG_INTERVAL, now)
        held = throttle.allow(now)
        if held is not None:
            suffix = f" ({held} more since the last such line)" if held else ""
            logger.warning(message + suffix, *args)

    # -- namespaces -------------------------------------------------------------------------

    def of(self, name: str) -> ServerNamespace:
        """The namespace `name`, created on first use."""
        if not name.startswith("/"):
            name = "/" + name
        nsp = self.namespaces.get(name)
        if nsp is None:
            nsp = self.namespaces[name] = ServerNamespace(self, name)
        return nsp

    def register(self, handler_class: N) -> N:
        """Serve `handler_class.namespace` with one instance of the class."""
        pattern = handler_class.namespace
        handler = handler_class()
        if isinstance(pattern, re.Pattern):
            if any(p.pattern == pattern.pattern for p, _ in self.dynamic):
                raise AlreadyRegistered(
                    f"namespace pattern {pattern.pattern!r} is already registered"
                )
            self.dynamic.append((pattern, handler))
            return handler_class
        nsp = self.of(pattern)
        if nsp.handler is not None:
            raise AlreadyRegistered(
                f"namespace {nsp.name!r} is already handled by {type(nsp.handler).__qualname__}"
            )
        nsp.set_handler(handler)
        return handler_class

    def _find_namespace(self, name: str) -> ServerNamespace | None:
        nsp = self.namespaces.get(name)
        if nsp is not None and nsp.handler is not None:
            return nsp
        for pattern, handler in self.dynamic:
            if pattern.fullmatch(name):
                created = name not in self.namespaces
                nsp = self.of(name)
                nsp.set_handler(handler)
                nsp.dynamic = created
                return nsp
        return None

    def drop_namespace(self, nsp: ServerNamespace) -> None:
        """Forget a dynamic namespace without sockets; the next CONNECT makes it again."""
        if self.namespaces.get(nsp.name) is nsp and not nsp.sockets:
            del self.namespaces[nsp.name]

    # -- the main namespace's API on the server, as in Node ---------------------------

    def use(self, middleware: Middleware) -> Middleware:
        """A connection middleware for every namespace: ``mw(socket, auth)``."""
        self.middlewares.append(middleware)
        return middleware

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self.of("/").to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self.of("/").except_(room)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self.of("/").timeout(seconds)

    @property
    def local(self) -> BroadcastOperator:
        return self.of("/").local

    @delegating
    def emit(self, event: str, *args: Any) -> Awaitable[None]:
        return self.of("/").emit(event, *args)

    def emit_sync(self, event: str, *args: Any) -> None:
        self.of("/").emit_sync(event, *args)

    @delegating
    def fetch_sockets(self) -> Awaitable[list[Socket | RemoteSocket]]:
        return self.of("/").fetch_sockets()

    @delegating
    def sockets_join(self, room: str | Iterable[str]) -> Awaitable[None]:
        return self.of("/").sockets_join(room)

    @delegating
    def sockets_leave(self, room: str | Iterable[str]) -> Awaitable[None]:
        return self.of("/").sockets_leave(room)

    @delegating
    def disconnect_sockets(self, close: bool = False) -> Awaitable[None]:
        return self.of("/").disconnect_sockets(close)

    @delegating
    def server_side_emit(self, event: str, *args: Any) -> Awaitable[None]:
        return self.of("/").server_side_emit(event, *args)

    @delegating
    def send(self, *args: Any) -> Awaitable[None]:
        return self.of("/").send(*args)

    # -- EngineHandler ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start talking to the other nodes (done before the first connection)."""
        self.loop = asyncio.get_running_loop()
        if self._adapter_started is None:
            self._adapter_started = asyncio.ensure_future(self.adapter.start())
        if not self._adapter_started.done():
            # Concurrent first requests all wait for the one start (its node channel).
            await asyncio.shield(self._adapter_started)

    async def on_connect(self, sid: str, scope: dict[str, Any]) -> None:
        if self._adapter_started is None or not self._adapter_started.done():
            await self.start()
        self.serving = True
        self.loop = asyncio.get_running_loop()
        protocol = self.engine.protocol(sid)
        client = self.clients[sid] = Client(self, sid, scope, protocol)
        loop = asyncio.get_running_loop()
        client.connect_timer = loop.call_later(
            self.connect_timeout, self._connect_timed_out, client
        )
        if protocol == 3:  # Socket.IO v4: `/` is connected without a CONNECT packet
            await self._connect(client, Packet(PacketType.CONNECT, "/"))

    def _connect_timed_out(self, client: Client) -> None:
        client.connect_timer = None
        if self.clients.get(client.eio_sid) is not client:
            return
        if not any(socket.connected for socket in client.sockets.values()):
            logger.info(
                "closing connection %s: no namespace joined within CONNECT_TIMEOUT (%s s)",
                client.eio_sid,
                self.connect_timeout,
            )
            self.spawn(self.engine.close(client.eio_sid))

    async def on_message(self, sid: str, data: str | bytes) -> None:
        client = self.clients.get(sid)
        if client is None:
            return
        decoder = client.decoder or client.detect(data)
        try:
            packet = decoder.feed(data)
        except PacketError as exc:
            logger.info("closing connection %s: %s", sid, exc)
            await self._close_client(client, DisconnectReason.PARSE_ERROR)
            return
        if packet is None:  # a binary packet waiting for its attachments
            if client.attachment_timer is None:
                # They must all arrive within the time a dead peer takes to be found
                # (PING_INTERVAL + PING_TIMEOUT): a client may split them over several
                # polling POSTs (engine.io-client cuts its buffer at maxPayload), each
                # waiting for the previous one, so PING_TIMEOUT alone is too tight.
                client.attachment_timer = asyncio.get_running_loop().call_later(
                    self._attachments_window(), self._attachments_timed_out, client
                )
            return
        if client.attachment_timer is not None:
            client.attachment_timer.cancel()
            client.attachment_timer = None
        if client.protocol == 3 and "?" in packet.namespace:
            packet = _query_as_auth(packet)
        ptype = packet.type
        socket = client.sockets.get(packet.namespace)
        # As Node's `Client.ondecoded`: a packet for a namespace this client has not
        # joined, or a CONNECT for one it has, means a broken or hostile client.
        if ptype is PacketType.CONNECT:
            if socket is None:
                await self._connect(client, packet)
                return
            problem = f"second CONNECT to namespace {shorten(packet.namespace)}"
        elif socket is None or not socket.connected:
            problem = (
                f"{ptype.name} packet for namespace {shorten(packet.namespace)}, not connected"
            )
        elif ptype is PacketType.EVENT or ptype is PacketType.BINARY_EVENT:
            if packet.data[0] not in RESERVED_EVENTS:
                refused = self._admit(socket)
                if refused is None:
                    socket.inbound.in_flight += 1
                    socket.inbound.refused_in_a_row = 0
                    self.spawn(self._run_event(socket, packet))
                else:
                    await self._refuse_event(socket, packet, refused)
                return
            # No middleware, listener or handler may ever see a lifecycle name (F16).
            self.limit_counters.reserved_events += 1
            problem = f"reserved event name {packet.data[0]!r}"
        elif ptype is PacketType.ACK or ptype is PacketType.BINARY_ACK:
            await socket.receive_ack(packet.id, packet.data)
            return
        elif ptype is PacketType.DISCONNECT:
            await socket.nsp.remove(socket, DisconnectReason.CLIENT_NAMESPACE_DISCONNECT)
            return
        else:
            problem = f"unexpected {ptype.name} packet"
        self.limit_counters.protocol_violations += 1
        logger.info("closing connection %s: %s", sid, problem)
        await self._close_client(client, DisconnectReason.PARSE_ERROR)

    async def _connect(self, client: Client, packet: Packet) -> None:
        max_namespaces = self.inbound.max_namespaces
        if max_namespaces is not None and len(client.sockets) >= max_namespaces:
            self.limit_counters.namespaces_refused += 1
            self.log_limit(
                "namespaces",
                "connection %s refused CONNECT to one more namespace: "
                "MAX_NAMESPACES_PER_CONNECTION is %d",
                client.eio_sid,
                max_namespaces,
            )
            await client.send_packet(
                client.connect_error(packet.namespace, {"message": TOO_MANY_NAMESPACES})
            )
            return
        nsp = self._find_namespace(packet.namespace)
        if nsp is None:
            self._warn_unknown_namespace(packet.namespace)
            await client.send_packet(
                Packet(PacketType.CONNECT_ERROR, packet.namespace, {"message": "Invalid namespace"})
            )
            return
        if client.user is None:
            await self.authenticate(client)
        connected = await nsp.add(client, packet.data if packet.data is not None else {})
        # Only a successful CONNECT stops the clock (Node's `doConnect`): a client whose
        # every CONNECT is refused is closed at CONNECT_TIMEOUT (F9).
        if connected and client.connect_timer is not None:
            client.connect_timer.cancel()
            client.connect_timer = None

    def _warn_unknown_namespace(self, name: str) -> None:
        """Say once per name (a bounded set: names come from clients) why clients are refused."""
        if name in self._unknown_namespaces or len(self._unknown_namespaces) >= 100:
            return
        self._unknown_namespaces.add(name)
        served = sorted(n for n, nsp in self.namespaces.items() if nsp.handler is not None)
        logger.warning(
            "a client asked for namespace %r, which no handler serves, and got 'Invalid "
            "namespace' (served: %s); is the app with its sockets.py in INSTALLED_APPS, "
            "and does the class set `namespace`?",
            name[:100],
            ", ".join(served + [p.pattern for p, _ in self.dynamic]) or "none",
        )

    # -- event limits ----------------------------------------------------------------------

    def _admit(self, socket: Socket) -> str | None:
        """None if the event may run, or why not ("rate_limited", "too_many_in_flight")."""
        limits = self.inbound
        state = socket.inbound
        if limits.events_per_second is not None:
            now = self.now()
            if state.bucket is None:
                state.bucket = limits.bucket(now)
            if not state.bucket.take(now):  # type: ignore[union-attr]
                return RATE_LIMITED
        cap = limits.max_handlers_in_flight
        if cap is not None and state.in_flight >= cap:
            return TOO_MANY_IN_FLIGHT
        return None

    async def _run_event(self, socket: Socket, packet: Packet) -> None:
        try:
            await socket.nsp.dispatch(socket, packet)
        finally:
            socket.inbound.in_flight -= 1

    async def _refuse_event(self, socket: Socket, packet: Packet, why: str) -> None:
        """The sanction for an event over a limit: drop it, or disconnect the socket."""
        counters, limits, state = self.limit_counters, self.inbound, socket.inbound
        if why == RATE_LIMITED:
            counters.events_rate_limited += 1
        else:
            counters.events_over_in_flight += 1
        if limits.error_ack and packet.id is not None:
            error: dict[str, Any] = {"error": why}
            if why == RATE_LIMITED and state.bucket is not None:
                error["retryAfter"] = math.ceil(state.bucket.retry_after(self.now()) * 1000)
            await socket.send_frames(
                self.parser.encode(Packet(PacketType.ACK, socket.namespace, [error], packet.id))
            )
        if limits.policy == DISCONNECT:
            counters.sockets_disconnected += 1
            logger.warning(
                "disconnecting socket %s of connection %s from %s: %s",
                socket.id,
                socket.client.eio_sid,
                socket.namespace,
                _LIMIT_NAMES[why],
            )
            # DISCONNECT, so the client reports "io server disconnect" and does not
            # reconnect by itself; the handler hears the reason "rate limited".
            await socket.send_frames(
                self.parser.encode(Packet(PacketType.DISCONNECT, socket.namespace))
            )
            await socket.nsp.remove(socket, DisconnectReason.RATE_LIMITED)
            client = socket.client
            self.engine.bar_address(client.eio_sid)
            if not client.sockets and self.clients.get(client.eio_sid) is client:
                # Its last namespace: the connection goes too (as the client would
                # close it), and what the flooder sent after is not read (daphne).
                await self._close_client(client, DisconnectReason.RATE_LIMITED)
            return
        now = self.now()
        bucket = state.bucket
        if why == RATE_LIMITED and bucket is not None:
            state.refused_in_a_row += 1
            if state.refused_in_a_row > bucket.burst:
                # A flood, not a burst: stop reading it until its bucket is half full
                # again (at most MAX_READ_PAUSE), so that the ASGI server does not
                # parse it meanwhile (each frame costs more than our refusal) and TCP
                # holds it back instead.
                state.refused_in_a_row = 0
                pause = min(bucket.retry_after(now, bucket.burst / 2), MAX_READ_PAUSE)
                self.engine.pause_reading(socket.client.eio_sid, pause)
        if state.dropped is None:
            state.dropped = Throttle(LIMIT_LOG_INTERVAL, now)
        held = state.dropped.allow(now)
        if held is not None:
            logger.warning(
                "dropping events of socket %s of connection %s in %s: %s%s",
                socket.id,
                socket.client.eio_sid,
                socket.namespace,
                _LIMIT_NAMES[why],
                f" ({held} more dropped since the last such line)" if held else "",
            )

    async def _close_client(self, client: Client, reason: str) -> None:
        if reason in _MISBEHAVIOUR:
            # Nothing it sends from now on matters: do not even read it.
            self.engine.pause_reading(client.eio_sid)
        for socket in list(client.sockets.values()):
            await socket.nsp.remove(socket, reason)
        await self.engine.close(client.eio_sid, reason)

    async def on_upgrade(self, sid: str) -> None:
        client = self.clients.get(sid)
        if client is None or not self.observers:
            return
        for socket in list(client.sockets.values()):
            if socket.connected:
                for observer in self.observers:
                    observer.socket_upgraded(socket)

    def _attachments_window(self) -> float:
        config = self.engine.config
        return config.ping_interval + config.ping_timeout

    def _attachments_timed_out(self, client: Client) -> None:
        client.attachment_timer = None
        if self.clients.get(client.eio_sid) is client and getattr(client.decoder, "waiting", False):
            logger.info(
                "closing connection %s: binary attachments still due after %s s",
                client.eio_sid,
                self._attachments_window(),
            )
            self.spawn(self._close_client(client, DisconnectReason.PARSE_ERROR))

    async def on_disconnect(self, sid: str, reason: str) -> None:
        client = self.clients.pop(sid, None)
        if client is None:
            return
        if client.connect_timer is not None:
            client.connect_timer.cancel()
        if client.attachment_timer is not None:
            client.attachment_timer.cancel()
        for socket in list(client.sockets.values()):
            await socket.nsp.remove(socket, reason)
