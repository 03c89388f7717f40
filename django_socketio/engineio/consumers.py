"""The Engine.IO transports as Channels consumers: long-polling and websocket.

[edge] Thin: ASGI messages in, packets to the engine, packets back out.

Both consumers own their receive loop instead of using Channels' dispatch:
`AsyncConsumer.dispatch()` hops to a worker thread (``aclose_old_connections``)
before every message and every instance creates a channel-layer channel, which
costs more per websocket frame than the whole rest of the stack. Database
cleanup happens where sync code touches the database (sync handlers), not here.
The polling consumer must also see ``http.disconnect`` while a GET waits for
packets, which a handler running inside ``http.request`` dispatch cannot.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from channels.consumer import AsyncConsumer

from ..conf import Settings, get_settings
from ..exceptions import EngineIOError, PacketError, UpgradeRefused
from ..origins import admit, request_is_secure, without_credentials
from ..stats import STATS, text_size
from . import packets_v3, polling
from .engine import Connection, Engine
from .handshake import parse_query, parse_request
from .packets import PONG_PROBE, Packet, PacketType, decode, encode
from .session import POLLING, WEBSOCKET, Reason

logger = logging.getLogger("django_socketio.engineio")

Send = Callable[[dict[str, Any]], Any]
Receive = Callable[[], Any]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class _Disconnected(Exception):
    pass


class EngineIOConsumer(AsyncConsumer):
    """Shared set-up: which engine, which settings. Pass them to ``as_asgi()``.

    The engine is handed down (an `Engine`, or a callable returning one when it is
    built lazily): this layer never looks up the Socket.IO server above it.
    `django_socketio.routing` hands it the project's, ``io.engine``.
    """

    engine: Engine | Callable[[], Engine] | None = None
    settings: Settings | None = None

    def __init__(
        self, engine: Engine | Callable[[], Engine] | None = None, settings: Settings | None = None
    ) -> None:
        if engine is None:
            raise TypeError(
                f"{type(self).__name__} needs its engine: engine=an Engine or a callable "
                "returning one (django_socketio.routing passes the project's)"
            )
        self.engine = engine
        self.settings = settings

    def get_engine(self) -> Engine:
        engine = self.engine
        return engine if isinstance(engine, Engine) else engine()  # type: ignore[misc]

    def get_settings(self) -> Settings:
        return self.settings or get_settings()


class PollingConsumer(EngineIOConsumer):
    """HTTP long-polling: GET waits for packets, POST delivers them."""

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError("PollingConsumer serves HTTP only")
        settings = self.get_settings()
        cors: list[tuple[bytes, bytes]] = []
        try:
            admission = admit(scope, settings)
            cors = admission.cors
            if not admission.credentials:
                scope = without_credentials(scope)
            if scope["method"] == "OPTIONS" and cors:
                await self._preflight(scope, send, cors)
                return
            await self._handle(scope, receive, send, settings, cors)
        except EngineIOError as exc:
            await _respond(send, exc.status, exc.body(), b"application/json", cors)
        except _Disconnected:
            pass

    async def _handle(self, scope, receive, send, settings: Settings, cors) -> None:
        engine = self.get_engine()
        method = scope["method"]
        config = settings.engine
        request = parse_request(
            method, parse_query(scope["query_string"]), False, config.transports, config.allow_eio3
        )
        if request.sid is None:
            engine.admit(scope)
            conn = await engine.open(POLLING, scope, protocol=request.protocol, b64=request.b64)
            extra = list(cors)
            if settings.cookie is not None:
                cookie = settings.cookie.header(conn.sid, request_is_secure(scope))
                extra.append((b"set-cookie", cookie))
            packets = engine.begin_poll(conn)
            assert isinstance(packets, list)  # the OPEN packet is queued
            reply = polling.packets_reply(packets, conn.session)
            await _respond(send, reply.status, reply.body, reply.content_type, extra)
            return
        sid = request.sid
        if sid not in engine.connections:
            await engine.ready()
        forwarder = engine.forwarder
        if forwarder is not None and sid not in engine.connections:
            owner = await forwarder.owner(sid)
            if owner is not None:  # another process's session: carry the request there
                await self._forward(owner, sid, forwarder, scope, receive, send, settings, cors)
                return
        conn = engine.lookup(sid, POLLING)
        if method == "POST":
            reply = await polling.refuse_overlap(engine, conn)
            if reply is None:
                conn.posting = True
                try:
                    body = await _read_body(receive, scope, settings.engine.max_payload)
                    reply = await polling.post_body(engine, conn, body)
                finally:
                    conn.posting = False
        else:
            reply = await _unless_gone(receive, lambda lost: polling.poll(engine, conn, lost))
        await _respond(send, reply.status, reply.body, reply.content_type, cors)

    @staticmethod
    async def _forward(owner, sid, forwarder, scope, receive, send, settings, cors) -> None:
        if scope["method"] == "POST":
            # maxPayload here, before anything crosses to the owner
            body = await _read_body(receive, scope, settings.engine.max_payload)
            reply = await forwarder.push(owner, sid, body)
        else:
            reply = await _unless_gone(receive, lambda lost: forwarder.poll(owner, sid, lost))
        await _respond(send, reply.status, reply.body, reply.content_type, cors)

    @staticmethod
    async def _preflight(scope, send, cors) -> None:
        requested = _header(scope, b"access-control-request-headers")
        headers = [*cors, (b"access-control-allow-methods", b"GET, POST, OPTIONS")]
        if requested:
            headers.append((b"access-control-allow-headers", requested.encode("latin-1")))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


async def _unless_gone(receive: Receive, wait: Callable[[asyncio.Future[None]], Any]) -> Any:
    """What ``wait(lost)`` answers a GET, `lost` resolved if the client goes away meanwhile.

    A long poll (local or forwarded) answers None once `lost` is resolved: the client
    is gone and nothing is written (`_Disconnected`).
    """
    lost = asyncio.get_running_loop().create_future()
    watcher = asyncio.ensure_future(_watch_disconnect(receive, lost))
    try:
        reply = await wait(lost)
    finally:
        watcher.cancel()
    if reply is None:
        raise _Disconnected
    return reply


async def _watch_disconnect(receive: Receive, lost: asyncio.Future[None]) -> None:
    """Resolve `lost` when the client goes away (after the request body, which a GET has)."""
    if (await receive())["type"] != "http.disconnect":
        while (await receive())["type"] != "http.disconnect":
            pass
    if not lost.done():
        lost.set_result(None)


async def _read_body(receive: Receive, scope: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None once it exceeds `limit` bytes (the rest is not read)."""
    length = _header(scope, b"content-length")
    if length is not None and length.isascii() and length.isdigit():
        # Compare lengths first: int() refuses strings of more than 4300 digits.
        digits = length.lstrip("0")
        if len(digits) > len(str(limit)) or int(digits or "0") > limit:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: bytes, headers) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _next_packet(receive: Receive, decode_frame: Any, timeout: float) -> Packet | None:
    """The next packet on a websocket within `timeout`; None if it closed, or sent garbage."""
    try:
        async with asyncio.timeout(timeout):
            message = await receive()
    except TimeoutError:
        return None
    if message["type"] != "websocket.receive":
        return None
    frame = message.get("text")
    if frame is None:
        frame = message.get("bytes") or b""
    try:
        return decode_frame(frame)
    except PacketError:
        return None


