"""The Engine.IO v4 packet and payload codec, on its own: no I/O, no Django.

Examples on the wire come from the protocol document
(https://socket.io/docs/v4/engine-io-protocol/): a text packet is its type digit
and its data, a websocket binary frame is the raw bytes of a MESSAGE, and a
polling payload joins packets with ``\\x1e``, binary ones as ``b`` + base64.
"""

from __future__ import annotations

from base64 import b64decode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_socketio.engineio.packets import (
    CLOSE,
    NOOP,
    PING,
    PONG,
    PONG_PROBE,
    SEPARATOR,
    Packet,
    PacketType,
    decode,
    decode_payload,
    encode,
    encode_payload,
)
from django_socketio.exceptions import PacketError, ProtocolError

T = PacketType

# (packet, websocket frame): every packet type, text and binary.
FRAMES = [
    (Packet(T.OPEN, '{"sid":"lv_VI97HAXpY6yYWAAAC"}'), '0{"sid":"lv_VI97HAXpY6yYWAAAC"}'),
    (Packet(T.CLOSE), "1"),
    (Packet(T.PING), "2"),
    (Packet(T.PING, "probe"), "2probe"),
    (Packet(T.PONG), "3"),
    (Packet(T.PONG, "probe"), "3probe"),
    (Packet(T.MESSAGE, "hello"), "4hello"),
    (Packet(T.MESSAGE, ""), "4"),
    (Packet(T.MESSAGE, "é€😀\x1e\n"), "4é€😀\x1e\n"),
    (Packet(T.MESSAGE, "4"), "44"),
    (Packet(T.UPGRADE), "5"),
    (Packet(T.NOOP), "6"),
    (Packet(T.MESSAGE, b"\x01\x02\x03\x04"), b"\x01\x02\x03\x04"),
    (Packet(T.MESSAGE, b"4hello"), b"4hello"),  # no type byte in a binary frame
    (Packet(T.MESSAGE, b""), b""),
]


@pytest.mark.parametrize(("packet", "frame"), FRAMES)
def test_encode_frame(packet, frame):
    assert encode(packet) == frame
    assert type(encode(packet)) is type(frame)


@pytest.mark.parametrize(("packet", "frame"), FRAMES)
def test_decode_frame(packet, frame):
    decoded = decode(frame)
    assert decoded == packet
    assert decoded.binary is isinstance(frame, bytes)


def test_prebuilt_packets_are_the_plain_packets():
    prebuilt = (PING, PONG, NOOP, CLOSE, PONG_PROBE)
    plain = (
        Packet(T.PING),
        Packet(T.PONG),
        Packet(T.NOOP),
        Packet(T.CLOSE),
        Packet(T.PONG, "probe"),
    )
    assert prebuilt == plain
    assert [encode(p) for p in (PING, PONG, NOOP, CLOSE, PONG_PROBE)] == [
        "2",
        "3",
        "6",
        "1",
        "3probe",
    ]


@pytest.mark.parametrize("ptype", [t for t in T if t is not T.MESSAGE])
def test_only_message_packets_carry_binary(ptype):
    with pytest.raises(PacketError) as exc:
        encode(Packet(ptype, b"\x00"))
    assert str(exc.value) == f"only MESSAGE packets carry binary data, not {ptype.name}"


def test_packets_are_frozen():
    packet = Packet(T.MESSAGE, "a")
    with pytest.raises(AttributeError):
        packet.data = "b"  # type: ignore[misc]


# -- polling payloads ------------------------------------------------------------

PAYLOADS = [
    ([Packet(T.MESSAGE, "hello")], "4hello"),
    # The protocol document's example: text, then binary as b + base64.
    (
        [Packet(T.MESSAGE, "hello"), Packet(T.MESSAGE, b"\x01\x02\x03\x04")],
        "4hello\x1ebAQIDBA==",
    ),
    ([Packet(T.MESSAGE, "a"), Packet(T.PING), Packet(T.MESSAGE, "b")], "4a\x1e2\x1e4b"),
    ([Packet(T.NOOP)], "6"),
    ([Packet(T.CLOSE)], "1"),
    ([Packet(T.MESSAGE, b"")], "b"),
    ([Packet(T.MESSAGE, b"\xff\xfe\xfd")], "b//79"),
    ([Packet(T.MESSAGE, ""), Packet(T.MESSAGE, "")], "4\x1e4"),
    ([Packet(T.OPEN, '{"sid":"x"}'), Packet(T.MESSAGE, "40")], '0{"sid":"x"}\x1e440'),
]


@pytest.mark.parametrize(("packets", "payload"), PAYLOADS)
def test_encode_payload(packets, payload):
    assert encode_payload(packets) == payload
    assert encode_payload(tuple(packets)) == payload


@pytest.mark.parametrize(("packets", "payload"), PAYLOADS)
def test_decode_payload(packets, payload):
    assert decode_payload(payload) == packets


def test_a_base64_text_frame_is_a_binary_message_like_engine_io_parser_reads_it():
    # Servers send an empty binary message this way (daphne sends no frame for b"").
    assert decode("bAQIDBA==") == Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")
    assert decode("b") == Packet(PacketType.MESSAGE, b"")


def test_encode_empty_payload_is_empty():
    assert encode_payload([]) == ""


