"""What the Socket.IO server needs from "the other nodes", and the one-node default.

[aio] `Adapter` is the interface the server calls after doing the local part of
every room change, broadcast and query; this base class has no other nodes, so
it does nothing and answers with empty lists. `django_socketio.adapter` puts
the same interface on a Channels layer, so rooms and broadcasts span processes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .blocking import delegating
from .rooms import BroadcastOptions

if TYPE_CHECKING:
    from ..internode import NamespaceProtocol
    from .server import ServerNamespace


class Adapter:
    """A single node: nothing to tell anyone."""

    async def start(self) -> None:
        """Begin receiving from other nodes (called before the first connection)."""

    async def stop(self) -> None:
        """Stop receiving."""

    async def rooms_created(self, nsp: NamespaceProtocol, rooms: list[str]) -> None:
        """The first local socket joined these rooms."""

    async def rooms_emptied(self, nsp: NamespaceProtocol, rooms: list[str]) -> None:
        """The last local socket left these rooms."""

    async def publish(
        self,
        nsp: NamespaceProtocol,
        frames: dict[str, list[str | bytes]],
        opts: BroadcastOptions,
        *,
        strict: bool = False,
    ) -> bool:
        """Deliver an encoded broadcast to the matching sockets on the other nodes.

        `frames` holds the packet encoded by each parser in use (name -> messages).
        True if it was handed to them, False if there is no one to hand it to (or,
        unless `strict`, the transport failed: logged). With `strict` a failure raises
        `EmitError`: the caller has no clients of its own, so it must hear of it.
        """
        return False

    async def broadcast_with_ack(
        self,
        nsp: NamespaceProtocol,
        event: str,
        args: tuple[Any, ...],
        opts: BroadcastOptions,
        timeout: float | None,
    ) -> tuple[list[Any], bool]:
        """Emit to remote recipients and gather their acks: (responses, complete)."""
        return [], True

    async def request(
        self,
        nsp: NamespaceProtocol,
        kind: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> list[Any]:
        """Ask every other node; one answer per node that answered in time."""
        return []


@dataclass
class RemoteSocket:
    """A socket on another node, as `fetch_sockets()` returns it.

    It can be told to emit, join, leave or disconnect; those travel to its node.
    """

    id: str
    namespace: str
    rooms: set[str]
    data: dict[str, Any]
    handshake: dict[str, Any]
    nsp: ServerNamespace = field(repr=False, compare=False)

    # Awaitable, or run at once from sync code, like the operators they use.

    @delegating
    def emit(self, event: str, *args: Any) -> Awaitable[None]:
        return self.nsp.to(self.id).emit(event, *args)

    @delegating
    def join(self, rooms: str | list[str]) -> Awaitable[None]:
        return self.nsp.in_(self.id).sockets_join(rooms)

    @delegating
    def leave(self, room: str) -> Awaitable[None]:
        return self.nsp.in_(self.id).sockets_leave(room)

    @delegating
    def disconnect(self, close: bool = False) -> Awaitable[None]:
        return self.nsp.in_(self.id).disconnect_sockets(close)
