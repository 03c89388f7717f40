"""CONNECTIONS_PER_MINUTE: a connection storm from one address, seen from that address.

The limit counts new sessions (handshakes) per client address and per minute, on both
transports; a refused polling handshake gets HTTP 403 ``{"code":4,"message":"Too many
connections"}``, a refused websocket is closed before it is accepted (HTTP 403). Other
addresses are not affected. The address is the peer's unless CLIENT_ADDRESS_HEADER
names the header the operator's proxy sets.
"""

from __future__ import annotations

import json
import logging

from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator

from django_socketio.engineio.limits import WindowCounter, client_address

from .helpers import error

WS = "/engine.io/?EIO=4&transport=websocket"


async def polling_handshake(server, peer: str, headers=()) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/engine.io/",
        "query_string": b"EIO=4&transport=polling",
        "headers": list(headers),
        "client": (peer, 40000),
    }
    comm = ApplicationCommunicator(server.http, scope)
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await comm.receive_output(1)
    body = b""
    while True:
        message = await comm.receive_output(1)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await comm.wait()
    return start["status"], body


async def websocket_handshake(server, peer: str) -> tuple[bool, int | None]:
    comm = WebsocketCommunicator(server.ws, WS)
    comm.scope["client"] = (peer, 40000)
    connected, code = await comm.connect()
    if connected:
        await comm.disconnect()
    await comm.wait()
    return connected, code


async def test_a_connection_storm_from_one_address_is_refused_with_403(servers, caplog):
    server = servers(CONNECTIONS_PER_MINUTE=5)
    with caplog.at_level(logging.WARNING, logger="django_socketio.engineio"):
        statuses = [(await polling_handshake(server, "10.0.0.1"))[0] for _ in range(8)]
    assert statuses == [200] * 5 + [403] * 3
    status, body = await polling_handshake(server, "10.0.0.1")
    assert (status, body) == (403, error(4, "Too many connections"))
    # the websocket transport counts against the same window, refused before accept
    assert await websocket_handshake(server, "10.0.0.1") == (False, 1008)
    # another address is not affected
    assert (await polling_handshake(server, "10.0.0.2"))[0] == 200
    assert await websocket_handshake(server, "10.0.0.3") == (True, None)
    assert server.engine.connections_refused == 5
    lines = [r.getMessage() for r in caplog.records if "refusing new connections" in r.message]
    assert lines == ["refusing new connections from 10.0.0.1: CONNECTIONS_PER_MINUTE is 5"]


async def test_the_trusted_proxy_header_is_the_address_and_nothing_else_is(servers):
    server = servers(CONNECTIONS_PER_MINUTE=2, CLIENT_ADDRESS_HEADER="X-Forwarded-For")
    proxy = "127.0.0.1"  # every request comes through the operator's proxy
    for client in ("203.0.113.7", "203.0.113.8"):
        # a client-sent entry before the proxy's own is ignored: the proxy appends
        forwarded = [(b"x-forwarded-for", f"1.2.3.4, {client}".encode())]
        statuses = [(await polling_handshake(server, proxy, forwarded))[0] for _ in range(3)]
        assert statuses == [200, 200, 403]
    # without the setting, a client's own X-Forwarded-For is never read
    plain = servers(CONNECTIONS_PER_MINUTE=2)
    statuses = [
        (await polling_handshake(plain, proxy, [(b"x-forwarded-for", f"10.9.9.{n}".encode())]))[0]
        for n in range(3)
    ]
    assert statuses == [200, 200, 403]


async def test_upgrades_and_requests_of_open_sessions_are_not_counted(servers):
    server = servers(CONNECTIONS_PER_MINUTE=1)
    status, body = await polling_handshake(server, "10.0.0.1")
    assert status == 200
    sid = json.loads(body.decode()[1:])["sid"]
    comm = WebsocketCommunicator(server.ws, f"{WS}&sid={sid}")
    comm.scope["client"] = ("10.0.0.1", 40001)
    assert (await comm.connect())[0] is True  # the upgrade of the counted session
    await comm.disconnect()
    await comm.wait()
    assert server.engine.connections_refused == 0


def test_the_window_is_a_minute_and_its_table_is_bounded():
    window = WindowCounter(60.0, max_keys=3)
    assert [window.hit("a", 0.0) for _ in range(3)] == [1, 2, 3]
    assert window.hit("a", 59.9) == 4
    assert window.hit("a", 60.0) == 1  # a new window
    for key in "bcde":
        window.hit(key, 61.0)
    assert len(window) == 3  # the oldest keys were forgotten, the table did not grow
    window.fill("b", 61.0, 5)  # counted as used up (a flooder's address)
    assert window.hit("b", 61.0) == 6
    window.fill("f", 121.0, 5)  # a new window: the count starts from there
    assert window.hit("f", 121.0) == 6


def test_client_address():
    headers = [(b"X-Real-IP", b"198.51.100.1"), (b"x-forwarded-for", b"a, b ,c ")]
    assert client_address(("10.0.0.1", 1), headers, None) == "10.0.0.1"
    assert client_address(("10.0.0.1", 1), headers, "X-Forwarded-For") == "c"
    assert client_address(("10.0.0.1", 1), headers, "x-real-ip") == "198.51.100.1"
    assert client_address(("10.0.0.1", 1), [], "X-Forwarded-For") == "10.0.0.1"
    assert client_address(None, [], None) is None
