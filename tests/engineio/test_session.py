"""One Engine.IO session as a state machine, driven by a fake clock: nothing sleeps.

`now` is just a number handed to the session; the tests move it by hand.
"""

from __future__ import annotations

import json

import pytest

from django_socketio.engineio.packets import Packet, PacketType
from django_socketio.engineio.session import (
    MAX_PROBES,
    POLLING,
    WEBSOCKET,
    EngineConfig,
    Reason,
    Session,
    State,
    Verdict,
)
from django_socketio.exceptions import PacketError

T = PacketType
CONFIG = EngineConfig(ping_interval=25.0, ping_timeout=20.0, max_payload=1_000_000)
START = 1000.0


def msg(data: str | bytes) -> Packet:
    return Packet(T.MESSAGE, data)


def polling(config: EngineConfig = CONFIG) -> Session:
    return Session("sid-1", POLLING, config, START)


def websocket(config: EngineConfig = CONFIG) -> Session:
    return Session("sid-1", WEBSOCKET, config, START)


# -- the handshake -------------------------------------------------------------------


def test_open_packet_on_polling_offers_the_websocket_upgrade():
    packet = polling().open_packet()
    assert packet.type is T.OPEN
    assert packet.data == (
        '{"sid":"sid-1","upgrades":["websocket"],'
        '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
    )


def test_open_packet_on_websocket_offers_no_upgrade():
    assert json.loads(websocket().open_packet().data) == {
        "sid": "sid-1",
        "upgrades": [],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000000,
    }


def test_open_packet_without_the_websocket_transport_offers_no_upgrade():
    config = EngineConfig(transports=(POLLING,))
    assert json.loads(polling(config).open_packet().data)["upgrades"] == []


def test_open_packet_times_are_milliseconds():
    config = EngineConfig(ping_interval=0.3, ping_timeout=0.2, max_payload=100)
    handshake = json.loads(polling(config).open_packet().data)
    assert (handshake["pingInterval"], handshake["pingTimeout"], handshake["maxPayload"]) == (
        300,
        200,
        100,
    )


def test_a_new_session_is_open_with_nothing_queued():
    session = polling()
    assert session.state is State.OPEN
    assert list(session.queue) == []
    assert session.poll_answer() is None  # a GET has to wait
    assert session.reason is None


# -- sending and polling -------------------------------------------------------------


def test_polls_get_the_queue_in_order_and_then_wait():
    session = polling()
    assert session.send(msg("a")) is True
    assert session.send(msg(b"\x01")) is True
    assert session.send(msg("c")) is True
    assert session.poll_answer() == [msg("a"), msg(b"\x01"), msg("c")]
    assert session.poll_answer() is None


def test_take_empties_the_queue():
    session = websocket()
    session.send(msg("a"))
    session.send(msg("b"))
    assert session.take() == [msg("a"), msg("b")]
    assert session.take() == []


# -- heartbeat -----------------------------------------------------------------------


def test_first_ping_is_due_one_interval_after_opening():
    session = polling()
    assert session.next_timer() == START + 25.0
    assert session.handle_timer(START + 24.999) is False
    assert list(session.queue) == []


def test_ping_is_queued_at_ping_interval_and_the_pong_deadline_starts():
    session = polling()
    assert session.handle_timer(START + 25.0) is True
    assert list(session.queue) == [Packet(T.PING)]
    assert session.next_timer() == START + 45.0
    assert session.poll_answer() == [Packet(T.PING)]


def test_no_pong_closes_with_ping_timeout_at_interval_plus_timeout():
    session = polling()
    session.handle_timer(START + 25.0)
    assert session.handle_timer(START + 44.999) is False
    assert session.state is State.OPEN
    assert session.handle_timer(START + 45.0) is False
    assert session.state is State.CLOSED
    assert session.reason == "ping timeout" == Reason.PING_TIMEOUT
    assert session.next_timer() is None
    assert session.send(msg("late")) is False


