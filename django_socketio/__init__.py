"""django-channels-socketio: a Socket.IO server for Django, built on Channels.

The names users need are importable from here. `io`, `register` and `Socket` load
lazily, so importing this package reads no settings and imports no Channels code.
Type checkers see them as what they are (the package ships ``py.typed``): the
lazy module ``__getattr__`` exists only at run time, so a misspelt name or method
is an error to mypy, not an ``Any``.
"""

from typing import TYPE_CHECKING, Any

from .exceptions import (
    AckTimeoutError,
    ConnectionRefused,
    EmitError,
    EncodeError,
    RoomLimitExceeded,
)
from .socketio.namespace import Namespace, on

__version__ = "0.1.0"

__all__ = [
    "AckTimeoutError",
    "ConnectionRefused",
    "EmitError",
    "EncodeError",
    "Namespace",
    "RoomLimitExceeded",
    "Socket",
    "io",
    "on",
    "register",
]


if TYPE_CHECKING:
    from .registry import register
    from .server import io
    from .socketio.socket import Socket
else:

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
