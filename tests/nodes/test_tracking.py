"""Node liveness and answer counting, with a clock the test moves.

[pure] No layer, no loop, no sleeping.
"""

from __future__ import annotations

from django_socketio.nodes import AckAnswers, Answers, Heard, NodeTable


def test_a_node_is_live_from_its_first_heartbeat_until_timeout_of_silence():
    table = NodeTable(timeout=15)
    assert table.heard("a", "chan-a", now=100.0) == Heard(joined=True, reply=False)
    assert table.live() == {"a"} and table.channel_of("a") == "chan-a"
    assert table.expire(now=115.0) == []  # exactly the timeout: still alive
    assert table.heard("a", "chan-a", now=110.0) == Heard(joined=False, reply=False)
    assert table.expire(now=125.0) == []
    assert table.last_heard("a") == 110.0
    assert table.expire(now=125.01) == ["a"]
    assert table.last_heard("a") is None
    assert table.live() == set() and table.channel_of("a") is None


def test_a_hello_is_answered_and_a_forgotten_node_joins_again():
    table = NodeTable(timeout=1)
    assert table.heard("a", "c", now=0, hello=True) == Heard(joined=True, reply=True)
    table.expire(now=5)
    assert table.heard("a", "c2", now=5) == Heard(joined=True, reply=False)
    assert table.channel_of("a") == "c2"  # a restarted node: its new channel


def test_bye_forgets_at_once():
    table = NodeTable(timeout=15)
    table.heard("a", "c", now=0)
    table.heard("b", "d", now=0)
    assert table.bye("a") is True and table.bye("a") is False
    assert table.live() == {"b"} and len(table) == 1 and "b" in table


def test_a_request_is_complete_when_every_node_alive_at_asking_answered():
    answers = Answers({"a", "b"})
    assert answers.answer("a", [1]) is False
    assert answers.answer("c", [3]) is False  # joined later: heard, not waited for
    assert answers.answer("b", None) is True
    assert answers.answers == {"a": [1], "c": [3], "b": None}


def test_a_request_to_no_node_is_complete_at_once():
    assert Answers(set()).complete


def test_acks_are_complete_once_every_count_and_that_many_acks_arrived():
    acks = AckAnswers({"a", "b"})
    assert acks.ack("a", "x") is False  # an ack may overtake its node's count
    assert acks.count("a", 2) is False
    assert acks.count("b", 0) is False
    assert acks.ack("a", "y") is True
    assert acks.responses == ["x", "y"] and acks.missing == 0


def test_acks_from_nodes_without_recipients_complete_at_the_last_count():
    acks = AckAnswers({"a", "b"})
    acks.count("a", 0)
    assert acks.count("b", 0) is True


def test_a_request_stops_waiting_for_a_node_found_gone():
    answers = Answers({"a", "b", "c"})
    assert answers.answer("a", [1]) is False
    assert answers.gone("b") is False
    assert answers.gone("a") is False  # its answer stays
    assert answers.answer("c", [3]) is True
    assert answers.answers == {"a": [1], "c": [3]}


def test_a_broadcast_with_acks_ends_when_a_node_owing_acks_is_gone():
    acks = AckAnswers({"a", "b"})
    acks.count("a", 1)
    acks.count("b", 3)
    acks.ack("b", "b1")
    assert acks.ack("a", "a1") is False
    assert acks.gone("b") is True  # its two other recipients went with it
    assert acks.responses == ["b1", "a1"] and acks.missing == 2


def test_a_node_gone_before_counting_is_not_waited_for():
    acks = AckAnswers({"a", "b"})
    acks.count("a", 1)
    acks.ack("a", "a1")
    assert acks.gone("b") is True and acks.missing == 0
