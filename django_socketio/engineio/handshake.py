"""Engine.IO request validation: (method, query, transport kind) -> Request | EngineIOError.

[pure] The checks run in the reference server's order, so a client sees the same
error code for the same mistake. Whether a `sid` is known is the engine's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from ..exceptions import EngineIOError, ErrorCode
from .session import WEBSOCKET


@dataclass(frozen=True, slots=True)
class Request:
    transport: str
    sid: str | None
    method: str
    protocol: int = 4  # of a handshake; a request with a sid uses its session's
    b64: bool = False  # v3: the client wants binary packets as base64 text


def parse_query(query_string: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    except ValueError:
        raise EngineIOError(ErrorCode.BAD_REQUEST) from None


def parse_request(
    method: str,
    query: dict[str, str],
    websocket: bool,
    transports: tuple[str, ...],
    allow_eio3: bool = False,
) -> Request:
    """Validate one HTTP request or websocket connect against Engine.IO v4 (and v3).

    With `allow_eio3`, a handshake with ``EIO=3`` opens a v3 session (every v3 client
    sends it); any other value but ``4``, or none, is refused with the reference
    server's code 5. That is stricter than the reference, which counts every value but
    ``4`` as 3, and keeps the Engine.IO and Socket.IO test suites' invalid-EIO cases
    meaningful with v3 allowed.
    """
    transport = query.get("transport")
    if transport not in transports:
        raise EngineIOError(ErrorCode.UNKNOWN_TRANSPORT)
    sid = query.get("sid") or None
    # An HTTP request can only poll and a websocket connect must say websocket: the
    # reference server calls both mistakes a bad request (transport mismatch).
    mismatch = (transport == WEBSOCKET) != websocket
    if sid is None:
        if method != "GET":
            raise EngineIOError(ErrorCode.BAD_HANDSHAKE_METHOD)
        if mismatch:
            raise EngineIOError(ErrorCode.BAD_REQUEST)
        eio = query.get("EIO")
        if eio != "4":
            if not allow_eio3 or eio != "3":
                raise EngineIOError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION)
            return Request(transport, sid, method, 3, bool(query.get("b64")))
    elif mismatch or (not websocket and method not in ("GET", "POST")):
        raise EngineIOError(ErrorCode.BAD_REQUEST)
    return Request(transport, sid, method, b64=bool(query.get("b64")))
