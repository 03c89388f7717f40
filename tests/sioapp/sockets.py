"""Extra namespaces for the Socket.IO end-to-end tests (tests/e2e/test_socketio_*.py).

``/refuse`` refuses every connection; ``/mw`` lets in only ``auth={"token": "ok"}`` (a
namespace middleware); ``/dyn-<digits>`` is a dynamic namespace that says ``hello`` with
its name; ``/ops`` has events for acks both ways, ack timeouts, binary data, rooms,
server-side disconnects, and records every disconnect reason (`last-reasons` reads them).
``/sync`` does the same with sync handlers only (no ``await`` anywhere: the socket's and the
server's methods run on the loop from the handler's worker thread), and answers ``types``
with Django types (datetime, Decimal, UUID, a lazy string...) both as an emit and as its ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import decimal
import re
import uuid
from typing import Any

from django.utils.functional import lazy

from django_socketio import AckTimeoutError, ConnectionRefused, Namespace, io, on
from django_socketio.socketio.rooms import BroadcastOptions

#: The latest disconnects of /ops: {"id": socket id, "reason": reason}; newest last.
REASONS: list[dict[str, str]] = []
MAX_REASONS = 500


class Refuse(Namespace):
    namespace = "/refuse"

    async def on_connect(self, socket, auth):
        raise ConnectionRefused("not allowed", {"code": 401})


class Dynamic(Namespace):
    namespace = re.compile(r"^/dyn-\d+$")

    async def on_connect(self, socket, auth):
        await socket.emit("hello", socket.namespace)


async def require_token(socket, auth):
    token = auth.get("token") if isinstance(auth, dict) else None
    if token != "ok":
        raise ConnectionRefused("bad token", {"code": 403, "token": token})


class Middleware(Namespace):
    namespace = "/mw"
    middlewares = [require_token]

    async def on_connect(self, socket, auth):
        await socket.emit("welcome", auth)


def _shape(value: Any) -> Any:
    """What the server decoded, by type: bytes as {"bytes": hex}, containers walked."""
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return value


class Ops(Namespace):
    namespace = "/ops"

    @on("ask-timeout")
    async def ask_timeout(self, socket):
        try:
            await socket.timeout(0.3).emit_with_ack("no-answer")
        except AckTimeoutError:
            return "timeout"
        return "answered"

    async def on_ask(self, socket, *args):
        """Ask the client `question` with `args`; acknowledge with what it answered."""
        answer = await socket.emit_with_ack("question", *args)
        return {"answer": list(answer) if isinstance(answer, tuple) else answer}

    async def on_kick(self, socket):
        await socket.disconnect()

    async def on_binary(self, socket, *args):
        """Emit `bin` with bytes nested in a structure; acknowledge with what arrived."""
        await socket.emit("bin", {"data": b"\x00\x01", "list": [b"\xff"]})
        return {"received": _shape(list(args)), "echo": list(args), "extra": [b"\x02\x03"]}

    async def on_join(self, socket, room):
        await socket.join(room)
        return sorted(socket.rooms - {socket.id})

    @on("to-room")
    async def to_room(self, socket, room, *args):
        await socket.to(room).emit("room-message", *args)
        return True

    @on("last-reasons")
    async def last_reasons(self, socket):
        return REASONS

    async def on_disconnect(self, socket, reason):
        REASONS.append({"id": socket.id, "reason": reason})
        del REASONS[:-MAX_REASONS]


#: Disconnects of /flood: {"id", "reason", "t": the server loop's clock}.
FLOOD_REASONS: list[dict[str, Any]] = []


class Flood(Namespace):
    """Broadcasts to the room ``feed`` (every socket joins it) for the slow-consumer tests."""

    namespace = "/flood"

    async def on_connect(self, socket, auth):
        await socket.join("feed")

    async def on_members(self, socket):
        return len(list(socket.nsp.rooms.recipients(BroadcastOptions(rooms=frozenset({"feed"})))))

    async def on_flood(self, socket, count, size, per_tick, tick, volatile=False):
        """Emit `count` ``tick`` events of `size` characters to ``feed``, `per_tick` of them
        every `tick` seconds; acknowledge with the start time and the largest backlog seen."""
        loop = asyncio.get_running_loop()
        operator = socket.nsp.to("feed")
        if volatile:
            operator = operator.volatile
        payload = "x" * size
        engine = socket.nsp.server.engine
        started = loop.time()
        largest = 0
        for i in range(count):
            await operator.emit("tick", i, payload)
            if (i + 1) % per_tick == 0:
                for other in socket.nsp.sockets.values():
                    backlog = engine.backlog(other.client.eio_sid)
                    if backlog is not None:
                        largest = max(largest, backlog[0])
                await asyncio.sleep(tick)
        return {"started": started, "seconds": loop.time() - started, "largest": largest}

    async def on_reasons(self, socket):
        return FLOOD_REASONS

    async def on_disconnect(self, socket, reason):
        FLOOD_REASONS.append(
            {"id": socket.id, "reason": reason, "t": asyncio.get_running_loop().time()}
        )
        del FLOOD_REASONS[:-MAX_REASONS]


#: Disconnect reasons /sync's sync on_disconnect saw: socket id -> reason.
SYNC_REASONS: dict[str, str] = {}

#: Django types and what DjangoJSONEncoder writes for them.
DJANGO_TYPES = {
    "when": datetime.datetime(2026, 12, 2, 16, 30, 5, 123456, tzinfo=datetime.UTC),
    "day": datetime.date(2026, 12, 2),
    "time": datetime.time(9, 30),
    "took": datetime.timedelta(hours=1, seconds=2),
    "amount": decimal.Decimal("1.10"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "label": lazy(lambda: "lazy label", str)(),
    "plain": [1, "two", None],
}
DJANGO_TYPES_JSON = {
    "when": "2026-12-02T16:30:05.123Z",
    "day": "2026-12-02",
    "time": "09:30:00",
    "took": "P0DT01H00M02S",
    "amount": "1.10",
    "id": "12345678-1234-5678-1234-567812345678",
    "label": "lazy label",
    "plain": [1, "two", None],
}


class Sync(Namespace):
    """Sync handlers, as ORM code would write them: not one ``await``."""

    namespace = "/sync"

    def on_connect(self, socket, auth):
        socket.emit("welcome", socket.id)  # held back until the client has its CONNECT

    def on_join(self, socket, room):
        socket.join(room)
        return sorted(socket.rooms - {socket.id})

    def on_leave(self, socket, room):
        socket.leave(room)
        return sorted(socket.rooms - {socket.id})

    @on("to-room")
    def to_room(self, socket, room, *args):
        socket.to(room).emit("room-message", *args)
        return True

    def on_everyone(self, socket, *args):
        io.of("/sync").emit("everyone", *args)
        return True

    def on_ask(self, socket, *args):
        """Ask the client `question`; this worker thread waits for its answer."""
        return socket.timeout(5).emit_with_ack("question", *args)

    def on_kick(self, socket):
        socket.disconnect()  # on_disconnect (sync, the same worker thread) runs meanwhile
        return "never sent: the socket is gone"

    def on_disconnect(self, socket, reason):
        SYNC_REASONS[socket.id] = reason

    def on_reason(self, socket, sid):
        return SYNC_REASONS.get(sid)

    def on_types(self, socket):
        socket.emit("types", DJANGO_TYPES)
        return DJANGO_TYPES

    def on_unencodable(self, socket):
        return {"not json": object()}

    @on("emit-unencodable")
    def emit_unencodable(self, socket):
        socket.emit("cannot-go", {"not json": object()})


#: /recovery's middleware runs, by socket id: the `recovered` flag each run saw.
RECOVERY_MIDDLEWARE_RUNS: dict[str, list[bool]] = {}


def record_middleware_run(socket, auth):
    if len(RECOVERY_MIDDLEWARE_RUNS) > 1000:
        RECOVERY_MIDDLEWARE_RUNS.clear()
    RECOVERY_MIDDLEWARE_RUNS.setdefault(socket.id, []).append(socket.recovered)


class Recovery(Namespace):
    """Connection state recovery (tests/e2e/test_recovery.py, with recovery_settings).

    js/recovery_server.mjs serves the same namespace from Node's socket.io, the reference.
    A second client, the control, drops a socket's transport from the server side and
    emits what it should miss while it is away.
    """

    namespace = "/recovery"
    middlewares = [record_middleware_run]

    @on("join")
    async def join(self, socket, room):
        await socket.join(room)
        return True

    @on("set")
    async def set_data(self, socket, data):
        socket.data.update(data)
        return True

    @on("whoami")
    async def whoami(self, socket):
        return {
            "id": socket.id,
            "rooms": sorted(socket.rooms),
            "data": socket.data,
            "recovered": socket.recovered,
            "middleware": RECOVERY_MIDDLEWARE_RUNS.get(socket.id),
        }

    @on("hello")
    async def hello(self, socket):
        await io.of(self.namespace).emit("hello")
        return True

    @on("drop")
    async def drop(self, socket, sid):
        """Close `sid`'s connection without a DISCONNECT packet: a lost transport."""
        target = io.of(self.namespace).sockets.get(sid)
        if target is None:
            return False
        await io.engine.close(target.client.eio_sid)
        return True

    @on("away")
    async def away(self, socket, sid):
        nsp = io.of(self.namespace)
        await nsp.emit("all", 1)
        await nsp.to("r1").emit("room", 2)
        await nsp.to(sid).emit("direct", 3)
        await nsp.to("r1").emit("bin", b"\x00\x01")
        await nsp.to("r2").emit("not-for-it", 4)
        await nsp.to("r1").volatile.emit("volatile", "v")
        # A socket still in r1 (a half-open connection: cut between two polls, its server
        # does not know yet) never answers: as Node's (which does not wait), no error.
        with contextlib.suppress(AckTimeoutError):
            await nsp.to("r1").timeout(0.1).emit_with_ack("with-ack", 6)
        return True
