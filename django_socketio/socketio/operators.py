"""`to()` / `except_()` / `local` / `timeout()` chains that end in an emit.

[aio] Each call returns a new immutable operator; nothing is sent until `emit`.
The options are plain data (`BroadcastOptions`), so the same chain can be
applied on every node.
"""

from __future__ import annotations

from asyncio import _get_running_loop
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .adapter import RemoteSocket
from .blocking import blocking_outside_loop
from .rooms import BroadcastOptions

if TYPE_CHECKING:
    from .server import ServerNamespace
    from .socket import Socket


#: Operator actions run on the server's loop when called from sync code.
_blocking = blocking_outside_loop(lambda operator: operator._nsp.server)


def _rooms(room: str | Iterable[str]) -> frozenset[str]:
    return frozenset([room]) if isinstance(room, str) else frozenset(room)


class BroadcastOperator:
    __slots__ = ("_nsp", "_opts", "_timeout")

    def __init__(
        self,
        nsp: ServerNamespace,
        opts: BroadcastOptions | None = None,
        timeout: float | None = None,
    ) -> None:
        self._nsp = nsp
        self._opts = opts or BroadcastOptions()
        self._timeout = timeout

    def _with(self, **changes: Any) -> BroadcastOperator:
        return BroadcastOperator(self._nsp, replace(self._opts, **changes), self._timeout)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self._with(rooms=self._opts.rooms | _rooms(room))

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        return self._with(except_rooms=self._opts.except_rooms | _rooms(room))

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets connected to this process."""
        return self._with(local=True)

    @property
    def volatile(self) -> BroadcastOperator:
        return self._with(volatile=True)

    def compress(self, value: bool = True) -> BroadcastOperator:
        return self._with(compress=value)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return BroadcastOperator(self._nsp, self._opts, seconds)

    @property
    def options(self) -> BroadcastOptions:
        return self._opts

    @_blocking
    async def emit(self, event: str, *args: Any) -> None:
        """Send `event` to every selected socket, once each."""
        await self._nsp.broadcast(event, args, self._opts)

    @_blocking
    async def send(self, *args: Any) -> None:
        await self.emit("message", *args)

    @_blocking
    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit and gather every recipient's ack (a list) within `timeout(seconds)`.

        Raises `AckTimeoutError` carrying the acks that did arrive.
        """
        return await self._nsp.broadcast_with_ack(event, args, self._opts, self._timeout)

    @_blocking
    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The selected sockets on every node (remote ones as `RemoteSocket`)."""
        remote = await self._nsp.run_remote("fetch_sockets", self._opts, {})
        found: list[Socket | RemoteSocket] = list(self._nsp.select(self._opts))
        found.extend(
            RemoteSocket(
                id=d["id"],
                namespace=d["namespace"],
                rooms=set(d["rooms"]),
                data=d["data"],
                handshake=d["handshake"],
                nsp=self._nsp,
            )
            for answer in remote
            for d in answer or ()
        )
        return found

    @_blocking
    async def sockets_join(self, room: str | Iterable[str]) -> None:
        await self._nsp.run("sockets_join", self._opts, {"rooms": sorted(_rooms(room))})

    @_blocking
    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        await self._nsp.run("sockets_leave", self._opts, {"rooms": sorted(_rooms(room))})

    @_blocking
    async def disconnect_sockets(self, close: bool = False) -> None:
        await self._nsp.run("disconnect_sockets", self._opts, {"close": close})

    def emit_sync(self, event: str, *args: Any) -> None:
        """`emit` from sync code (a Django view, a signal, a task), saying so in its name.

        The same as calling `emit` there. Raises `EmitError` when the event could reach
        no process (see `ServerNamespace.broadcast`).
        """
        if _get_running_loop() is not None:
            raise RuntimeError("emit_sync() was called on an event loop: await emit() instead")
        self._nsp.server.run_from_thread(self._nsp.broadcast(event, args, self._opts))
