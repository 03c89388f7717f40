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
broadcasts with acks, ...) know how many answers to wait for. Every message is
declared in `internode` (a closed set, checked on receipt); who is alive and
when a question is answered is the pure bookkeeping of `nodes`.

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
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer

from .direct import DirectError, DirectPath
from .engineio.engine import generate_tag
from .exceptions import EmitError
from .forwarding import PollingForwarder
from .internode import (
    NAMESPACE_COMMANDS,
    NODE_QUESTIONS,
    RUNS_HANDLERS,
    Broadcast,
    Bye,
    EioAbort,
    EioHandover,
    EioPoll,
    EioPush,
    EioReply,
    EioUpgrade,
    Heartbeat,
    Message,
    MessageError,
    NamespaceProtocol,
    Request,
    RequestKind,
    Response,
    ServerProtocol,
    check_payload,
    decode,
)
from .nodes import AckAnswers, Answers, NodeTable
from .socketio.adapter import Adapter
from .socketio.rooms import BroadcastOptions

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


class _Pending:
    """A question in flight: its pure bookkeeping and the future its asker awaits."""

    def __init__(self, answers: Answers | AckAnswers) -> None:
        self.answers = answers
        self.done = asyncio.get_running_loop().create_future()

    def heard(self, response: Response) -> None:
        answers = self.answers
        if isinstance(answers, AckAnswers):
            if response.part == "count":
                complete = answers.count(response.node, response.value)
            elif response.part == "ack":
                complete = answers.ack(response.node, response.value)
            else:
                return
        elif response.part == "result":
            complete = answers.answer(response.node, response.value)
        else:
            return
        if complete and not self.done.done():
            self.done.set_result(None)

    def gone(self, node: str) -> None:
        if self.answers.gone(node) and not self.done.done():
            self.done.set_result(None)