def _is(packet: Packet | None, ptype: PacketType, data: str = "") -> bool:
    return packet is not None and packet.type is ptype and (packet.data or "") == data


def _readable_transport(send: Send) -> Any:
    """The TCP transport under daphne's websocket `send`, to pause reading it; else None.

    ASGI has no way to tell the server to stop reading a connection, and daphne
    reads and parses every frame a client sends, whatever the application does:
    after a close, autobahn goes on parsing what a flooder already sent (megabytes
    in the kernel's buffers, ~100k frames/s of one core) until its close handshake
    times out a second later, and every other client waits behind it. Daphne hands
    its application ``send = functools.partial(server.handle_reply, protocol)``;
    the protocol's Twisted transport is an ``IPushProducer`` whose
    ``pauseProducing()`` stops reading the socket, so the flood stays in the
    kernel (and TCP pushes back on the client) at no cost to anyone. Anything else
    (uvicorn, a wrapped `send`, another daphne) gives None: nothing is paused.
    """
    if not isinstance(send, functools.partial) or len(send.args) != 1:
        return None
    protocol = send.args[0]
    if not type(protocol).__module__.startswith("daphne."):
        return None
    transport = getattr(protocol, "transport", None)
    if callable(getattr(transport, "pauseProducing", None)) and callable(
        getattr(transport, "resumeProducing", None)
    ):
        return transport
    return None


