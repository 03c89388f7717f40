"""The counters move as a scripted session says, and /metrics is valid Prometheus text.

The session runs in process against the `/ops` namespace of tests/sioapp through
`SocketIOCommunicator` (the real websocket consumer). `STATS` is per process, so
each test compares deltas.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from django_socketio import io
from django_socketio.testing import SocketIOCommunicator


def delta(after: dict[str, Any], before: dict[str, Any], *keys: str) -> Any:
    a, b = after, before
    for key in keys:
        a, b = a.get(key, 0), b.get(key, 0)
    return a - b


async def test_counters_follow_a_scripted_session() -> None:
    before = io.stats()
    async with SocketIOCommunicator(namespace="/ops") as client:
        connected, error = await client.connect()
        assert connected, error
        during = io.stats()
        assert delta(during, before, "sockets", "/ops") == 1
        assert delta(during, before, "connections", "websocket") == 1
        assert delta(during, before, "socket_connects") == 1

        assert await client.emit_with_ack("join", "r1") == [["r1"]]  # handler 1
        assert await client.emit_with_ack("to-room", "r1", "x") == [True]  # handler 2, broadcast
        await client.emit("join")  # a missing argument: the handler raises TypeError
        await client.emit("ask-timeout")  # handler 3: the server waits 0.3 s for an ack in vain
        asked = await client.receive_event()
        assert asked.event == "no-answer" and asked.wants_ack
        assert await client.emit_with_ack("last-reasons") is not None  # handler 4
        for _ in range(50):  # ask-timeout's handler returns after its timeout
            if delta(io.stats(), before, "ack_timeouts") == 1:
                break
            await client.receive_nothing(timeout=0.05)
    after = io.stats()

    assert delta(after, before, "connects") == 1
    assert delta(after, before, "broadcasts") == 1
    assert delta(after, before, "handler_errors") == 1
    assert delta(after, before, "ack_timeouts") == 1
    assert delta(after, before, "handler_latency", "count") == 4
    assert after["handler_latency"]["sum"] > before["handler_latency"]["sum"]
    assert delta(after, before, "socket_disconnects", "client namespace disconnect") == 1
    assert sum(after["disconnects"].values()) - sum(before["disconnects"].values()) == 1
    assert delta(after, before, "sockets", "/ops") <= 0
    # frames in: the namespace CONNECT, 6 events, 0 or more pongs, the DISCONNECT
    assert delta(after, before, "packets_in", "websocket") >= 8
    # frames out: OPEN, CONNECT, 4 acks, no-answer, plus pings
    assert delta(after, before, "packets_out", "websocket") >= 7
    assert delta(after, before, "bytes_in", "websocket") > 8 * 2
    assert delta(after, before, "bytes_out", "websocket") > 7 * 2
    assert delta(after, before, "packets_in", "polling") == 0


async def test_non_ascii_frames_count_utf8_bytes() -> None:
    before = io.stats()
    async with SocketIOCommunicator(namespace="/ops") as client:
        assert (await client.connect())[0]
        small = delta(io.stats(), before, "bytes_in", "websocket")
        await client.emit_with_ack("join", "é" * 100)
        grown = delta(io.stats(), before, "bytes_in", "websocket") - small
    assert grown >= 200  # 100 two-byte characters, not 100


@pytest.mark.django_db
async def test_metrics_endpoint_parses(async_client: Any) -> None:
    async with SocketIOCommunicator(namespace="/ops") as client:
        assert (await client.connect())[0]
        await client.emit_with_ack("join", "r1")
        response = await async_client.get("/metrics")
        local = await async_client.get("/metrics?local=1")
    assert response.status_code == 200 and local.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    expected = {
        "socketio_connections",
        "socketio_sockets",
        "socketio_uptime_seconds",
        "socketio_connects",
        "socketio_disconnects",
        "socketio_upgrades",
        "socketio_socket_connects",
        "socketio_socket_disconnects",
        "socketio_packets_in",
        "socketio_packets_out",
        "socketio_bytes_in",
        "socketio_bytes_out",
        "socketio_broadcasts",
        "socketio_ack_timeouts",
        "socketio_handler_errors",
        "socketio_layer_messages_sent",
        "socketio_layer_messages_received",
        "socketio_layer_messages_dropped",
        "socketio_layer_messages_errors",
        "socketio_handler_latency_seconds",
    }
    assert expected <= set(families)
    assert families["socketio_connects"].type == "counter"
    assert families["socketio_handler_latency_seconds"].type == "histogram"
    sockets = {
        s.labels["namespace"]: s.value
        for s in families["socketio_sockets"].samples
        if s.labels["server_id"] == io.server_id
    }
    assert sockets.get("/ops", 0) >= 1
    latency = families["socketio_handler_latency_seconds"].samples
    inf = [s for s in latency if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"]
    count = [s for s in latency if s.name.endswith("_count")]
    assert inf and count and inf[0].value == count[0].value >= 1
    assert {f.name for f in text_string_to_metric_families(local.content.decode())} >= expected
