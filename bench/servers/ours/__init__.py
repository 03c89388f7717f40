"""The bench app on django_socketio: a tiny Django project (settings, asgi, sockets)."""
