"""The project's Socket.IO server, `io`, wired to Django.

[edge] Fills in the hooks of the plain-asyncio `SocketIOServer`: settings from
``SOCKETIO``, sync handlers run through Channels' `database_sync_to_async`
(a worker thread that closes stale DB connections), and the Django user and
session read once per connection from the handshake's cookies.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from channels.db import database_sync_to_async

from . import live
from .conf import get_settings
from .shutdown import stop_with_daphne
from .socketio.adapter import Adapter
from .socketio.packets import JSONParser
from .socketio.server import Client, SocketIOServer

logger = logging.getLogger("django_socketio")
T = TypeVar("T")

#: Seconds a stopping process spends closing (and, with recovery, keeping) its sessions.
SHUTDOWN_TIMEOUT = 10.0


class DjangoSocketIOServer(SocketIOServer):
    admin_ui: Any = None  # the AdminUI, when SOCKETIO["ADMIN_UI"] is set
    _feed_started: asyncio.Future[None] | None = None  # the Redis recovery log's reader
    _stop_hooked = False  # `stop` runs when daphne shuts down
    _from_threads = 0  # run_from_thread calls waiting for this loop

    async def stop(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Stop serving: on SIGTERM under daphne, at lifespan.shutdown under uvicorn.

        New sessions are refused (HTTP 503), every open one is closed as a forced
        server close: with recovery on, kept in the store (a Redis store: for its
        client to recover on another process), then the other processes are told.
        Bounded by `timeout`: a process that cannot reach its store still exits.
        """
        if self.engine.stopping:
            return
        self.engine.stopping = True  # for good: the process exits next
        logger.info("stopping: closing %d sessions", len(self.engine.connections))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await asyncio.wait_for(self.engine.shutdown(), timeout)
        except TimeoutError:
            logger.warning("sessions still open after %s s of shutting down", timeout)
        # emit_sync calls from views running now need this loop to finish
        while self._from_threads and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await self.adapter.stop()

    def configure(self) -> None:
        settings = get_settings()
        self.engine_config = settings.engine
        self.connect_timeout = settings.connect_timeout
        self.use_parser(settings.parser)
        default = json_default(settings.json_encoder)
        for parser in self.parsers.values():
            parser.max_attachments = settings.max_attachments
            if hasattr(parser, "max_depth"):
                parser.max_depth = settings.max_depth
            if hasattr(parser, "max_attachment_bytes"):
                # A binary packet, attachments included, is at most MAX_PAYLOAD bytes on
                # either transport (a polling POST carries it whole).
                parser.max_attachment_bytes = settings.engine.max_payload
            if isinstance(parser, JSONParser):
                parser.default = default
        self.inbound = settings.inbound
        if settings.recovery is not None and self.recovery is None:
            from .recovery_store import LoopStores, redis_target

            target = redis_target(settings.recovery, settings.channel_layer)
            store = None if target is None else LoopStores(*target, settings.recovery)
            self.enable_recovery(settings.recovery, store)
        live.install(self)
        if settings.admin_ui is not None and self.admin_ui is None:
            from django.conf import settings as django_settings

            from .admin_ui import install

            self.admin_ui = install(self, settings.admin_ui, django_settings.DEBUG)

    async def start(self) -> None:
        await super().start()
        if not self._stop_hooked:
            self._stop_hooked = stop_with_daphne(self.stop)
        if self.admin_ui is not None:
            self.admin_ui.start()
        if getattr(self.recovery_store, "delivers", False):
            await self._start_recovery_feed()

    async def _start_recovery_feed(self) -> None:
        """Read the Redis recovery log from now on (a serving process: it has sockets)."""
        if self._feed_started is None:
            from .recovery_redis import StreamFeed

            self.recovery_feed = StreamFeed(self.recovery_store.current(), self.deliver_entry)
            self._feed_started = asyncio.ensure_future(self.recovery_feed.start())
        if not self._feed_started.done():
            await asyncio.shield(self._feed_started)

    def make_adapter(self) -> Adapter:
        from channels.layers import get_channel_layer

        from .adapter import ChannelLayerAdapter

        settings = get_settings()
        layer = get_channel_layer(settings.channel_layer) if settings.channel_layer else None
        if layer is None:
            if settings.channel_layer:
                logger.warning(
                    "CHANNEL_LAYERS has no alias %r (SOCKETIO['CHANNEL_LAYER']): rooms and "
                    "broadcasts stay in this process; see `manage.py check`",
                    settings.channel_layer,
                )
            return Adapter()
        return ChannelLayerAdapter(
            self,
            layer,
            heartbeat_interval=settings.node_heartbeat_interval,
            node_timeout=settings.node_timeout,
            request_timeout=settings.request_timeout,
            node_capacity=settings.node_channel_capacity,
            forwarded_requests=settings.forwarded_requests,
        )

    def bind_handler(self, method: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        bound = super().bind_handler(method)
        if bound is method:
            return bound
        # Channels' shared thread by default (what the ORM in async Django assumes);
        # `thread_sensitive = False` on the class moves them to the loop's thread pool.
        owner = getattr(method, "__self__", None)
        sensitive = bool(getattr(owner, "thread_sensitive", True))
        return database_sync_to_async(method, thread_sensitive=sensitive)

    async def authenticate(self, client: Client) -> None:
        client.user, client.session = await _user_and_session(client.scope)

    def run_from_thread(self, coro: Coroutine[Any, Any, T]) -> T:
        """Through asgiref, so that sync code our coroutine calls in turn (a sync
        ``on_disconnect`` after ``socket.disconnect()`` in a sync handler) runs in this
        same thread instead of waiting for it: the thread-sensitive worker is blocked
        right here. Inside a sync handler or a sync view, asgiref runs the coroutine on
        the server's loop; from any other thread, we hop there ourselves."""
        from asgiref.sync import async_to_sync

        if self._engine is not None and self._engine.stopping:  # (not set up: no loop yet)
            # The server's loop stops soon and would leave this thread waiting forever
            # (the interpreter then never exits): a loop of our own.
            return asyncio.run(coro)

        async def run() -> T:
            loop = self.loop
            if loop is None or loop is asyncio.get_running_loop() or not loop.is_running():
                return await coro
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

        self._from_threads += 1
        try:
            return async_to_sync(run)()
        finally:
            self._from_threads -= 1

    def unreachable_reason(self) -> str:
        settings = get_settings()
        alias = settings.channel_layer
        if alias is None:
            return (
                "this process serves no Socket.IO clients, and SOCKETIO['CHANNEL_LAYER'] is "
                "None (this process only). Set it to a CHANNEL_LAYERS alias shared with the "
                "server processes (channels_redis)."
            )
        layers = _channel_layers()
        if alias not in layers:
            where = (
                f"CHANNEL_LAYERS has no {alias!r} (it has {', '.join(map(repr, layers))})"
                if layers
                else "CHANNEL_LAYERS is not set"
            )
            return (
                f"this process serves no Socket.IO clients, and {where}. Configure a channel "
                "layer shared with the server processes (channels_redis) under the alias "
                f"SOCKETIO['CHANNEL_LAYER'] names ({alias!r})."
            )
        return (
            f"this process serves no Socket.IO clients, and channel layer {alias!r} reaches "
            "no other process (the in-memory layer only reaches its own). Use channels_redis."
        )


def _channel_layers() -> dict[str, Any]:
    from django.conf import settings

    layers = getattr(settings, "CHANNEL_LAYERS", None)
    return layers if isinstance(layers, dict) else {}


def json_default(dotted_path: str) -> Callable[[Any], Any]:
    """The `default` method of the SOCKETIO["JSON_ENCODER"] class: what JSON cannot write."""
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    try:
        encoder = import_string(dotted_path)
        if not (isinstance(encoder, type) and issubclass(encoder, json.JSONEncoder)):
            raise TypeError(f"{encoder!r} is not a json.JSONEncoder subclass")
        return encoder().default
    except (ImportError, TypeError) as exc:
        raise ImproperlyConfigured(f"SOCKETIO['JSON_ENCODER']: {exc}") from exc


async def _user_and_session(scope: dict[str, Any]) -> tuple[Any, Any]:
    from django.apps import apps

    if "user" in scope:  # the project wrapped us in Channels' AuthMiddlewareStack
        return scope["user"], scope.get("session")
    if not apps.is_installed("django.contrib.sessions") or not apps.is_installed(
        "django.contrib.auth"
    ):
        return None, None
    from importlib import import_module

    from channels.auth import get_user
    from django.conf import settings
    from django.utils.module_loading import import_string  # noqa: F401

    cookies = _cookies(scope)
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(cookies.get(settings.SESSION_COOKIE_NAME))
    # Off the shared sync thread, where sync handlers queue: a CONNECT never waits
    # behind another client's handlers (audit F5).
    lookup = getattr(get_user, "func", None)
    if lookup is not None:
        user = await database_sync_to_async(lookup, thread_sensitive=False)(
            {**scope, "session": session}
        )
    else:
        user = await get_user({**scope, "session": session})
    return user, session


def _cookies(scope: dict[str, Any]) -> dict[str, str]:
    from django.http.cookie import parse_cookie

    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1"))
    return {}


io = DjangoSocketIOServer()
