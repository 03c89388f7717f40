"""One family of errors per layer; each carries the answer to put on the wire.

[pure] stdlib only. The Engine.IO shell translates `EngineIOError` into an HTTP
response (status + ``{"code", "message"}`` body) or a websocket close; the
Socket.IO layer translates `PacketError` into closing that one connection and
`ConnectionRefused` into a CONNECT_ERROR packet.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

MAX_MESSAGE = 300
"""Characters of a `ProtocolError` message: they quote what a peer sent, and are logged."""


def shorten(value: object, limit: int = 100) -> str:
    """``repr(value)`` cut to `limit` characters: a peer's value quoted in a log line."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class ProtocolError(Exception):
    """Anything malformed that arrived from the peer (its message is cut to MAX_MESSAGE)."""

    def __init__(self, message: str = "", *args: object) -> None:
        if isinstance(message, str) and len(message) > MAX_MESSAGE:
            message = shorten(message, MAX_MESSAGE)
        super().__init__(message, *args)


class ErrorCode(IntEnum):
    """Engine.IO error codes, as the reference server numbers them."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5

    @property
    def message(self) -> str:
        return _ERROR_MESSAGES[self]


_ERROR_MESSAGES = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class EngineIOError(ProtocolError):
    """A request the Engine.IO server refuses: HTTP 400 (403 for FORBIDDEN) + JSON body."""

    def __init__(
        self, code: ErrorCode, status: int | None = None, message: str | None = None
    ) -> None:
        super().__init__(message or code.message)
        self.code = code
        self.message = message or code.message
        self.status = (
            status if status is not None else (403 if code is ErrorCode.FORBIDDEN else 400)
        )

    def body(self) -> bytes:
        return b'{"code":%d,"message":"%s"}' % (self.code, self.message.encode())


class UpgradeRefused(EngineIOError):
    """A websocket for a known session that cannot be upgraded now.

    The session is already upgraded, or another websocket is probing it. The reference
    server accepts such a websocket and closes it at once rather than refusing the
    handshake, and the official test suites check that.
    """

    def __init__(self) -> None:
        super().__init__(ErrorCode.BAD_REQUEST)


class PacketError(ProtocolError):
    """A packet or payload that cannot be decoded; the session that sent it is closed."""


class PayloadTooLarge(ProtocolError):
    """More bytes than ``maxPayload``: HTTP 413 on polling, close code 1009 on websocket."""


class ConnectionRefused(Exception):
    """Raised by a connect handler or middleware: the client gets CONNECT_ERROR with this data."""

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def error_data(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


class RoomLimitExceeded(Exception):
    """`socket.join` would put the socket in more rooms than ``MAX_ROOMS_PER_SOCKET``.

    Nothing was joined. Raised to the handler that called `join`, which decides
    what the client hears (an ack with an error, or nothing).
    """

    def __init__(self, socket_id: str, limit: int) -> None:
        super().__init__(f"socket {socket_id} may be in at most {limit} rooms")
        self.limit = limit


class AckTimeoutError(TimeoutError):
    """An acknowledgement did not arrive in time; `responses` holds the acks that did."""

    def __init__(self, message: str, responses: list[Any] | None = None) -> None:
        super().__init__(message)
        self.responses = responses if responses is not None else []


class EncodeError(TypeError):
    """Arguments of an emit or an ack that the JSON encoder cannot write; names the event."""


class EmitError(Exception):
    """An emit that could reach no process: nothing was sent. The message says why.

    Raised outside the server (a management command, a WSGI view, a worker) when there
    is no channel layer shared with the server processes, or the layer failed.
    """
