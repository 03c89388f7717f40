r"""Test your Socket.IO handlers from pytest, in process, over the real protocol.

`SocketIOCommunicator` is a small Socket.IO client built on Channels'
`ApplicationCommunicator`: it opens a websocket to the real consumer (by
default the one serving the project's ``io``), speaks Engine.IO v4 and
Socket.IO v5 with this package's own codecs, answers the server's pings while
your test runs, and sends and receives binary attachments. No server process,
no network. Because it builds the websocket scope itself, it can put a Django
user in it (``user=``), as Channels' ``AuthMiddlewareStack`` would.
``parser="msgpack"`` speaks the MessagePack parser (``SOCKETIO["PARSER"]``);
``eio=3`` speaks Engine.IO v3 and Socket.IO protocol v4 as a Socket.IO 2.x client
(``SOCKETIO["ALLOW_EIO3"]``).

Example: a namespace, and a test for it (pytest with pytest-asyncio's
``asyncio_mode = auto``, or ``@pytest.mark.asyncio`` on the test; a Django
``TransactionTestCase`` with ``async def`` methods needs neither, see the README)::

    # myapp/sockets.py: found by autodiscover, served by django_socketio.io
    from django_socketio import Namespace, on


    class Main(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            await socket.emit("auth", auth)

        async def on_message(self, socket, *args):
            await socket.emit("message-back", *args)

        @on("message-with-ack")
        async def message_with_ack(self, socket, *args):
            return args  # the ack: a tuple spreads into several arguments

        @on("emit-with-ack")
        async def emit_with_ack(self, socket, *args):
            answer = await socket.emit_with_ack("emit-with-ack", *args)
            await socket.emit("emit-with-ack", answer)


    # myapp/tests/test_sockets.py
    from django_socketio.testing import SocketIOCommunicator


    async def test_main_namespace():
        async with SocketIOCommunicator(auth={"token": "t"}) as client:
            connected, error = await client.connect()
            assert connected, error

            # what on_connect emitted arrives after CONNECT
            event = await client.receive_event()
            assert (event.event, event.args) == ("auth", [{"token": "t"}])

            # an event, and what the server emits back (bytes travel as attachments)
            await client.emit("message", "hello", b"\x89PNG")
            event, args = await client.receive_event()
            assert (event, args) == ("message-back", ["hello", b"\x89PNG"])

            # the handler's return value is the ack; its arguments come back as a list
            assert await client.emit_with_ack("message-with-ack", 1, {"two": 2}) == [1, {"two": 2}]

            # the server asks this client for an ack: answer it
            await client.emit("emit-with-ack", "question")
            asked = await client.receive_event()
            assert asked.wants_ack
            await asked.ack("answer")
            event = await client.receive_event()
            assert (event.event, event.args) == ("emit-with-ack", ["answer"])

            assert await client.receive_nothing()
        # leaving the block disconnects: on_disconnect gets "client namespace disconnect"
        assert not client.connected and client.closed
        assert client.disconnect_reason == "io client disconnect"

Mark a test whose handlers use the database with
``@pytest.mark.django_db(transaction=True)``: sync handlers run in a worker
thread, outside the test's transaction. Pass ``user=`` to connect as a user
without a login. While a client is open, Channels' ``close_old_connections``
is skipped, as Channels' own communicators do.

A refused connection returns ``(False, data)`` with the CONNECT_ERROR data the
server sent, e.g. ``{"message": "Not allowed", "data": {"code": 401}}``.

Reference (everything is a coroutine unless marked):

``SocketIOCommunicator(application=None, namespace="/", auth=None, user=None,
headers=None, query=None, path="/socket.io/")``
    `application`: an ASGI application (your project's router, or a consumer);
    default: the websocket consumer of ``django_socketio.io``. `user` goes into
    ``scope["user"]`` (what ``socket.user`` returns). `headers`: a dict or a
    list of pairs; `query`: a dict or a query string (``socket.handshake.query``).

``connect(timeout=5)`` -> ``(True, None)`` or ``(False, connect_error_data)``
    Opens the websocket and the Engine.IO session if needed, then connects the
    namespace with `auth`.
``emit(event, *args)``
    Arguments may hold bytes anywhere (sent as binary attachments).
``emit_with_ack(event, *args, timeout=5)`` -> list of the ack's arguments
    Raises TimeoutError when the server does not ack in time.
``receive_event(timeout=5)`` -> `ReceivedEvent`
    ``.event``, ``.args`` (a list), ``.wants_ack``, ``await .ack(*values)``;
    it also unpacks: ``event, args = await client.receive_event()``.
    Raises TimeoutError when nothing arrives, `Disconnected` once the server
    has disconnected the namespace or closed the connection (events that
    arrived before that are still delivered first). The client is strict: an
    event before CONNECT, or a malformed packet, is raised as `PacketError`.
``receive_nothing(timeout=0.1)`` -> True if no event arrived in that time.
``disconnect()``
    Disconnects the namespace (the server's ``on_disconnect`` gets ``"client
    namespace disconnect"``) and closes the websocket.
``close(code=1000)``
    Closes the websocket without a goodbye, like a lost network
    (``"transport close"`` on the server).
``drop()``
    Closes the websocket as a lost network does (close code 1006).
``reconnect()`` -> a new `SocketIOCommunicator`
    Same application, namespace and options, presenting this client's ``pid`` and
    ``offset`` on ``connect()``: connection state recovery (README). Its
    ``recovered`` says whether the session came back; the missed events are the
    first ones ``receive_event`` returns, each with its offset as last argument.
``wait_closed(timeout=5)`` -> the websocket close code, once the server closed it.
``open(timeout=5)`` -> the Engine.IO handshake (dict), without connecting a namespace.
Waits for something that should come return as soon as it comes; their default bound
(`DEFAULT_TIMEOUT`, 5 s) only decides how long a failing test waits, and is generous so
that a loaded CI machine does not fail a correct test.
``send_raw(frame)``
    One raw websocket frame (an Engine.IO packet, str or bytes), to test how
    the server handles what a well-behaved client never sends.
Attributes: ``connected``, ``closed``, ``sid`` (the namespace socket id),
``eio_sid``, ``handshake``, ``disconnect_reason``, ``close_code``, ``scope``;
with recovery on, ``pid``, ``offset`` and ``recovered``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from base64 import b64decode
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from unittest import mock
from urllib.parse import urlencode

from channels.testing import ApplicationCommunicator

from .engineio.consumers import WebsocketConsumer
from .exceptions import PacketError
from .routing import project_engine
from .socketio.acks import AckTable
from .socketio.msgpack_parser import MsgPackParser
from .socketio.packets import Decoder, JSONParser, Packet, PacketType, Parser

__all__ = ["Disconnected", "ReceivedEvent", "SocketIOCommunicator"]

DEFAULT_TIMEOUT = 5.0  # seconds; see the module docstring

_END = object()  # in the event queue: nothing follows
_APP_DONE = object()  # in the application's output queue: the application returned


class _OldConnectionsKept:
    """Keep `channels.db.close_old_connections` from running while a client is open.

    Channels' own `ApplicationCommunicator` does the same while it waits for the
    application. Sync handlers run through `database_sync_to_async`, which calls it
    in a worker thread shared by every test; once a test marked ``django_db`` has
    opened a connection there, the next test without the mark would fail on the
    mere check of that connection, and a test's database would be closed under
    it. Reference-counted, so clients may be opened and closed in any order.
    """

    def __init__(self) -> None:
        self.users = 0
        self.patcher: Any = None

    def acquire(self) -> None:
        if self.users == 0:
            self.patcher = mock.patch("channels.db.close_old_connections", _no_op)
            self.patcher.start()
        self.users += 1

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.patcher.stop()
            self.patcher = None


def _no_op(**kwargs: Any) -> None:
    pass


_old_connections_kept = _OldConnectionsKept()


class Disconnected(Exception):
    """The namespace was disconnected or the connection closed.

    `reason` uses socket.io-client's words: ``"io server disconnect"`` (the
    server disconnected the namespace), ``"transport close"`` (the server
    closed the connection), ``"io client disconnect"`` (this client did),
    ``"websocket refused"`` (closed before it was accepted). `code` is the
    websocket close code, when the websocket closed. (A server that breaks the
    protocol or crashes raises its own error instead; ``disconnect_reason`` is
    then ``"parse error"`` or ``"transport error"``.)
    """

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason if code is None else f"{reason} (close code {code})")
        self.reason = reason
        self.code = code


class ReceivedEvent:
    """An event the server emitted to this client."""

    __slots__ = ("_acked", "_client", "ack_id", "args", "event")

    def __init__(
        self, client: SocketIOCommunicator, event: str, args: list[Any], ack_id: int | None
    ) -> None:
        self._client = client
        self._acked = False
        self.event = event
        self.args = args
        self.ack_id = ack_id

    @property
    def wants_ack(self) -> bool:
        """True when the server waits for an acknowledgement (``emit_with_ack``, a callback)."""
        return self.ack_id is not None

    async def ack(self, *values: Any) -> None:
        """Acknowledge the event with `values` (bytes allowed), once."""
        if self.ack_id is None:
            raise RuntimeError(f"the server did not ask for an ack of {self.event!r}")
        if self._acked:
            raise RuntimeError(f"{self.event!r} was already acknowledged")
        self._acked = True
        client = self._client
        await client._send_packet(
            Packet(PacketType.ACK, client.namespace, list(values), self.ack_id)
        )

    def __iter__(self) -> Iterator[Any]:
        return iter((self.event, self.args))

    def __repr__(self) -> str:
        ack = f" ack_id={self.ack_id}" if self.ack_id is not None else ""
        return f"<ReceivedEvent {self.event!r} {self.args!r}{ack}>"


def _header_list(headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None) -> list:
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    result = []
    for name, value in pairs:
        name = name.encode("latin-1") if isinstance(name, str) else bytes(name)
        value = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        result.append((name.lower(), value))
    if not any(name == b"host" for name, _ in result):
        result.insert(0, (b"host", b"testserver"))
    return result


class SocketIOCommunicator:
    """A Socket.IO client for tests, connected in process to an ASGI application."""

    def __init__(
        self,
        application: Any = None,
        namespace: str = "/",
        auth: Any = None,
        user: Any = None,
        headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None = None,
        query: Mapping[str, Any] | str | None = None,
        path: str = "/socket.io/",
        parser: str = "json",
        eio: int = 4,
    ) -> None:
        if application is None:
            application = WebsocketConsumer.as_asgi(engine=project_engine)  # `io`'s
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        self._again = {  # what `reconnect` builds the next client from
            "application": application,
            "namespace": namespace,
            "auth": auth,
            "user": user,
            "headers": headers,
            "query": query,
            "path": path,
            "parser": parser,
            "eio": eio,
        }
        #: The Engine.IO protocol this client speaks: 4, or 3 as a Socket.IO 2.x client
        #: (the server's ``ALLOW_EIO3``): `/` connects without a CONNECT packet, `auth`
        #: of another namespace goes as its query string, and the client pings.
        self.eio = eio
        query_string = f"EIO={eio}&transport=websocket"
        if query:
            extra = query if isinstance(query, str) else urlencode(query, doseq=True)
            query_string += "&" + extra.lstrip("?&")
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query_string.encode(),
            "headers": _header_list(headers),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "subprotocols": [],
        }
        if user is not None:
            self.scope["user"] = user
        #: The underlying Channels communicator (raw ASGI messages).
        self.communicator = ApplicationCommunicator(application, self.scope)
        self.namespace = namespace
        self.auth = auth
        self.connected = False
        self.closed = False
        self.sid: str | None = None
        self.eio_sid: str | None = None
        self.handshake: dict[str, Any] | None = None
        self.disconnect_reason: str | None = None
        self.close_code: int | None = None
        #: Connection state recovery, as socket.io-client keeps it: the private session
        #: id of the last CONNECT, the offset of the last event, and whether the last
        #: CONNECT restored the session.
        self.pid: str | None = None
        self.offset: str | None = None
        self.recovered = False
        self._early: list[ReceivedEvent] = []  # events before CONNECT, when recovering
        #: "json" or "msgpack": the parser this client speaks (the server's `PARSER`).
        self.parser = parser
        self._parser: Parser = MsgPackParser() if parser == "msgpack" else JSONParser()
        # The server decides how many attachments it sends.
        self._decoder = (
            self._parser.decoder() if parser == "msgpack" else Decoder(max_attachments=100_000)
        )
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._acks = AckTable()  # the server's `Socket` numbers and fails its acks alike
        self._accepted: asyncio.Future[bool] | None = None
        self._opened: asyncio.Future[dict[str, Any]] | None = None
        self._connecting: asyncio.Future[tuple[bool, Any]] | None = None
        self._closed_event: asyncio.Event | None = None
        self._reader: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._disconnect_sent = False
        self._released = False
        self._pinger: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SocketIOCommunicator:
        return self

    async def __aexit__(self, exc_type: Any, *exc_info: Any) -> None:
        if exc_type is None:
            await self.disconnect()
            return
        with contextlib.suppress(Exception):  # the test failed: keep its error the one shown
            await self.disconnect()

    # -- connecting --------------------------------------------------------------

    async def open(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Open the websocket and return the Engine.IO handshake (no namespace yet)."""
        if self._reader is None:
            loop = asyncio.get_running_loop()
            self._accepted = loop.create_future()
            self._opened = loop.create_future()
            self._closed_event = asyncio.Event()
            _old_connections_kept.acquire()
            app = self.communicator.future  # starts the application
            output = self.communicator.output_queue
            app.add_done_callback(lambda _: output.put_nowait(_APP_DONE))
            self._reader = asyncio.ensure_future(self._read())
            await self.communicator.send_input({"type": "websocket.connect"})
        assert self._opened is not None
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._opened)
        except TimeoutError:
            raise TimeoutError(f"no Engine.IO handshake within {timeout} s") from None

    async def connect(self, timeout: float = DEFAULT_TIMEOUT) -> tuple[bool, Any]:
        """Connect the namespace: ``(True, None)``, or ``(False, <CONNECT_ERROR data>)``."""
        if self.connected:
            return True, None
        try:
            async with asyncio.timeout(timeout):
                await self.open(timeout)
                self._check_open()
                self._connecting = asyncio.get_running_loop().create_future()
                if self.eio == 3:
                    if self.connected:  # `/`: its CONNECT came with the handshake
                        return True, None
                    if self.namespace != "/":  # `/` is connected without asking
                        query = urlencode(self.auth or {}, doseq=True)
                        name = self.namespace + ("?" + query if query else "")
                        await self._send_packet(Packet(PacketType.CONNECT, name))
                else:
                    await self._send_packet(
                        Packet(PacketType.CONNECT, self.namespace, self._connect_auth())
                    )
                return await self._connecting
        except TimeoutError:
            raise TimeoutError(
                f"no answer to CONNECT {self.namespace} within {timeout} s"
            ) from None

    def _connect_auth(self) -> Any:
        """`auth`, over ``{pid, offset}`` when there is a session to recover (as the JS client)."""
        if self.pid is None:
            return self.auth
        asked: dict[str, Any] = {"pid": self.pid}
        if self.offset is not None:
            asked["offset"] = self.offset
        return {**asked, **(self.auth or {})}

    def reconnect(self) -> SocketIOCommunicator:
        """A new client for the same application, namespace and options, which asks to
        recover this one's session (its `pid` and `offset`), as socket.io-client does
        after a lost connection. Call `drop()` first to lose this one, then ``connect()``
        the new one: ``recovered`` says if the server restored the session, and the
        events it missed arrive first."""
        again = SocketIOCommunicator(**self._again)
        again.pid, again.offset = self.pid, self.offset
        return again

    async def drop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Lose the connection, as a network failure does (close code 1006, no goodbye):
        the server sees ``"transport close"`` and, with recovery on, keeps the session."""
        await self.close(code=1006, timeout=timeout)

    # -- sending -----------------------------------------------------------------

    async def emit(self, event: str, *args: Any) -> None:
        """Emit `event` to the server (bytes anywhere in `args` go as attachments)."""
        self._check_connected()
        await self._send_packet(Packet(PacketType.EVENT, self.namespace, [event, *args]))

    async def emit_with_ack(
        self, event: str, *args: Any, timeout: float = DEFAULT_TIMEOUT
    ) -> list[Any]:
        """Emit `event` and return the arguments of the server's ack (its handler's return)."""
        self._check_connected()
        ack_id, future = self._acks.future()
        await self._send_packet(Packet(PacketType.EVENT, self.namespace, [event, *args], ack_id))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"no ack for {event!r} within {timeout} s") from None
        finally:
            self._acks.forget(ack_id)

    async def send_raw(self, frame: str | bytes) -> None:
        """Send one websocket frame as is: an Engine.IO packet such as ``'42["hi"]'``."""
        self._check_open()
        key = "text" if isinstance(frame, str) else "bytes"
        await self.communicator.send_input({"type": "websocket.receive", key: frame})

    # -- receiving ---------------------------------------------------------------

    async def receive_event(self, timeout: float = DEFAULT_TIMEOUT) -> ReceivedEvent:
        """The next event the server emitted to this client."""
        try:
            item = await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no event within {timeout} s") from None
        if item is _END:
            self._events.put_nowait(_END)  # and for every later call
            raise self._ended()
        return item

    async def receive_nothing(self, timeout: float = 0.1, interval: float = 0.01) -> bool:
        """True if no event (and no disconnection) arrives within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._events.empty() and loop.time() < deadline:
            await asyncio.sleep(interval)
        return self._events.empty()

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> int | None:
        """Wait until the server closes the websocket; returns the close code."""
        if self._closed_event is None:
            raise RuntimeError("the connection was never opened")
        try:
            await asyncio.wait_for(self._closed_event.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"the connection is still open after {timeout} s") from None
        return self.close_code

    # -- closing -----------------------------------------------------------------

    async def disconnect(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Leave the namespace (DISCONNECT), then close the websocket."""
        if self.connected and not self.closed:
            await self._send_packet(Packet(PacketType.DISCONNECT, self.namespace))
        await self.close(timeout=timeout)

    async def close(self, code: int = 1000, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Close the websocket, without leaving the namespace first."""
        if self._reader is None:
            return
        if not self.closed:
            self.closed = True
            self.close_code = code
            self._end(Disconnected("io client disconnect", code))
            if self._closed_event is not None:
                self._closed_event.set()
            await self._tell_closed(code)
        if self._released:
            return
        try:
            await self.communicator.wait(timeout)  # raises what the application raised
        finally:
            self._released = True
            _old_connections_kept.release()
            if not self._reader.done():
                self._reader.cancel()
            tasks = [self._reader]
            if self._pinger is not None:
                self._pinger.cancel()
                tasks.append(self._pinger)
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._error is not None and not isinstance(self._error, Disconnected):
            raise self._error

    # -- internals ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise self._ended()
        if self.handshake is None:
            raise RuntimeError("the connection is not open: await open() or connect() first")

    def _check_connected(self) -> None:
        if not self.connected:
            if self.disconnect_reason is not None:
                raise self._ended()
            raise RuntimeError("not connected: await connect() first")

    def _ended(self) -> BaseException:
        return self._error or Disconnected(self.disconnect_reason or "transport close")

    async def _send_packet(self, packet: Packet) -> None:
        for frame in self._parser.encode(packet):
            if isinstance(frame, str):
                await self.send_raw("4" + frame)
            else:
                await self.send_raw(b"\x04" + frame if self.eio == 3 else frame)

    async def _ping(self, interval: float) -> None:
        """Engine.IO v3: the client keeps the session alive."""
        while not self.closed:
            await asyncio.sleep(interval)
            if not self.closed:
                await self.send_raw("2")

    async def _tell_closed(self, code: int) -> None:
        """Tell the application the websocket is gone (an ASGI server would)."""
        if not self._disconnect_sent:
            self._disconnect_sent = True
            await self.communicator.input_queue.put({"type": "websocket.disconnect", "code": code})

    def _end(self, error: BaseException, reason: str | None = None) -> None:
        """Nothing more will arrive for this namespace: wake every waiter."""
        self.connected = False
        if self.disconnect_reason is not None:
            return
        self.disconnect_reason = reason or getattr(error, "reason", "transport close")
        if not isinstance(error, Disconnected):
            self._error = error
        for future in (self._accepted, self._opened, self._connecting):
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning if nobody waits
        self._acks.fail_all(error)
        self._events.put_nowait(_END)

    async def _read(self) -> None:
        """Drain what the application sends; answer pings; sort packets into waiters."""
        output = self.communicator.output_queue
        while True:
            message = await output.get()
            if message is _APP_DONE:
                app = self.communicator.future
                error = None if app.cancelled() else app.exception()
                if error is not None:  # the application crashed: waiters get its error
                    self._end(error, "transport error")
                self._server_closed(self.close_code)
                return
            kind = message.get("type")
            if kind == "websocket.accept":
                if self._accepted is not None and not self._accepted.done():
                    self._accepted.set_result(True)
            elif kind == "websocket.close":
                code = message.get("code", 1000)
                self._server_closed(code)
                await self._tell_closed(code)
            elif kind == "websocket.send":
                frame = message.get("text")
                try:
                    await self._on_frame(frame if frame is not None else message.get("bytes"))
                except Exception as exc:  # the server broke the protocol: hang up
                    self._end(exc, "parse error")
                    self._server_closed(1002)
                    await self._tell_closed(1002)

    def _server_closed(self, code: int | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        accepted = self._accepted is not None and self._accepted.done()
        self._end(Disconnected("transport close" if accepted else "websocket refused", code))
        if self._closed_event is not None:
            self._closed_event.set()

    async def _on_frame(self, frame: str | bytes | None) -> None:
        if frame is None:
            raise PacketError("a websocket.send message without text or bytes")
        if isinstance(frame, str):
            kind, data = frame[:1], frame[1:]
            if kind == "4":
                packet = self._decoder.feed(data)
            elif kind == "2":  # PING: the server checks we are alive
                await self.send_raw("3" + data)
                return
            elif kind == "0":
                self.handshake = json.loads(data)
                self.eio_sid = self.handshake["sid"]
                if self.eio == 3 and self._pinger is None:
                    interval = self.handshake["pingInterval"] / 1000
                    self._pinger = asyncio.ensure_future(self._ping(interval))
                if self._opened is not None and not self._opened.done():
                    self._opened.set_result(self.handshake)
                return
            elif kind == "1":  # CLOSE
                self._server_closed(1000)
                await self._tell_closed(1000)
                return
            elif kind in ("3", "6"):
                return
            elif kind == "b":  # an empty (or base64) binary message
                packet = self._decoder.feed(b64decode(data))
            else:
                raise PacketError(f"unexpected Engine.IO packet {frame[:20]!r}")
        elif self.eio == 3:
            if frame[:1] != b"\x04":
                raise PacketError(f"unexpected Engine.IO v3 binary packet {frame[:20]!r}")
            packet = self._decoder.feed(frame[1:])
        else:
            packet = self._decoder.feed(frame)
        if packet is not None and packet.namespace == self.namespace:
            self._on_packet(packet)

    def _received(self, packet: Packet) -> ReceivedEvent:
        event, *args = packet.data
        if self.pid is not None and packet.id is None and args and isinstance(args[-1], str):
            self.offset = args[-1]  # socket.io-client's rule (a string last is the offset)
        return ReceivedEvent(self, event, args, packet.id)

    def _on_packet(self, packet: Packet) -> None:
        ptype = packet.type
        if self.sid is None and ptype in (PacketType.EVENT, PacketType.ACK):
            if self.pid is not None and ptype is PacketType.EVENT:
                # Recovering: the missed events come before CONNECT (the real client
                # buffers them and delivers them just before "connect"; so does this one).
                self._early.append(self._received(packet))
                return
            # What the server emits while connecting must wait for CONNECT (the real
            # client would buffer it; this one flags the server's mistake).
            raise PacketError(f"{ptype.name} before CONNECT on namespace {self.namespace}")
        if ptype is PacketType.EVENT:
            self._events.put_nowait(self._received(packet))
        elif ptype is PacketType.ACK:
            self._acks.resolve(packet.id, packet.data)
        elif ptype is PacketType.CONNECT:
            if self.eio == 3:  # as a Socket.IO 2.x client computes it
                nsp, eio_sid = self.namespace, self.eio_sid
                self.sid = eio_sid if nsp == "/" else f"{nsp}#{eio_sid}"
            else:
                data = packet.data or {}
                self.sid = data.get("sid")
                pid = data.get("pid")
                self.recovered = bool(pid) and pid == self.pid
                self.pid = pid
            for early in self._early:
                self._events.put_nowait(early)
            self._early.clear()
            self.connected = True
            if self._connecting is not None and not self._connecting.done():
                self._connecting.set_result((True, None))
        elif ptype is PacketType.CONNECT_ERROR:
            if self._connecting is not None and not self._connecting.done():
                self._connecting.set_result((False, packet.data))
        elif ptype is PacketType.DISCONNECT:
            self._end(Disconnected("io server disconnect"))
