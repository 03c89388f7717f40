"""The routes a project adds to its ASGI application.

[edge] Typical ``asgi.py``::

    django_asgi_app = get_asgi_application()
    from django_socketio.routing import socketio_application
    application = socketio_application(django_asgi_app)

To keep other Channels websocket routes, pass them as
``socketio_application(django_asgi_app, websocket_fallback=URLRouter([...]))``; or
put `http_urlpatterns()` and `websocket_urlpatterns()` in your own `URLRouter`s.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import re_path

from .conf import Settings, get_settings
from .engineio.consumers import PollingConsumer, WebsocketConsumer
from .engineio.engine import Engine


def project_engine() -> Engine:
    """The engine of the project's Socket.IO server, `django_socketio.io`.

    Routing is where the layers meet: the Engine.IO consumers are handed this
    (called per request, so `io` builds its engine lazily, after settings load).
    """
    from .server import io

    return io.engine


def _serving(engine: Engine | None) -> None:
    """This process builds the endpoint of the project's `io`: emits here reach clients."""
    if engine is None:
        from .server import io

        io.serving = True


def _pattern(path: str | None) -> str:
    path = (path if path is not None else get_settings().path).strip("/")
    return rf"^{re.escape(path)}/?$"


def _urlpatterns(
    consumer: type[PollingConsumer | WebsocketConsumer],
    path: str | None,
    engine: Engine | None,
    settings: Settings | None,
) -> list[Any]:
    _serving(engine)
    app = consumer.as_asgi(engine=engine or project_engine, settings=settings)
    return [re_path(_pattern(path), app)]


def http_urlpatterns(
    path: str | None = None, engine: Engine | None = None, settings: Settings | None = None
) -> list[Any]:
    """Long-polling at ``/<path>/`` (default: ``SOCKETIO["PATH"]``, ``socket.io``)."""
    return _urlpatterns(PollingConsumer, path, engine, settings)


def websocket_urlpatterns(
    path: str | None = None, engine: Engine | None = None, settings: Settings | None = None
) -> list[Any]:
    """The websocket transport at ``/<path>/``."""
    return _urlpatterns(WebsocketConsumer, path, engine, settings)


class SocketIOApplication:
    """Socket.IO at its path; other HTTP requests to `fallback` (your Django app).

    A path comparison instead of a URL router, and one consumer instance for every
    connection (the consumers keep no per-connection state on themselves): routing
    is paid on every polling request, so it should cost nothing. Websockets to other
    paths go to `websocket_fallback` (e.g. your Channels `URLRouter`), or are refused.
    The ASGI lifespan protocol (uvicorn) starts the cross-process adapter at startup.
    """

    def __init__(
        self,
        fallback: Any = None,
        *,
        websocket_fallback: Any = None,
        path: str | None = None,
        engine: Engine | None = None,
        settings: Settings | None = None,
    ) -> None:
        path = (path if path is not None else (settings or get_settings()).path).strip("/")
        self.paths = frozenset({f"/{path}", f"/{path}/"})
        self.fallback = fallback
        self.websocket_fallback = websocket_fallback
        self.polling = PollingConsumer(engine=engine or project_engine, settings=settings)
        self.websocket = WebsocketConsumer(engine=engine or project_engine, settings=settings)
        _serving(engine)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"] in self.paths:
                return await self.polling(scope, receive, send)
            if self.fallback is not None:
                return await self.fallback(scope, receive, send)
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"Not Found"})
        elif kind == "websocket":
            if scope["path"] in self.paths:
                return await self.websocket(scope, receive, send)
            if self.websocket_fallback is not None:
                return await self.websocket_fallback(scope, receive, send)
            await receive()
            await send({"type": "websocket.close"})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        from .server import io

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await io.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await io.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def socketio_application(
    django_asgi_app: Any = None, websocket_fallback: Any = None
) -> SocketIOApplication:
    """Socket.IO at ``SOCKETIO["PATH"]``; every other HTTP request goes to Django.

    With ``DEBUG`` and ``django.contrib.staticfiles`` installed, static files are
    served the way ``runserver`` serves them, under daphne and uvicorn too (a page
    and its ``socket.io.min.js`` work in development without a ``collectstatic``).
    """
    _require_app()
    if django_asgi_app is not None and _serve_static_files():
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)
    return SocketIOApplication(django_asgi_app, websocket_fallback=websocket_fallback)


def _require_app() -> None:
    """Without the app, no ``sockets.py`` is found and every client gets "Invalid namespace"."""
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if apps.ready and not apps.is_installed("django_socketio"):
        raise ImproperlyConfigured(
            "'django_socketio' is not in INSTALLED_APPS: add it (after 'channels'), or no "
            "sockets.py module is found and every client gets 'Invalid namespace'."
        )


def _serve_static_files() -> bool:
    from django.apps import apps
    from django.conf import settings

    return bool(
        settings.DEBUG
        and getattr(settings, "STATIC_URL", None)
        and apps.ready
        and apps.is_installed("django.contrib.staticfiles")
    )
