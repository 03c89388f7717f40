"""The operator's tools on two daphne processes sharing a private Redis.

A python-socketio `AsyncClient` plays the Admin UI (``@socket.io/admin-ui``) and every
event's payload is checked against the protocol (shared/specs/admin-ui.md);
``/metrics`` of one process reports both. The browser tests (the Django admin page
and the real Admin UI) are in test_admin_browser.py and share the `ops` cluster.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any

import aiohttp
import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_or_skip
from tests.multinode.conftest import NSP, WAIT, Clients

pytestmark = pytest.mark.e2e

ADMIN = "/admin"
PASSWORD = "admin-ui-test"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FEATURES_DEV = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
    "AGGREGATED_EVENTS",
    "ALL_EVENTS",
]


class AdminClient:
    """The Admin UI's side of the protocol: connect with auth, record every event."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[str, list[Any]]] = []
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._any, namespace=ADMIN)
        self.sio.on("connect_error", self._refused, namespace=ADMIN)
        self.refused: list[Any] = []

    def _refused(self, data: Any) -> None:
        self.refused.append(data)

    def _any(self, event: str, *args: Any) -> None:
        self.events.append((event, list(args)))

    async def connect(self, auth: dict[str, Any], session: str | None = None) -> AdminClient:
        await self.sio.connect(
            self.url,
            headers={"Cookie": f"sessionid={session}"} if session else {},
            namespaces=[ADMIN],
            auth=auth,
            transports=["websocket"],
            wait_timeout=3 * WAIT,  # a loaded machine must not turn a refusal into a timeout
        )
        return self

    def got(self, event: str) -> list[list[Any]]:
        return [args for name, args in self.events if name == event]

    async def wait_for(self, event: str, match: Any = lambda args: True) -> list[Any]:
        deadline = time.monotonic() + WAIT
        while True:
            for args in self.got(event):
                if match(args):
                    return args
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event} matching: {self.events[-20:]!r}")
            await asyncio.sleep(0.02)

    async def emit(self, event: str, *args: Any) -> None:
        await self.sio.emit(event, tuple(args), namespace=ADMIN)  # a tuple: several args

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


def assert_serialized_socket(s: dict[str, Any]) -> None:
    """`SerializedSocket` (spec §2.2)."""
    assert {"id", "clientId", "transport", "nsp", "data", "handshake", "rooms"} <= set(s)
    assert isinstance(s["id"], str) and len(s["clientId"]) == 12
    assert s["transport"] in ("polling", "websocket")
    assert s["nsp"].startswith("/") and isinstance(s["data"], dict)
    hs = s["handshake"]
    assert {"address", "headers", "query", "issued", "secure", "time", "url", "xdomain"} <= set(hs)
    assert "auth" not in hs
    assert isinstance(hs["headers"], dict) and isinstance(hs["query"], dict)
    assert isinstance(hs["issued"], int) and isinstance(hs["secure"], bool)
    assert hs["url"].startswith("/socket.io/")
    assert s["id"] in s["rooms"]


def assert_server_stats(s: dict[str, Any]) -> None:
    """`ServerStats` (spec §2.3)."""
    assert set(s) >= {
        "serverId",
        "hostname",
        "pid",
        "uptime",
        "clientsCount",
        "pollingClientsCount",
        "aggregatedEvents",
        "namespaces",
    }
    assert isinstance(s["pid"], int) and s["uptime"] > 0
    assert 0 <= s["pollingClientsCount"] <= s["clientsCount"]
    for e in s["aggregatedEvents"]:
        assert set(e) <= {"timestamp", "type", "subType", "count"}
        assert e["timestamp"] % 1000 == 0 and e["count"] > 0
        assert e["type"] in (
            "rawConnection",
            "rawDisconnection",
            "packetsIn",
            "packetsOut",
            "bytesIn",
            "bytesOut",
        )
        assert ("subType" in e) == (e["type"] == "rawDisconnection")
    for n in s["namespaces"]:
        assert set(n) == {"name", "socketsCount"} and n["name"].startswith("/")


