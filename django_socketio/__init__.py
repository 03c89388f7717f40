"""django-channels-socketio: a Socket.IO server for Django, built on Channels."""

__version__ = "0.1.0"
