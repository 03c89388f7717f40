"""The async API, callable from sync code too.

[aio] Sync handlers run in a worker thread, where there is no ``await``: there,
``socket.join(room)`` would make a coroutine that nobody awaits and the join
would silently not happen. So every public coroutine method of the socket, the
namespaces, the operators and the server is wrapped by `blocking_outside_loop`:
called on an event loop it returns the awaitable, as before (one C call to
find the loop, nothing else); called from a thread without a running loop it
runs the call on the server's loop, blocks until it is done and returns its
result. ``socket.emit(...)`` in a sync handler just works, and no coroutine of
ours can be dropped on the floor.
"""

from __future__ import annotations

import functools
from asyncio import _get_running_loop
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from .server import SocketIOServer

S = TypeVar("S")
P = ParamSpec("P")
T = TypeVar("T")


def blocking_outside_loop(
    server_of: Callable[[Any], SocketIOServer],
) -> Callable[
    [Callable[Concatenate[S, P], Coroutine[Any, Any, T]]],
    Callable[Concatenate[S, P], Awaitable[T]],
]:
    """Make a coroutine method usable from sync code; `server_of(self)` runs it there.

    Typed as returning an awaitable (what async callers need); from sync code the
    call returns the result itself.
    """

    def decorate(
        method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
    ) -> Callable[Concatenate[S, P], Awaitable[T]]:
        @functools.wraps(method)
        def call(self: S, *args: P.args, **kwargs: P.kwargs) -> Any:
            coro = method(self, *args, **kwargs)
            if _get_running_loop() is not None:
                return coro
            return server_of(self).run_from_thread(coro)

        return call

    return decorate
