"""Acknowledgements awaited by one end of a namespace connection.

[aio] One table, used by the server's `Socket` and by the test client
(`SocketIOCommunicator`), so that both number their acks, answer them and fail
them on disconnection the same way. A waiter is a callback taking the ack's
arguments, or a future that receives them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

Waiter = Callable[[list[Any]], Any] | asyncio.Future[list[Any]]


class AckTable:
    """Ack id -> what waits for it; ids count up from 0 per table, as the JS client's do."""

    __slots__ = ("_ids", "_waiters")

    def __init__(self) -> None:
        self._waiters: dict[int, Waiter] = {}
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._waiters)

    def register(self, waiter: Waiter) -> int:
        """A new ack id whose answer goes to `waiter`."""
        ack_id = next(self._ids)
        self._waiters[ack_id] = waiter
        return ack_id

    def future(self) -> tuple[int, asyncio.Future[list[Any]]]:
        """A new ack id and the future its answer will resolve."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        return self.register(future), future

    def forget(self, ack_id: int | None) -> Waiter | None:
        """Stop waiting for `ack_id` (timed out, not sent); a late answer is then ignored."""
        return self._waiters.pop(ack_id, None) if ack_id is not None else None

    def resolve(self, ack_id: int | None, args: list[Any]) -> Callable[[list[Any]], Any] | None:
        """An answer arrived: resolve its future, or return its callback for the caller to run.

        Unknown, forgotten or repeated ids are ignored (None).
        """
        waiter = self.forget(ack_id)
        if isinstance(waiter, asyncio.Future):
            if not waiter.done():
                waiter.set_result(args)
            return None
        return waiter

    def fail_all(self, error: BaseException) -> None:
        """The connection is gone: whoever awaits an ack learns it now, not never."""
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            if isinstance(waiter, asyncio.Future) and not waiter.done():
                waiter.set_exception(error)
                waiter.exception()  # retrieved: no "never retrieved" warning if nobody waits
