"""Hook points for instrumentation: what the server tells an observer, and when.

[aio] The server calls every observer in ``server.observers`` at these points
(nothing is monkey-patched). With no observer, each hook point costs one
emptiness check of that list. Methods are plain functions called inside the
event loop: they must not block and should only record or queue. A broadcast
is reported once, never once per recipient. The Admin UI's development mode
(`django_socketio.admin_ui`) is the first observer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rooms import BroadcastOptions
    from .server import ServerNamespace
    from .socket import Socket


class Observer:
    """Override what you need; every method does nothing by default."""

    def socket_connected(self, socket: Socket) -> None:
        """`socket` is connected (its CONNECT was sent)."""

    def socket_disconnected(self, socket: Socket, reason: str) -> None:
        """A connected socket left, for `reason`."""

    def socket_upgraded(self, socket: Socket) -> None:
        """The socket's connection moved from polling to websocket."""

    def rooms_joined(self, socket: Socket, rooms: list[str]) -> None:
        """A connected socket joined `rooms` (only those it was not in already)."""

    def rooms_left(self, socket: Socket, rooms: list[str]) -> None:
        """A connected socket left `rooms` (only those it was in)."""

    def event_received(self, socket: Socket, event: str, args: list[Any]) -> None:
        """An event from the client, before the handler runs."""

    def event_handled(self, socket: Socket, event: str) -> None:
        """The handler of an event from the client returned or raised.

        The moment a handler's changes to ``socket.data`` are visible (the Admin UI's
        ``socket_updated``): Python has no cheap deep proxy, so a change is looked for
        here rather than on every assignment.
        """

    def event_sent(self, socket: Socket, event: str, args: tuple[Any, ...]) -> None:
        """An event emitted to this one socket (``socket.emit``)."""

    def broadcast_sent(
        self, nsp: ServerNamespace, event: str, args: tuple[Any, ...], opts: BroadcastOptions
    ) -> None:
        """A broadcast from this process, once whatever the number of recipients."""
