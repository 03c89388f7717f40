"""Long-polling without sticky sessions: requests carried to the process owning the sid.

[edge] Each process's sids start with its tag (`Engine.node_tag`), announced in
its heartbeats. A polling GET or POST for a sid this process does not hold, whose
tag names a live process, is sent to that process's node channel (`EioPoll`,
`EioPush`); the owner runs it on the session exactly as a local request
(`engineio.polling`) and sends back the HTTP answer (`EioReply`), which is
written out here with this process's CORS headers. A client that leaves a
forwarded GET is reported (`EioAbort`) and the owner treats it as a lost local
GET. maxPayload is enforced here, before anything crosses.

A process that just started knows no other process yet: a request for an
unknown tag waits for that tag's announcement (the answers to our hello come
within a round trip), at most until a heartbeat interval after the start.

Failing fast: a tag no live process announces, an owner that stops beating or
says goodbye, or an owner that does not answer in time all give the client the
usual 400 "Session ID unknown", and it reconnects.

A websocket upgrade for another process's session takes the session over when
the application there has not seen it yet (`Engine.lend`, within
TAKEOVER_WINDOW of the handshake): this process answers the client's probe once
the owner agreed (`EioUpgrade` CLAIM; the owner's GETs answer NOOP from then),
and when the client upgrades, the owner hands over what the client sent so far
(MOVE, `EioHandover`) and forgets the session; the application sees it here. A
probe that fails gives it back (CANCEL). Any other websocket for such a sid is
refused (closed at once, or HTTP 403 if the owner is unknown); clients take a
failed upgrade as non-fatal and keep polling, through the forwarding.

Bounded: at most `max_in_flight` forwarded requests wait here at once; past it
the client gets HTTP 503 (its transport fails and it reconnects).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any

from .engineio import polling
from .engineio.engine import TAG_LENGTH, Engine, spawn, tag_of
from .engineio.polling import UNKNOWN_SID, PollingReply
from .engineio.session import POLLING
from .exceptions import EngineIOError
from .internode import EioAbort, EioHandover, EioPoll, EioPush, EioReply, EioUpgrade, UpgradeStep

if TYPE_CHECKING:
    from .adapter import ChannelLayerAdapter

logger = logging.getLogger("django_socketio.adapter")

BUSY = PollingReply(503, b'{"code":3,"message":"Too many forwarded requests"}', polling.JSON)


class _Waiting:
    __slots__ = ("future", "owner")

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()


class PollingForwarder:
    """Both sides: the `Forwarder` the engine asks, and the owner answering other nodes."""

    def __init__(self, adapter: ChannelLayerAdapter, engine: Engine, max_in_flight: int) -> None:
        self.adapter = adapter
        self.engine = engine
        self.max_in_flight = max_in_flight
        self.forwarded = 0  # requests sent to other processes, since the start
        self.refused = 0  # refused at max_in_flight
        self._waiting: dict[str, _Waiting] = {}  # our request id -> its reply
        self._remote_polls: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._tag_waiters: dict[str, asyncio.Future[None]] = {}  # only in the first seconds

    # -- the process a request reached -------------------------------------------------

    def may_have_peers(self) -> bool:
        self.adapter.live_nodes()  # forget the silent ones first
        # Just started, the answers to our hello may still be on their way.
        return self.adapter.nodes.any_tagged() or self.adapter.learning_for() > 0

    async def owner(self, sid: str) -> str | None:
        if len(sid) < TAG_LENGTH:
            return None
        tag = tag_of(sid)
        if tag == self.engine.node_tag:
            return None
        self.adapter.live_nodes()  # forget the silent ones first
        found = self.adapter.nodes.owner_of(tag)
        if found is None:
            # Just started: the other processes' answers to our hello (and at the latest
            # their next heartbeats) may still be on their way. Wait for this tag, no
            # longer than a heartbeat interval after the start.
            left = self.adapter.learning_for()
            if left > 0 and len(self._tag_waiters) < self.max_in_flight:
                heard = self._tag_waiters.get(tag)
                if heard is None:
                    heard = self._tag_waiters[tag] = asyncio.get_running_loop().create_future()
                try:
                    await asyncio.wait_for(asyncio.shield(heard), left)
                except TimeoutError:
                    pass
                finally:
                    if self._tag_waiters.get(tag) is heard and (
                        heard.done() or self.adapter.learning_for() <= 0
                    ):
                        del self._tag_waiters[tag]
                found = self.adapter.nodes.owner_of(tag)
        return found

    def tag_heard(self, tag: str) -> None:
        """A heartbeat announced `tag`: requests waiting to learn its owner go on."""
        heard = self._tag_waiters.pop(tag, None)
        if heard is not None and not heard.done():
            heard.set_result(None)

    async def push(self, owner: str, sid: str, body: bytes | None) -> PollingReply:
        return await self._forward(owner, lambda req, me: EioPush(me, req, sid, self._me, body))

    async def poll(self, owner: str, sid: str, lost: asyncio.Future[None]) -> PollingReply | None:
        return await self._forward(owner, lambda req, me: EioPoll(me, req, sid, self._me), lost)

    async def claim(self, owner: str, sid: str) -> bool:
        """May the websocket here take `owner`'s session `sid` over? (Its polls NOOP from now.)"""
        answer = await self._upgrade_step(owner, sid, UpgradeStep.CLAIM)
        return isinstance(answer, EioHandover) and answer.ok

    async def move(self, owner: str, sid: str) -> list[str | bytes] | None:
        """Take the claimed session over: what its client sent so far; None if refused."""
        answer = await self._upgrade_step(owner, sid, UpgradeStep.MOVE)
        return answer.messages if isinstance(answer, EioHandover) and answer.ok else None

    async def cancel(self, owner: str, sid: str) -> None:
        """The websocket failed before the client upgraded: the owner keeps the session."""
        channel = self.adapter.nodes.channel_of(owner)
        if channel is not None and self.adapter.channel is not None:
            step = EioUpgrade(self.adapter.node_id, "", sid, self._me, UpgradeStep.CANCEL)
            await self.adapter._send(channel, step)

    async def _upgrade_step(self, owner: str, sid: str, step: UpgradeStep) -> Any:
        # The owner answers at once, without running application code.
        return await self._forward(
            owner,
            lambda req, me: EioUpgrade(me, req, sid, self._me, step),
            limit=self.adapter.request_timeout,
        )

    @property
    def _me(self) -> str:
        channel = self.adapter.channel
        assert channel is not None
        return channel

    async def _forward(
        self,
        owner: str,
        build: Any,
        lost: asyncio.Future[None] | None = None,
        limit: float | None = None,
    ) -> Any:
        if len(self._waiting) >= self.max_in_flight:
            self.refused += 1
            return BUSY
        channel = self.adapter.nodes.channel_of(owner)
        if channel is None or self.adapter.channel is None:
            return UNKNOWN_SID
        req = uuid.uuid4().hex
        waiting = self._waiting[req] = _Waiting(owner)
        self.forwarded += 1
        try:
            if not await self.adapter._send(channel, build(req, self.adapter.node_id)):
                return UNKNOWN_SID
            # A GET is answered at the latest at the owner's next ping. A POST once the
            # handlers of its packets ran, as a local one: a CONNECT's on_connect may
            # itself ask every process (up to REQUEST_TIMEOUT), so it may take as long
            # as its session can live without a POST (no PONG gets through meanwhile).
            if limit is None:
                config = self.engine.config
                limit = self.adapter.request_timeout + config.ping_interval
                if lost is None:
                    limit += config.ping_timeout
            wait: set[asyncio.Future[Any]] = {waiting.future}
            if lost is not None:
                wait.add(lost)
            await asyncio.wait(wait, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            if waiting.future.done():
                return waiting.future.result()
            if lost is not None and lost.done():
                await self.adapter._send(channel, EioAbort(self.adapter.node_id, req))
                return None
            logger.info("no answer from node %s for a forwarded request; 400 to the client", owner)
            return UNKNOWN_SID
        finally:
            del self._waiting[req]

    def answered(self, message: EioReply) -> None:
        waiting = self._waiting.get(message.req)
        if waiting is not None and not waiting.future.done():
            reply = PollingReply(message.status, message.body, message.content_type)
            waiting.future.set_result(reply)

    def handed_over(self, message: EioHandover) -> None:
        waiting = self._waiting.get(message.req)
        if waiting is not None and not waiting.future.done():
            waiting.future.set_result(message)

    def node_gone(self, node: str) -> None:
        """The owner stopped (goodbye, or silence): its forwarded requests fail now."""
        for waiting in self._waiting.values():
            if waiting.owner == node and not waiting.future.done():
                waiting.future.set_result(UNKNOWN_SID)

    # -- the owner --------------------------------------------------------------------------

    def _lookup(self, sid: str) -> Any:
        try:
            return self.engine.lookup(sid, POLLING)
        except EngineIOError as exc:
            return PollingReply.error(exc)

    async def _reply(self, message: EioPoll | EioPush, reply: PollingReply) -> None:
        answer = EioReply(
            self.adapter.node_id, message.req, reply.status, reply.content_type, reply.body
        )
        await self.adapter._send(message.reply_to, answer)

    def on_push(self, message: EioPush) -> None:
        """Run a forwarded POST in a task of its own, not in the loop that delivered it.

        The handlers a POST runs (a CONNECT's on_connect, a DISCONNECT's on_disconnect)
        may ask the other processes (fetch_sockets): their answers come through that
        very loop, which would wait for them until the request timed out. A session's
        POSTs stay in order: its client sends one at a time, and the task marks the
        session posting before its first await, so an overlapping POST is refused as
        a local one would be.
        """
        spawn(self._answer_push(message))

    async def _answer_push(self, message: EioPush) -> None:
        conn = self._lookup(message.sid)
        if isinstance(conn, PollingReply):
            await self._reply(message, conn)
            return
        await self._reply(message, await polling.post(self.engine, conn, message.body))

    async def on_poll(self, message: EioPoll) -> None:
        conn = self._lookup(message.sid)
        if isinstance(conn, PollingReply):
            await self._reply(message, conn)
            return
        key = (message.node, message.req)
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._remote_polls[key] = lost
        spawn(self._answer_poll(message, conn, lost, key))

    async def _answer_poll(self, message: EioPoll, conn: Any, lost: Any, key: Any) -> None:
        try:
            reply = await polling.poll(self.engine, conn, lost)
        finally:
            self._remote_polls.pop(key, None)
        if reply is not None:
            await self._reply(message, reply)

    def on_abort(self, message: EioAbort) -> None:
        lost = self._remote_polls.get((message.node, message.req))
        if lost is not None and not lost.done():
            lost.set_result(None)

    def node_lost(self, node: str) -> None:
        """A forwarding node is gone: the GETs it carried are lost with it, and the
        sessions it was taking over stay here."""
        for (sender, _), lost in list(self._remote_polls.items()):
            if sender == node and not lost.done():
                lost.set_result(None)
        self.engine.take_back_all(node)

    async def on_upgrade(self, message: EioUpgrade) -> None:
        """A step of a takeover by the websocket's node; nothing here awaits the application."""
        engine, node = self.engine, message.node
        if message.step == UpgradeStep.CANCEL:
            engine.take_back(message.sid, node)
            return
        if message.step == UpgradeStep.CLAIM:
            # Bounded: the taker waits UPGRADE_TIMEOUT for the client, then asks within
            # REQUEST_TIMEOUT; past that the session stays here (`Engine._hold_ended`).
            limit = engine.config.upgrade_timeout + 2 * self.adapter.request_timeout
            lent = engine.lend(message.sid, node, limit)
            answer = EioHandover(self.adapter.node_id, message.req, lent)
        else:
            held = engine.give_away(message.sid, node)
            answer = EioHandover(self.adapter.node_id, message.req, held is not None, held or [])
        await self.adapter._send(message.reply_to, answer)