async def test_admin_ui_protocol(ops: Any, clients: Clients) -> None:
    a, b = ops.urls
    # anonymous and wrong passwords are refused with the reference's message
    for auth in ({}, {"username": "admin", "password": "wrong"}, {"sessionId": "0" * 16}):
        refused = AdminClient(a)
        with pytest.raises(socketio.exceptions.ConnectionError) as info:
            await refused.connect(auth)
        deadline = time.monotonic() + WAIT
        while not refused.refused and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert refused.refused == [{"message": "invalid credentials"}], (auth, info.value)

    on_a, on_b = await clients(a, "on-a"), await clients(b, "on-b")
    await on_b.join("blue")
    admin = await AdminClient(a).connect({"username": "admin", "password": PASSWORD})
    try:
        (session_id,) = await admin.wait_for("session")
        assert re.fullmatch(r"[0-9a-f]{16}", session_id)
        (config,) = await admin.wait_for("config")
        assert config == {"supportedFeatures": FEATURES_DEV}
        (everyone,) = await admin.wait_for("all_sockets")
        for s in everyone:
            assert_serialized_socket(s)
        by_id = {s["id"]: s for s in everyone}
        assert on_a.sid in by_id and on_b.sid in by_id  # both processes
        assert "blue" in by_id[on_b.sid]["rooms"]
        assert by_id[on_b.sid]["handshake"]["headers"].get("cookie") in (None, "[redacted]")
        assert admin.sio.get_sid(ADMIN) in by_id  # the admin socket itself, in /admin

        # server_stats from both processes, each with its own serverId
        seen: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + WAIT
        while len(seen) < 2 and time.monotonic() < deadline:
            for (stats,) in admin.got("server_stats"):
                assert_server_stats(stats)
                seen[stats["serverId"]] = stats
            await asyncio.sleep(0.05)
        assert len(seen) == 2, seen
        assert all(re.fullmatch(r".+#\d+", sid) for sid in seen)
        assert any(
            e["type"] == "packetsIn"
            for s in admin.got("server_stats")
            for e in s[0]["aggregatedEvents"]
        )

        # the session id works on the other process (Django's cache in Redis)
        again = await AdminClient(b).connect({"sessionId": session_id})
        await again.wait_for("config")
        await again.close()

        # development mode streams events from both processes
        late = await clients(b, "late")
        connected = await admin.wait_for("socket_connected", lambda x: x[0]["id"] == late.sid)
        assert_serialized_socket(connected[0])
        assert ISO.match(connected[1])
        await late.join("green")
        joined = await admin.wait_for("room_joined", lambda x: x[1:3] == ["green", late.sid])
        assert joined[0] == NSP and ISO.match(joined[3])
        received = await admin.wait_for("event_received", lambda x: x[1] == late.sid)
        assert received[0] == NSP and received[2][0] == "join" and ISO.match(received[3])

        # socket.data changes (top level and nested) come as socket_updated {id, nsp, data}
        assert await late.call("count", "x") == 1
        updated = await admin.wait_for(
            "socket_updated", lambda x: x[0]["id"] == late.sid and "data" in x[0]
        )
        assert updated == [{"id": late.sid, "nsp": NSP, "data": {"count": 1, "items": ["x"]}}]
        assert await late.call("count", "y") == 2
        await admin.wait_for(
            "socket_updated",
            lambda x: x[0].get("data") == {"count": 2, "items": ["x", "y"]},
        )
        await late.call("echo", 1)  # data unchanged: no socket_updated (events come in order)
        assert await late.call("count", "z") == 3
        await admin.wait_for("socket_updated", lambda x: x[0].get("data", {}).get("count") == 3)
        updates = [u for (u,) in admin.got("socket_updated") if u["id"] == late.sid]
        assert [u["data"]["count"] for u in updates if "data" in u] == [1, 2, 3]

        # commands reach a socket on the other process
        await admin.emit("join", NSP, "red", late.sid)
        await admin.wait_for("room_joined", lambda x: x[1:3] == ["red", late.sid])
        await admin.emit("leave", NSP, "red", late.sid)
        await admin.wait_for("room_left", lambda x: x[1:3] == ["red", late.sid])
        await admin.emit("emit", NSP, late.sid, "from-admin", 1, {"two": 2})
        assert await late.wait_for("from-admin") == [[1, {"two": 2}]]
        late_sid = late.sid
        await admin.emit("_disconnect", NSP, False, late_sid)
        gone = await admin.wait_for("socket_disconnected", lambda x: x[1] == late_sid)
        assert gone[0] == NSP and gone[2] == "server namespace disconnect" and ISO.match(gone[3])
        (reason,) = await wait_disconnected(late)
        assert reason == (socketio.AsyncClient.reason.SERVER_DISCONNECT,)

        # a broadcast to many is never one admin event per recipient
        before = len(admin.got("event_sent"))
        await on_a.call("bcast", {"event": "wide"}, "x")
        await on_a.wait_for("wide")
        await asyncio.sleep(0.3)
        assert len(admin.got("event_sent")) - before <= 1
    finally:
        await admin.close()