class _WebsocketWriter:
    """How the engine writes to one websocket (of an Engine.IO `protocol` 4 or 3 session)."""

    __slots__ = (
        "_resume",
        "_send",
        "_task",
        "aborted",
        "b64",
        "closed",
        "protocol",
        "resume_at",
    )

    def __init__(self, send: Send, protocol: int = 4, b64: bool = False) -> None:
        self._send = send
        self.protocol = protocol
        self.b64 = b64  # v3: this websocket's request asked for base64 binary
        self._task = asyncio.current_task()  # the consumer's, to end it if the peer is stuck
        self.closed = False
        self.aborted = False
        self._resume: asyncio.TimerHandle | None = None  # the end of a `pause_reading`
        self.resume_at = 0.0  # loop time before which the consumer takes no message

    async def send_frame(self, frame: str | bytes) -> None:
        """One encoded Engine.IO packet as one websocket message."""
        if self.closed:
            return
        stats = STATS
        stats.packets_out_websocket += 1
        stats.bytes_out_websocket += text_size(frame)
        if type(frame) is str:
            await self._send({"type": "websocket.send", "text": frame})
        elif frame:
            await self._send({"type": "websocket.send", "bytes": frame})
        else:
            # Daphne sends nothing for empty bytes; "b" (base64 of nothing) is the same
            # empty binary message to every Engine.IO client.
            await self._send({"type": "websocket.send", "text": "b"})

    def abort(self) -> None:
        """End the consumer: the peer does not even read a close (uvicorn waits for it)."""
        if not self.aborted and self._task is not None and not self._task.done():
            self.aborted = True
            self._task.cancel()

    def pause_reading(self, seconds: float | None = None) -> bool:
        """Stop reading what the peer sends, for `seconds` or (None) for good.

        For `seconds`, the consumer takes no message meanwhile (`resume_at`): an ASGI
        server with a bounded receive queue (uvicorn: 32 messages) then stops
        reading the socket by itself. Daphne's queue has no bound, so there its
        transport is paused too (`_readable_transport`); that is also the only way
        to stop reading for good. False when nothing could be paused. What the peer
        sends meanwhile waits in the kernel, then TCP stops it.
        """
        paused = False
        if seconds is not None:
            self.resume_at = asyncio.get_running_loop().time() + seconds
            paused = True
        transport = _readable_transport(self._send)
        if transport is None:
            return paused
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        transport.pauseProducing()
        if seconds is not None:
            self._resume = asyncio.get_running_loop().call_later(
                seconds, self._resume_reading, transport
            )
        return True

    def _resume_reading(self, transport: Any) -> None:
        self._resume = None
        if not self.closed:
            transport.resumeProducing()

    async def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            try:
                await self._send({"type": "websocket.close", "code": code})
            except Exception:
                if code == 1000:
                    raise
                # Daphne (autobahn) lets an application close only with 1000 or
                # 3000-4999 and raises for 1009: close normally instead of crashing.
                await self._send({"type": "websocket.close", "code": 1000})


