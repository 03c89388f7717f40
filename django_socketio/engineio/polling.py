"""What a long-polling GET or POST does to a session, as a reply value.

[aio] The polling consumer answers its HTTP request with a `PollingReply`; the
process that owns a session answers a request another process forwarded to it
(see `django_socketio.adapter`) with the same function, so a forwarded request
gets the very payload, status and error body a local one would.

`Forwarder` is what the engine is handed when sessions of other processes can
be reached (a shared channel layer): it tells which process owns a sid and
carries a request there. Sids name their owner: `Engine.node_tag` + 16 random
URL-safe characters (96 bits).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..exceptions import EngineIOError, ErrorCode, PacketError
from ..stats import STATS
from . import packets_v3
from .packets import decode_payload, encode_payload
from .session import POLLING, Reason, Session

if TYPE_CHECKING:
    from .engine import Connection, Engine

logger = logging.getLogger("django_socketio.engineio")

PACKETS = b"text/plain; charset=UTF-8"
BINARY_PACKETS = b"application/octet-stream"  # Engine.IO v3's binary (XHR2) payload
JSON = b"application/json"
OK = b"text/html"


@dataclass(frozen=True, slots=True)
class PollingReply:
    """An HTTP answer to a polling request, before CORS headers."""

    status: int
    body: bytes
    content_type: bytes

    @classmethod
    def error(cls, exc: EngineIOError) -> PollingReply:
        return cls(exc.status, exc.body(), JSON)


REPLY_OK = PollingReply(200, b"ok", OK)
PAYLOAD_TOO_LARGE = PollingReply(413, b'{"code":3,"message":"Payload too large"}', JSON)
UNKNOWN_SID = PollingReply.error(EngineIOError(ErrorCode.UNKNOWN_SID))


def packets_reply(packets: list, session: Session) -> PollingReply:
    """The packets as one payload of the session's protocol (v3: text, or binary)."""
    content_type = PACKETS
    if session.protocol == 3:
        payload = packets_v3.encode_payload(packets, binary=not session.b64)
        if type(payload) is bytes:
            body, content_type = payload, BINARY_PACKETS
        else:
            body = payload.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
    else:
        body = encode_payload(packets).encode()
    STATS.packets_out_polling += len(packets)
    STATS.bytes_out_polling += len(body)
    return PollingReply(200, body, content_type)


async def refuse_overlap(engine: Engine, conn: Connection) -> PollingReply | None:
    """The error for a POST while another is in flight (the session closes), else None.

    One data request at a time, as Node: the overlap is an error of the client.
    """
    if not conn.posting:
        return None
    logger.info("closing session %s: a second POST while one is in flight", conn.sid)
    await engine.fail(conn, Reason.TRANSPORT_ERROR)
    return PollingReply.error(EngineIOError(ErrorCode.BAD_REQUEST))


async def post(engine: Engine, conn: Connection, body: bytes | None) -> PollingReply:
    """Feed a POST body (None: it was over maxPayload) to the session, one POST at a time.

    The local consumer holds `conn.posting` while it reads the body too, and
    calls `post_body`; a forwarded POST's body was read on the process it reached.
    """
    refused = await refuse_overlap(engine, conn)
    if refused is not None:
        return refused
    conn.posting = True
    try:
        return await post_body(engine, conn, body)
    finally:
        conn.posting = False


async def post_body(engine: Engine, conn: Connection, body: bytes | None) -> PollingReply:
    if body is None:
        await engine.fail(conn, Reason.TRANSPORT_ERROR)
        return PAYLOAD_TOO_LARGE
    try:
        if conn.session.protocol == 3:
            # The binary (XHR2) form starts with a 0 or 1 byte, the text form with a
            # digit: the body tells, so a forwarded POST needs no content type.
            binary = body[:1] in (b"\x00", b"\x01")
            packets = packets_v3.decode_payload(body, binary, engine.config.max_payload_packets)
        else:
            packets = decode_payload(body.decode("utf-8"), engine.config.max_payload_packets)
    except (PacketError, UnicodeDecodeError):
        await engine.fail(conn, Reason.PARSE_ERROR)
        return PollingReply.error(EngineIOError(ErrorCode.BAD_REQUEST))
    STATS.packets_in_polling += len(packets)
    STATS.bytes_in_polling += len(body)
    await engine.receive(conn, packets, POLLING)
    if conn.session.reason == Reason.PARSE_ERROR:
        return PollingReply.error(EngineIOError(ErrorCode.BAD_REQUEST))
    return REPLY_OK


async def poll(engine: Engine, conn: Connection, lost: asyncio.Future[None]) -> PollingReply | None:
    """Answer a GET when packets are there; None if `lost` (the client went away) came first.

    A second GET while one waits closes the session, as the protocol requires,
    wherever either of them arrived.
    """
    try:
        waiting = engine.begin_poll(conn)
    except EngineIOError as exc:
        await engine.fail(conn, Reason.TRANSPORT_ERROR)  # two GETs at once
        return PollingReply.error(exc)
    if isinstance(waiting, list):
        return packets_reply(waiting, conn.session)
    if not lost.done():
        await asyncio.wait((waiting, lost), return_when=asyncio.FIRST_COMPLETED)
    if lost.done() and not waiting.done():
        if conn.poll is waiting:
            conn.poll = None
        await engine.fail(conn, Reason.TRANSPORT_ERROR)  # poll closed prematurely
        return None
    return packets_reply(engine.end_poll(conn), conn.session)


class Forwarder(Protocol):
    """Carries polling requests for sessions owned by other processes."""

    def may_have_peers(self) -> bool:
        """Other live processes, or some not heard yet (one may take a new session over,
        see `Engine.lend`)."""
        ...

    async def owner(self, sid: str) -> str | None:
        """The live process that owns `sid`, if it is not this one (None: unknown)."""
        ...

    async def poll(self, owner: str, sid: str, lost: asyncio.Future[None]) -> PollingReply | None:
        """The owner's answer to a GET; None if `lost` came first (the owner is told)."""
        ...

    async def push(self, owner: str, sid: str, body: bytes | None) -> PollingReply:
        """The owner's answer to a POST (body None: over maxPayload here)."""
        ...
