"""Rooms, broadcasts and queries across processes, over a Channels layer.

[edge] One node channel per process (`layer.new_channel()`) and one task that
receives from it; sockets get no channels of their own. Room membership stays
local (`RoomIndex`); the node joins a room's group when its first local socket
joins and leaves it with the last, and joins a namespace's group while it has
any socket there. A broadcast is encoded once, delivered locally by the
server, and sent once per group; each receiving node computes its own
recipients from the options, drops its own messages and duplicates (the same
message id reaching it through several room groups).

Nodes beat on a shared group so queries (`fetch_sockets`, `server_side_emit`,
broadcasts with acks, ...) know how many answers to wait for.

Layer limits are handled here: the node channel's capacity is raised (a
channel over capacity silently loses group messages), drops the layer reports
are counted and logged, group memberships are refreshed before `group_expiry`,
and after a layer outage the node re-joins its groups and announces itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
import uuid
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from channels.layers import InMemoryChannelLayer

from .socketio.adapter import Adapter
from .socketio.rooms import BroadcastOptions

if TYPE_CHECKING:
    from .socketio.server import ServerNamespace, SocketIOServer

logger = logging.getLogger("django_socketio.adapter")

NODE_CHANNEL_PREFIX = "sio-node"
NODES_GROUP = "sio.nodes"
RECENT_IDS = 10_000


def group_name(namespace: str, room: str | None = None) -> str:
    """A valid channel-layer group name for any (namespace, room): ASCII, short, stable."""
    key = namespace if room is None else namespace + "\0" + room
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return ("sio.n." if room is None else "sio.r.") + digest


MAX_LAYER_OPERATIONS = 50  # at once, per event loop; below channels-redis' pool size


def _op_slots() -> asyncio.Semaphore:
    return asyncio.Semaphore(MAX_LAYER_OPERATIONS)


def _per_loop(table: weakref.WeakKeyDictionary[Any, Any], factory: Any) -> Any:
    """The running loop's object in `table`, made by `factory` on first use."""
    loop = asyncio.get_running_loop()
    found = table.get(loop)
    if found is None:
        found = table[loop] = factory()
    return found


class LayerStats:
    """Counters an operator can read (and our tests assert on)."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.dropped = 0  # reported by the layer: channel over capacity
        self.errors = 0  # layer operations that failed (e.g. Redis down)


class _DropCounter(logging.Filter):
    """channels-redis only logs the messages `group_send` drops; count them and warn."""

    def __init__(self, stats: LayerStats) -> None:
        super().__init__()
        self.stats = stats

    def filter(self, record: logging.LogRecord) -> bool:
        if "over capacity" in str(record.msg) and record.args:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                self.stats.dropped += int(record.args[0])  # type: ignore[index]
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class _Request:
    """A query waiting for the other nodes' answers."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.answers: dict[str, Any] = {}
        self.done = asyncio.get_running_loop().create_future()

    def answer(self, node: str, data: Any) -> None:
        self.answers[node] = data
        if self.expected <= set(self.answers) and not self.done.done():
            self.done.set_result(None)