def test_a_late_timer_still_closes_with_ping_timeout():
    session = websocket()
    session.handle_timer(START + 25.0)
    session.handle_timer(START + 500.0)
    assert (session.state, session.reason) == (State.CLOSED, "ping timeout")


def test_pong_resets_the_heartbeat():
    session = polling()
    session.handle_timer(START + 25.0)
    session.take()
    assert session.receive(Packet(T.PONG), START + 30.0, POLLING) is None
    assert session.next_timer() == START + 55.0  # the next ping, one interval after the pong
    assert session.handle_timer(START + 45.0) is False  # the old deadline has no effect
    assert session.state is State.OPEN
    assert session.handle_timer(START + 55.0) is True
    assert list(session.queue) == [Packet(T.PING)]
    assert session.next_timer() == START + 75.0


def test_heartbeat_runs_the_same_over_websocket():
    session = websocket()
    assert session.handle_timer(START + 25.0) is True
    assert session.take() == [Packet(T.PING)]
    session.receive(Packet(T.PONG), START + 26.0, WEBSOCKET)
    assert session.next_timer() == START + 51.0


def test_client_ping_is_answered_with_a_pong_carrying_its_data():
    session = websocket()
    assert session.receive(Packet(T.PING, "x"), START + 1, WEBSOCKET) is None
    assert session.take() == [Packet(T.PONG, "x")]


def test_noop_from_the_client_changes_nothing():
    session = polling()
    assert session.receive(Packet(T.NOOP), START + 1, POLLING) is None
    assert (session.state, list(session.queue), session.next_timer()) == (
        State.OPEN,
        [],
        START + 25.0,
    )


def test_messages_are_handed_to_the_application():
    session = polling()
    assert session.receive(msg("hi"), START + 1, POLLING) == msg("hi")
    assert session.receive(msg(b"\x00\x01"), START + 1, POLLING) == msg(b"\x00\x01")


# -- unexpected packets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "packet", "via", "reason"),
    [
        (polling, Packet(T.OPEN), POLLING, "unexpected OPEN packet in state OPEN on polling"),
        (
            polling,
            Packet(T.UPGRADE),
            POLLING,
            "unexpected UPGRADE packet in state OPEN on polling",
        ),
        (
            websocket,
            Packet(T.OPEN, "{}"),
            WEBSOCKET,
            "unexpected OPEN packet in state OPEN on websocket",
        ),
        (
            websocket,
            Packet(T.UPGRADE),
            WEBSOCKET,
            "unexpected UPGRADE packet in state OPEN on websocket",
        ),
        # From a websocket probing a polling session, only 2probe then 5 are allowed.
        (
            polling,
            Packet(T.UPGRADE),
            WEBSOCKET,
            "unexpected UPGRADE packet from the probing websocket",
        ),
        (
            polling,
            msg("hi"),
            WEBSOCKET,
            "unexpected MESSAGE packet from the probing websocket",
        ),
        (
            polling,
            Packet(T.PING),
            WEBSOCKET,
            "unexpected PING packet from the probing websocket",
        ),
        (
            polling,
            Packet(T.PING, "other"),
            WEBSOCKET,
            "unexpected PING packet from the probing websocket",
        ),
    ],
)
def test_unexpected_packet_raises_packet_error_naming_it(make, packet, via, reason):
    session = make()
    with pytest.raises(PacketError) as exc:
        session.receive(packet, START + 1, via)
    assert str(exc.value) == reason


def test_a_second_probe_is_unexpected():
    session = polling()
    session.receive(Packet(T.PING, "probe"), START + 1, WEBSOCKET)
    with pytest.raises(PacketError) as exc:
        session.receive(Packet(T.PING, "probe"), START + 2, WEBSOCKET)
    assert str(exc.value) == "unexpected PING packet from the probing websocket"
    assert session.state is State.UPGRADING


# -- upgrade ---------------------------------------------------------------------------


