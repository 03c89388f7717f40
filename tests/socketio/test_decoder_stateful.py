"""Hypothesis feeds one connection's Socket.IO decoder random sequences of messages.

Not only random bytes: whole packets (binary ones split into their header and
attachments), attachments that nobody announced, text arriving while attachments are
due, garbage, and nesting around the depth limit, in any order. A model of what the
decoder should be waiting for predicts each answer. Whatever the sequence, the decoder
answers each message with a packet, None (waiting for attachments) or PacketError,
never another exception, and after a PacketError it decodes the next good packet.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from django_socketio.exceptions import PacketError
from django_socketio.socketio.packets import MAX_DEPTH, Decoder, JSONParser, Packet, PacketType

from .test_packets import packets

MAX_ATTACHMENTS = 5


class DecoderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.decoder = Decoder(max_attachments=MAX_ATTACHMENTS)
        self.expected: Packet | None = None  # the binary packet being reassembled
        self.attachments: list[bytes] = []  # what is still due for it
        self.unknown_wait = False  # garbage text opened a binary packet we cannot predict

    def feed(self, data: str | bytes) -> Packet | None:
        try:
            return self.decoder.feed(data)
        except PacketError:
            raise
        except Exception as exc:  # the one thing that must never happen
            raise AssertionError(f"{type(exc).__name__} instead of PacketError: {exc}") from exc

    def reset_model(self) -> None:
        self.expected, self.attachments, self.unknown_wait = None, [], False

    @property
    def waiting(self) -> bool:
        return self.expected is not None or self.unknown_wait

    # -- good packets --------------------------------------------------------------------

    @rule(packet=packets)
    def a_whole_packet(self, packet: Packet) -> None:
        frames = JSONParser(max_attachments=10_000).encode(packet)
        text, attachments = frames[0], [bytes(f) for f in frames[1:]]
        assert isinstance(text, str)
        if self.waiting:
            try:
                self.feed(text)
            except PacketError:
                self.reset_model()
                return
            raise AssertionError("text accepted while attachments were due")
        try:
            result = self.feed(text)
        except PacketError:
            assert len(attachments) > MAX_ATTACHMENTS  # only a limit refuses a good packet
            return
        if attachments:
            assert result is None
            self.expected, self.attachments = packet, attachments
        else:
            assert result == packet

    @precondition(lambda self: self.expected is not None)
    @rule()
    def the_next_attachment(self) -> None:
        data = self.attachments.pop(0)
        result = self.feed(data)
        if self.attachments:
            assert result is None
        else:
            assert result == self.expected
            self.reset_model()

    # -- bad sequences -------------------------------------------------------------------

    @precondition(lambda self: not self.waiting)
    @rule(data=st.binary(max_size=8))
    def bytes_nobody_announced(self, data: bytes) -> None:
        try:
            self.feed(data)
        except PacketError:
            return
        raise AssertionError("an attachment without a binary packet was accepted")

    @rule(
        text=st.text(max_size=30)
        | st.from_regex(r"[56][0-9]?-?(/[a-z]*,)?[0-9]*\[.*", fullmatch=True)
    )
    def garbage_text(self, text: str) -> None:
        was_waiting = self.waiting
        try:
            result = self.feed(text)
        except PacketError:
            self.reset_model()
            return
        assert not was_waiting, "text accepted while attachments were due"
        if result is None:
            self.unknown_wait = True  # it announced attachments

    @precondition(lambda self: self.unknown_wait)
    @rule(data=st.binary(max_size=8))
    def an_attachment_for_garbage(self, data: bytes) -> None:
        try:
            result = self.feed(data)
        except PacketError:  # e.g. a placeholder for a missing attachment
            self.reset_model()
            return
        if result is not None:
            self.reset_model()

    @rule(depth=st.integers(min_value=MAX_DEPTH - 3, max_value=MAX_DEPTH + 3))
    def deep_nesting(self, depth: int) -> None:
        # ["e", [[...]]]: the outer array is one level
        text = '2["e",' + "[" * (depth - 1) + "]" * (depth - 1) + "]"
        try:
            result = self.feed(text)
        except PacketError:
            assert self.waiting or depth > MAX_DEPTH
            self.reset_model()
            return
        assert not self.waiting and depth <= MAX_DEPTH
        assert result is not None and result.data[0] == "e"

    @invariant()
    def a_good_packet_decodes_whenever_nothing_is_due(self) -> None:
        # also right after a PacketError: the decoder starts afresh
        if not self.waiting:
            assert self.feed('2["ok"]') == Packet(PacketType.EVENT, "/", ["ok"])


TestDecoderMachine = DecoderMachine.TestCase
TestDecoderMachine.settings = settings(max_examples=80, stateful_step_count=25, deadline=None)
