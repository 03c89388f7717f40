"""Connection state recovery across processes: the official client on three daphnes.

The nodes share a private Redis through channels-redis, and ``SOCKETIO["RECOVERY"]``
keeps its default store ("auto": that Redis). socket.io-client 4.8 with
``connectionStateRecovery`` (js/recovery.mjs) is dropped on one process and
reconnects to another each time; what it missed was emitted from the other processes
and from a Django view (``emit_sync``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Cluster, ClusterFactory, conversation

#: What one `away` (tests/sioapp/sockets.py, the recovery namespace) sends the socket:
#: namespace-wide, its room, its own id, binary; not the other room, the volatile emit
#: nor the emit with an ack.
AWAY = [["all", 1], ["room", 2], ["direct", 3], ["bin", {"$bin": "0001"}]]
STREAM_ID = re.compile(r"^\d+-\d+$")


@pytest.fixture(scope="module", params=["redis", "pubsub"])
def cluster(request: pytest.FixtureRequest, redis: Any) -> Iterator[Cluster]:
    factory = ClusterFactory(redis)
    try:
        yield factory.start(3, request.param, {"SIO_TEST_RECOVERY": "120"})
    finally:
        factory.close()


@pytest.fixture(params=[["websocket"], ["polling"]], ids=["websocket", "polling"])
def transports(request: pytest.FixtureRequest) -> list[str]:
    return request.param


@pytest.fixture(scope="module")
def bounded(redis: Any) -> Iterator[Cluster]:
    """A 4 s window and MAX_EVENTS 10: the Redis store's bounds, from the client side."""
    factory = ClusterFactory(redis)
    env = {"SIO_TEST_RECOVERY": str(WINDOW), "SIO_TEST_RECOVERY_EVENTS": "10"}
    try:
        yield factory.start(3, "redis", env)
    finally:
        factory.close()


WINDOW = 4


async def scenario(
    run_node: Any, cluster: Cluster, name: str, transports: list[str], **options: Any
) -> Any:
    config = {"urls": cluster.urls, "scenario": name, "transports": transports, **options}
    (line,) = await run_node("recovery", json.dumps(config))
    assert line["event"] == "result", line.get("error")
    return line


async def test_a_client_recovers_on_another_process_each_time(
    run_node: Any, cluster: Cluster, transports: list[str]
) -> None:
    got = await scenario(run_node, cluster, "hops", transports)
    sid = got["first"]["id"]
    offsets = [got["first"]["events"][0][-1]]
    for hop, step in enumerate(got["hops"], 1):
        assert step["reason"] == "transport close"
        assert step["recovered"] is True and step["id"] == sid, f"hop {hop}"
        assert step["whoami"] == {
            "id": sid,
            "rooms": sorted([sid, "r1"]),
            "data": {"name": "ada"},
            "recovered": True,
            "middleware": None,  # SKIP_MIDDLEWARES: it never ran on this process
        }
        # From the two other processes in turn, then the view: in order, once each.
        assert [event[:-1] for event in step["events"]] == [*AWAY, *AWAY, ["view", hop]]
        offsets += [event[-1] for event in step["events"]]
    assert [event[:-1] for event in got["live"]] == [["hello"]]  # live again, once
    offsets.append(got["live"][0][-1])
    # One offset per event, the stream's ids: the same order on every process.
    assert all(STREAM_ID.match(o) for o in offsets) and len(set(offsets)) == len(offsets)
    key = [tuple(map(int, o.split("-"))) for o in offsets]
    assert key == sorted(key)
    cluster.assert_no_errors()


async def test_a_forged_pid_gets_a_fresh_session_on_another_process(
    run_node: Any, cluster: Cluster, transports: list[str]
) -> None:
    got = await scenario(run_node, cluster, "forged", transports)
    assert got["recovered"] is False and got["sameId"] is False
    assert got["whoami"]["recovered"] is False and got["whoami"]["data"] == {}


