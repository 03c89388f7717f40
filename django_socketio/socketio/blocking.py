"""The async API, callable from sync code too.

[aio] Sync handlers run in a worker thread, where there is no ``await``: there,
``socket.join(room)`` would make a coroutine that nobody awaits and the join
would silently not happen. So every public coroutine method of the socket, the
namespaces, the operators and the server is wrapped by `blocking_outside_loop`:
called on an event loop it returns the awaitable, as before (one C call to
find the loop, nothing else); called from a thread without a running loop it
runs the call on the server's loop, blocks until it is done and returns its
result. ``socket.emit(...)`` in a sync handler just works.

On a loop, the awaitable is a thin `Call` around the coroutine: forgetting its
``await`` in an async handler is logged as an error in the ``django_socketio``
logger, naming the method, when the call is garbage collected. Python's own
"coroutine was never awaited" RuntimeWarning is a warning that daphne (Twisted)
does not show, so without this the emit would vanish without a word.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import sys
from asyncio import _get_running_loop
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from .server import SocketIOServer

S = TypeVar("S")
P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("django_socketio")
_PACKAGE = __name__.split(".", 1)[0] + "."


class Call(Coroutine[Any, Any, T]):
    """One call of our async API: awaitable (and a coroutine, for `create_task`), and
    loud if dropped without ever being awaited."""

    __slots__ = ("_coro", "_name", "_used")

    def __init__(self, coro: Coroutine[Any, Any, T], name: str) -> None:
        self._coro = coro
        self._name = name
        self._used = False

    def __await__(self) -> Generator[Any, None, T]:
        self._used = True
        return self._coro.__await__()

    def send(self, value: Any) -> Any:
        self._used = True
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        self._used = True
        return self._coro.throw(*args)

    def close(self) -> None:
        self._used = True
        self._coro.close()

    def __del__(self) -> None:
        if not self._used:
            self._coro.close()  # instead of Python's RuntimeWarning, which daphne hides
            logger.error(
                "%s() was called without await, so it did nothing. In async code write "
                "`await %s(...)`; from sync code (a sync handler) call it without await.",
                self._name,
                self._name,
            )


def _for_async_to_sync() -> bool:
    """Is this call asgiref's ``async_to_sync(io.emit)(...)`` asking for the awaitable?

    asgiref calls the function in the sync thread and awaits what it returns on the
    loop, so there the awaitable is wanted, not the result. Found by the first frame
    above ours (our methods delegate to each other) being ``AsyncToSync.__call__``.
    """
    sync = sys.modules.get("asgiref.sync")
    if sync is None:
        return False
    target = sync.AsyncToSync.__call__.__code__
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_PACKAGE):
        frame = frame.f_back
    return frame is not None and frame.f_code is target


def _mark_coroutine_function(function: Callable[..., Any]) -> None:
    """Tell `asyncio.iscoroutinefunction` (and asgiref) that it returns an awaitable."""
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:  # Python 3.12+
        mark(function)
    else:
        function._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]


F = TypeVar("F", bound=Callable[..., Any])


def delegating(function: F) -> F:
    """A plain method that returns another's `blocking_outside_loop` call: marked like it,
    so that ``async_to_sync(io.emit)`` takes it without a warning."""
    _mark_coroutine_function(function)
    return function


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
        name = method.__qualname__

        @functools.wraps(method)
        def call(self: S, *args: P.args, **kwargs: P.kwargs) -> Any:
            coro = method(self, *args, **kwargs)
            if _get_running_loop() is not None or _for_async_to_sync():
                return Call(coro, name)
            return server_of(self).run_from_thread(coro)

        _mark_coroutine_function(call)
        return call

    return decorate
