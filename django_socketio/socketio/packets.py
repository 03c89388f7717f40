"""Socket.IO v5 packet codec: the default (JSON) parser.

[pure] stdlib only. `Packet` in, text and bytes out, and back. Anything malformed
that a peer sends raises `PacketError`, never another exception; the Socket.IO
layer answers it by closing that one connection.

Wire format: ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]``,
for example ``2/admin,12["hello",1]``. The namespace is left out when it is
``"/"``. Each encoded packet travels in its own Engine.IO MESSAGE packet.

Bytes cannot travel inside JSON, so a packet whose data holds bytes is sent as a
BINARY_EVENT or BINARY_ACK: every bytes value is replaced by
``{"_placeholder":true,"num":N}`` in the text, and the bytes follow as separate
Engine.IO binary messages, attachment 0 first. Which of the two forms a packet
takes is a wire detail: `encode` chooses it from the data, and decoding hands
back a plain EVENT or ACK with the bytes put back in place, so
``decode(encode(p)) == p``.

Why a per-connection `Decoder`: a binary packet arrives as several Engine.IO
messages (its text header, then one message per attachment) that may be spread
over several websocket frames or polling requests. The half-received packet is
state of that one connection, so it lives in the connection's decoder, not in the
server: the server only ever sees complete packets, and a peer that breaks the
sequence (bytes with no header waiting for them, text while attachments are
still due, more attachments than allowed) is refused at the message that breaks it.

Validation follows socket.io-parser's ``isPayloadValid`` and is a little stricter
where the protocol document says MUST: EVENT data is a non-empty array whose
first element (the event name) is a string, ACK data is an array and an ACK
carries an id, CONNECT data is an object or absent, DISCONNECT has no data,
CONNECT_ERROR data is an object or a string. Checking event names against the
reserved ones (``connect``, ``disconnect``, ...) is the server's job, not the
codec's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate
from typing import Any, Protocol, runtime_checkable

from ..exceptions import PacketError, shorten


class PacketType(IntEnum):
    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet.

    ``data`` by type: CONNECT a dict or None (the client's auth payload, the
    server's ``{"sid": ...}``); DISCONNECT None; EVENT a list ``[name, *args]``;
    ACK a list of arguments; CONNECT_ERROR a dict (``{"message": ...}``) or a
    str. ``id`` is the ack id: optional on EVENT, required on ACK, None on the
    other types. EVENT and ACK data may hold bytes anywhere inside.
    """

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None


MAX_ACK_ID_DIGITS = 15
"""An ack id has at most 15 digits, so it stays exact as a JavaScript number."""
_ACK_ID_LIMIT = 10**MAX_ACK_ID_DIGITS

_BINARY_TYPES = (bytes, bytearray, memoryview)
_TYPE_OF = {t: t for t in PacketType}  # int or PacketType -> PacketType
_DIGIT = {t: str(t.value) for t in PacketType}
_TO_BINARY = {
    PacketType.EVENT: PacketType.BINARY_EVENT,
    PacketType.BINARY_EVENT: PacketType.BINARY_EVENT,
    PacketType.ACK: PacketType.BINARY_ACK,
    PacketType.BINARY_ACK: PacketType.BINARY_ACK,
}
_TO_PLAIN = {PacketType.BINARY_EVENT: PacketType.EVENT, PacketType.BINARY_ACK: PacketType.ACK}
_EVENTS = frozenset({PacketType.EVENT, PacketType.BINARY_EVENT})
_ACKS = frozenset({PacketType.ACK, PacketType.BINARY_ACK})

# type digit, then "<count>-", then "/namespace," (the comma may end the text),
# then the ack id; the JSON payload is whatever follows. `[0-9]` is ASCII only,
# unlike `\d` and `str.isdigit()`.
_HEADER = re.compile(r"([0-6])(?:([0-9]{1,10})-)?(?:(/[^,]*),?)?([0-9]*)")


def _data_problem(ptype: PacketType, data: Any, arrays: type | tuple[type, ...]) -> str | None:
    """Why ``data`` cannot be the payload of a ``ptype`` packet, or None if it can."""
    if ptype in _EVENTS:
        if isinstance(data, arrays) and data and isinstance(data[0], str):
            return None
        return "EVENT data must be a non-empty array starting with the event name"
    if ptype in _ACKS:
        return None if isinstance(data, arrays) else "ACK data must be an array"
    if ptype is PacketType.CONNECT:
        return None if data is None or isinstance(data, dict) else "CONNECT data must be an object"
    if ptype is PacketType.DISCONNECT:
        return None if data is None else "DISCONNECT carries no data"
    if isinstance(data, dict | str):
        return None
    return "CONNECT_ERROR data must be an object or a string"