MALFORMED_FRAMES = [
    ("", "empty packet"),
    ("7", "unknown packet type '7'"),
    ("9hello", "unknown packet type '9'"),
    ("x", "unknown packet type 'x'"),
    (" 4hello", "unknown packet type ' '"),
    ("b!!!", "invalid base64 in binary packet"),
    ("bAQ", "invalid base64 in binary packet"),
    ("٤hello", "unknown packet type '٤'"),  # a digit, but not an ASCII one
    ("\x1e4a", "unknown packet type '\\x1e'"),
]


@pytest.mark.parametrize(("frame", "reason"), MALFORMED_FRAMES)
def test_decode_malformed_frame(frame, reason):
    with pytest.raises(PacketError) as exc:
        decode(frame)
    assert str(exc.value) == reason
    assert isinstance(exc.value, ProtocolError)


MALFORMED_PAYLOADS = [
    ("", "empty payload"),
    ("4a\x1e", "empty packet"),  # trailing separator
    ("\x1e4a", "empty packet"),  # leading separator
    ("4a\x1e\x1e4b", "empty packet"),
    ("\x1e", "empty packet"),
    ("9", "unknown packet type '9'"),
    ("4a\x1e8", "unknown packet type '8'"),
    ("b!!!!", "invalid base64 in binary packet"),
    ("bAQI", "invalid base64 in binary packet"),  # bad padding
    ("bAQID\nBA==", "invalid base64 in binary packet"),  # no whitespace either
    ("4a\x1ebAQ=D", "invalid base64 in binary packet"),
    ("bé", "invalid base64 in binary packet"),
    ("b\ud800", "invalid base64 in binary packet"),  # a lone surrogate
]


@pytest.mark.parametrize(("payload", "reason"), MALFORMED_PAYLOADS)
def test_decode_malformed_payload(payload, reason):
    with pytest.raises(PacketError) as exc:
        decode_payload(payload)
    assert str(exc.value) == reason


def test_max_packets_limits_the_packets_per_payload():
    payload = "4a\x1e4b\x1e4c"
    with pytest.raises(PacketError) as exc:
        decode_payload(payload, max_packets=2)
    assert str(exc.value) == "payload holds more than 2 packets"
    assert decode_payload(payload, max_packets=3) == [
        Packet(T.MESSAGE, "a"),
        Packet(T.MESSAGE, "b"),
        Packet(T.MESSAGE, "c"),
    ]


def test_max_packets_is_checked_before_decoding():
    # Garbage past the limit does not matter: the count refuses the payload first.
    with pytest.raises(PacketError) as exc:
        decode_payload("4a\x1e4b\x1e" + "\x1e".join(["zz"] * 1000), max_packets=16)
    assert str(exc.value) == "payload holds more than 16 packets"


def test_max_packets_zero_means_no_limit():
    assert len(decode_payload(SEPARATOR.join(["4x"] * 1000), max_packets=0)) == 1000


# -- properties --------------------------------------------------------------------

text_packets = st.builds(Packet, st.sampled_from(list(T)), st.text())
binary_packets = st.builds(Packet, st.just(T.MESSAGE), st.binary())
packets = text_packets | binary_packets
# In a payload a text packet must not hold the separator: the format cannot escape it.
payload_packets = (
    st.builds(Packet, st.sampled_from(list(T)), st.text().filter(lambda s: SEPARATOR not in s))
    | binary_packets
)
# Garbage that gets past the first checks more often than random text does.
wire_text = st.text(alphabet="0123456789b\x1eAQID=+/4é\ud800 ") | st.text()


@given(packets)
def test_frame_round_trip(packet):
    assert decode(encode(packet)) == packet


@given(st.lists(payload_packets, min_size=1, max_size=20))
def test_payload_round_trip(packet_list):
    payload = encode_payload(packet_list)
    assert decode_payload(payload) == packet_list
    assert decode_payload(payload, max_packets=len(packet_list)) == packet_list


@given(
    st.lists(payload_packets, min_size=1, max_size=10),
    st.lists(payload_packets, min_size=1, max_size=10),
)
def test_payload_split_at_a_separator_decodes_to_the_same_packets(first, second):
    # A payload decoded whole gives what its two halves give, split at a separator.
    whole = encode_payload(first + second)
    left, right = encode_payload(first), encode_payload(second)
    assert whole == left + SEPARATOR + right
    assert decode_payload(whole) == decode_payload(left) + decode_payload(right)


@given(st.lists(payload_packets, min_size=1, max_size=5))
def test_payload_with_trailing_data_after_a_separator_is_refused(packet_list):
    with pytest.raises(PacketError):
        decode_payload(encode_payload(packet_list) + SEPARATOR)


@given(st.one_of(wire_text, st.binary()))
def test_garbage_frame_decodes_or_raises_packet_error(frame):
    try:
        packet = decode(frame)
    except PacketError:
        return
    assert isinstance(packet, Packet)
    assert isinstance(packet.type, PacketType)
    if isinstance(frame, str) and frame.startswith("b"):  # base64 text: a binary message
        assert encode(packet) == b64decode(frame[1:])
    else:
        assert encode(packet) == frame  # whatever decodes encodes back to the same frame


@given(wire_text, st.integers(min_value=0, max_value=5))
def test_garbage_payload_decodes_or_raises_packet_error(payload, max_packets):
    try:
        result = decode_payload(payload, max_packets=max_packets)
    except PacketError:
        return
    assert result
    assert all(isinstance(p, Packet) and isinstance(p.type, PacketType) for p in result)
    if max_packets:
        assert len(result) <= max_packets
