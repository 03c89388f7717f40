"""``daphne --websocket_timeout -1 ours.asgi:application`` (from bench/servers)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ours.settings")
django_asgi_app = get_asgi_application()

from django_socketio.routing import socketio_application  # noqa: E402

application = socketio_application(django_asgi_app)