class _AckGathering:
    """A broadcast with acks: every node says how many recipients it has, then relays acks."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.counts: dict[str, int] = {}
        self.responses: list[Any] = []
        self.done = asyncio.get_running_loop().create_future()

    def update(self, node: str, data: dict[str, Any]) -> None:
        if "count" in data:
            self.counts[node] = data["count"]
        if "ack" in data:
            self.responses.append(data["ack"])
        if (
            self.expected <= set(self.counts)
            and len(self.responses) >= sum(self.counts.values())
            and not self.done.done()
        ):
            self.done.set_result(None)


class ChannelLayerAdapter(Adapter):
    def __init__(
        self,
        server: SocketIOServer,
        layer: Any,
        heartbeat_interval: float = 5.0,
        node_timeout: float = 15.0,
        request_timeout: float = 5.0,
        node_capacity: int = 10_000,
    ) -> None:
        self.server = server
        self.layer = layer
        self.heartbeat_interval = heartbeat_interval
        self.node_timeout = node_timeout
        self.request_timeout = request_timeout
        self.node_id = uuid.uuid4().hex
        self.channel: str | None = None
        self.nodes: dict[str, tuple[str, float]] = {}  # node id -> (channel, last heard)
        self.groups: set[str] = set()
        self.stats = LayerStats()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, _Request | _AckGathering] = {}
        # A group_add failed (the layer was down): re-join every group once it works again.
        # The receive loop notices an outage only with layers whose receive fails then.
        self._resync_needed = False
        self._tasks: list[asyncio.Task[Any]] = []
        # One publish at a time, first come first served: concurrent group_sends use
        # different pooled connections, so the layer could otherwise reorder them (two
        # events of one client, broadcast by two handler tasks, arriving swapped on the
        # other nodes) or run out of connections under a burst. One lock per event loop:
        # sync code (emit_sync) may publish from several threads, each with its own loop.
        self._publish_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        # At most this many layer operations at once (per loop): channels-redis fails an
        # operation outright when its connection pool (100 by default) is exhausted, and a
        # burst of connections (a group_add each) would lose group memberships that way.
        self._op_slots: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        # Only other processes make messages worth sending; in memory there are none
        # unless several servers share this process (tests), and those announce themselves.
        self._in_memory = isinstance(layer, InMemoryChannelLayer)
        self._raise_capacity(node_capacity)
        logging.getLogger("channels_redis.core").addFilter(_DropCounter(self.stats))

    def _raise_capacity(self, capacity: int) -> None:
        capacities = getattr(self.layer, "channel_capacity", None)
        if isinstance(capacities, list):  # compiled (pattern, capacity) pairs, first match wins
            pattern = re.compile(re.escape(NODE_CHANNEL_PREFIX) + r"\..*")
            if not any(getattr(p, "pattern", None) == pattern.pattern for p, _ in capacities):
                capacities.insert(0, (pattern, capacity))

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self.channel = await self.layer.new_channel(NODE_CHANNEL_PREFIX)
        await self._safe(self.layer.group_add(NODES_GROUP, self.channel))
        self._tasks = [
            asyncio.ensure_future(self._receive_loop()),
            asyncio.ensure_future(self._heartbeat_loop()),
            asyncio.ensure_future(self._refresh_loop()),
        ]
        await self._announce(hello=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self.channel is not None:
            await self._safe(self.layer.group_send(NODES_GROUP, self._message("sio.bye")))
            for group in [NODES_GROUP, *self.groups]:
                await self._safe(self.layer.group_discard(group, self.channel))

    def live_nodes(self) -> set[str]:
        """Other nodes heard from within `node_timeout`."""
        horizon = time.monotonic() - self.node_timeout
        for node in [n for n, (_, seen) in self.nodes.items() if seen < horizon]:
            del self.nodes[node]
            logger.info("node %s stopped beating; forgetting it", node)
        return set(self.nodes)

    # -- rooms -----------------------------------------------------------------------

    async def rooms_created(self, nsp: ServerNamespace, rooms: list[str]) -> None:
        groups = [group_name(nsp.name, room) for room in rooms]
        if len(nsp.rooms.rooms) == len(rooms):  # the namespace had no local socket before
            groups.append(group_name(nsp.name))
        for group in groups:
            self.groups.add(group)
            if self.channel is not None and not await self._safe(
                self.layer.group_add(group, self.channel)
            ):
                self._resync_needed = True

    async def rooms_emptied(self, nsp: ServerNamespace, rooms: list[str]) -> None:
        groups = [group_name(nsp.name, room) for room in rooms]
        if not nsp.rooms.rooms:
            groups.append(group_name(nsp.name))
        for group in groups:
            self.groups.discard(group)
            if self.channel is not None:
                await self._safe(self.layer.group_discard(group, self.channel))

    # -- broadcast ---------------------------------------------------------------------

    def _worth_sending(self) -> bool:
        return not self._in_memory or bool(self.live_nodes())

    async def publish(
        self, nsp: ServerNamespace, frames: dict[str, list[str | bytes]], opts: BroadcastOptions
    ) -> None:
        if not self._worth_sending():
            return
        message = self._message(
            "sio.broadcast", id=uuid.uuid4().hex, nsp=nsp.name, opts=opts.to_dict(), frames=frames
        )
        targets = [group_name(nsp.name, room) for room in opts.rooms] or [group_name(nsp.name)]
        async with _per_loop(self._publish_locks, asyncio.Lock):
            for group in targets:
                await self._safe(self.layer.group_send(group, message))
        self.stats.sent += 1

    async def broadcast_with_ack(
        self,
        nsp: ServerNamespace,
        event: str,
        args: tuple[Any, ...],
        opts: BroadcastOptions,
        timeout: float | None,
    ) -> tuple[list[Any], bool]:
        nodes = self.live_nodes()
        if not nodes or self.channel is None:
            return [], True
        gathering = _AckGathering(nodes)
        complete = await self._ask(
            gathering,
            "broadcast_ack",
            nsp,
            {"event": event, "args": list(args), "opts": opts.to_dict(), "timeout": timeout},
            timeout,
        )
        return list(gathering.responses), complete

    # -- queries -------------------------------------------------------------------------

    async def request(
        self, nsp: ServerNamespace, kind: str, payload: dict[str, Any], timeout: float | None = None
    ) -> list[Any]:
        if self.channel is None:
            await self.server.start()
        nodes = self.live_nodes()
        if not nodes:
            return []
        request = _Request(nodes)
        await self._ask(request, kind, nsp, payload, timeout or self.request_timeout)
        return list(request.answers.values())

    async def _ask(
        self,
        pending: _Request | _AckGathering,
        kind: str,
        nsp: ServerNamespace,
        payload: dict[str, Any],
        timeout: float | None,
    ) -> bool:
        request_id = uuid.uuid4().hex
        self._pending[request_id] = pending
        try:
            message = self._message(
                "sio.request",
                req=request_id,
                kind=kind,
                nsp=nsp.name,
                reply_to=self.channel,
                payload=payload,
            )
            await self._safe(self.layer.group_send(NODES_GROUP, message))
            try:
                await asyncio.wait_for(asyncio.shield(pending.done), timeout)
            except TimeoutError:
                return False
            return True
        finally:
            del self._pending[request_id]

    # -- receiving -------------------------------------------------------------------------

    def _message(self, type_: str, **fields: Any) -> dict[str, Any]:
        return {"type": type_, "node": self.node_id, **fields}

    async def _receive_loop(self) -> None:
        backoff = 0.1
        while True:
            # Let the rest of the process run between two messages: with a backlog, a
            # layer's receive may return at once (RedisPubSubChannelLayer reads from a local
            # queue) and so may the delivery, so this loop would otherwise hold the event
            # loop until the backlog is gone: no heartbeats, no writes, clients time out.
            await asyncio.sleep(0)
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.errors += 1
                logger.warning(
                    "channel layer receive failed (%s); retrying in %.1f s", exc, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                await self._resync()
                continue
            backoff = 0.1
            if message.get("node") == self.node_id:
                continue  # our own: delivered locally already
            self.stats.received += 1
            handler = getattr(self, message.get("type", "").replace(".", "_"), None)
            if handler is None:
                continue
            try:
                await handler(message)
            except Exception:
                logger.exception(
                    "handling %s from node %s failed", message.get("type"), message.get("node")
                )

    async def sio_broadcast(self, message: dict[str, Any]) -> None:
        msg_id = message["id"]
        if msg_id in self._recent:
            return  # the same broadcast through another room's group
        self._recent[msg_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        nsp = self.server.namespaces.get(message["nsp"])
        if nsp is not None:
            await nsp.deliver(message["frames"], BroadcastOptions.from_dict(message["opts"]))

    async def sio_heartbeat(self, message: dict[str, Any]) -> None:
        node = message["node"]
        known = node in self.nodes
        self.nodes[node] = (message["channel"], time.monotonic())
        if not known:
            logger.info("node %s joined", node)
        if message.get("hello") and self.channel is not None:
            await self._safe(
                self.layer.send(
                    message["channel"], self._message("sio.heartbeat", channel=self.channel)
                )
            )

    async def sio_bye(self, message: dict[str, Any]) -> None:
        self.nodes.pop(message["node"], None)

    async def sio_request(self, message: dict[str, Any]) -> None:
        nsp = self.server.namespaces.get(message["nsp"])
        kind, payload, reply_to = message["kind"], message["payload"], message["reply_to"]

        async def reply(**data: Any) -> None:
            await self._safe(
                self.layer.send(
                    reply_to, self._message("sio.response", req=message["req"], data=data)
                )
            )

        if kind == "broadcast_ack":
            self.server.spawn(self._answer_broadcast_ack(nsp, payload, reply))
            return
        node_request = self.server.node_requests.get(kind)
        if node_request is not None:  # about the process, whatever the namespace
            await reply(result=await node_request(payload))
            return
        if kind == "server_status":  # manage.py socketio_status
            await reply(result=self.server.status())
            return
        result = None
        if nsp is not None:
            opts = BroadcastOptions.from_dict(payload.get("opts", {}))
            result = await nsp.run_local(kind, opts, payload)
        await reply(result=result)

    async def _answer_broadcast_ack(
        self, nsp: ServerNamespace | None, payload: dict[str, Any], reply: Any
    ) -> None:
        if nsp is None:
            await reply(count=0)
            return
        opts = BroadcastOptions.from_dict(payload["opts"])
        await reply(count=len(nsp.select(opts)))

        def relay(value: Any) -> None:
            self.server.spawn(reply(ack=value))

        await nsp.local_broadcast_with_ack(
            payload["event"], tuple(payload["args"]), opts, payload["timeout"], relay
        )

    async def sio_response(self, message: dict[str, Any]) -> None:
        pending = self._pending.get(message["req"])
        if pending is None:
            return
        data = message["data"]
        if isinstance(pending, _AckGathering):
            pending.update(message["node"], data)
        else:
            pending.answer(message["node"], data.get("result"))

    # -- keeping in touch ----------------------------------------------------------------

    async def _announce(self, hello: bool = False) -> None:
        await self._safe(
            self.layer.group_send(
                NODES_GROUP, self._message("sio.heartbeat", channel=self.channel, hello=hello)
            )
        )

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if await self._announce_ok() and self._resync_needed:
                await self._resync()

    async def _announce_ok(self) -> bool:
        errors = self.stats.errors
        await self._announce()
        return self.stats.errors == errors

    async def _refresh_loop(self) -> None:
        """Re-join every group before the layer forgets it (`group_expiry`)."""
        interval = max(1.0, float(getattr(self.layer, "group_expiry", 86400)) / 2)
        while True:
            await asyncio.sleep(interval)
            await self._rejoin()

    async def _rejoin(self) -> bool:
        """Join every group again; False if some group_add failed."""
        if self.channel is None:
            return True
        ok = True
        for group in [NODES_GROUP, *self.groups]:
            ok = await self._safe(self.layer.group_add(group, self.channel)) and ok
        return ok

    async def _resync(self) -> None:
        """After an outage the layer may have lost our groups (a restarted Redis).

        Tried again from the heartbeat loop until every group_add succeeds: Redis may
        come back in the middle of a rejoin, after the receive loop's last attempt.
        """
        self._resync_needed = False  # a group_add failing meanwhile sets it again
        if not await self._rejoin():
            self._resync_needed = True
        await self._announce(hello=True)

    async def _safe(self, operation: Any) -> bool:
        """Run a layer operation; a failure is counted and logged, never raised.

        Local traffic must not depend on the layer: a Redis outage degrades
        cross-node delivery only.
        """
        try:
            async with _per_loop(self._op_slots, _op_slots):
                await operation
            return True
        except asyncio.CancelledError:
            operation.close()  # not awaited if cancelled while waiting for a slot
            raise
        except Exception as exc:
            self.stats.errors += 1
            logger.warning("channel layer operation failed: %s", exc)
            return False