def _id_problem(ptype: PacketType, ack_id: int | None) -> str | None:
    if ptype in _ACKS:
        return "ACK without an id" if ack_id is None else None
    if ack_id is not None and ptype not in _EVENTS:
        return f"{ptype.name} carries no ack id"
    return None


# --- encoding -------------------------------------------------------------


class _BinaryFound(Exception):
    """Raised by the JSON encoder on the first bytes value: the packet goes out as binary."""


JSONDefault = Callable[[Any], Any]
"""What JSON cannot write, made writable (``json.JSONEncoder.default``), or TypeError."""

Dumps = Callable[[Any], str]


def _no_json_for(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def json_encoders(default: JSONDefault | None = None) -> tuple[Dumps, Dumps]:
    """The two compact JSON writers (UTF-8 text, and ASCII-escaped) for `default`.

    `default` is only called for values JSON has no form for (a datetime, a
    Decimal): plain data never reaches Python code, so it costs nothing there.
    Bytes never reach it either: they mean the packet goes out as binary.
    """
    fallback = default or _no_json_for

    def no_json_for(obj: Any) -> Any:
        if isinstance(obj, _BINARY_TYPES):
            raise _BinaryFound
        return fallback(obj)

    options: dict[str, Any] = {
        "separators": (",", ":"),
        "allow_nan": False,
        "default": no_json_for,
    }
    return (
        json.JSONEncoder(ensure_ascii=False, **options).encode,
        json.JSONEncoder(ensure_ascii=True, **options).encode,
    )


_PLAIN_ENCODERS = json_encoders()
_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(packet: Packet, default: JSONDefault | None = None) -> tuple[str, list[bytes]]:
    """Encode a packet as its text header and its binary attachments (often none).

    An EVENT or ACK whose data holds bytes, bytearray or memoryview values
    (at any depth, in lists, tuples or dict values) goes out as BINARY_EVENT or
    BINARY_ACK; tuples are encoded as arrays. Values JSON cannot write are
    handed to `default` (``json.JSONEncoder.default``'s contract). Raises
    ValueError for a packet that breaks the protocol (bad namespace, id or data
    shape) and TypeError for data that JSON cannot carry: these are the
    caller's bugs, not the peer's.
    """
    return _encode(packet, _PLAIN_ENCODERS if default is None else json_encoders(default))


def _encode(packet: Packet, encoders: tuple[Dumps, Dumps]) -> tuple[str, list[bytes]]:
    ptype = _TYPE_OF.get(packet.type)
    if ptype is None:
        raise ValueError(f"unknown packet type {packet.type!r}")
    namespace, data, ack_id = packet.namespace, packet.data, packet.id
    if not (isinstance(namespace, str) and namespace.startswith("/") and "," not in namespace):
        raise ValueError(f"namespace must start with '/' and contain no ',': {namespace!r}")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id < _ACK_ID_LIMIT):
        raise ValueError(f"ack id must be an int from 0 to 10**{MAX_ACK_ID_DIGITS} - 1")
    problem = _data_problem(ptype, data, (list, tuple)) or _id_problem(ptype, ack_id)
    if problem:
        raise ValueError(problem)

    # The JSON encoder is the scan for bytes: data without any (the usual case)
    # is walked once, by C code, and never copied. Only when it meets bytes is
    # the data copied with placeholders and encoded again.
    attachments: list[bytes] = []
    try:
        payload = "" if data is None else _json(data, encoders)
    except _BinaryFound:
        if ptype not in _TO_BINARY:
            raise TypeError(f"only EVENT and ACK data can hold bytes, not {ptype.name}") from None
        try:
            payload = _json(_deconstruct(data, attachments), encoders)
        except _BinaryFound:
            raise TypeError("the JSON encoder's default() returned bytes") from None
    if attachments:
        text = f"{_DIGIT[_TO_BINARY[ptype]]}{len(attachments)}-"
    else:
        text = _DIGIT[_TO_PLAIN.get(ptype, ptype)]
    if namespace != "/":
        text += namespace + ","
    if ack_id is not None:
        text += str(ack_id)
    return text + payload, attachments


_PLAIN = (str, int, float, bool, type(None), bytes)


