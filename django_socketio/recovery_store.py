"""Which recovery store ``SOCKETIO["RECOVERY"]["STORE"]`` means, and its Redis clients.

[edge] Reads Django settings and channels-redis' host format; the store itself
(`recovery_redis.RedisRecoveryStore`) is plain asyncio.

``"auto"`` (the default) is the Redis of the channels-redis layer when the
project has one (`RedisChannelLayer` or `RedisPubSubChannelLayer`: its first
host), because that is the one Redis every server process already reaches;
the in-memory store otherwise. ``"memory"`` is the in-memory store, and a
``redis://``, ``rediss://`` or ``unix://`` URL is that Redis.

A redis-py client belongs to the event loop it first ran on, and code outside
the server (``emit_sync`` from a view or a management command) runs on loops of
its own: `LoopStores` keeps one client per loop.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from .recovery_redis import RedisRecoveryStore
from .socketio.recovery import RecoveryConfig

#: Stream and session keys start with the layer's prefix and this.
KEY_PREFIX = "sio-recovery"
URL_SCHEMES = ("redis://", "rediss://", "unix://")


def layer_redis(alias: str | None) -> tuple[dict[str, Any], str] | None:
    """(first host, key prefix) of channel layer `alias` if it is channels-redis."""
    if alias is None:
        return None
    conf = (getattr(django_settings, "CHANNEL_LAYERS", None) or {}).get(alias)
    if not isinstance(conf, dict):
        return None
    try:
        from channels_redis.core import RedisChannelLayer
        from channels_redis.pubsub import RedisPubSubChannelLayer
        from channels_redis.utils import decode_hosts

        backend = import_string(conf.get("BACKEND", ""))
    except ImportError:
        return None
    if not (
        isinstance(backend, type)
        and issubclass(backend, RedisChannelLayer | RedisPubSubChannelLayer)
    ):
        return None
    config = conf.get("CONFIG") or {}
    hosts = decode_hosts(config.get("hosts"))
    return hosts[0], str(config.get("prefix", "asgi"))


def redis_target(config: RecoveryConfig, alias: str | None) -> tuple[Any, str] | None:
    """(a URL or a channels-redis host, key prefix) of the Redis store; None: in memory."""
    store = config.store
    if store == "memory":
        return None
    if store == "auto":
        found = layer_redis(alias)
        return None if found is None else (found[0], found[1] + KEY_PREFIX)
    return store, KEY_PREFIX


#: Connections to the store per event loop, and how long a command waits for a free one.
MAX_CONNECTIONS = 100
POOL_TIMEOUT = 10.0


class LoopStores:
    """A `RedisRecoveryStore` per event loop, reached as if it were one store."""

    #: Recoverable broadcasts are delivered by reading the stream (see recovery_redis.py).
    delivers = True

    def __init__(self, target: Any, prefix: str, config: RecoveryConfig) -> None:
        self.target = target
        self.prefix = prefix
        self.window = config.max_disconnection_duration
        self.max_events = config.max_events
        self._stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisRecoveryStore]
        self._stores = weakref.WeakKeyDictionary()

    def _client(self) -> Any:
        """A client whose pool makes a command wait for a free connection.

        redis-py's default pool raises "Too many connections" past 100 at once: a
        rolling restart sends the clients of a stopped process to the others all
        together, each recovery a command, and some failed. At most `MAX_CONNECTIONS`
        per event loop; a command waits up to `POOL_TIMEOUT` seconds for one.
        """
        import redis.asyncio as aioredis

        pool = aioredis.BlockingConnectionPool
        limits = {"max_connections": MAX_CONNECTIONS, "timeout": POOL_TIMEOUT}
        target = self.target
        if isinstance(target, str):
            return aioredis.Redis(connection_pool=pool.from_url(target, **limits))
        target = dict(target)
        if "master_name" in target:  # Sentinel: channels-redis's own pool
            from channels_redis.utils import create_pool

            return aioredis.Redis(connection_pool=create_pool(target))
        if "address" in target:
            address = target.pop("address")
            return aioredis.Redis(connection_pool=pool.from_url(address, **target, **limits))
        return aioredis.Redis(connection_pool=pool(**target, **limits))

    def current(self) -> RedisRecoveryStore:
        """The store of the running event loop."""
        loop = asyncio.get_running_loop()
        store = self._stores.get(loop)
        if store is None:
            store = self._stores[loop] = RedisRecoveryStore(
                self._client(), prefix=self.prefix, window=self.window, max_events=self.max_events
            )
        return store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current(), name)