async def test_a_half_open_socket_on_another_process_is_closed_before_the_takeover(
    run_node: Any, cluster: Cluster, transports: list[str]
) -> None:
    """socket.io #4880 across processes: the client comes back on node1 while its old
    socket is still connected on node0. node0 closes it first (and keeps its session,
    which node1 restores); then one socket has that id, everywhere."""
    got = await scenario(run_node, cluster, "halfopen", transports)
    sid = got["oldId"]
    assert got["oldReason"] == "io server disconnect"
    assert got["newId"] == sid and got["whoami"]["recovered"] is True
    assert got["whoami"]["rooms"] == sorted([sid, "r1"])
    assert got["whoami"]["data"] == {"name": "ada"}
    assert [event[:-1] for event in got["events"]] == [["hello"], ["view", 0]]  # once each
    assert got["oldEvents"] == ["hello"]
    cluster.assert_no_errors()


async def test_a_quiet_client_recovers_on_another_process(
    run_node: Any, cluster: Cluster, transports: list[str]
) -> None:
    """#4888 across processes: it never received an event (no offset), yet the session
    shows it had everything meant for it: rooms, data, and what came after it left."""
    got = await scenario(run_node, cluster, "away", transports, quiet=True, count=2)
    assert got["recovered"] is True and got["sameId"] is True
    assert got["whoami"]["data"] == {"name": "ada"} and "r1" in got["whoami"]["rooms"]
    assert got["missed"] == 2


async def test_recovery_on_another_process_is_bounded_by_the_window_and_max_events(
    run_node: Any, bounded: Cluster, transports: list[str]
) -> None:
    within = await scenario(run_node, bounded, "away", transports, count=5)
    assert within["recovered"] is True and within["missed"] == 5
    # #5282: its last event is older than the window when it leaves; still recovers
    aged = await scenario(run_node, bounded, "away", transports, waitMs=WINDOW * 1000 + 500)
    assert aged["recovered"] is True and aged["missed"] == 1
    # 300 events while away, MAX_EVENTS 10: its offset left the stream: a fresh session,
    # never a partial replay
    trimmed = await scenario(run_node, bounded, "away", transports, count=300)
    assert trimmed["recovered"] is False and trimmed["sameId"] is False
    assert trimmed["whoami"]["data"] == {} and trimmed["missed"] == 0


async def test_an_expired_session_gives_a_fresh_one_on_another_process(
    run_node: Any, bounded: Cluster, transports: list[str]
) -> None:
    # a deliberate wait past the window, after the drop (not a race)
    got = await scenario(run_node, bounded, "later", transports, waitMs=WINDOW * 1000 + 1000)
    assert got["recovered"] is False and got["sameId"] is False
    assert got["whoami"]["data"] == {}


@pytest.mark.parametrize("quiet", [False, True], ids=["after-an-event", "quiet"])
async def test_a_killed_process_s_clients_recover_its_snapshot_elsewhere(
    start_cluster: ClusterFactory, transports: list[str], quiet: bool
) -> None:
    """SIGKILL: nothing is persisted on the way out, but the live snapshot (rooms and data
    as of the socket's last join) is: after EVICT_TIMEOUT (nobody closes the socket) the
    client recovers on another process with its id, rooms, data and every event it
    missed (from another process and from a view), once each; also a client that had
    received nothing (no offset: the snapshot says where the stream stood)."""
    # A database of its own: the module's cluster shares the Redis server.
    own_db = urlsplit(start_cluster.redis.url)._replace(path="/1").geturl()
    own = {"SIO_TEST_RECOVERY": "120", "REDIS_URL": own_db}
    cluster = await start_cluster(3, "redis", own)
    config = {"urls": cluster.urls, "scenario": "killed", "transports": transports}
    config["quiet"] = quiet
    async with conversation("recovery", config) as script:
        ready = await script.hear(60)
        assert ready.get("event") == "ready", ready
        cluster.nodes[0].kill()
        # The others miss it (NODE_TIMEOUT) before `away`, whose emit with an ack would
        # wait for the dead one's answer otherwise.
        await cluster.wait_ready(cluster.nodes[1:])
        await script.say("killed")
        got = await script.hear(60)
        assert got.get("event") == "result", got
        sid = got["id"]
        assert got["recovered"] is True and got["sameId"] is True, got
        assert got["whoami"]["rooms"] == sorted([sid, "r1"])
        assert got["whoami"]["data"] == {"name": "ada"}
        assert [event[:-1] for event in got["events"]] == [*AWAY, ["view", 1]]
        cluster.assert_no_errors(cluster.nodes[1:])
