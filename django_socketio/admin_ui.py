"""The server side of the official Socket.IO Admin UI (``@socket.io/admin-ui``).

[edge] Turned on by ``SOCKETIO["ADMIN_UI"] = {...}``. The UI connects as an ordinary
client to its namespace (default ``/admin``); this module authenticates it, sends
it ``config``, ``all_sockets`` and ``server_stats``, streams socket and room events
in development mode, and runs its commands (``emit``, ``join``, ``leave``,
``_disconnect``). Protocol: ``shared/specs/admin-ui.md``; reference: socket.io-admin-ui
``lib/index.ts``.

Across processes: every admin event is a broadcast to the admin namespace, so it
reaches the UIs connected to any process; each process reports its own stats under
its own ``serverId``; ``all_sockets`` asks every process for its sockets; commands
are the cluster-wide ``sockets_join`` / ``sockets_leave`` / ``disconnect_sockets`` /
``emit``. Login sessions are kept in Django's cache, so a shared cache lets every
process accept them.

Cost: production mode touches nothing on the message path (``server_stats`` is
computed every few seconds from the counters in `django_socketio.stats`).
Development mode registers an `Observer`, queues one small record per socket event
and emits from one background task; a broadcast is reported once (as an
``event_sent`` to the sockets of a one-socket room at most), never per recipient.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import secrets
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .exceptions import ConnectionRefused
from .live import client_address, cluster_sockets, json_safe, now_iso, serialize
from .socketio.namespace import Namespace, on
from .socketio.observer import Observer
from .stats import STATS

if TYPE_CHECKING:
    from .socketio.rooms import BroadcastOptions
    from .socketio.server import ServerNamespace, SocketIOServer
    from .socketio.socket import Socket

logger = logging.getLogger("django_socketio.admin_ui")

PERMISSION = "django_socketio.operate"
MODES = ("development", "production")
KEYS = {
    "NAMESPACE": str,
    "USERNAME": str,
    "PASSWORD": str,
    "STAFF": bool,
    "AUTH": bool,
    "MODE": str,
    "READONLY": bool,
    "SERVER_ID": str,
    "CACHE": str,
    "SESSION_DURATION": (int, float),
    "STATS_INTERVAL": (int, float),
}
COMMANDS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]
SESSION_PREFIX = "socket.io-admin#"
MAX_QUEUE = 10_000  # development-mode events waiting to be sent; older ones are dropped


@dataclass(frozen=True)
class AdminUIConfig:
    namespace: str = "/admin"
    username: str | None = None
    password: str | None = None  # a Django password hash (make_password)
    staff: bool = True  # a staff user with the `operate` permission, from the session cookie
    auth: bool = True  # False: anyone may connect (explicitly, never by default)
    mode: str = "production"
    readonly: bool = False
    server_id: str | None = None
    cache: str = "default"
    session_duration: float = 86400.0
    stats_interval: float = 2.0

    @classmethod
    def from_setting(cls, value: dict[str, Any], debug: bool = False) -> AdminUIConfig:
        v = {k.lower(): item for k, item in value.items()}
        v.setdefault("mode", "development" if debug else "production")
        return cls(**v)

    @property
    def features(self) -> list[str]:
        features = [] if self.readonly else list(COMMANDS)
        features.append("AGGREGATED_EVENTS")
        if self.mode == "development":
            features.append("ALL_EVENTS")
        return features


def setting_problem(value: Any) -> str | None:
    """What is wrong with ``SOCKETIO["ADMIN_UI"]``, or None (the check's rule)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"must be None or a dict, not {value!r}"
    unknown = sorted(set(value) - set(KEYS), key=str)
    if unknown:
        return f"has unknown key(s) {unknown}; known: {', '.join(KEYS)}"
    for key, kind in KEYS.items():
        if key in value and value[key] is not None:
            item = value[key]
            if not isinstance(item, kind) or (kind is not bool and isinstance(item, bool)):
                return f"[{key!r}] has the wrong type: {item!r}"
    if not str(value.get("NAMESPACE", "/admin")).startswith("/"):
        return f"['NAMESPACE'] must start with '/', not {value['NAMESPACE']!r}"
    if value.get("MODE", "production") not in MODES:
        return f"['MODE'] must be one of {MODES}, not {value['MODE']!r}"
    for key in ("SESSION_DURATION", "STATS_INTERVAL"):
        if key in value and not value[key] > 0:
            return f"[{key!r}] must be a positive number of seconds"
    if ("USERNAME" in value) != ("PASSWORD" in value):
        return "needs both 'USERNAME' and 'PASSWORD', or neither"
    if "PASSWORD" in value:
        from django.contrib.auth.hashers import identify_hasher

        try:
            identify_hasher(value["PASSWORD"])
        except ValueError:
            return (
                "['PASSWORD'] must be a Django password hash "
                "(django.contrib.auth.hashers.make_password('...')), never the password itself"
            )
    if value.get("AUTH", True) and not value.get("STAFF", True) and "USERNAME" not in value:
        return "allows no login: set 'USERNAME' and 'PASSWORD', or 'STAFF': True"
    return None


class AdminUI(Observer):
    """The Admin UI's namespace, stats loop and (development mode) event stream."""

    def __init__(self, server: SocketIOServer, config: AdminUIConfig) -> None:
        self.server = server
        self.config = config
        if config.server_id:
            server.server_id = config.server_id
        self.server_id = server.server_id
        self.nsp = server.of(config.namespace)
        self.nsp.set_handler(AdminNamespace(self))
        self._last = STATS.snapshot()
        self._queue: collections.deque[tuple[str, tuple[Any, ...]]] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        #: Development mode: each connected socket's data as the UI last got it.
        self._data: weakref.WeakKeyDictionary[Socket, Any] = weakref.WeakKeyDictionary()
        if config.mode == "development":
            server.observers.append(self)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Begin sending ``server_stats`` (and the event stream): at the server's start."""
        if self._tasks:
            return
        self._wake = asyncio.Event()
        self._tasks.append(asyncio.ensure_future(self._stats_loop()))
        if self.config.mode == "development":
            self._tasks.append(asyncio.ensure_future(self._event_loop()))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    # -- auth ------------------------------------------------------------------------------

    def _cache(self) -> Any:
        from django.core.cache import caches

        return caches[self.config.cache]

    async def authenticate(self, socket: Socket, auth: Any) -> None:
        """Accept a valid session id, username and password, or staff user; else refuse."""
        config = self.config
        if not config.auth:
            return
        auth = auth if isinstance(auth, dict) else {}
        session_id = auth.get("sessionId")
        if (
            isinstance(session_id, str)
            and session_id
            and await self._cache().aget(SESSION_PREFIX + session_id)
        ):
            return
        username, password = auth.get("username"), auth.get("password")
        if (
            config.username is not None
            and isinstance(username, str)
            and isinstance(password, str)
            and await _check_login(config, username, password)
        ):
            session_id = secrets.token_hex(8)
            await self._cache().aset(SESSION_PREFIX + session_id, 1, config.session_duration)
            await socket.emit("session", session_id)  # held back until after CONNECT
            return
        if config.staff and await _is_operator(socket.user):
            return
        logger.warning(
            "Admin UI login refused for %s",
            client_address(socket.handshake.headers, None) or socket.handshake.address,
        )
        raise ConnectionRefused("invalid credentials")

    # -- what a new admin socket gets -----------------------------------------------------

    async def welcome(self, socket: Socket) -> None:
        await socket.emit("config", {"supportedFeatures": self.config.features})
        if self.config.mode == "development":
            await socket.emit("all_sockets", await self.all_sockets())
        await socket.emit("server_stats", self.server_stats(advance=False))

    async def all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace on every process."""
        return await cluster_sockets(self.server)

    # -- server_stats ----------------------------------------------------------------------

    def server_stats(self, advance: bool = True) -> dict[str, Any]:
        stats = self.server.stats()
        events = self._aggregated(stats) if advance else []
        connections = stats["connections"]
        return {
            "serverId": self.server_id,
            "hostname": stats["hostname"],
            "pid": stats["pid"],
            "uptime": round(stats["uptime"], 3),
            "clientsCount": connections["polling"] + connections["websocket"],
            "pollingClientsCount": connections["polling"],
            "aggregatedEvents": events,
            "namespaces": [
                {"name": name, "socketsCount": len(nsp.sockets)}
                for name, nsp in self.server.namespaces.items()
                if nsp.handler is not None
            ],
        }

    def _aggregated(self, stats: dict[str, Any]) -> list[dict[str, Any]]:
        """What happened since the last emission, from counter deltas (nothing per message)."""
        last, self._last = self._last, {k: stats[k] for k in STATS.snapshot()}
        timestamp = int(time.time()) * 1000
        events: list[dict[str, Any]] = []

        def add(kind: str, count: int, sub_type: str | None = None) -> None:
            if count > 0:
                event: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
                if sub_type is not None:
                    event["subType"] = sub_type
                events.append(event)

        add("rawConnection", stats["connects"] - last["connects"])
        for reason, count in stats["disconnects"].items():
            add("rawDisconnection", count - last["disconnects"].get(reason, 0), reason)
        for kind, key in (
            ("packetsIn", "packets_in"),
            ("packetsOut", "packets_out"),
            ("bytesIn", "bytes_in"),
            ("bytesOut", "bytes_out"),
        ):
            add(kind, sum(stats[key].values()) - sum(last[key].values()))
        return events

    async def _stats_loop(self) -> None:
        while True:
            try:
                await self.nsp.emit("server_stats", self.server_stats())
            except Exception:
                logger.exception("sending the Admin UI's server_stats failed")
            await asyncio.sleep(self.config.stats_interval)

    # -- development mode: the event stream ------------------------------------------------

    def _push(self, event: str, *args: Any) -> None:
        queue = self._queue
        if len(queue) >= MAX_QUEUE:
            queue.popleft()
        queue.append((event, args))
        if self._wake is not None:
            self._wake.set()

    async def _event_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                event, args = self._queue.popleft()
                try:
                    await self.nsp.emit(event, *args)
                except Exception:
                    logger.exception("sending the Admin UI event %s failed", event)

    def _mine(self, socket: Socket) -> bool:
        return socket.nsp is self.nsp

    def socket_connected(self, socket: Socket) -> None:
        serialized = serialize(socket)
        self._data[socket] = serialized["data"]
        self._push("socket_connected", serialized, now_iso())

    def socket_disconnected(self, socket: Socket, reason: str) -> None:
        self._data.pop(socket, None)
        self._push("socket_disconnected", socket.nsp.name, socket.id, reason, now_iso())

    def event_handled(self, socket: Socket, event: str) -> None:
        # socket.data as JSON after each handler, compared with what the UI was last
        # sent: nested changes (a list appended to) count too. Development mode only.
        if socket not in self._data:
            return
        data = json_safe(socket.data)
        if data != self._data[socket]:
            self._data[socket] = data
            self._push("socket_updated", {"id": socket.id, "nsp": socket.nsp.name, "data": data})

    def socket_upgraded(self, socket: Socket) -> None:
        self._push(
            "socket_updated", {"id": socket.id, "nsp": socket.nsp.name, "transport": "websocket"}
        )

    def rooms_joined(self, socket: Socket, rooms: list[str]) -> None:
        for room in rooms:
            self._push("room_joined", socket.nsp.name, room, socket.id, now_iso())

    def rooms_left(self, socket: Socket, rooms: list[str]) -> None:
        for room in rooms:
            self._push("room_left", socket.nsp.name, room, socket.id, now_iso())

    def event_received(self, socket: Socket, event: str, args: list[Any]) -> None:
        if not self._mine(socket):
            self._push("event_received", socket.nsp.name, socket.id, _args(event, args), now_iso())

    def event_sent(self, socket: Socket, event: str, args: tuple[Any, ...]) -> None:
        if not self._mine(socket):
            self._push("event_sent", socket.nsp.name, socket.id, _args(event, args), now_iso())

    def broadcast_sent(
        self, nsp: ServerNamespace, event: str, args: tuple[Any, ...], opts: BroadcastOptions
    ) -> None:
        # Once per broadcast: reported as sent to its single target socket when it names
        # exactly one room that is a local socket id (io.to(sid).emit), else not at all:
        # one admin event per recipient would multiply every broadcast's cost.
        if nsp is self.nsp or len(opts.rooms) != 1:
            return
        (room,) = opts.rooms
        if room in nsp.sockets:
            self._push("event_sent", nsp.name, room, _args(event, list(args)), now_iso())


def _args(event: str, args: Any) -> list[Any]:
    return json_safe([event, *args])


async def _check_login(config: AdminUIConfig, username: str, password: str) -> bool:
    from asgiref.sync import sync_to_async
    from django.contrib.auth.hashers import check_password

    name_ok = hmac.compare_digest(username.encode(), (config.username or "").encode())
    # Always hash (in a thread: hashers are slow on purpose), so timing tells nothing.
    password_ok = await sync_to_async(check_password, thread_sensitive=False)(
        password, config.password
    )
    return name_ok and password_ok


async def _is_operator(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not (user.is_active and user.is_staff):
        return False
    from channels.db import database_sync_to_async

    return await database_sync_to_async(user.has_perm)(PERMISSION)


class AdminNamespace(Namespace):
    """The handler of the admin namespace: login, welcome, and the UI's commands."""

    namespace = "/admin"

    def __init__(self, ui: AdminUI) -> None:
        self.ui = ui

    async def on_connect(self, socket: Socket, auth: Any) -> None:
        await self.ui.authenticate(socket, auth)
        self.ui.server.spawn(self.ui.welcome(socket))

    def _target(self, nsp: Any, room: Any) -> Any:
        if self.ui.config.readonly or not isinstance(nsp, str) or not nsp.startswith("/"):
            return None
        namespace = self.ui.server.of(nsp)
        return namespace.in_(room) if isinstance(room, str) and room else namespace

    async def on_emit(self, socket: Socket, nsp: Any = None, room: Any = None, *args: Any) -> None:
        target = self._target(nsp, room)
        if target is not None and args and isinstance(args[0], str):
            await target.emit(args[0], *args[1:])

    async def on_join(self, socket: Socket, nsp: Any = None, room: Any = None, filter: Any = None):
        target = self._target(nsp, filter)
        if target is not None and isinstance(room, str):
            await target.sockets_join(room)

    async def on_leave(self, socket: Socket, nsp: Any = None, room: Any = None, filter: Any = None):
        target = self._target(nsp, filter)
        if target is not None and isinstance(room, str):
            await target.sockets_leave(room)

    @on("_disconnect")
    async def disconnect_sockets(
        self, socket: Socket, nsp: Any = None, close: Any = False, filter: Any = None
    ) -> None:
        target = self._target(nsp, filter)
        if target is not None:
            await target.disconnect_sockets(bool(close))


def install(server: SocketIOServer, value: dict[str, Any], debug: bool = False) -> AdminUI:
    """Serve the Admin UI protocol on `server` as ``SOCKETIO["ADMIN_UI"]`` says."""
    return AdminUI(server, AdminUIConfig.from_setting(value, debug))