def test_upgrade_sequence_keeps_queued_packets_in_order():
    session = polling()
    assert session.can_upgrade() is True
    session.send(msg("a"))

    # 2probe over the websocket: answered with 3probe, and polls get NOOP from now on.
    answer = session.receive(Packet(T.PING, "probe"), START + 1, WEBSOCKET)
    assert answer == Packet(T.PONG, "probe")
    assert session.state is State.UPGRADING
    assert session.transport == POLLING
    assert session.can_upgrade() is False
    assert session.poll_answer() == [Packet(T.NOOP)]
    assert session.poll_answer() == [Packet(T.NOOP)]
    session.send(msg("b"))
    assert list(session.queue) == [msg("a"), msg("b")]  # NOOP answers took nothing

    # The client may still POST over polling while upgrading.
    assert session.receive(msg("up"), START + 2, POLLING) == msg("up")

    # 5 switches the transport; the queue waits for the websocket, in order.
    assert session.receive(Packet(T.UPGRADE), START + 3, WEBSOCKET) is None
    assert (session.state, session.transport) == (State.OPEN, WEBSOCKET)
    session.send(msg("c"))
    assert list(session.queue) == [msg("a"), msg("b"), msg("c")]
    assert session.poll_answer() == [Packet(T.NOOP)]  # a late poll takes nothing
    assert session.take() == [msg("a"), msg("b"), msg("c")]
    assert session.can_upgrade() is False

    # Over the websocket the session now behaves like any websocket session.
    assert session.receive(msg("ws"), START + 4, WEBSOCKET) == msg("ws")


def test_ping_during_upgrade_waits_for_the_websocket():
    session = polling()
    session.receive(Packet(T.PING, "probe"), START + 1, WEBSOCKET)
    assert session.handle_timer(START + 25.0) is True
    assert session.poll_answer() == [Packet(T.NOOP)]
    session.receive(Packet(T.UPGRADE), START + 26, WEBSOCKET)
    assert session.take() == [Packet(T.PING)]
    session.receive(Packet(T.PONG), START + 27, WEBSOCKET)
    assert session.next_timer() == START + 52.0


def test_abort_upgrade_returns_to_polling():
    session = polling()
    session.send(msg("a"))
    session.receive(Packet(T.PING, "probe"), START + 1, WEBSOCKET)
    session.abort_upgrade()
    assert (session.state, session.transport) == (State.OPEN, POLLING)
    assert session.poll_answer() == [msg("a")]
    assert session.poll_answer() is None
    assert session.can_upgrade() is True  # a new websocket may probe again
    assert session.receive(Packet(T.PING, "probe"), START + 2, WEBSOCKET) == Packet(T.PONG, "probe")


def test_abort_upgrade_outside_an_upgrade_does_nothing():
    session = polling()
    session.abort_upgrade()
    assert session.state is State.OPEN
    session.receive(Packet(T.CLOSE), START + 1, POLLING)
    session.abort_upgrade()
    assert session.state is State.CLOSED


def test_a_websocket_session_cannot_upgrade():
    assert websocket().can_upgrade() is False
    assert polling(EngineConfig(transports=(POLLING,))).can_upgrade() is False


# -- closing ---------------------------------------------------------------------------


def test_client_close_on_polling_answers_the_poll_with_noop():
    session = polling()
    session.send(msg("a"))
    assert session.receive(Packet(T.CLOSE), START + 1, POLLING) is None
    assert (session.state, session.reason) == (State.CLOSED, "transport close")
    assert session.poll_answer() == [Packet(T.NOOP)]
    assert session.send(msg("b")) is False
    assert session.next_timer() is None


def test_packets_after_close_are_ignored():
    session = websocket()
    session.receive(Packet(T.CLOSE), START + 1, WEBSOCKET)
    assert session.receive(msg("late"), START + 2, WEBSOCKET) is None
    assert session.receive(Packet(T.OPEN), START + 2, WEBSOCKET) is None  # not even an error


