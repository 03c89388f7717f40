"""Hypothesis drives one Engine.IO session through random sequences of everything.

A `RuleBasedStateMachine` plays the shell (`engine.py`) and a client at once: time
passes and timers fire, the client sends any packet on either transport (in order or
not), the server queues and drains messages, probes and upgrades start and fail, the
server closes. After every step the invariants below must hold; a sequence that
breaks one is shrunk to the shortest that does. No I/O, no sleeping: the session is
handed the clock.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from django_socketio.engineio.packets import Packet, PacketType
from django_socketio.engineio.session import (
    POLLING,
    WEBSOCKET,
    EngineConfig,
    Reason,
    Session,
    State,
)
from django_socketio.exceptions import PacketError

T = PacketType
CONFIG = EngineConfig(ping_interval=25.0, ping_timeout=20.0)
CONTROL = {T.PING, T.PONG, T.NOOP, T.CLOSE, T.OPEN}

client_packets = st.builds(
    Packet,
    st.sampled_from(list(T)),
    st.none() | st.just("probe") | st.text(max_size=5) | st.binary(max_size=5),
)


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.session: Session | None = None
        self.sent: list[str] = []  # MESSAGE data the server queued, in order
        self.delivered: list[str] = []  # what came out of the queue, in order
        self.received: list[str | bytes] = []  # MESSAGE data handed to the application
        self.counter = 0

    # -- opening -----------------------------------------------------------------

    @precondition(lambda self: self.session is None)
    @rule(transport=st.sampled_from([POLLING, WEBSOCKET]))
    def open(self, transport: str) -> None:
        self.session = Session("sid", transport, CONFIG, self.now)
        self.session.send(self.session.open_packet())

    # -- the shell's side ------------------------------------------------------------

    @precondition(lambda self: self.session is not None)
    @rule(dt=st.floats(min_value=0, max_value=60, allow_nan=False))
    def time_passes(self, dt: float) -> None:
        session = self.session
        assert session is not None
        self.now += dt
        due = session.next_timer()
        if due is not None and self.now >= due:
            session.handle_timer(self.now)
            # a handled timer is never still due: the shell would spin otherwise
            after = session.next_timer()
            assert after is None or after > self.now

    @precondition(lambda self: self.session is not None)
    @rule()
    def server_sends(self) -> None:
        session = self.session
        assert session is not None
        data = f"m{self.counter}"
        self.counter += 1
        accepted = session.send(Packet(T.MESSAGE, data))
        assert accepted == (not session.closed)
        if accepted:
            self.sent.append(data)

    @precondition(lambda self: self.session is not None)
    @rule()
    def writer_drains(self) -> None:
        session = self.session
        assert session is not None
        if session.transport == POLLING:
            answer = session.poll_answer()
            packets = answer or []
        else:
            packets = session.take()
        self.delivered.extend(p.data for p in packets if p.type is T.MESSAGE)

    @precondition(lambda self: self.session is not None)
    @rule(flush=st.booleans())
    def server_closes(self, flush: bool) -> None:
        session = self.session
        assert session is not None
        session.close(Reason.FORCED_CLOSE, self.now, flush)
        assert session.closed

    @precondition(lambda self: self.session is not None)
    @rule()
    def transport_fails(self) -> None:
        session = self.session
        assert session is not None
        session.fail(Reason.TRANSPORT_CLOSE)
        assert session.state is State.CLOSED

    # -- the client's side ---------------------------------------------------------

    @precondition(lambda self: self.session is not None)
    @rule(packet=client_packets, other_transport=st.booleans())
    def client_sends(self, packet: Packet, other_transport: bool) -> None:
        session = self.session
        assert session is not None
        via = session.transport
        if other_transport:
            via = WEBSOCKET if via == POLLING else POLLING
        before = session.state
        try:
            out = session.receive(packet, self.now, via)
        except PacketError:
            # the shell answers with `fail` (or aborts the upgrade on the probe)
            assert before is not State.CLOSED
            if via != session.transport:
                session.abort_upgrade()
            else:
                session.fail(Reason.PARSE_ERROR)
            return
        if before is State.CLOSED:
            assert out is None  # a closed session ignores everything
        if out is not None and out.type is T.MESSAGE:
            assert via == session.transport and packet.type is T.MESSAGE
            self.received.append(out.data)

    @precondition(lambda self: self.session is not None and self.session.can_upgrade())
    @rule(complete=st.booleans())
    def client_upgrades(self, complete: bool) -> None:
        session = self.session
        assert session is not None
        answer = session.receive(Packet(T.PING, "probe"), self.now, WEBSOCKET)
        assert answer == Packet(T.PONG, "probe")
        assert session.state is State.UPGRADING
        assert session.poll_answer() == [Packet(T.NOOP)]  # the pending poll gives way
        if complete:
            # what was queued for polling is not lost: the websocket takes it
            assert session.receive(Packet(T.UPGRADE), self.now, WEBSOCKET) is None
            assert session.transport == WEBSOCKET and session.state is State.OPEN
        else:
            session.abort_upgrade()
            assert session.transport == POLLING and session.state is State.OPEN

    @precondition(lambda self: self.session is not None and not self.session.closed)
    @rule()
    def client_answers_ping(self) -> None:
        session = self.session
        assert session is not None
        assert session.receive(Packet(T.PONG), self.now, session.transport) is None
        assert session.state in (State.OPEN, State.UPGRADING)

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def messages_keep_their_order(self) -> None:
        assert self.delivered == self.sent[: len(self.delivered)]

    @invariant()
    def the_state_and_its_reason_agree(self) -> None:
        session = self.session
        if session is None:
            return
        assert session.state in set(State)
        assert session.closed == (session.state in (State.CLOSED, State.CLOSING))
        assert (session.reason is not None) == session.closed
        if session.state is State.CLOSED:
            assert session.next_timer() is None
        else:
            assert session.next_timer() is not None  # a live session is always watched

    @invariant()
    def only_an_open_polling_session_can_upgrade(self) -> None:
        session = self.session
        if session is not None and session.can_upgrade():
            assert session.state is State.OPEN and session.transport == POLLING

    @invariant()
    def the_heartbeat_bounds_a_silent_client(self) -> None:
        # No session outlives interval + timeout of silence past its last PONG by
        # more than one unhandled step: checked by time_passes firing timers.
        session = self.session
        if session is not None and not session.closed:
            due = session.next_timer()
            assert due is not None and due <= self.now + CONFIG.ping_interval + 1e-9


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
