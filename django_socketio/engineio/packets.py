"""Engine.IO v4 packet and payload codec.

[pure] Strings and bytes in, `Packet` out, and back. Anything malformed raises
`PacketError` (a `ProtocolError`), never another exception.

Wire format (v4): a text packet is its type digit followed by its data
(``4hello``); over websocket a binary message is the raw bytes of a MESSAGE
packet, with no type byte. A polling payload joins packets with the record
separator ``\\x1e``; a binary packet in a payload is ``b`` + base64.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from dataclasses import dataclass
from enum import IntEnum

from ..exceptions import PacketError

SEPARATOR = "\x1e"


class PacketType(IntEnum):
    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPES = {str(t.value): t for t in PacketType}


@dataclass(frozen=True, slots=True)
class Packet:
    type: PacketType
    data: str | bytes = ""

    @property
    def binary(self) -> bool:
        return isinstance(self.data, bytes)


# Prebuilt packets the engine sends often, so the hot path allocates nothing.
PING = Packet(PacketType.PING)
PONG = Packet(PacketType.PONG)
NOOP = Packet(PacketType.NOOP)
CLOSE = Packet(PacketType.CLOSE)
PONG_PROBE = Packet(PacketType.PONG, "probe")


def encode(packet: Packet) -> str | bytes:
    """Encode one packet for a websocket frame: text, or raw bytes for binary."""
    if isinstance(packet.data, bytes):
        if packet.type is not PacketType.MESSAGE:
            raise PacketError(f"only MESSAGE packets carry binary data, not {packet.type.name}")
        return packet.data
    return _DIGITS[packet.type] + packet.data


_DIGITS = {t: str(t.value) for t in PacketType}


def decode(frame: str | bytes) -> Packet:
    """Decode one websocket frame or payload part.

    str: a text packet, or ``b`` + base64 for a binary MESSAGE (how polling carries
    binary, and how engine.io-parser accepts it on any transport); bytes: a binary
    MESSAGE.
    """
    if isinstance(frame, bytes):
        return Packet(PacketType.MESSAGE, frame)
    if not frame:
        raise PacketError("empty packet")
    if frame[0] == "b":
        try:
            return Packet(PacketType.MESSAGE, b64decode(frame[1:].encode("ascii"), validate=True))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise PacketError("invalid base64 in binary packet") from None
    try:
        ptype = _TYPES[frame[0]]
    except KeyError:
        raise PacketError(f"unknown packet type {frame[0]!r}") from None
    return Packet(ptype, frame[1:])


def encode_payload(packets: list[Packet] | tuple[Packet, ...]) -> str:
    """Join packets for a polling response; binary packets become ``b`` + base64."""
    return SEPARATOR.join(
        "b" + b64encode(p.data).decode("ascii")
        if isinstance(p.data, bytes)
        else _DIGITS[p.type] + p.data
        for p in packets
    )


def decode_payload(payload: str, max_packets: int = 0) -> list[Packet]:
    """Split a polling request body into packets.

    `max_packets` (0: no limit) bounds the work one request can cause, like
    python-engineio's ``max_decode_packets``.
    """
    if not payload:
        raise PacketError("empty payload")
    parts = payload.split(SEPARATOR)
    if max_packets and len(parts) > max_packets:
        raise PacketError(f"payload holds more than {max_packets} packets")
    return [decode(part) for part in parts]