def test_server_close_with_flush_on_polling_waits_for_the_last_poll():
    session = polling()
    session.send(msg("a"))
    session.send(msg("b"))
    session.close("forced close", START + 5, flush=True)
    assert session.state is State.CLOSING
    assert session.closed is True
    assert session.send(msg("c")) is False
    # The last poll must come within ping_timeout.
    assert session.next_timer() == START + 25.0
    assert session.handle_timer(START + 24.0) is False
    assert session.poll_answer() == [msg("a"), msg("b"), Packet(T.CLOSE)]
    assert (session.state, session.reason) == (State.CLOSED, "forced close")
    assert session.poll_answer() == [Packet(T.CLOSE)]  # any later poll
    assert session.next_timer() is None


def test_a_poll_answer_is_bounded_and_a_closing_session_ends_with_its_last_part():
    config = EngineConfig(max_payload=10, max_payload_packets=3)
    session = polling(config)
    for data in ("aaaa", "bbbb", "cccccccccccccccccccc", "d", "e", "f", "g", b"\x00" * 3):
        session.send(msg(data))
    assert session.poll_answer() == [msg("aaaa"), msg("bbbb")]  # 5 + 5 bytes
    assert session.poll_answer() == [msg("cccccccccccccccccccc")]  # alone, over the limit
    session.close("forced close", START + 5, flush=True)
    assert session.poll_answer() == [msg("d"), msg("e"), msg("f")]  # MAX_PAYLOAD_PACKETS
    assert session.state is State.CLOSING
    assert session.poll_answer() == [msg("g"), msg(b"\x00" * 3), Packet(T.CLOSE)]  # 2 + 6
    assert session.state is State.CLOSED


def test_server_close_with_flush_gives_up_after_ping_timeout_and_keeps_its_reason():
    session = polling()
    session.send(msg("a"))
    session.close("server shutting down", START + 5, flush=True)
    assert session.handle_timer(START + 25.0) is False
    assert (session.state, session.reason) == (State.CLOSED, "server shutting down")


def test_server_close_cancels_a_ping_that_was_due():
    session = polling()
    session.close("forced close", START + 5, flush=True)
    assert session.handle_timer(START + 25.0) is False  # the ping time, and the deadline
    assert list(session.queue) == []
    assert session.state is State.CLOSED


def test_pong_while_closing_does_not_move_the_close_deadline():
    # A PING was out when the server closed; the client's PONG must not cancel the
    # deadline for the last poll, or a client that never polls again keeps the session.
    session = polling()
    session.handle_timer(START + 25.0)
    assert session.poll_answer() == [Packet(T.PING)]
    session.close("forced close", START + 26.0, flush=True)
    session.receive(Packet(T.PONG), START + 27.0, POLLING)
    assert session.state is State.CLOSING
    assert session.next_timer() == START + 46.0
    session.handle_timer(START + 46.0)
    assert (session.state, session.reason) == (State.CLOSED, "forced close")


def test_server_close_on_websocket_closes_at_once_and_leaves_the_queue_to_flush():
    session = websocket()
    session.send(msg("bye"))
    session.close("forced close", START + 5, flush=True)
    assert (session.state, session.reason) == (State.CLOSED, "forced close")
    assert session.take() == [msg("bye")]
    assert session.next_timer() is None


def test_server_close_without_flush_closes_at_once():
    session = polling()
    session.send(msg("a"))
    session.close("forced close", START + 5, flush=False)
    assert session.state is State.CLOSED
    assert session.poll_answer() == [Packet(T.CLOSE)]


def test_close_twice_keeps_the_first_reason():
    session = polling()
    session.close("first", START, flush=False)
    session.close("second", START, flush=False)
    session.fail("third")
    assert session.reason == "first"


def test_fail_closes_at_once_with_its_reason():
    session = polling()
    session.send(msg("a"))
    session.fail(Reason.PARSE_ERROR)
    assert (session.state, session.reason) == (State.CLOSED, "parse error")
    assert session.send(msg("b")) is False
    assert session.handle_timer(START + 100) is False


def test_reasons_are_the_reference_server_strings():
    assert (
        Reason.TRANSPORT_CLOSE,
        Reason.TRANSPORT_ERROR,
        Reason.PING_TIMEOUT,
        Reason.PARSE_ERROR,
        Reason.FORCED_CLOSE,
        Reason.SERVER_SHUTDOWN,
    ) == (
        "transport close",
        "transport error",
        "ping timeout",
        "parse error",
        "forced close",
        "forced server close",
    )


