"""The class users subclass to handle a namespace: this app's ModelAdmin.

[aio] One instance serves every socket of its namespace; the socket is the
first argument of each handler. Events map to methods by name (``on_<event>``)
or by the `on` decorator for names that are not identifiers. A handler's return
value acknowledges the client's event (a tuple spreads into several arguments).
Sync methods run in a worker thread with Django's database connection handling
(the server wraps them), so ORM code works in either style.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .socket import Socket

F = TypeVar("F", bound=Callable[..., Any])

#: Events that a client may not emit: they name the lifecycle, not user data.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)


def check_event(event: str) -> None:
    """Refuse to emit a reserved event name: clients would take it for a lifecycle event."""
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name")


_LIFECYCLE = frozenset({"on_connect", "on_disconnect", "on_server_event"})
_RESERVED_METHODS = frozenset(f"on_{event}" for event in RESERVED_EVENTS) - _LIFECYCLE


def on(event: str) -> Callable[[F], F]:
    """Handle the event `event` with the decorated method (any name but a reserved one)."""
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name: no client can send it")

    def decorate(method: F) -> F:
        method._socketio_event = event  # type: ignore[attr-defined]
        return method

    return decorate


class Namespace:
    """Subclass and set `namespace` (a path like ``"/chat"`` or a compiled regex).

    Handlers (all optional, sync or async)::

        async def on_connect(self, socket, auth): ...       # raise ConnectionRefused to refuse
        async def on_<event>(self, socket, *args): ...      # return value -> the client's ack
        async def on_disconnect(self, socket, reason): ...
        async def on_server_event(self, event, *args): ...  # from other nodes

    `middlewares` lists connection middlewares for this namespace:
    ``async def mw(socket, auth)``, raising `ConnectionRefused` to refuse.
    """

    namespace: str | re.Pattern[str] = "/"
    middlewares: tuple[Callable[..., Any], ...] = ()
    #: Sync handlers run in Channels' one shared thread (True, what Django's ORM in async
    #: code assumes) or in the event loop's thread pool (False), beside other clients'.
    thread_sensitive: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A handler for a reserved name would look like a lifecycle hook and be reachable
        # by any client that sends that name (audit F16): refuse it where it is written.
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            if name in _RESERVED_METHODS and callable(value):
                raise TypeError(
                    f"{cls.__qualname__}.{name}: {name[3:]!r} is a reserved event name; "
                    "clients cannot send it and the server never calls this method"
                )

    @classmethod
    def event_handlers(cls) -> dict[str, str]:
        """Event name -> method name, for every event this class handles."""
        events: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                event = getattr(value, "_socketio_event", None)
                if event is not None:
                    events[event] = name
                elif name.startswith("on_") and name not in _LIFECYCLE and callable(value):
                    events[name[3:]] = name
        return events

    def on_connect(self, socket: Socket, auth: Any) -> Any:
        return None

    def on_disconnect(self, socket: Socket, reason: str) -> Any:
        return None

    def on_server_event(self, event: str, *args: Any) -> Any:
        """An event another node sent with `server_side_emit`; the result is its ack."""
        return None