async def test_admin_ui_accepts_a_staff_session(ops: Any) -> None:
    """STAFF (the default): the Django session cookie of a staff user with the permission."""
    admin = await AdminClient(ops.urls[1]).connect({}, session=ops.sessions["clerk"])
    try:
        (config,) = await admin.wait_for("config")
        assert config == {"supportedFeatures": FEATURES_DEV}
        assert not admin.got("session")  # no username/password: no UI session id
    finally:
        await admin.close()
    refused = AdminClient(ops.urls[1])
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect({}, session=ops.sessions["guest"])  # signed in, not staff
    deadline = time.monotonic() + WAIT
    while not refused.refused and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert refused.refused == [{"message": "invalid credentials"}]


async def test_metrics_of_every_process(ops: Any, clients: Clients) -> None:
    await clients(ops.urls[1], "metrics")
    async with aiohttp.ClientSession() as http, http.get(ops.urls[0] + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    servers = {s.labels["server_id"] for s in families["socketio_uptime_seconds"].samples}
    assert len(servers) == 2
    sockets = sum(
        s.value for s in families["socketio_sockets"].samples if s.labels["namespace"] == NSP
    )
    assert sockets >= 1


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        require_or_skip(f"{CHROMIUM} is missing: apt-get install chromium")


async def wait_disconnected(client: Any) -> list[Any]:
    deadline = time.monotonic() + WAIT
    while not client.disconnected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert client.disconnected, f"{client.name} was not disconnected"
    return client.disconnected


async def test_django_admin_page_in_chromium(
    ops: Any, clients: Clients, run_node: Any, chromium: None
) -> None:
    a, b = ops.urls
    on_a, on_b = await clients(a, "page-a"), await clients(b, "page-b")
    await on_b.join("blue")
    sid_a, sid_b = on_a.sid, on_b.sid
    args = [a, sid_a, sid_b, sid_b]
    if os.environ.get("ADMIN_SCREENSHOT"):
        args.append(os.environ["ADMIN_SCREENSHOT"])
    (result,) = await run_node("admin_page", *args, timeout=90)
    assert "error" not in result, f"{result.get('error')}\n{result.get('failedPage')}"
    assert result["section"] == "Socket.IO"
    assert result["processes"] == 2
    assert {sid_a, sid_b} <= set(result["socketIds"])  # sockets of both processes
    assert [NSP, "blue", sid_b] in result["rooms"]
    assert result["searched"] == [sid_b]
    assert result["message"] == f"Disconnected {sid_b}."
    (reason,) = await wait_disconnected(on_b)
    assert reason == (socketio.AsyncClient.reason.SERVER_DISCONNECT,)  # python-socketio's name
    assert on_a.sio.connected
    assert result["joinMessage"] == f"Socket {sid_a} joined 'green'."
    assert result["emitMessage"] == "Emitted 'test' to 'green' in /rooms."
    assert await on_a.wait_for("test") == [["from the admin", 2]]


async def test_django_admin_page_refuses_non_staff(ops: Any) -> None:
    url = ops.urls[0] + "/admin/django_socketio/deployment/"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, cookies={"sessionid": ops.sessions["guest"]}) as response:
            assert response.status == 403
        async with http.get(url, allow_redirects=False) as response:  # anonymous: log in first
            assert response.status == 302
            assert response.headers["Location"].startswith("/admin/login/")


async def test_the_official_admin_ui_in_chromium(ops: Any, run_node: Any, chromium: None) -> None:
    """@socket.io/admin-ui's own page, served by the test project, driven like a person."""
    args = [*ops.urls]
    if os.environ.get("ADMIN_UI_SCREENSHOT"):
        args.append(os.environ["ADMIN_UI_SCREENSHOT"])
    (result,) = await run_node("admin_ui", *args, timeout=200)
    assert "error" not in result, f"{result.get('error')}\n{result.get('failedPage')}"
    sid_a, sid_b = result["sids"]
    assert re.fullmatch(r"[0-9a-f]{16}", result["sessionId"] or "")  # the UI stored it
    assert any(sid_a in row for row in result["socketsShown"])
    assert any(sid_b in row for row in result["socketsShown"])  # the other process's
    assert any("blue" in row for row in result["roomsShown"])
    assert sum("#" in row for row in result["serversShown"]) >= 2  # host#pid of both
    assert result["reasons"] == ["io server disconnect"]
    assert result["pageErrors"] == []
