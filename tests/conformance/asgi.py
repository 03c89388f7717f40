"""ASGI entry point of the conformance server.

Run with ``daphne -p 3000 tests.conformance.asgi:application`` (or uvicorn).
Serves a plain Engine.IO echo server at ``/engine.io/``: every message goes back
as it came, text as text and binary as binary; and Socket.IO at ``/socket.io/`` with
the handlers of ``tests/conformance/sockets.py``. Both are Engine.IO v4 only, as the
official test suites expect (a request without ``EIO`` gets 400); ``/engine.io-v3/``
and ``/socket.io-v3/`` are the same servers for v3 clients too (``ALLOW_EIO3``), so
v3 and v4 clients share the Socket.IO namespaces and rooms.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.conformance.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()  # sets Django up

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from django_socketio.conf import build_settings, get_settings  # noqa: E402
from django_socketio.engineio.engine import Engine  # noqa: E402
from django_socketio.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402


class Echo:
    """The Engine.IO application: echo every message."""

    engine: Engine

    async def on_connect(self, sid: str, scope: dict) -> None:
        pass

    async def on_message(self, sid: str, data: str | bytes) -> None:
        await self.engine.send(sid, data)

    async def on_disconnect(self, sid: str, reason: str) -> None:
        pass


echo = Echo()
echo.engine = engine = Engine(echo, get_settings().engine)
v4_only = build_settings({"ALLOW_EIO3": False})

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                *http_urlpatterns("engine.io", engine, v4_only),
                *http_urlpatterns("engine.io-v3", engine),
                *http_urlpatterns(settings=v4_only),
                *http_urlpatterns("socket.io-v3"),
                re_path("", django_asgi_app),  # the test views (tests/urls.py)
            ]
        ),
        "websocket": URLRouter(
            [
                *websocket_urlpatterns("engine.io", engine, v4_only),
                *websocket_urlpatterns("engine.io-v3", engine),
                *websocket_urlpatterns(settings=v4_only),
                *websocket_urlpatterns("socket.io-v3"),
            ]
        ),
    }
)
