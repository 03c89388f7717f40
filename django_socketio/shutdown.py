"""Stopping gracefully under daphne, which has no ASGI lifespan.

[edge] On SIGTERM (or SIGINT) daphne's Twisted reactor runs its "before shutdown"
triggers and waits for the Deferreds they return, with the asyncio loop still
running. daphne's own trigger cancels every application instance, which leaves
the Engine.IO sessions where they are; the trigger added here runs the server's
`stop` on them: each session is closed as a forced server close, so that with
connection state recovery and a shared store it is kept for its client to recover
on another process, and the other processes are told this one is gone. uvicorn
sends ``lifespan.shutdown`` instead (`routing.py`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any


def stop_with_daphne(stop: Callable[[], Coroutine[Any, Any, None]]) -> bool:
    """Run `stop` before a running Twisted reactor (daphne) shuts down; False if none runs."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not getattr(reactor, "running", False):
        return False
    from twisted.internet.defer import Deferred

    loop = asyncio.get_running_loop()

    def before_shutdown() -> Deferred[None]:
        return Deferred.fromFuture(loop.create_task(stop()))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    return True