def plain_data(data: Any, default: JSONDefault | None = None) -> Any:
    """`data` as a client will get it: each value JSON has no form for replaced by what
    `default` makes of it, tuples as lists; bytes stay bytes.

    For arguments that travel to other nodes before being encoded there: the
    channel layer's serialiser (msgpack in channels-redis) knows no more types than
    JSON does. Raises TypeError for a value `default` cannot handle.
    """
    if isinstance(data, _PLAIN):
        return data
    if isinstance(data, list | tuple):
        return [plain_data(item, default) for item in data]
    if isinstance(data, dict):
        return {key: plain_data(value, default) for key, value in data.items()}
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    return plain_data((default or _no_json_for)(data), default)


def _json(data: Any, encoders: tuple[Dumps, Dumps]) -> str:
    payload = encoders[0](data)
    # A lone surrogate (a client may send one as "\ud800") cannot be written
    # as UTF-8; escaped, it is valid JSON that reads back the same.
    if not payload.isascii() and _SURROGATE.search(payload):
        payload = encoders[1](data)
    return payload


def _deconstruct(obj: Any, attachments: list[bytes]) -> Any:
    """A copy of ``obj`` with each bytes value moved to ``attachments``, leaving a placeholder."""
    if isinstance(obj, _BINARY_TYPES):
        attachments.append(bytes(obj))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(obj, list | tuple):
        return [_deconstruct(item, attachments) for item in obj]
    if isinstance(obj, dict):
        return {key: _deconstruct(value, attachments) for key, value in obj.items()}
    return obj


# --- decoding -------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # "1e400": Python reads inf, which JSON cannot write back
        raise ValueError(f"number out of range: {text[:40]}")
    return value


_loads = json.JSONDecoder(parse_float=_finite_float, parse_constant=_reject_constant).decode

MAX_DEPTH = 64
"""Default bound on how deeply arrays and objects may nest in a payload.

Python's JSON decoder recurses once per level, so without a bound the depth
at which a payload fails depends on the stack (about 980 levels); the bound is
checked before decoding. ``["event", [1]]`` is depth 2.
"""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _depth(payload: str, limit: int) -> int:
    """How deeply `payload` nests, or any value <= `limit` when it surely stays within it."""
    if payload.count("[") + payload.count("{") <= limit:  # the usual case, at C speed
        return 0
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", payload))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _decode_text(
    text: str, max_attachments: int, max_depth: int = MAX_DEPTH
) -> tuple[Packet, int | None]:
    """Decode a text packet: the packet, and its attachment count if it is binary."""
    match = _HEADER.match(text)
    if match is None:
        raise PacketError(f"unknown packet type {text[:1]!r}" if text else "empty packet")
    digit, count_digits, namespace, id_digits = match.groups()
    ptype = PacketType(int(digit))
    count: int | None = None
    if ptype in _TO_PLAIN:
        if count_digits is None:
            raise PacketError(f"{ptype.name} without an attachment count")
        count = int(count_digits)
        if count > max_attachments:
            raise PacketError(f"{count} attachments, more than {max_attachments}")
    elif count_digits is not None:
        raise PacketError(f"{ptype.name} with an attachment count")
    ack_id: int | None = None
    if id_digits:
        if len(id_digits) > MAX_ACK_ID_DIGITS:
            raise PacketError(f"ack id longer than {MAX_ACK_ID_DIGITS} digits")
        ack_id = int(id_digits)
    problem = _id_problem(ptype, ack_id)
    if problem:
        raise PacketError(problem)

    payload = text[match.end() :]
    data: Any = None
    if payload:
        if ptype is PacketType.DISCONNECT:
            raise PacketError("DISCONNECT carries no data")
        if _depth(payload, max_depth) > max_depth:
            raise PacketError(f"payload nested deeper than {max_depth} levels")
        try:
            data = _loads(payload)
        except (ValueError, RecursionError) as exc:
            raise PacketError(f"invalid JSON payload: {exc}") from exc
        if data is None:
            raise PacketError(f"{ptype.name} payload is null")
    problem = _data_problem(ptype, data, list)
    if problem:
        raise PacketError(problem)
    return Packet(_TO_PLAIN.get(ptype, ptype), namespace or "/", data, ack_id), count


def _fill_placeholders(data: list[Any], attachments: list[bytes]) -> None:
    """Replace each placeholder inside ``data`` by its attachment, in place.

    Iterative, so JSON nested as deep as the decoder accepted cannot overflow
    the stack here. The root is an array (checked on the header), never a
    placeholder itself.
    """
    stack: list[list[Any] | dict[str, Any]] = [data]
    while stack:
        node = stack.pop()
        items = enumerate(node) if isinstance(node, list) else node.items()
        for key, value in items:
            if isinstance(value, dict):
                if value.get("_placeholder") is True:
                    num = value.get("num")
                    if type(num) is not int or not 0 <= num < len(attachments):
                        raise PacketError(f"placeholder for a missing attachment: {shorten(num)}")
                    node[key] = attachments[num]  # same key: allowed while iterating
                else:
                    stack.append(value)
            elif isinstance(value, list):
                stack.append(value)


