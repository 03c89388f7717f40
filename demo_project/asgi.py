"""The demo's ASGI application: Socket.IO at /socket.io/, everything else to Django.

Run it with ``scripts/demo`` (daphne), or ``daphne demo_project.asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")

# Set Django up (and autodiscover the chat app's sockets.py) before importing the routing.
django_asgi_app = get_asgi_application()

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from django_socketio.routing import socketio_application  # noqa: E402

# demo: Django serves /static/ itself, so no collectstatic or web server is needed. A real
# deployment serves static files with its web server or WhiteNoise instead.
application = socketio_application(ASGIStaticFilesHandler(django_asgi_app))