def test_states_repr_as_their_names():
    assert [repr(s) for s in State] == ["OPEN", "UPGRADING", "CLOSING", "CLOSED"]


# -- the backlog: what was sent and not yet confirmed read -------------------------------

LIMITED = EngineConfig(max_backlog_bytes=1000, max_backlog_packets=100)


def test_admitted_messages_count_until_a_limit_refuses_one():
    session = websocket(LIMITED)
    assert session.admit(200) is Verdict.OK
    assert session.admit(600) is Verdict.PROBE  # over a quarter unconfirmed: time to ask
    assert session.backlog() == (800, 2)
    assert session.admit(201) is Verdict.FULL  # would be 1001 bytes
    assert session.backlog() == (800, 2)  # a refused message is not counted
    assert session.admit(200) is Verdict.PROBE
    assert session.admit(1) is Verdict.FULL


def test_the_packet_limit_counts_packets_whatever_their_size():
    session = websocket(LIMITED)
    for _ in range(100):
        assert session.admit(1) in (Verdict.OK, Verdict.PROBE)
    assert session.admit(1) is Verdict.FULL
    assert session.admit(0, 0) is not Verdict.FULL


def test_a_pong_confirms_what_was_sent_before_its_ping_and_nothing_after():
    session = websocket(LIMITED)
    session.admit(300)
    session.handle_timer(START + 25.0)  # the heartbeat PING, behind the 300 bytes
    session.take()
    session.admit(500)
    assert session.backlog() == (800, 2)
    session.receive(Packet(T.PONG), START + 26.0, WEBSOCKET)
    assert session.backlog() == (500, 1)  # what went after the PING is still unconfirmed


def test_a_probe_ping_goes_behind_the_data_and_its_pong_clears_the_backlog():
    session = websocket(LIMITED)
    assert session.admit(300) is Verdict.PROBE  # a quarter of the limit since the last mark
    session.queue.append(msg("x" * 299))  # the shell queues the message, then probes
    session.probe()
    assert session.take() == [msg("x" * 299), Packet(T.PING)]
    assert session.admit(100) is Verdict.OK  # only 100 since the probe: no second probe
    session.receive(Packet(T.PONG), START + 1.0, WEBSOCKET)
    assert session.backlog() == (100, 1)


def test_probes_stop_at_max_probes_unanswered():
    session = websocket(EngineConfig(max_backlog_bytes=10**9, max_backlog_packets=10**9))
    for _ in range(MAX_PROBES):
        session.probe()
    session.probe()
    assert session.take() == [Packet(T.PING)] * MAX_PROBES


def test_pongs_answer_pings_in_order_heartbeat_and_probes_alike():
    session = websocket(LIMITED)
    session.admit(300)
    session.probe()  # mark at 300
    session.admit(300)
    session.handle_timer(START + 25.0)  # heartbeat mark at 600
    session.admit(100)
    session.receive(Packet(T.PONG), START + 25.1, WEBSOCKET)
    assert session.backlog() == (400, 2)
    session.receive(Packet(T.PONG), START + 25.2, WEBSOCKET)
    assert session.backlog() == (100, 1)
    session.receive(Packet(T.PONG), START + 25.3, WEBSOCKET)  # unsolicited: changes nothing
    assert session.backlog() == (100, 1)


def test_volatile_messages_are_dropped_from_half_the_limit():
    session = websocket(LIMITED)
    assert session.admit(200, volatile=True) is Verdict.OK
    assert session.admit(301, volatile=True) is Verdict.DROPPED  # would pass 500
    assert session.admit(301) is Verdict.PROBE  # a regular message still goes
    assert session.backlog() == (501, 2)


def test_fail_drops_what_is_queued():
    session = polling(LIMITED)
    session.send(msg("a"))
    session.fail(Reason.SLOW_CONSUMER)
    assert list(session.queue) == []
    assert session.reason == "slow consumer"