class Decoder:
    """Per-connection decoder; reassembles binary packets from their attachments.

    Feed it every Socket.IO message of one connection, in order. After a
    `PacketError` it is empty again, though the connection should be closed.
    """

    __slots__ = (
        "_attachments",
        "_expected",
        "_pending",
        "_size",
        "max_attachment_bytes",
        "max_attachments",
        "max_depth",
    )

    def __init__(
        self, max_attachments: int = 10, max_depth: int = MAX_DEPTH, max_attachment_bytes: int = 0
    ) -> None:
        self.max_attachments = max_attachments
        self.max_depth = max_depth
        #: Bytes the attachments of one packet may total (0: no limit).
        self.max_attachment_bytes = max_attachment_bytes
        self._pending: Packet | None = None
        self._expected = 0
        self._size = 0
        self._attachments: list[bytes] = []

    @property
    def waiting(self) -> bool:
        """A binary packet is waiting for its attachments."""
        return self._pending is not None

    def feed(self, data: str | bytes) -> Packet | None:
        """Decode one message: a complete packet, or None while attachments are due.

        A str is a packet's text; a binary packet's text returns None until its
        attachments have been fed. Bytes are the next attachment of the pending
        binary packet; the last one returns the packet with its bytes in place.
        """
        if isinstance(data, str):
            if self._pending is not None:
                self._reset()
                raise PacketError("text packet while binary attachments are due")
            packet, count = _decode_text(data, self.max_attachments, self.max_depth)
            if count is None:
                return packet
            if count == 0:  # labelled binary, but nothing follows
                _fill_placeholders(packet.data, [])
                return packet
            self._pending, self._expected = packet, count
            return None
        if isinstance(data, _BINARY_TYPES):
            if self._pending is None:
                raise PacketError("binary message with no binary packet waiting for it")
            self._size += len(data)
            if self.max_attachment_bytes and self._size > self.max_attachment_bytes:
                self._reset()
                raise PacketError(
                    f"attachments of one packet over {self.max_attachment_bytes} bytes"
                )
            self._attachments.append(bytes(data))
            if len(self._attachments) < self._expected:
                return None
            packet, attachments = self._pending, self._attachments
            self._reset()
            _fill_placeholders(packet.data, attachments)
            return packet
        self._reset()
        raise PacketError(f"cannot decode a {type(data).__name__}")

    def _reset(self) -> None:
        self._pending = None
        self._expected = 0
        self._size = 0
        self._attachments = []


# --- parser interface -----------------------------------------------------


class PacketDecoder(Protocol):
    def feed(self, data: str | bytes) -> Packet | None: ...


@runtime_checkable
class Parser(Protocol):
    """What the server needs from a parser, so another (msgpack) can be plugged in."""

    #: How other nodes name it in a broadcast ("json", "msgpack").
    name: str

    def encode(self, packet: Packet) -> list[str | bytes]:
        """The Engine.IO messages carrying ``packet``, in sending order."""
        ...

    def decoder(self) -> PacketDecoder:
        """A fresh decoder for one connection."""
        ...


class JSONParser:
    """The default parser: JSON text, with bytes sent as separate attachments.

    `default` makes other types writable, like ``json.JSONEncoder.default``
    (Django's server passes DjangoJSONEncoder's: datetimes, Decimals, UUIDs...).
    """

    name = "json"

    __slots__ = ("_default", "_encoders", "max_attachment_bytes", "max_attachments", "max_depth")

    def __init__(
        self,
        max_attachments: int = 10,
        max_depth: int = MAX_DEPTH,
        max_attachment_bytes: int = 0,
        default: JSONDefault | None = None,
    ) -> None:
        self.max_attachments = max_attachments
        self.max_depth = max_depth
        self.max_attachment_bytes = max_attachment_bytes
        self.default = default

    @property
    def default(self) -> JSONDefault | None:
        return self._default

    @default.setter
    def default(self, default: JSONDefault | None) -> None:
        self._default = default
        self._encoders = _PLAIN_ENCODERS if default is None else json_encoders(default)

    def encode(self, packet: Packet) -> list[str | bytes]:
        text, attachments = _encode(packet, self._encoders)
        return [text, *attachments]

    def decoder(self) -> Decoder:
        return Decoder(self.max_attachments, self.max_depth, self.max_attachment_bytes)
