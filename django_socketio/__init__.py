"""django-channels-socketio: a Socket.IO server for Django, built on Channels.

The names users need are importable from here. `io` and `register` load lazily,
so importing this package reads no settings and imports no Channels code.
"""

from typing import Any

from .exceptions import AckTimeoutError, ConnectionRefused
from .socketio.namespace import Namespace, on

__version__ = "0.1.0"

__all__ = [
    "AckTimeoutError",
    "ConnectionRefused",
    "Namespace",
    "Socket",
    "io",
    "on",
    "register",
]


def __getattr__(name: str) -> Any:
    if name == "io":
        from .server import io

        return io
    if name == "register":
        from .registry import register

        return register
    if name == "Socket":
        from .socketio.socket import Socket

        return Socket
    raise AttributeError(f"module 'django_socketio' has no attribute {name!r}")