class ChannelLayerAdapter(Adapter):
    def __init__(
        self,
        server: ServerProtocol,
        layer: Any,
        heartbeat_interval: float = 5.0,
        node_timeout: float = 15.0,
        request_timeout: float = 5.0,
        node_capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        forwarded_requests: int = 1000,
    ) -> None:
        self.server = server
        self.layer = layer
        self.heartbeat_interval = heartbeat_interval
        self.node_timeout = node_timeout
        self.request_timeout = request_timeout
        self.clock = clock
        #: Polling requests for other processes' sessions (None: not forwarded).
        self.forwarding: PollingForwarder | None = None
        self.forwarded_requests = forwarded_requests
        self.node_id = uuid.uuid4().hex
        self.channel: str | None = None
        #: Unicast to other processes in one Redis command (channels-redis layers only).
        self.direct: DirectPath | None = None
        self.started_at: float | None = None  # `clock()` when we said hello
        self.nodes = NodeTable(node_timeout)
        self.groups: set[str] = set()
        self.stats = LayerStats()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, _Pending] = {}
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

    def _check_expiry(self, ping_interval: float) -> None:
        """A forwarded GET's answer may wait a ping interval: the layer must keep it longer."""
        expiry = getattr(self.layer, "expiry", None)
        if isinstance(expiry, int | float) and expiry < ping_interval + self.request_timeout:
            logger.warning(
                "the channel layer's expiry (%s s) is shorter than PING_INTERVAL + "
                "REQUEST_TIMEOUT (%s s): forwarded polling requests may be lost",
                expiry,
                ping_interval + self.request_timeout,
            )

    def _raise_capacity(self, capacity: int) -> None:
        capacities = getattr(self.layer, "channel_capacity", None)
        if isinstance(capacities, list):  # compiled (pattern, capacity) pairs, first match wins
            pattern = re.compile(re.escape(NODE_CHANNEL_PREFIX) + r"\..*")
            if not any(getattr(p, "pattern", None) == pattern.pattern for p, _ in capacities):
                capacities.insert(0, (pattern, capacity))

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self.forwarded_requests > 0 and self.forwarding is None:
            engine = self.server.engine
            self.forwarding = PollingForwarder(self, engine, self.forwarded_requests)
            engine.forwarder = self.forwarding
            self._check_expiry(engine.config.ping_interval)
        self.channel = await self.layer.new_channel(NODE_CHANNEL_PREFIX)
        direct = DirectPath.for_layer(self.layer)
        if direct is not None:
            try:
                await direct.start(self.channel, self._dispatch)
                self.direct = direct
            except Exception as exc:  # Redis down at start-up: the layer's path only
                logger.warning("no direct path between processes (%s)", exc)
        await self._safe(self.layer.group_add(NODES_GROUP, self.channel))
        self._tasks = [
            asyncio.ensure_future(self._receive_loop()),
            asyncio.ensure_future(self._heartbeat_loop()),
            asyncio.ensure_future(self._refresh_loop()),
        ]
        self.started_at = self.clock()
        await self._announce(hello=True)

    def learning_for(self) -> float:
        """Seconds during which a live node may still be unknown to us (0: all heard).

        Every live node answers our hello at once and beats every `heartbeat_interval`.
        """
        if self.started_at is None or self._in_memory:
            # In memory there are no other processes (only other servers in tests):
            # an unknown sid must not wait (single-process servers answer 400 at once).
            return 0.0
        return max(0.0, self.started_at + self.heartbeat_interval - self.clock())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self.direct is not None:
            await self.direct.stop()
            self.direct = None
        if self.channel is not None:
            await self._send_group(NODES_GROUP, Bye(self.node_id))
            for group in [NODES_GROUP, *self.groups]:
                await self._safe(self.layer.group_discard(group, self.channel))

    def live_nodes(self) -> set[str]:
        """Other nodes heard from within `node_timeout`."""
        for node in self.nodes.expire(self.clock()):
            logger.info("node %s stopped beating; forgetting it", node)
            self._gone(node)
        return self.nodes.live()

    def heard_ago(self, node: str) -> float | None:
        """Seconds since `node`'s last heartbeat; None if it is not (or no longer) known."""
        last = self.nodes.last_heard(node)
        return None if last is None else self.clock() - last

    def _gone(self, node: str) -> None:
        for pending in self._pending.values():
            pending.gone(node)
        if self.forwarding is not None:
            self.forwarding.node_gone(node)
            self.forwarding.node_lost(node)

    def _tag(self) -> str:
        return self.server.engine.node_tag if self.forwarding is not None else ""

    # -- rooms -----------------------------------------------------------------------

    async def rooms_created(self, nsp: NamespaceProtocol, rooms: list[str]) -> None:
        groups = [group_name(nsp.name, room) for room in rooms]
        if len(nsp.rooms.rooms) == len(rooms):  # the namespace had no local socket before
            groups.append(group_name(nsp.name))
        for group in groups:
            self.groups.add(group)
            if self.channel is not None and not await self._safe(
                self.layer.group_add(group, self.channel)
            ):
                self._resync_needed = True

    async def rooms_emptied(self, nsp: NamespaceProtocol, rooms: list[str]) -> None:
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
        self,
        nsp: NamespaceProtocol,
        frames: dict[str, list[str | bytes]],
        opts: BroadcastOptions,
        *,
        strict: bool = False,
    ) -> bool:
        if not self._worth_sending():
            return False
        message = Broadcast(self.node_id, uuid.uuid4().hex, nsp.name, opts, frames).encode()
        targets = [group_name(nsp.name, room) for room in opts.rooms] or [group_name(nsp.name)]
        sent = True
        async with _per_loop(self._publish_locks, asyncio.Lock):
            for group in targets:
                if strict:
                    try:
                        async with _per_loop(self._op_slots, _op_slots):
                            await self.layer.group_send(group, message)
                    except Exception as exc:
                        self.stats.errors += 1
                        raise EmitError(
                            f"the channel layer failed ({type(exc).__name__}: {exc})"
                        ) from exc
                else:
                    sent = await self._safe(self.layer.group_send(group, message)) and sent
        self.stats.sent += 1
        return sent

    async def broadcast_with_ack(
        self,
        nsp: NamespaceProtocol,
        event: str,
        args: tuple[Any, ...],
        opts: BroadcastOptions,
        timeout: float | None,
    ) -> tuple[list[Any], bool]:
        nodes = self.live_nodes()
        if not nodes or self.channel is None:
            return [], True
        gathering = AckAnswers(nodes)
        complete = await self._ask(
            gathering,
            RequestKind.BROADCAST_ACK,
            nsp,
            {"event": event, "args": list(args), "opts": opts.to_dict(), "timeout": timeout},
            timeout,
        )
        return list(gathering.responses), complete and not gathering.missing

    # -- queries -------------------------------------------------------------------------

    async def request(
        self,
        nsp: NamespaceProtocol,
        kind: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> list[Any]:
        known = check_payload(kind, payload)  # a kind and payload not declared raise here
        if self.channel is None:
            await self.server.start()
        nodes = self.live_nodes()
        if not nodes:
            return []
        answers = Answers(nodes)
        await self._ask(answers, known, nsp, payload, timeout or self.request_timeout)
        return list(answers.answers.values())

    async def _ask(
        self,
        answers: Answers | AckAnswers,
        kind: RequestKind,
        nsp: NamespaceProtocol,
        payload: dict[str, Any],
        timeout: float | None,
    ) -> bool:
        assert self.channel is not None
        request_id = uuid.uuid4().hex
        message = Request(self.node_id, request_id, kind, nsp.name, self.channel, payload)
        self._pending[request_id] = pending = _Pending(answers)
        try:
            await self._send_group(NODES_GROUP, message)
            try:
                await asyncio.wait_for(asyncio.shield(pending.done), timeout)
            except TimeoutError:
                return False
            return True
        finally:
            del self._pending[request_id]

    # -- receiving -------------------------------------------------------------------------

    async def _send_group(self, group: str, message: Message) -> bool:
        return await self._safe(self.layer.group_send(group, message.encode()))

    async def _send(self, channel: str, message: Message) -> bool:
        encoded = message.encode()
        if self.direct is not None:
            try:
                if await self.direct.send(channel, encoded):
                    return True
            except DirectError as exc:  # maybe delivered: not sent again through the layer
                self.stats.errors += 1
                logger.warning("%s", exc)
                return False
        return await self._safe(self.layer.send(channel, encoded))

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
            await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        """One message from the layer or the direct path, to its `sio_*` handler."""
        if message.get("node") == self.node_id:
            return  # our own: delivered locally already
        self.stats.received += 1
        try:
            typed = decode(message)
        except MessageError as exc:  # another version, or not ours: never fatal
            logger.warning("dropped a message from node %s: %s", message.get("node"), exc)
            return
        try:
            await getattr(self, typed.type.replace(".", "_"))(typed)
        except Exception:
            logger.exception("handling %s from node %s failed", typed.type, typed.node)

    async def sio_broadcast(self, message: Broadcast) -> None:
        if message.id in self._recent:
            return  # the same broadcast through another room's group
        self._recent[message.id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        nsp = self.server.namespaces.get(message.nsp)
        if nsp is not None:
            await nsp.deliver(message.frames, message.opts)

    async def sio_heartbeat(self, message: Heartbeat) -> None:
        heard = self.nodes.heard(
            message.node, message.channel, self.clock(), message.hello, message.tag
        )
        if heard.joined:
            logger.info("node %s joined", message.node)
        if message.tag and self.forwarding is not None:
            self.forwarding.tag_heard(message.tag)
        if message.tag and message.tag == self._tag():
            # Two processes drew the same sid prefix (24 bits): draw again. Sessions
            # already open keep theirs and may not be reachable from elsewhere.
            self.server.engine.node_tag = generate_tag()
            logger.warning("node %s has our sid prefix; ours is now another", message.node)
            await self._announce()
        if heard.reply and self.channel is not None:
            await self._send(
                message.channel, Heartbeat(self.node_id, self.channel, tag=self._tag())
            )

    async def sio_bye(self, message: Bye) -> None:
        self.nodes.bye(message.node)
        self._gone(message.node)

    # -- long-polling for sessions of other processes (forwarding.py) ---------------------

    async def sio_eio_poll(self, message: EioPoll) -> None:
        if self.forwarding is not None:
            await self.forwarding.on_poll(message)

    async def sio_eio_push(self, message: EioPush) -> None:
        if self.forwarding is not None:
            self.forwarding.on_push(message)

    async def sio_eio_abort(self, message: EioAbort) -> None:
        if self.forwarding is not None:
            self.forwarding.on_abort(message)

    async def sio_eio_reply(self, message: EioReply) -> None:
        if self.forwarding is not None:
            self.forwarding.answered(message)

    async def sio_eio_upgrade(self, message: EioUpgrade) -> None:
        if self.forwarding is not None:
            await self.forwarding.on_upgrade(message)

    async def sio_eio_handover(self, message: EioHandover) -> None:
        if self.forwarding is not None:
            self.forwarding.handed_over(message)

    async def sio_request(self, message: Request) -> None:
        nsp = self.server.namespaces.get(message.nsp)
        kind = message.kind

        async def reply(part: str, value: Any) -> None:
            response = Response(self.node_id, message.req, part, value)  # type: ignore[arg-type]
            await self._send(message.reply_to, response)

        if kind == RequestKind.BROADCAST_ACK:
            self.server.spawn(self._answer_broadcast_ack(nsp, message, reply))
        elif kind in RUNS_HANDLERS:
            # on_disconnect and server-side event handlers may ask the other processes in
            # turn: their answers come through this loop, which must not wait for them.
            self.server.spawn(self._answer_request(nsp, message, reply))
        else:
            await self._answer_request(nsp, message, reply)

    async def _answer_request(
        self, nsp: NamespaceProtocol | None, message: Request, reply: Any
    ) -> None:
        kind = message.kind
        result = None
        if kind in NODE_QUESTIONS:  # about the process, whatever the namespace
            answer = self.server.node_requests.get(kind)
            if answer is not None:  # None: this process has nothing to say (e.g. no admin)
                result = await answer(message.payload)
        elif kind in NAMESPACE_COMMANDS and nsp is not None:
            result = await nsp.run_local(kind, message.options(), message.payload)
        await reply("result", result)

    async def _answer_broadcast_ack(
        self, nsp: NamespaceProtocol | None, message: Request, reply: Any
    ) -> None:
        if nsp is None:
            await reply("count", 0)
            return
        payload, opts = message.payload, message.options()
        await reply("count", len(nsp.select(opts)))

        def relay(value: Any) -> None:
            self.server.spawn(reply("ack", value))

        await nsp.local_broadcast_with_ack(
            payload["event"], tuple(payload["args"]), opts, payload["timeout"], relay
        )

    async def sio_response(self, message: Response) -> None:
        pending = self._pending.get(message.req)
        if pending is not None:
            pending.heard(message)

    # -- keeping in touch ----------------------------------------------------------------

    async def _announce(self, hello: bool = False) -> None:
        if self.channel is not None:
            await self._send_group(
                NODES_GROUP, Heartbeat(self.node_id, self.channel, hello, self._tag())
            )

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            # Forget the silent nodes now, not at the next question: requests forwarded
            # to a killed owner fail once it is missed (NODE_TIMEOUT), not at their own
            # timeout (REQUEST_TIMEOUT, a GET: plus PING_INTERVAL).
            self.live_nodes()
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
