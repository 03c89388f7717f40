"""Engine.IO v3 packet and payload codec (Socket.IO 1.x/2.x clients, ``EIO=3``).

[pure] Beside the v4 codec in `packets.py`, sharing its `Packet`; anything
malformed raises `PacketError`. What differs from v4 (docs/engine.io-protocol/v3.md
in socketio/socket.io, and Node's ``parser-v3``):

- websocket: a binary frame starts with the packet type byte (``04`` + data);
  a text frame is the same as in v4. ``b`` + type digit + base64 is a binary
  packet written as text (clients that asked for ``b64=1``).
- polling, text payload: each packet as ``<length>:<packet>``, where the length
  counts UTF-16 code units, as JavaScript's ``string.length`` does (a character
  outside the BMP counts 2); a binary packet is ``b4`` + base64 and its length
  counts those characters. The reference encodes no packet at all as ``0:``.
- polling, binary payload ("XHR2", when the client did not ask for ``b64=1``
  and a binary packet is queued): per packet a kind byte (``00`` text, ``01``
  binary), the length as one byte per decimal digit, ``ff``, then the packet:
  text as UTF-8 (the length counts bytes), binary as the type byte and the data.
- decoding a payload is all or nothing: one bad length or packet rejects it.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode

from ..exceptions import PacketError
from .packets import Packet, PacketType

_TYPES = {str(t.value): t for t in PacketType}
_DIGITS = {t: str(t.value) for t in PacketType}
_BYTE_TYPES = {t.value: t for t in PacketType}
MAX_LENGTH_DIGITS = 10
"""Digits of one packet's length in a payload; more cannot fit any payload we accept."""
_BINARY_MESSAGE = b"\x04"


def utf16_length(text: str) -> int:
    """What JavaScript's ``text.length`` is: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- single packets ---------------------------------------------------------------


def encode(packet: Packet, b64: bool = False) -> str | bytes:
    """One packet for a websocket frame: text, or the type byte and the bytes."""
    if isinstance(packet.data, bytes):
        if b64:
            return _base64(packet)
        return bytes((packet.type.value,)) + packet.data
    return _DIGITS[packet.type] + packet.data


def _base64(packet: Packet) -> str:
    return "b" + _DIGITS[packet.type] + b64encode(packet.data).decode("ascii")  # type: ignore[arg-type]


def message_frame(data: str | bytes) -> str | bytes:
    """A MESSAGE packet's websocket frame (the hot path of `encode`)."""
    return "4" + data if type(data) is str else _BINARY_MESSAGE + data  # type: ignore[operator]


def decode(frame: str | bytes) -> Packet:
    """One websocket frame or payload part: text, ``b<type><base64>``, or type byte + bytes."""
    if isinstance(frame, bytes | bytearray | memoryview):
        frame = bytes(frame)
        if not frame:
            raise PacketError("empty binary packet")
        ptype = _BYTE_TYPES.get(frame[0])
        if ptype is None:
            raise PacketError(f"unknown binary packet type {frame[0]}")
        return Packet(ptype, frame[1:])
    if not frame:
        raise PacketError("empty packet")
    if frame[0] == "b":
        ptype = _TYPES.get(frame[1:2])
        if ptype is None:
            raise PacketError("unknown packet type in a base64 packet")
        try:
            return Packet(ptype, b64decode(frame[2:].encode("ascii"), validate=True))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise PacketError("invalid base64 in binary packet") from None
    ptype = _TYPES.get(frame[0])
    if ptype is None:
        raise PacketError(f"unknown packet type {frame[0]!r}")
    return Packet(ptype, frame[1:])


# --- payloads -----------------------------------------------------------------------


def encode_payload(packets: list[Packet] | tuple[Packet, ...], binary: bool) -> str | bytes:
    """A polling response: the binary form if `binary` and a packet is binary, else text."""
    if binary and any(isinstance(p.data, bytes) for p in packets):
        return _encode_binary_payload(packets)
    if not packets:
        return "0:"
    parts = []
    for packet in packets:
        text = (
            _base64(packet)
            if isinstance(packet.data, bytes)
            else _DIGITS[packet.type] + packet.data
        )
        parts.append(f"{utf16_length(text)}:{text}")
    return "".join(parts)


def _length_bytes(length: int) -> bytes:
    return bytes(int(d) for d in str(length))


def _encode_binary_payload(packets: list[Packet] | tuple[Packet, ...]) -> bytes:
    out = bytearray()
    for packet in packets:
        if isinstance(packet.data, bytes):
            body = bytes((packet.type.value,)) + packet.data
            out += b"\x01"
        else:
            body = (_DIGITS[packet.type] + packet.data).encode("utf-8", "surrogatepass")
            out += b"\x00"
        out += _length_bytes(len(body)) + b"\xff" + body
    return bytes(out)


def decode_payload(body: bytes, binary: bool, max_packets: int = 0) -> list[Packet]:
    """Split a polling POST body; `binary` if it came as ``application/octet-stream``.

    `max_packets` (0: no limit) bounds the work one request can cause.
    """
    packets = _decode_binary_payload(body) if binary else _decode_text_payload(body)
    if not packets:
        raise PacketError("empty payload")
    if max_packets and len(packets) > max_packets:
        raise PacketError(f"payload holds more than {max_packets} packets")
    return packets


def _decode_text_payload(body: bytes) -> list[Packet]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PacketError("payload is not UTF-8") from None
    ascii_only = text.isascii()
    packets: list[Packet] = []
    i, end = 0, len(text)
    while i < end:
        colon = text.find(":", i, i + MAX_LENGTH_DIGITS + 1)
        digits = text[i:colon] if colon >= 0 else ""
        if not (digits.isascii() and digits.isdigit()):
            raise PacketError("invalid length in payload")
        units = int(digits)
        start = colon + 1
        stop = start + units if ascii_only else _advance(text, start, units)
        if stop > end:
            raise PacketError("payload shorter than its length says")
        if units:  # the reference skips empty packets ("0:")
            packets.append(decode(text[start:stop]))
        i = stop
    return packets


def _advance(text: str, start: int, units: int) -> int:
    """The index `units` UTF-16 code units after `start`; PacketError if it splits a pair."""
    i, counted, end = start, 0, len(text)
    while counted < units and i < end:
        counted += 2 if ord(text[i]) > 0xFFFF else 1
        i += 1
    if counted != units:
        raise PacketError("payload length does not match its packets")
    return i


def _decode_binary_payload(body: bytes) -> list[Packet]:
    packets: list[Packet] = []
    i, end = 0, len(body)
    while i < end:
        kind = body[i]
        if kind not in (0, 1):
            raise PacketError("invalid packet kind in binary payload")
        separator = body.find(b"\xff", i + 1, i + 2 + MAX_LENGTH_DIGITS)
        digits = body[i + 1 : separator] if separator > i + 1 else b""
        if not digits or any(d > 9 for d in digits):
            raise PacketError("invalid length in binary payload")
        length = int("".join(map(str, digits)))
        start = separator + 1
        stop = start + length
        if stop > end:
            raise PacketError("binary payload shorter than its length says")
        part = body[start:stop]
        if kind == 0:
            try:
                packets.append(decode(part.decode("utf-8")))
            except UnicodeDecodeError:
                raise PacketError("text packet is not UTF-8") from None
        else:
            packets.append(decode(part))
        i = stop
    return packets
