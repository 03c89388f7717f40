"""The MessagePack parser (`socketio/msgpack_parser.py`) without I/O.

Byte-exact examples come from socket.io-msgpack-parser's README and from what
notepack (the codec of the JavaScript parser) writes; the invalid inputs are
those of the parser's own test suite; python-socketio's `MsgPackPacket` checks
interop with the other Python implementation in both directions.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from socketio import packet as sio_packet
from socketio.msgpack_packet import MsgPackPacket

from django_socketio.exceptions import PacketError
from django_socketio.socketio.msgpack_parser import MsgPackParser, decode, encode
from django_socketio.socketio.packets import JSONParser, Packet, PacketType, Parser

from .test_packets import ack_ids, json_values, keys, namespaces, values_with_bytes

T = PacketType


def b(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# (packet, bytes as the JavaScript encoder writes them for the same object, keys in our order)
WIRE = [
    # socket.emit("hello", "you"), from the parser's README
    (
        Packet(T.EVENT, "/", ["hello", "you"]),
        b("83 a474797065 02 a36e7370 a12f a464617461 92 a568656c6c6f a3796f75"),
    ),
    # CONNECT without auth: no data key at all (the JS decoder refuses nil here)
    (Packet(T.CONNECT), b("82 a474797065 00 a36e7370 a12f")),
    (
        Packet(T.CONNECT, "/chat", {"sid": "x"}),
        b("83 a474797065 00 a36e7370 a52f63686174 a464617461 81 a3736964 a178"),
    ),
    (Packet(T.DISCONNECT, "/chat"), b("82 a474797065 01 a36e7370 a52f63686174")),
    (
        Packet(T.EVENT, "/", ["bin", {"d": b"\x01\x02"}], 7),
        b("84 a474797065 02 a36e7370 a12f a464617461 92 a362696e 81 a164 c4020102 a26964 07"),
    ),
    (
        Packet(T.ACK, "/", [], 300),
        b("84 a474797065 03 a36e7370 a12f a464617461 90 a26964 cd012c"),
    ),
    (
        Packet(T.CONNECT_ERROR, "/", {"message": "no"}),
        b("83 a474797065 04 a36e7370 a12f a464617461 81 a76d657373616765 a26e6f"),
    ),
]


@pytest.mark.parametrize(("packet", "raw"), WIRE)
def test_encode_byte_exact(packet: Packet, raw: bytes) -> None:
    assert encode(packet) == raw
    assert decode(raw) == packet


def test_binary_packet_types_are_never_sent() -> None:
    raw = encode(Packet(T.BINARY_EVENT, "/", ["e", b"\x00"]))
    assert msgpack.unpackb(raw)["type"] == 2
    assert decode(raw) == Packet(T.EVENT, "/", ["e", b"\x00"])


def test_undefined_from_the_javascript_client() -> None:
    """socket.connect() without auth: ``{type: 0, data: undefined, nsp: "/"}``."""
    raw = b("83 a474797065 00 a464617461 d40000 a36e7370 a12f")
    assert decode(raw) == Packet(T.CONNECT, "/", None)
    # ... and undefined inside data, e.g. emit("e", undefined, [undefined])
    raw = b("83 a474797065 02 a36e7370 a12f a464617461 93 a165 d40000 91 d40000")
    assert decode(raw).data == ["e", None, [None]]


def test_nil_data_from_python_socketio() -> None:
    assert decode(msgpack.packb({"type": 0, "data": None, "nsp": "/"})) == Packet(T.CONNECT)
    assert decode(msgpack.packb({"type": 1, "data": None, "nsp": "/a"})) == Packet(
        T.DISCONNECT, "/a"
    )
    assert decode(msgpack.packb({"type": 2, "data": ["e"], "nsp": "/", "id": None})).id is None


def test_extension_values() -> None:
    # notepack: Date as fixext8 type 0 (ms since the epoch), Node typed arrays as ext8 type 0
    date = b("d700 0000018bcfe56800")
    array = b("c708 00 0102030405060708")
    raw = b("83 a474797065 02 a36e7370 a12f a464617461 94 a165") + date + array
    raw += b("c7 03 00 414243")
    assert decode(raw).data == [
        "e",
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        bytes(range(1, 9)),
        b"ABC",
    ]
    # the standard timestamp extension, and an unknown type kept as it is
    stamp = msgpack.packb(datetime(2024, 1, 2, tzinfo=UTC), datetime=True)
    ext = msgpack.packb(msgpack.ExtType(9, b"zz"))
    raw = b("83 a474797065 02 a36e7370 a12f a464617461 93 a165") + stamp + ext
    assert decode(raw).data == ["e", datetime(2024, 1, 2, tzinfo=UTC), msgpack.ExtType(9, b"zz")]


def test_datetimes_go_out_as_notepack_dates() -> None:
    when = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    raw = encode(Packet(T.EVENT, "/", ["e", when]))
    assert b("d700 0000018bcfe5687b") in raw
    assert decode(raw).data == ["e", when]
    with pytest.raises(TypeError):
        encode(Packet(T.EVENT, "/", ["e", datetime(2023, 1, 1)]))  # naive


def test_unknown_keys_are_ignored() -> None:
    """The JavaScript client sends its emit options along."""
    raw = msgpack.packb(
        {"type": 2, "data": ["e", 1], "options": {"compress": True}, "nsp": "/", "id": 3}
    )
    assert decode(raw) == Packet(T.EVENT, "/", ["e", 1], 3)


def test_wide_integers_go_out_as_floats() -> None:
    raw = encode(Packet(T.EVENT, "/", ["e", 2**64, -(2**63), 2**64 - 1]))
    assert decode(raw).data == ["e", float(2**64), -(2**63), 2**64 - 1]


def test_lone_surrogates_pass() -> None:
    assert decode(encode(Packet(T.EVENT, "/", ["\ud800", "x\udfff"]))).data == [
        "\ud800",
        "x\udfff",
    ]


# The invalid inputs of socket.io-msgpack-parser's test suite, and a few more.
INVALID = [
    b"",
    msgpack.packb({}),
    msgpack.packb({"type": "a", "nsp": "/"}),
    msgpack.packb({"type": 7, "nsp": "/"}),
    msgpack.packb({"type": 5, "nsp": "/", "data": ["e"]}),
    msgpack.packb(b"\x01"),
    msgpack.packb({"type": 2}),
    msgpack.packb({"type": 2, "nsp": 2, "data": ["e"]}),
    msgpack.packb({"type": 2, "nsp": "/"}),
    msgpack.packb({"type": 2, "nsp": "/", "data": 4}),
    msgpack.packb({"type": 2, "nsp": "/", "data": []}),
    msgpack.packb({"type": 2, "nsp": "/", "data": [1]}),
    msgpack.packb({"type": 4, "nsp": "/", "data": [1, 2]}),
    msgpack.packb({"type": 2, "nsp": "/", "data": ["e"], "id": "a"}),
    msgpack.packb({"type": 2, "nsp": "/", "data": ["e"], "id": -1}),
    msgpack.packb({"type": 2, "nsp": "/", "data": ["e"], "id": True}),
    msgpack.packb({"type": 3, "nsp": "/", "data": []}),  # an ACK without an id
    msgpack.packb({"type": 1, "nsp": "/", "data": ["x"]}),
    msgpack.packb({"type": 0, "nsp": "/", "data": "auth"}),
    msgpack.packb({"type": True, "nsp": "/"}),
    msgpack.packb({"type": 0, "nsp": "chat"}),
    msgpack.packb({"type": 0, "nsp": "/"}) + b"\x00",  # trailing bytes
    msgpack.packb({"type": 0, "nsp": "/"})[:-1],  # truncated
    msgpack.packb({1: 0, "nsp": "/"}),  # a non-string key
    b"\xc1",  # never used
    b"\x91" * 5000 + b"\xc0",  # nested deeper than the codec goes
]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_input_raises_packet_error(raw: bytes) -> None:
    with pytest.raises(PacketError):
        decode(raw)


def test_parser_interface() -> None:
    parser = MsgPackParser()
    assert isinstance(parser, Parser)
    assert parser.name == "msgpack" and JSONParser().name == "json"
    decoder = parser.decoder()
    assert decoder.feed(encode(Packet(T.ACK, "/", [1], 2))) == Packet(T.ACK, "/", [1], 2)
    with pytest.raises(PacketError):
        decoder.feed('2["text"]')  # a JSON client on a MessagePack server
    assert parser.encode(Packet(T.CONNECT)) == [encode(Packet(T.CONNECT))]


# -- python-socketio's MsgPackPacket, both ways ---------------------------------------------


@pytest.mark.parametrize(
    "packet",
    [
        Packet(T.CONNECT, "/", {"token": "x"}),
        Packet(T.CONNECT, "/chat", None),
        Packet(T.DISCONNECT, "/chat"),
        Packet(T.EVENT, "/", ["e", {"bin": b"\x00\xff"}, [1.5, None]], 12),
        Packet(T.ACK, "/x", ["ok", b"\x01"], 3),
        Packet(T.CONNECT_ERROR, "/", {"message": "no", "data": {"code": 1}}),
    ],
)
def test_interop_with_python_socketio(packet: Packet) -> None:
    theirs = MsgPackPacket(encoded_packet=encode(packet))
    assert (theirs.packet_type, theirs.namespace, theirs.data, theirs.id) == (
        int(packet.type),
        packet.namespace,
        packet.data,
        packet.id,
    )
    again = MsgPackPacket(
        packet_type=int(packet.type), namespace=packet.namespace, data=packet.data, id=packet.id
    )
    assert again.packet_type != sio_packet.BINARY_EVENT
    assert decode(again.encode()) == packet


# -- properties -----------------------------------------------------------------------------

# What the JSON parser accepts (tests/socketio/test_packets.py's generators), binary inline.
msgpack_packets = st.one_of(
    st.builds(
        Packet, st.just(T.CONNECT), namespaces, st.none() | st.dictionaries(keys, json_values)
    ),
    st.builds(Packet, st.just(T.DISCONNECT), namespaces),
    st.builds(
        Packet,
        st.just(T.EVENT),
        namespaces,
        st.builds(
            lambda name, rest: [name, *rest],
            st.text(max_size=10),
            st.lists(values_with_bytes, max_size=5),
        ),
        st.none() | ack_ids,
    ),
    st.builds(Packet, st.just(T.ACK), namespaces, st.lists(values_with_bytes, max_size=5), ack_ids),
    st.builds(
        Packet, st.just(T.CONNECT_ERROR), namespaces, st.text() | st.dictionaries(keys, json_values)
    ),
)


@given(msgpack_packets)
def test_round_trip(packet: Packet) -> None:
    frames = MsgPackParser().encode(packet)
    assert len(frames) == 1 and isinstance(frames[0], bytes)
    assert decode(frames[0]) == packet


@given(msgpack_packets)
def test_what_json_round_trips_msgpack_round_trips(packet: Packet) -> None:
    """Every packet the JSON parser carries, MessagePack carries the same."""
    json_frames = JSONParser(max_attachments=1000).encode(packet)
    decoder = JSONParser(max_attachments=1000).decoder()
    for frame in json_frames:
        via_json = decoder.feed(frame)
    assert decode(encode(packet)) == via_json


@given(st.integers())
def test_any_integer(n: int) -> None:
    (value,) = decode(encode(Packet(T.ACK, "/", [n], 0))).data
    assert value == n if -(2**63) <= n < 2**64 else value == float(n)
    assert not isinstance(value, float) or math.isfinite(value) or abs(n) > 2**1000


@given(st.binary())
def test_any_bytes_decode_or_raise_packet_error(raw: bytes) -> None:
    _decode_or_packet_error(raw)


_maps = st.builds(
    lambda entries: msgpack.packb(dict(entries)),
    st.lists(
        st.tuples(
            st.sampled_from(["type", "nsp", "data", "id", "x"]),
            st.sampled_from([0, 1, 2, 3, 4, 5, -1, "/", "/a", None, [], ["e"], {}, b"", 1.5]),
        ),
        max_size=5,
    ),
)


@given(_maps | st.builds(lambda m, tail: m + tail, _maps, st.binary(max_size=3)))
def test_packet_like_maps_decode_or_raise_packet_error(raw: bytes) -> None:
    _decode_or_packet_error(raw)


def _decode_or_packet_error(raw: bytes) -> None:
    try:
        packet = decode(raw)
    except PacketError:
        return
    assert packet.type in (T.CONNECT, T.DISCONNECT, T.EVENT, T.ACK, T.CONNECT_ERROR)
    assert decode(encode(packet)) == packet


def test_max_depth_as_the_json_parser() -> None:
    def nested(depth: int) -> list:
        value: list = []
        for _ in range(depth - 2):
            value = [value]
        return ["e", value]  # the data array is level 1

    assert decode(encode(Packet(T.EVENT, "/", nested(64)))).data == nested(64)
    with pytest.raises(PacketError):
        decode(encode(Packet(T.EVENT, "/", nested(65))))
    assert decode(encode(Packet(T.EVENT, "/", nested(10))), max_depth=10)
    with pytest.raises(PacketError):
        decode(encode(Packet(T.EVENT, "/", nested(11))), max_depth=10)
    # the JSON parser agrees on where the limit is
    json_decoder = JSONParser(max_depth=10).decoder()
    assert json_decoder.feed(JSONParser().encode(Packet(T.EVENT, "/", nested(10)))[0])
    with pytest.raises(PacketError):
        json_decoder.feed(JSONParser().encode(Packet(T.EVENT, "/", nested(11)))[0])
