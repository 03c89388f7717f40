"""The declared inter-node messages: round trips, the wire format, garbage refused.

[pure] No layer: `encode()` gives what a layer would carry, `decode()` reads it back.
"""

from __future__ import annotations

import contextlib
import inspect

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_socketio.internode import (
    MESSAGES,
    NAMESPACE_COMMANDS,
    NODE_QUESTIONS,
    PAYLOADS,
    Broadcast,
    Bye,
    EioAbort,
    EioHandover,
    EioPoll,
    EioPush,
    EioReply,
    EioUpgrade,
    Heartbeat,
    MessageError,
    MessageType,
    NamespaceProtocol,
    Request,
    RequestKind,
    Response,
    check_payload,
    decode,
)
from django_socketio.socketio.rooms import BroadcastOptions

OPTS = BroadcastOptions(rooms=frozenset({"a", "b"}), except_rooms=frozenset({"c"}))

SAMPLES = [
    Heartbeat("n1", "sio-node.x!1", hello=True),
    Heartbeat("n1", "sio-node.x!1"),
    Bye("n2"),
    Broadcast(
        "n1",
        "id1",
        "/chat",
        OPTS,
        {"json": ['2["x",{"_placeholder":true,"num":0}]', b"\x00"], "msgpack": [b"\x83"]},
    ),
    Request("n1", "r1", RequestKind.FETCH_SOCKETS, "/", "sio-node.x!1", {"opts": OPTS.to_dict()}),
    Request("n1", "r2", RequestKind.SERVER_STATS, "/", "sio-node.x!1", {}),
    Request(
        "n1",
        "r3",
        RequestKind.BROADCAST_ACK,
        "/",
        "c",
        {"opts": {}, "event": "e", "args": [1, b"x"], "timeout": None},
    ),
    Response("n2", "r1", "result", [{"id": "s"}]),
    Response("n2", "r3", "count", 3),
    Response("n2", "r3", "ack", None),
    Heartbeat("n1", "sio-node.x!1", tag="AbC_"),
    EioPoll("n1", "r4", "AbC_" + "x" * 16, "sio-node.y!2"),
    EioPush("n1", "r5", "AbC_" + "x" * 16, "sio-node.y!2", b"4hello\x1e4again"),
    EioPush("n1", "r6", "AbC_" + "x" * 16, "sio-node.y!2", None),
    EioAbort("n1", "r4"),
    EioReply("n2", "r4", 400, b"application/json", b'{"code":1,"message":"Session ID unknown"}'),
    EioUpgrade("n1", "r7", "AbC_" + "x" * 16, "sio-node.y!2", "claim"),
    EioUpgrade("n1", "", "AbC_" + "x" * 16, "sio-node.y!2", "cancel"),
    EioHandover("n2", "r7", True),
    EioHandover("n2", "r8", True, ["0/chat,", b"\x00\xff", '2["e"]']),
    EioHandover("n2", "r9", False),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_a_message_survives_the_layer_unchanged(message):
    encoded = message.encode()
    carried = msgpack.unpackb(msgpack.packb(encoded, use_bin_type=True), raw=False)
    assert decode(carried) == message
    assert type(carried["type"]) is str and carried["type"] == message.type.value


def test_the_wire_format_is_the_one_nodes_spoke_before_the_declarations():
    """A rolling restart mixes versions: the dicts on the layer did not change."""
    assert Heartbeat("n", "c", True).encode() == {
        "type": "sio.heartbeat",
        "node": "n",
        "channel": "c",
        "hello": True,
        "tag": "",  # new: an older node ignores it, and a heartbeat without it decodes
    }
    old = {"type": "sio.heartbeat", "node": "n", "channel": "c", "hello": True}
    assert decode(old) == Heartbeat("n", "c", True, "")
    assert Request(
        "n", "r", RequestKind.SOCKETS_JOIN, "/", "c", {"opts": {}, "rooms": ["x"]}
    ).encode() == {
        "type": "sio.request",
        "node": "n",
        "req": "r",
        "kind": "sockets_join",
        "nsp": "/",
        "reply_to": "c",
        "payload": {"opts": {}, "rooms": ["x"]},
    }
    assert Response("n", "r", "count", 2).encode() == {
        "type": "sio.response",
        "node": "n",
        "req": "r",
        "data": {"count": 2},
    }
    assert Broadcast("n", "i", "/", BroadcastOptions(), {"json": ["2"]}).encode()["opts"] == (
        BroadcastOptions().to_dict()
    )


def test_the_set_of_messages_and_kinds_is_closed_and_complete():
    assert set(MESSAGES) == {t.value for t in MessageType}
    assert set(PAYLOADS) == set(RequestKind)
    assert NAMESPACE_COMMANDS | NODE_QUESTIONS | {RequestKind.BROADCAST_ACK} == set(RequestKind)
    assert not NAMESPACE_COMMANDS & NODE_QUESTIONS


@pytest.mark.parametrize(
    ("kind", "payload", "error"),
    [
        ("what", {}, "unknown request kind 'what'"),
        ("sockets_join", {"opts": {}}, "sockets_join: payload has no 'rooms'"),
        ("sockets_join", {"opts": {}, "rooms": "r"}, "sockets_join: payload field 'rooms' has"),
        ("server_side_emit", ["e"], "server_side_emit: payload is list, not a dict"),
        ("broadcast_ack", {"opts": {}, "event": "e", "args": [], "timeout": "1"}, "'timeout'"),
    ],
)
def test_a_payload_must_have_the_declared_fields(kind, payload, error):
    with pytest.raises(MessageError, match=error.replace("(", r"\(")):
        check_payload(kind, payload)


def test_a_request_cannot_be_built_with_an_undeclared_payload():
    with pytest.raises(MessageError):
        Request("n", "r", RequestKind.DISCONNECT_SOCKETS, "/", "c", {"opts": {}})


def test_extra_payload_fields_from_a_newer_node_are_accepted():
    assert check_payload("server_stats", {"verbose": True}) is RequestKind.SERVER_STATS


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"type": "sio.nothing", "node": "n"},
        {"type": "sio.bye"},
        {"type": "sio.bye", "node": 1},
        {"type": "sio.heartbeat", "node": "n"},
        {"type": "sio.broadcast", "node": "n", "id": "i", "nsp": "/", "opts": {}, "frames": [1]},
        {
            "type": "sio.broadcast",
            "node": "n",
            "id": "i",
            "nsp": "/",
            "opts": {},
            "frames": {"j": [1]},
        },
        {
            "type": "sio.broadcast",
            "node": "n",
            "id": "i",
            "nsp": "/",
            "opts": {},
            "frames": {"j": "2"},
        },
        {"type": "sio.response", "node": "n", "req": "r", "data": {}},
        {"type": "sio.response", "node": "n", "req": "r", "data": {"count": -1}},
        {"type": "sio.response", "node": "n", "req": "r", "data": {"count": True}},
        {"type": "sio.response", "node": "n", "req": "r", "data": {"other": 1}},
        {"type": "sio.heartbeat", "node": "n", "channel": "c", "tag": 5},
        {"type": "sio.eio_poll", "node": "n", "req": "r", "sid": "s"},
        {"type": "sio.eio_upgrade", "node": "n", "req": "r", "sid": "s", "reply_to": "c"},
        {
            "type": "sio.eio_upgrade",
            "node": "n",
            "req": "r",
            "sid": "s",
            "reply_to": "c",
            "step": "steal",
        },
        {"type": "sio.eio_handover", "node": "n", "req": "r", "ok": 1},
        {"type": "sio.eio_handover", "node": "n", "req": "r", "ok": True, "messages": [1]},
        {"type": "sio.eio_handover", "node": "n", "req": "r", "ok": True, "messages": "x"},
        {"type": "sio.eio_push", "node": "n", "req": "r", "sid": "s", "reply_to": "c", "body": "x"},
        {
            "type": "sio.eio_reply",
            "node": "n",
            "req": "r",
            "status": 99,
            "content_type": b"",
            "body": b"",
        },
        {
            "type": "sio.eio_reply",
            "node": "n",
            "req": "r",
            "status": 200,
            "content_type": "t",
            "body": b"",
        },
        {
            "type": "sio.request",
            "node": "n",
            "req": "r",
            "kind": "x",
            "nsp": "/",
            "reply_to": "c",
            "payload": {},
        },
    ],
)
def test_what_is_not_one_of_our_messages_raises_message_error(message):
    with pytest.raises(MessageError):
        decode(message)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.binary(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)
