"""The MessagePack Socket.IO parser, as `socket.io-msgpack-parser` speaks it.

[pure] The stdlib and the `msgpack` codec; no I/O. One packet is one MessagePack
map ``{"type": 0..4, "nsp": str, "data": ..., "id": int}`` sent as one binary
Engine.IO message. Bytes travel inline as ``bin`` values, so there are no
BINARY_EVENT/BINARY_ACK packets and no attachments. Nothing is negotiated on
the wire: both sides must use this parser (see the README for how a deployment
serves JSON and MessagePack clients side by side).

Encoding writes only the keys the JavaScript decoder accepts: ``data`` is left
out of DISCONNECT and of a CONNECT without payload (that decoder refuses
``nil`` there), ``id`` is present only with an ack id.

Decoding is tolerant of what real peers send and strict about the rest:
- the JavaScript client writes ``undefined`` as the extension ``d4 00 00``
  (fixext1, type 0), e.g. as the ``data`` of a CONNECT without auth; it reads
  as None, and so does ``nil`` (python-socketio's CONNECT and DISCONNECT);
- notepack writes a ``Date`` as fixext8 type 0 (epoch milliseconds) and Node
  typed arrays as ext8/16/32 type 0; an ext hook sees only ``(0, data)``, so an
  8-byte type-0 value is a Date when the input holds it in the fixext8 form and
  bytes otherwise; the standard timestamp extension (-1) is read too; Dates
  become aware UTC datetimes. Other extension types stay `msgpack.ExtType`;
- unknown keys (the JavaScript client sends its ``options``) are ignored;
- anything else malformed raises `PacketError`, never another exception.
Validation is the JSON parser's (`packets._data_problem`), which is what the
JavaScript decoder's ``checkPacket`` checks, plus an event name.

Values the wire cannot carry as in JSON: integers beyond 64 bits go out as
float64 (what a JavaScript peer holds anyway); lone surrogates are written as
their 3-byte form (a JavaScript peer reads U+FFFD); dict keys must be strings
(a non-string key becomes a string in JSON; here it is refused on decoding).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack

from ..exceptions import PacketError
from .packets import (
    _ACK_ID_LIMIT,
    _TO_PLAIN,
    _TYPE_OF,
    MAX_ACK_ID_DIGITS,
    MAX_DEPTH,
    Packet,
    PacketType,
    _data_problem,
    _id_problem,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNDEFINED = b"\x00"  # the body of the JavaScript `undefined` extension (d4 00 00)
_FIXEXT8_DATE = b"\xd7\x00"
_EXT8_LEN8_TYPE0 = b"\xc7\x08\x00"


def _default(obj: Any) -> Any:
    if isinstance(obj, int):  # beyond 64 bits: what a JavaScript peer would hold anyway
        return float(obj)
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            raise TypeError("a naive datetime cannot be sent: give it a time zone")
        ms = (obj - _EPOCH) // timedelta(milliseconds=1)
        return msgpack.ExtType(0, ms.to_bytes(8, "big", signed=True))  # packs as fixext8
    raise TypeError(f"Object of type {type(obj).__name__} is not MessagePack serializable")


_packer = msgpack.Packer(
    default=_default, use_bin_type=True, unicode_errors="surrogatepass", datetime=False
)


def encode(packet: Packet) -> bytes:
    """Encode a packet as one MessagePack map.

    Raises ValueError for a packet that breaks the protocol and TypeError for a
    value MessagePack cannot carry: these are the caller's bugs, not the peer's.
    """
    ptype = _TYPE_OF.get(packet.type)
    if ptype is None:
        raise ValueError(f"unknown packet type {packet.type!r}")
    ptype = _TO_PLAIN.get(ptype, ptype)  # bytes travel inline: never BINARY_*
    namespace, data, ack_id = packet.namespace, packet.data, packet.id
    if not (isinstance(namespace, str) and namespace.startswith("/")):
        raise ValueError(f"namespace must start with '/': {namespace!r}")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id < _ACK_ID_LIMIT):
        raise ValueError(f"ack id must be an int from 0 to 10**{MAX_ACK_ID_DIGITS} - 1")
    problem = _data_problem(ptype, data, (list, tuple)) or _id_problem(ptype, ack_id)
    if problem:
        raise ValueError(problem)
    obj: dict[str, Any] = {"type": int(ptype), "nsp": namespace}
    if data is not None:
        obj["data"] = data
    if ack_id is not None:
        obj["id"] = ack_id
    try:
        return _packer.pack(obj)
    except ValueError as exc:  # nesting deeper than the packer allows
        raise TypeError(f"data cannot be packed: {exc}") from None


# --- decoding -------------------------------------------------------------


def _ext(code: int, data: bytes) -> Any:
    if code == 0:
        return None if data == _UNDEFINED else data
    return msgpack.ExtType(code, data)


def _ext_reading_dates(raw: bytes) -> Any:
    """The ext hook for an input that holds a notepack Date somewhere."""

    def ext(code: int, data: bytes) -> Any:
        if code == 0 and len(data) == 8:
            if _FIXEXT8_DATE + data in raw and _EXT8_LEN8_TYPE0 + data not in raw:
                ms = int.from_bytes(data, "big", signed=True)
                return _EPOCH + timedelta(milliseconds=ms)
            return data
        return _ext(code, data)

    return ext


_DECODE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException)


def _depth_over(obj: Any, limit: int) -> bool:
    """Do arrays/maps in `obj` nest more than `limit` levels (the packet map is level 0)?"""
    level: list[Any] = [obj]
    for _ in range(limit):
        deeper: list[Any] = []
        for node in level:
            if type(node) is list:
                deeper.extend(item for item in node if type(item) is list or type(item) is dict)
            elif type(node) is dict:
                deeper.extend(v for v in node.values() if type(v) is list or type(v) is dict)
        if not deeper:
            return False
        level = deeper
    return True


def decode(raw: bytes, max_depth: int = MAX_DEPTH) -> Packet:
    """Decode one binary message into a packet; `PacketError` if it is not one.

    Arrays and maps inside ``data`` may nest `max_depth` levels, as in the JSON parser.
    """
    hook = _ext_reading_dates(raw) if _FIXEXT8_DATE in raw else _ext
    try:
        obj = msgpack.unpackb(
            raw,
            raw=False,
            strict_map_key=True,
            ext_hook=hook,
            timestamp=3,
            unicode_errors="surrogatepass",
        )
    except _DECODE_ERRORS as exc:
        raise PacketError(f"invalid MessagePack: {exc}") from None
    if not isinstance(obj, dict):
        raise PacketError("a packet must be a map")
    # Each level costs at least one byte: short messages cannot be too deep.
    if len(raw) > max_depth and _depth_over(obj.get("data"), max_depth):
        raise PacketError(f"payload nested deeper than {max_depth} levels")
    ptype = obj.get("type")
    if type(ptype) is not int or not 0 <= ptype <= 4:
        raise PacketError(f"invalid packet type {ptype!r}")
    ptype = PacketType(ptype)
    namespace = obj.get("nsp")
    if not isinstance(namespace, str) or not namespace.startswith("/"):
        raise PacketError(f"invalid namespace {namespace!r}")
    ack_id = obj.get("id")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id < _ACK_ID_LIMIT):
        raise PacketError(f"invalid ack id {ack_id!r}")
    data = obj.get("data")
    problem = _data_problem(ptype, data, list) or _id_problem(ptype, ack_id)
    if problem:
        raise PacketError(problem)
    return Packet(ptype, namespace, data, ack_id)


class MsgPackDecoder:
    """Per-connection decoder; it keeps no state, as every packet is one message."""

    __slots__ = ("max_depth",)

    def __init__(self, max_depth: int = MAX_DEPTH) -> None:
        self.max_depth = max_depth

    def feed(self, data: str | bytes) -> Packet:
        if isinstance(data, str):
            raise PacketError("text message on a MessagePack connection")
        if not isinstance(data, bytes):
            data = bytes(data)
        return decode(data, self.max_depth)


class MsgPackParser:
    """The MessagePack parser: one binary message per packet, bytes inline."""

    __slots__ = ("_decoder", "max_attachments", "max_depth")
    name = "msgpack"

    def __init__(self, max_attachments: int = 10, max_depth: int = MAX_DEPTH) -> None:
        self.max_attachments = max_attachments  # unused: bytes travel inline
        self.max_depth = max_depth
        self._decoder: MsgPackDecoder | None = None

    def encode(self, packet: Packet) -> list[str | bytes]:
        return [encode(packet)]

    def decoder(self) -> MsgPackDecoder:
        # Stateless, so every connection shares one (made after settings are applied).
        decoder = self._decoder
        if decoder is None or decoder.max_depth != self.max_depth:
            decoder = self._decoder = MsgPackDecoder(self.max_depth)
        return decoder
