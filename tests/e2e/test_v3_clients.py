"""Socket.IO 2.x clients (Engine.IO v3, Socket.IO protocol v4) against the conformance
server, which allows them (``ALLOW_EIO3``): the official ``socket.io-client`` 2.5.0 (npm
alias ``socket.io-client-v2``) and python-socketio 4.6.1's client (its own virtualenv,
``.venv-sio4``), over polling, websocket and upgrade.

`/` connected without a CONNECT packet, a namespace with a query as its auth, socket ids
as the v2 client computes them, events and acks both ways, binary both ways (the v3
``04``-prefixed frames; base64 or the XHR2 binary payload on polling), refusals as the v4
error packet, rooms, the client-driven heartbeat (and a silent client's ping timeout), the
refusal where v3 is not allowed; and one broadcast reaching v3, v4 and MessagePack clients
in the same room (tests/multinode/test_rooms.py, where the heartbeat is relaxed enough
for six client processes starting at once).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import socketio

from .helpers import WAIT, closed, receive
from .members import ROOT, sio4_python

pytestmark = pytest.mark.e2e

MODES = ["polling", "websocket", "upgrade"]
ROUND = {
    "messageBack": [1, "two", {"three": [3, None, True]}],
    "ackArgs": ["a", {"b": [1, 2]}, 3.5],
    "emitWithAck": {"first": ["x", {"y": 1}], "second": ["acked", "x", {"y": 1}]},
}
NODE_SENT_VIEW = [
    {"buf": {"bytes": "010203"}, "nested": [{"bytes": "fffe"}, {"deep": {"bytes": "00"}}], "n": 1},
    {"bytes": "09"},
    "text",
]
SERVER_BIN = {"data": {"$bin": "0001"}, "list": [{"$bin": "ff"}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expected_transport(mode: str) -> str:
    return "polling" if mode == "polling" else "websocket"


# -- socket.io-client 2.x ---------------------------------------------------------------

_v2_results: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


def v2_runs() -> list[dict[str, Any]]:
    return [
        {"name": "events", "scenario": "events"},
        {"name": "binary", "scenario": "binary"},
        {"name": "refused", "scenario": "refused"},
        {"name": "rooms", "scenario": "rooms", "room": unique("room")},
        {"name": "heartbeat", "scenario": "heartbeat"},
        {"name": "disallowed", "scenario": "disallowed", "path": "/engine.io"},
    ]


@pytest.fixture
def v2(client_server, run_node, mode) -> Callable[[str], dict[str, Any]]:
    """``v2(name)``: one run of js/sio_v2_client.mjs (one Node process per server and mode).

    Against the server with pingTimeout 10 s (clients_settings.py): the client still
    pings every 300 ms, but a loaded machine may hold an answer longer than 200 ms.
    """
    server = client_server
    key = (server.url, mode)
    if key not in _v2_results:
        lines = run_node("sio_v2_client", server.url, mode, json.dumps(v2_runs()), timeout=60)
        _v2_results[key] = {line["name"]: line for line in lines}

    def result(name: str) -> dict[str, Any]:
        line = _v2_results[key].get(name)
        assert line is not None, f"no output for {name}: {_v2_results[key]}"
        assert line["event"] == "result", line.get("error")
        return line

    return result


@pytest.mark.parametrize("mode", MODES)
def test_v2_root_and_a_namespace_with_query_auth(v2, mode):
    result = v2("events")
    assert result["transport"] == expected_transport(mode)
    engine = result["ids"]["engine"]
    assert result["ids"] == {"root": engine, "custom": f"/custom#{engine}", "engine": engine}
    assert result["auth"] == {"root": [{}], "custom": [{"token": "abc"}]}
    assert result["rounds"] == {"root": ROUND, "custom": ROUND}


@pytest.mark.parametrize("mode", MODES)
def test_v2_binary_both_ways(v2, mode):
    result = v2("binary")
    assert result["transport"] == expected_transport(mode)
    (ack,) = result["ack"]
    assert ack["received"] == NODE_SENT_VIEW
    assert ack["extra"] == [{"$bin": "0203"}]
    assert result["bin"] == [SERVER_BIN]


@pytest.mark.parametrize("mode", MODES)
def test_v2_refusals_are_v4_error_packets(v2, mode):
    assert v2("refused")["outcomes"] == {
        "/refuse": {"connected": False, "error": {"code": 401}},  # err.data of the refusal
        "/nope": {"connected": False, "error": {"message": "Invalid namespace"}},
    }


@pytest.mark.parametrize("mode", MODES)
def test_v2_rooms(v2, mode):
    result = v2("rooms")
    room = result["room"]
    assert result["joined"] == [[[room]], [[room]]]
    assert result["b"] == [["hello", {"n": 1, "bin": {"$bin": "07"}}]]
    assert result["a"] == [] and result["c"] == []


@pytest.mark.parametrize("mode", MODES)
def test_v2_heartbeat_keeps_the_connection(v2, mode):
    result = v2("heartbeat")
    assert result["connected"] is True and result["answer"] == ["still-here"]
    assert result["pongs"] >= 3  # the client pinged, the server answered


@pytest.mark.parametrize("mode", MODES)
def test_v2_where_v3_is_not_allowed(v2, mode):
    assert v2("disallowed")["connected"] is False


# -- python-socketio 4.x -----------------------------------------------------------------


def sio4(server, mode: str, scenario: str, options: dict[str, Any] | None = None) -> dict:
    done = subprocess.run(
        [
            sio4_python(),
            str(ROOT / "tests/e2e/sio4_client.py"),
            server.url,
            mode,
            scenario,
            json.dumps(options or {}),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert lines and lines[-1]["event"] == "result", (lines, done.stderr[-3000:])
    return lines[-1]


@pytest.mark.parametrize("mode", MODES)
def test_sio4_events_and_acks(client_server, mode):
    result = sio4(client_server, mode, "events")
    assert result["transport"] == expected_transport(mode)
    for nsp in ("/", "/custom"):
        assert result["namespaces"][nsp] == {
            "auth": [{}],
            "messageBack": [1, "two", {"three": [3, None]}],
            "ack": ["a", {"b": [1, 2]}],
            "asked": ["x", {"y": 1}],
            "acked": ["acked", "x", {"y": 1}],
        }


@pytest.mark.parametrize("mode", MODES)
def test_sio4_binary_both_ways(client_server, mode):
    """Over polling python-engineio 3 takes the XHR2 binary payload (it sends no b64=1)."""
    result = sio4(client_server, mode, "binary")
    assert result["transport"] == expected_transport(mode)
    sent = [{"buf": b"\x01\x02\x03", "nested": [b"\xff\xfe", {"deep": b"\x00" * 300}]}, b"\t"]
    hexed = json.loads(json.dumps(sent, default=lambda b: {"$bin": b.hex()}))
    assert result["ack"]["echo"] == hexed
    assert result["ack"]["received"] == json.loads(json.dumps(hexed).replace('"$bin"', '"bytes"'))
    assert result["bin"] == [SERVER_BIN]


# -- a silent v3 client ----------------------------------------------------------------


async def test_a_silent_v3_client_times_out(server, http):
    """No ping for pingInterval + pingTimeout: closed, and its sockets hear ``ping timeout``."""
    url = f"{server.ws_url}/socket.io-v3/?EIO=3&transport=websocket"
    loop = asyncio.get_running_loop()
    async with http.ws_connect(url) as ws:
        opened = await receive(ws)
        sid = json.loads(opened[1:])["sid"]
        assert await receive(ws) == "40"  # `/`, without a CONNECT from us
        await ws.send_str("40/ops")
        while (message := await receive(ws)) != "40/ops,":
            assert message.startswith("42"), message  # `/` says `auth` on connecting
        started = loop.time()
        await closed(ws, pong=False)
        assert loop.time() - started > 0.3
    observer = socketio.AsyncClient(reconnection=False)
    await observer.connect(server.url, namespaces=["/ops"], transports=["websocket"])
    try:
        for _ in range(100):
            reasons = await observer.call("last-reasons", namespace="/ops", timeout=WAIT)
            found = [r["reason"] for r in reasons if r["id"] == f"/ops#{sid}"]
            if found:
                break
            await asyncio.sleep(0.02)
        assert found == ["ping timeout"]
    finally:
        await observer.disconnect()
