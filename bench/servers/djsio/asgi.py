"""``daphne --websocket_timeout -1 djsio.asgi:application`` (from bench/servers)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsio.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from djsio.consumers import BenchConsumer  # noqa: E402

sio_app = BenchConsumer.as_asgi()

application = ProtocolTypeRouter(
    {
        "http": URLRouter([re_path(r"^socket\.io/?$", sio_app), re_path(r"", django_asgi_app)]),
        "websocket": URLRouter([re_path(r"^socket\.io/?$", sio_app)]),
    }
)