class WebsocketConsumer(EngineIOConsumer):
    """The websocket transport: a new session, or the upgrade of a polling one."""

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError("WebsocketConsumer serves websockets only")
        if (await receive())["type"] != "websocket.connect":
            return
        settings = self.get_settings()
        engine = self.get_engine()
        try:
            if not admit(scope, settings).credentials:
                scope = without_credentials(scope)
            config = settings.engine
            query = parse_query(scope["query_string"])
            request = parse_request("GET", query, True, config.transports, config.allow_eio3)
            if request.sid and request.sid not in engine.connections:
                await engine.ready()
            forwarder = engine.forwarder
            if request.sid and forwarder is not None and request.sid not in engine.connections:
                owner = await forwarder.owner(request.sid)
                if owner is not None:  # another process's session: take it over if it can
                    await self._take_over(owner, request, scope, receive, send, engine, settings)
                    return
            if request.sid:
                conn = engine.lookup(request.sid, WEBSOCKET)
            else:
                engine.admit(scope)
                conn = None
        except UpgradeRefused:
            # A known session that cannot take this websocket (already upgraded, or
            # another websocket probing it): the reference server completes the
            # handshake and closes at once, and clients expect that, not a refusal.
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
            return
        except EngineIOError:
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        await send({"type": "websocket.accept"})
        protocol = request.protocol if conn is None else conn.session.protocol
        writer = _WebsocketWriter(send, protocol, request.b64)
        try:
            if conn is None:
                conn = await engine.open(
                    WEBSOCKET, scope, ws=writer, protocol=request.protocol, b64=request.b64
                )
            else:
                engine.begin_probe(conn, writer)
            await self._receive_loop(conn, engine, writer, receive, settings.engine.max_payload)
        except asyncio.CancelledError:
            if not writer.aborted:
                raise
            # The engine gave up on a peer that reads nothing: end quietly, and the
            # ASGI server drops the connection.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()

    async def _take_over(self, owner, request, scope, receive, send, engine, settings) -> None:
        """The upgrade of a session another process owns (forwarding.py): move it here.

        The probe is answered once the owner agreed; when the client upgrades, the
        session moves here with what the client sent so far. If the owner says no (the
        application there has it already), the websocket is closed and the client
        keeps polling, forwarded; as a refused local upgrade.
        """
        forwarder = engine.forwarder
        sid = request.sid
        await send({"type": "websocket.accept"})
        writer = _WebsocketWriter(send, request.protocol, request.b64)
        decode_frame = packets_v3.decode if request.protocol == 3 else decode
        timeout = settings.engine.upgrade_timeout
        claimed = False
        conn = None
        try:
            probe = None if engine.stopping else await _next_packet(receive, decode_frame, timeout)
            if _is(probe, PacketType.PING, "probe") and await forwarder.claim(owner, sid):
                claimed = True
                await writer.send_frame(encode(PONG_PROBE))  # "3probe" in v3 and v4
                if _is(await _next_packet(receive, decode_frame, timeout), PacketType.UPGRADE):
                    claimed = False  # from here the owner has given it up, or says no
                    held = await forwarder.move(owner, sid)
                    if held is not None:
                        conn = await engine.adopt(
                            sid, scope, writer, held, request.protocol, request.b64
                        )
        finally:
            if claimed:
                await forwarder.cancel(owner, sid)
        if conn is None:
            await writer.close()
            return
        await self._receive_loop(conn, engine, writer, receive, settings.engine.max_payload)

    async def _receive_loop(self, conn, engine: Engine, writer, receive, limit: int) -> None:
        receive_packets = engine.receive
        deliver = engine.deliver
        stats = STATS
        v3 = conn.session.protocol == 3  # binary frames start with a type byte
        decode_frame = packets_v3.decode if v3 else decode
        loop = asyncio.get_running_loop()
        while True:
            if writer.resume_at:
                await asyncio.sleep(writer.resume_at - loop.time())  # `pause_reading`
                writer.resume_at = 0.0
            message = await receive()
            if message["type"] != "websocket.receive":
                break
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
                too_big = len(frame) > limit
            else:
                too_big = len(frame) > limit or (
                    len(frame) * 4 > limit and len(frame.encode()) > limit
                )
            stats.packets_in_websocket += 1
            stats.bytes_in_websocket += text_size(frame)
            if too_big:
                writer.pause_reading()
                await writer.close(1009)
                await self._lost(conn, engine, writer, Reason.TRANSPORT_ERROR)
                return
            if conn.ws is writer and (frame[:1] == "4" if type(frame) is str else not v3):
                # The hot path: a message on the session's own transport needs no state
                # machine (nothing else in the packet changes the session's state).
                await deliver(conn, frame if type(frame) is bytes else frame[1:])
                continue
            try:
                packet = decode_frame(frame)
            except PacketError:
                writer.pause_reading()
                await self._lost(conn, engine, writer, Reason.PARSE_ERROR)
                return
            await receive_packets(conn, (packet,), WEBSOCKET)
            if conn.session.closed and conn.ws is None and conn.probe is None:
                return
        await self._lost(conn, engine, writer, Reason.TRANSPORT_CLOSE)

    @staticmethod
    async def _lost(
        conn: Connection, engine: Engine, writer: _WebsocketWriter, reason: str
    ) -> None:
        if conn.probe is writer:
            engine.probe_closed(conn, writer)
            await writer.close()
        elif conn.ws is writer:
            await engine.fail(conn, reason)
