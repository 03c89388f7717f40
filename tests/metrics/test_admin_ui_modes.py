"""What each Admin UI mode and option advertises and hooks, without a network.

Production mode must cost nothing on the message path: it registers no observer (the
server's hook points then see an empty list) and advertises no ALL_EVENTS; the
aggregated events come from counter deltas.
"""

from __future__ import annotations

from django_socketio.admin_ui import AdminUI, AdminUIConfig
from django_socketio.socketio.server import SocketIOServer
from django_socketio.stats import STATS

COMMANDS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]


def test_features_by_mode_and_readonly() -> None:
    assert AdminUIConfig(mode="development").features == [
        *COMMANDS,
        "AGGREGATED_EVENTS",
        "ALL_EVENTS",
    ]
    assert AdminUIConfig(mode="production").features == [*COMMANDS, "AGGREGATED_EVENTS"]
    assert AdminUIConfig(mode="development", readonly=True).features == [
        "AGGREGATED_EVENTS",
        "ALL_EVENTS",
    ]
    assert AdminUIConfig(mode="production", readonly=True).features == ["AGGREGATED_EVENTS"]


def test_mode_follows_debug_unless_set() -> None:
    assert AdminUIConfig.from_setting({}, debug=True).mode == "development"
    assert AdminUIConfig.from_setting({}, debug=False).mode == "production"
    assert AdminUIConfig.from_setting({"MODE": "development"}, debug=False).mode == "development"


def test_production_mode_hooks_nothing() -> None:
    server = SocketIOServer()
    ui = AdminUI(server, AdminUIConfig(mode="production", namespace="/ops-admin"))
    assert server.observers == []
    assert server.namespaces["/ops-admin"].handler is not None
    dev_server = SocketIOServer()
    AdminUI(dev_server, AdminUIConfig(mode="development"))
    assert len(dev_server.observers) == 1
    assert ui.server_id == server.server_id


def test_aggregated_events_are_counter_deltas() -> None:
    server = SocketIOServer()
    ui = AdminUI(server, AdminUIConfig(mode="production"))
    ui.server_stats()  # start from now
    STATS.connects += 2
    STATS.disconnected("transport close")
    STATS.packets_in_websocket += 3
    STATS.bytes_out_polling += 100
    events = ui.server_stats()["aggregatedEvents"]
    by_type = {(e["type"], e.get("subType")): e["count"] for e in events}
    assert by_type[("rawConnection", None)] == 2
    assert by_type[("rawDisconnection", "transport close")] == 1
    assert by_type[("packetsIn", None)] == 3
    assert by_type[("bytesOut", None)] == 100
    assert len({e["timestamp"] for e in events}) == 1 and events[0]["timestamp"] % 1000 == 0
    assert ui.server_stats()["aggregatedEvents"] == []  # nothing new since
