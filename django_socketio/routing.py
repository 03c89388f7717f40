"""The routes a project adds to its ASGI application.

[edge] Typical ``asgi.py``::

    django_asgi_app = get_asgi_application()
    from django_socketio.routing import socketio_application
    application = socketio_application(django_asgi_app)

or, to compose with other Channels routes, put `http_urlpatterns()` and
`websocket_urlpatterns()` in your own `URLRouter`s.
"""

from __future__ import annotations

import re
from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path

from .conf import Settings, get_settings
from .engineio.consumers import PollingConsumer, WebsocketConsumer
from .engineio.engine import Engine


def _pattern(path: str | None) -> str:
    path = (path if path is not None else get_settings().path).strip("/")
    return rf"^{re.escape(path)}/?$"


def http_urlpatterns(
    path: str | None = None, engine: Engine | None = None, settings: Settings | None = None
) -> list[Any]:
    """Long-polling at ``/<path>/`` (default: ``SOCKETIO["PATH"]``, ``socket.io``)."""
    return [re_path(_pattern(path), PollingConsumer.as_asgi(engine=engine, settings=settings))]


def websocket_urlpatterns(
    path: str | None = None, engine: Engine | None = None, settings: Settings | None = None
) -> list[Any]:
    """The websocket transport at ``/<path>/``."""
    return [re_path(_pattern(path), WebsocketConsumer.as_asgi(engine=engine, settings=settings))]


def socketio_application(django_asgi_app: Any = None) -> ProtocolTypeRouter:
    """Socket.IO at its path; every other HTTP request goes to Django."""
    http = list(http_urlpatterns())
    if django_asgi_app is not None:
        http.append(re_path(r"", django_asgi_app))
    return ProtocolTypeRouter(
        {"http": URLRouter(http), "websocket": URLRouter(websocket_urlpatterns())}
    )
