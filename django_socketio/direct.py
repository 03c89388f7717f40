"""Messages to one other process in one Redis command, on a channels-redis layer's Redis.

[edge] A forwarded polling request is two unicast messages (the request to the
owner, its answer back). `RedisChannelLayer` spends eight Redis round trips on
each (ZREMRANGEBYSCORE, ZCOUNT, ZADD and EXPIRE to send; a cleanup script,
BZPOPMIN, ZADD and ZPOPMIN to receive), every one a loopback write and a
wake-up, and reads its channel one message at a time: that made a forwarded
poll cost about five times a local one. Here a message to a node channel is
one PUBLISH on a pub/sub channel named after it, read by the node on one
subscribed connection (no command per message received); publishes queued
behind one in flight go out together, in order, in one write.

Only unicast messages take this path; groups stay on the layer. A PUBLISH that
no process received (the other process has no direct path, or is restoring its
subscription after a Redis outage) counts 0 subscribers, and the caller sends
through the layer instead: any mix of processes keeps working. A PUBLISH that
failed mid-way (Redis went away) is not sent again (it may have arrived: a
POST must not be fed twice); a message in flight when a subscribed connection
breaks is lost, and its request fails like one to a silent owner. Messages are
serialised by the layer's own serializer, so its encryption keys apply.
The layer's `hosts` and prefix are read from channels-redis objects (its
`_shards` for the pub/sub layer): a channels-redis upgrade is checked by the
multi-node tests, which run on both layers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("django_socketio.adapter")


class DirectError(Exception):
    """A PUBLISH that may or may not have reached its process (Redis failed meanwhile)."""


Deliver = Callable[[dict[str, Any]], Awaitable[None]]


def _redis_hosts(layer: Any) -> tuple[list[dict[str, Any]], str] | None:
    """(hosts, prefix) of a channels-redis layer, or None for any other layer."""
    try:
        from channels_redis.core import RedisChannelLayer
        from channels_redis.pubsub import RedisPubSubChannelLayer
    except ImportError:
        return None
    if isinstance(layer, RedisChannelLayer):
        return list(layer.hosts), layer.prefix
    if isinstance(layer, RedisPubSubChannelLayer):
        loop_layer = layer._get_layer()  # the pub/sub layer keeps its hosts per event loop
        return [shard.host for shard in loop_layer._shards], loop_layer.prefix
    return None


class _Publisher:
    """One connection to one Redis; what queues while a batch is out goes in the next.

    A plain connection, not redis-py's client or pipeline: their pool, retry and
    response machinery cost a third of a PUBLISH's CPU here.
    """

    def __init__(self, host: dict[str, Any]) -> None:
        from channels_redis.utils import create_pool

        self.pool = create_pool(host)
        self.connection: Any = None
        self.queue: list[tuple[str, bytes, asyncio.Future[bool]]] = []
        self.wake = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    def publish(self, name: str, data: bytes) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.queue.append((name, data, done))
        self.wake.set()
        return done

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.queue = self.queue, []
            if not batch:
                continue
            try:
                if self.connection is None:
                    self.connection = await self.pool.get_connection()
                connection = self.connection
                commands = [("PUBLISH", name, data) for name, data, _ in batch]
                await connection.send_packed_command(connection.pack_commands(commands), False)
                counts = [await connection.read_response() for _ in batch]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Not retried through the layer: some of these may have been delivered,
                # and a forwarded POST must not be fed twice. The next batch reconnects.
                with contextlib.suppress(Exception):
                    await self.connection.disconnect()
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(DirectError(f"direct publish failed: {exc}"))
                continue
            for (_, _, done), count in zip(batch, counts, strict=True):
                if not done.done():
                    done.set_result(bool(count))

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        for _, _, done in self.queue:
            if not done.done():
                done.set_result(False)
        await self.pool.disconnect()


class DirectPath:
    """Unicast between node channels over Redis pub/sub, beside a channels-redis layer."""

    def __init__(self, hosts: list[dict[str, Any]], prefix: str, layer: Any) -> None:
        self.hosts = hosts
        self.prefix = prefix
        self.serialize: Callable[[dict[str, Any]], bytes] = layer.serialize
        self.deserialize: Callable[[bytes], dict[str, Any]] = layer.deserialize
        self.sent = 0  # messages that reached their process this way
        self.received = 0
        self._publishers: dict[int, _Publisher] = {}
        self._listener: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the server's, where we started

    @classmethod
    def for_layer(cls, layer: Any) -> DirectPath | None:
        found = _redis_hosts(layer)
        if found is None or not found[0]:
            return None
        return cls(found[0], found[1], layer)

    def _name(self, channel: str) -> tuple[int, str]:
        from channels_redis.utils import _consistent_hash

        return _consistent_hash(channel, len(self.hosts)), f"{self.prefix}sio-direct:{channel}"

    async def start(self, channel: str, deliver: Deliver) -> None:
        """Subscribe to our node channel's name; returns once subscribed (or raises)."""
        index, name = self._name(channel)
        from channels_redis.utils import create_pool

        pool = create_pool(self.hosts[index])
        try:
            connection = await self._subscribe(pool, name)
        except BaseException:
            await pool.disconnect()
            raise
        self._listener = asyncio.ensure_future(self._listen(pool, connection, name, deliver))
        self._loop = asyncio.get_running_loop()

    @staticmethod
    async def _subscribe(pool: Any, name: str) -> Any:
        connection = await pool.get_connection()
        await connection.send_command("SUBSCRIBE", name, check_health=False)
        answer = await connection.read_response(push_request=True)
        if not (isinstance(answer, list) and answer[:1] == [b"subscribe"]):
            raise DirectError(f"unexpected answer to SUBSCRIBE: {answer!r}")
        return connection

    async def _listen(self, pool: Any, connection: Any, name: str, deliver: Deliver) -> None:
        """Read what is published to us, straight off the subscribed connection."""
        backoff = 0.1
        try:
            while True:
                try:
                    if connection is None:
                        connection = await self._subscribe(pool, name)
                    # math.inf: no socket_timeout while idle (redis-py's blocking pub/sub read)
                    found = await connection.read_response(timeout=math.inf, push_request=True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Meanwhile our senders' PUBLISH counts 0 and they use the layer.
                    logger.warning("direct subscription lost (%s); again in %.1f s", exc, backoff)
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            await connection.disconnect()
                        connection = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                backoff = 0.1
                if not (isinstance(found, list) and len(found) == 3 and found[0] == b"message"):
                    continue
                try:
                    message = self.deserialize(found[2])
                except Exception as exc:  # not ours, or another key: never fatal
                    logger.warning("dropped an undecodable direct message: %s", exc)
                    continue
                self.received += 1
                await deliver(message)
                await asyncio.sleep(0)  # a backlog must not starve the rest of the process
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            await pool.disconnect()

    async def send(self, channel: str, message: dict[str, Any]) -> bool:
        """True if the process behind `channel` got it; False: send it through the layer."""
        if asyncio.get_running_loop() is not self._loop:
            return False  # sync code's own loop (a thread): our connections are not its
        index, name = self._name(channel)
        publisher = self._publishers.get(index)
        if publisher is None:
            publisher = self._publishers[index] = _Publisher(self.hosts[index])
        reached = await publisher.publish(name, self.serialize(message))
        self.sent += reached
        return reached

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        for publisher in self._publishers.values():
            await publisher.close()
        self._publishers = {}
