"""Connection state recovery with the official socket.io-client 4.8 (js/recovery_client.mjs).

The same scenarios run against this server (daphne and uvicorn, ``recovery_settings``)
and against the reference, Node's socket.io 4.8 with ``connectionStateRecovery`` and the
in-memory adapter (js/recovery_server.mjs), over polling, websocket and the upgrade: the
expectations below are what the reference does, so they are right. A second client (the
control) drops the socket's transport from the server side (no DISCONNECT packet: the
client sees ``transport close``) and emits what it misses while it is away.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.processes import node_binary, terminate
from tests.tcp_proxy import TcpProxy

from .conftest import JS_DIR, ROOT, launch

pytestmark = pytest.mark.e2e

MODES = ["polling", "websocket", "upgrade"]
#: What the client misses, in order, without their offsets: room broadcasts, a
#: namespace broadcast, an emit to its own room, binary; not the volatile emit, the emit
#: carrying an ack id, nor what went to a room it is not in.
MISSED = [["all", 1], ["room", 2], ["direct", 3], ["bin", {"$bin": "0001"}]]


@dataclass
class Target:
    kind: str
    url: str


def serve(kind: str, settings: str, node_env: dict[str, str]) -> Iterator[Target]:
    """Our server under `kind` with `settings`, or Node's with `node_env` (the same options)."""
    if kind == "node":
        node = node_binary("socket.io")
        process = subprocess.Popen(
            [node, str(JS_DIR / "recovery_server.mjs")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **node_env},
        )
        try:
            line = process.stdout.readline()  # type: ignore[union-attr]
            yield Target(kind, f"http://127.0.0.1:{json.loads(line)['port']}")
        finally:
            terminate(process)  # type: ignore[arg-type]
        return
    srv = launch(kind, settings)
    try:
        yield Target(kind, srv.url)
    finally:
        terminate(srv.process)
        srv.log.close()


@pytest.fixture(scope="module", params=["daphne", "uvicorn", "node"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Window 120 s, middlewares skipped on recovery (the defaults)."""
    yield from serve(request.param, "tests.e2e.recovery_settings", {})


@pytest.fixture(scope="module", params=["daphne", "uvicorn", "node"])
def short(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Window 1 s, middlewares run again on recovery."""
    node_env = {"RECOVERY_WINDOW_MS": "1000", "SKIP_MIDDLEWARES": "0"}
    yield from serve(request.param, "tests.e2e.recovery_short_settings", node_env)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def run(run_node: Any, target: Target, mode: str, scenario: str, **options: Any) -> dict[str, Any]:
    (line,) = run_node(
        "recovery_client",
        target.url,
        mode,
        # 15 s (run_node stops the script at 20), not common.mjs's 8 s: two polling
        # clients, five acks, a drop and a reconnection took longer than 8 s once
        # against Node's server at load 20.
        json.dumps([{"name": scenario, "scenario": scenario, "timeout": 15000, **options}]),
    )
    assert line["event"] == "result", line.get("error")
    return line


def test_a_dropped_client_recovers_id_rooms_data_and_exactly_the_missed_events(
    run_node, target, mode
):
    got = run(run_node, target, mode, "recover")
    assert got["before"] == {"id": got["before"]["id"], "recovered": False, "pid": True}
    assert got["reason"] == "transport close"
    assert got["recovered"] is True and got["id"] == got["before"]["id"]
    assert got["whoami"] == {
        "id": got["id"],
        "rooms": sorted([got["id"], "r1"]),
        "data": {"name": "ada"},
        "recovered": True,
        "middleware": [False],  # SKIP_MIDDLEWARES: not run again
    }
    # in order, once each, each with its own offset (a string) last
    assert [event[:-1] for event in got["events"]] == MISSED
    offsets = got["offsets"]
    assert all(isinstance(o, str) for o in offsets) and len(set(offsets)) == len(MISSED)


def test_a_client_cut_off_by_a_proxy_recovers_the_same_way(run_node, target, mode):
    """A proxy (or the network) drops the connections: no close frame, no answer to the poll.

    The server sees the websocket end, or the pending long poll abandoned; the client sees
    its transport fail. It comes back through the proxy and recovers as above.
    """
    proxy = TcpProxy(int(target.url.rsplit(":", 1)[1]))
    try:
        got = run(run_node, target, mode, "recover", proxy=proxy.url, control=proxy.control_port)
    finally:
        proxy.close()
    assert proxy.severed >= 1
    assert got["reason"] in ("transport close", "transport error")
    if target.kind == "node" and mode == "polling" and not got["recovered"]:
        # The reference notices a cut only if a long poll was pending then; cut between two
        # polls, its old socket looks alive when the client comes back, so there is no
        # session to restore (socket.io #4880): a fresh one, with nothing replayed. Ours
        # closes the half-open socket and restores it, every time.
        assert got["id"] != got["before"]["id"] and got["events"] == []
        return
    assert got["recovered"] is True and got["id"] == got["before"]["id"]
    assert got["whoami"]["rooms"] == sorted([got["id"], "r1"])
    assert got["whoami"]["data"] == {"name": "ada"}
    assert [event[:-1] for event in got["events"]] == MISSED


def test_a_forged_pid_gets_a_fresh_session(run_node, target, mode):
    got = run(run_node, target, mode, "forged")
    assert got["recovered"] is False and got["sameId"] is False
    assert got["whoami"]["recovered"] is False and got["whoami"]["data"] == {}


def test_middlewares_run_again_when_skip_middlewares_is_false(run_node, short, mode):
    got = run(run_node, short, mode, "later", waitMs=0)
    assert got["recovered"] is True and got["sameId"] is True
    assert got["whoami"]["middleware"] == [False, True]  # the second run saw `recovered`


def test_after_the_window_the_client_gets_a_fresh_session(run_node, short, mode):
    # A deliberate wait past the 1 s window (not a race: the client holds off until then)
    got = run(run_node, short, mode, "later", waitMs=1500)
    assert got["recovered"] is False and got["sameId"] is False
    assert got["whoami"]["data"] == {} and got["whoami"]["middleware"] == [False]
