"""What the ports of the official protocol suites need to behave as the originals do.

The originals (``test-suite/test-suite.js`` of socketio/engine.io-protocol and
socketio/socket.io-protocol) drive the server with node-fetch and the ``ws`` WebSocket,
and their races live in those APIs' semantics, so the ports keep them:

- `JsWebSocket` is a WebSocket as the browser API has it (the suites run in browsers
  too, from ``index.html``): the constructor returns at once and connects in the
  background; ``send`` never waits for anything but the write; each message is its own
  task, so the code a listener resumes runs before the next message is dispatched; an
  event (``open``, ``message``, ``close``) goes to the listeners registered *when it
  happens* (`wait_for` is the suites' ``waitFor``) and is lost if there are none. A
  message the original never sees (a ``3probe`` that arrives while it waits for something
  else) is dropped here too, and one that arrives late breaks the port as it breaks
  the original. (Node's ``ws`` 8.5 emits every frame of one read synchronously, so under
  load the original can also lose a message that a browser would deliver: that client
  artefact is not copied.)
- A refused handshake fails the test unless the test expects it (`ignore_errors`), as
  Node's ``ws`` throws an "error" event nobody listens to.
- `fetch` opens a new connection per request and returns the status and the body.

The one difference: mocha fails a test that hangs after 2 s (5 s for the heartbeat
tests); here every wait fails after `WAIT`, so a loaded CI machine is not mistaken for a
broken server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Generator
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from .helpers import WAIT

PING_INTERVAL = 300
PING_TIMEOUT = 200
HANDSHAKE_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


async def fetch(url: str, method: str = "GET", body: str | None = None) -> tuple[int, str]:
    """node-fetch: one request on a connection of its own; (status, body text)."""
    connector = aiohttp.TCPConnector(force_close=True)
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        session.request(method, url, data=body) as response,
    ):
        return response.status, await response.text()


async def sleep(ms: float) -> None:
    await asyncio.sleep(ms / 1000)


async def init_long_polling_session(base: str, path: str) -> str:
    """The suites' ``initLongPollingSession()``: a polling handshake, its sid."""
    _, content = await fetch(f"{base}/{path}/?EIO=4&transport=polling")
    return json.loads(content[1:])["sid"]


class _Event:
    """A listened-for event: await it (at most `WAIT`), or drop it as a promise is dropped."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        async with asyncio.timeout(WAIT):  # awaits the future itself: woken in one step
            return await self.future


class JsWebSocket:
    """``new WebSocket(url)`` of the browser API (and of ``ws``), for the ported suites."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._listeners: dict[str, list[asyncio.Future[Any]]] = {}
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.errors_ignored = False
        self.uncaught: AssertionError | None = None
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            try:
                ws = await session.ws_connect(self.url)
            except (aiohttp.ClientError, OSError) as exc:
                # A refused handshake: "error", then "close". Node's ws throws an
                # "error" nobody listens to, which fails the test (the originals add a
                # listener, ``socket.on("error", () => {})``, where they expect one).
                if not self.errors_ignored:
                    self.uncaught = AssertionError(f"uncaught websocket error: {exc!r}")
                    for futures in self._listeners.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(self.uncaught)
                    self._listeners.clear()
                    return
                self._emit("close", None)
                return
            self._ws = ws
            self._emit("open", None)
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._emit("message", msg.data)
                    # One task per message event, as browsers queue them: what a listener
                    # resolved runs before the next message is dispatched, however the
                    # frames were split into reads.
                    await asyncio.sleep(0)
                elif msg.type is WSMsgType.ERROR:
                    break
            self._emit("close", ws.close_code)

    def _emit(self, event: str, value: Any) -> None:
        for future in self._listeners.pop(event, []):
            if not future.done():
                future.set_result(value)
        for handler in list(self._handlers.get(event, ())):
            handler(value)

    def add_event_listener(self, event: str, handler: Callable[[Any], None]) -> None:
        """``addEventListener(event, handler)`` without ``once``: every event, until removed."""
        self._handlers.setdefault(event, []).append(handler)

    def remove_event_listener(self, event: str, handler: Callable[[Any], None]) -> None:
        self._handlers[event].remove(handler)

    def wait_for(self, event: str) -> _Event:
        """The suites' ``waitFor(socket, event)``: listen now, resolve at the next event.

        The data for ``message`` (str, or bytes as with ``binaryType = "arraybuffer"``),
        the close code for ``close``.
        """
        if self.uncaught is not None:
            raise self.uncaught
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._listeners.setdefault(event, []).append(future)
        return _Event(future)

    def ignore_errors(self) -> None:
        """``socket.on("error", () => {})``: a refused handshake is expected."""
        self.errors_ignored = True

    async def send(self, data: str | bytes) -> None:
        """``socket.send(data)`` on an open socket (the suites only send once open)."""
        assert self._ws is not None, "send() before the open event"
        if isinstance(data, str):
            await self._ws.send_str(data)
        else:
            await self._ws.send_bytes(data)

    async def close(self) -> None:
        """``socket.close()``; also the end of every test (no reader left behind)."""
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def wait_for_packets(socket: JsWebSocket, count: int) -> list[str | bytes]:
    """The Socket.IO suite's ``waitForPackets(socket, count)``: `count` messages, PINGs aside."""
    packets: list[str | bytes] = []
    done: asyncio.Future[list[str | bytes]] = asyncio.get_running_loop().create_future()

    def handler(data: str | bytes) -> None:
        if data == "2":
            return  # ignore PING packets
        packets.append(data)
        if len(packets) == count:
            socket.remove_event_listener("message", handler)
            if not done.done():
                done.set_result(packets)

    socket.add_event_listener("message", handler)
    return await asyncio.wait_for(done, WAIT)


class Sockets:
    """The sockets a test made, closed when it ends (the originals leave that to exit)."""

    def __init__(self) -> None:
        self.sockets: list[JsWebSocket] = []

    def __call__(self, url: str) -> JsWebSocket:
        socket = JsWebSocket(url)
        self.sockets.append(socket)
        return socket

    async def close_all(self) -> None:
        for socket in self.sockets:
            await socket.close()
        for socket in self.sockets:
            if socket.uncaught is not None:
                raise socket.uncaught