FIELDS = st.sampled_from(
    [
        "type",
        "node",
        "channel",
        "hello",
        "id",
        "nsp",
        "opts",
        "frames",
        "req",
        "kind",
        "reply_to",
        "payload",
        "data",
        "tag",
        "sid",
        "body",
        "status",
        "content_type",
        "step",
        "ok",
        "messages",
    ]
)


@settings(max_examples=300, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([t.value for t in MessageType] + ["x"]),
    st.dictionaries(FIELDS, JSONISH, max_size=8),
)
def test_garbage_either_decodes_or_raises_message_error_only(type_, fields):
    with contextlib.suppress(MessageError):
        decode({**fields, "type": type_})


def test_server_namespace_has_everything_the_adapter_may_call():
    from django_socketio.socketio.server import ServerNamespace

    members = [
        name
        for name in vars(NamespaceProtocol)
        if not name.startswith("_") and name not in {"name", "rooms"}
    ]
    assert members
    for name in members:
        ours = inspect.signature(getattr(NamespaceProtocol, name))
        theirs = inspect.signature(getattr(ServerNamespace, name))
        declared, actual = list(ours.parameters), list(theirs.parameters)
        assert actual[: len(declared)] == declared, name
        extra = actual[len(declared) :]  # more is fine if the adapter need not pass it
        assert all(theirs.parameters[p].default is not inspect.Parameter.empty for p in extra)
