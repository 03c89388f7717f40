"""Rooms, broadcasts and cross-node queries over three daphne processes and Redis.

Every test runs once per channels-redis layer class (`cluster` is parametrized), with
python-socketio clients spread round-robin over the nodes: client ``i`` is on node
``i % 3``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from tests.e2e.members import Member

from .conftest import NSP, ROOT, Client, Clients, Cluster, node_infos, settle
from .sockets import ASK_JSON

pytestmark = pytest.mark.e2e


def room(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


async def test_room_broadcast_reaches_members_on_every_node_once(
    cluster: Cluster, clients: Clients
) -> None:
    r = room("r")
    everyone = await clients.spread(cluster, 9)
    members = everyone[:6]  # two on each node
    outsiders = everyone[6:]  # one on each node
    await asyncio.gather(*(c.join(r) for c in members))
    sender = outsiders[1]
    for seq in range(3):
        assert await sender.call("bcast", {"to": [r]}, seq, "é€😀") is True
    await settle(sender, everyone)
    for client in members:
        assert client.got("b") == [[0, "é€😀"], [1, "é€😀"], [2, "é€😀"]], client.name
    for client in outsiders:
        assert client.got("b") == [], client.name


async def test_one_broadcast_reaches_every_kind_of_client_on_every_node(
    cluster: Cluster, clients: Clients
) -> None:
    """socket.io-client 2.x (Engine.IO v3) and 4.8 (JSON and MessagePack parsers),
    python-socketio 4.x (v3) and 5.x (JSON and MessagePack) in one room, spread over the
    nodes: one broadcast, with bytes, reaches each of them once (the nodes detect each
    session's parser and protocol; a broadcast is encoded once per parser and protocol)."""
    r = room("mixed")
    kinds = [
        ("v2", "polling", 0),
        ("v2", "websocket", 1),
        ("sio4", "upgrade", 2),
        ("msgpack", "polling", 0),
        ("msgpack", "upgrade", 1),
        ("json", "websocket", 2),
    ]
    members = [
        await Member.start(kind, cluster.urls[i], mode, NSP, [[r]], "b") for kind, mode, i in kinds
    ]
    try:
        await asyncio.gather(*(m.ready() for m in members))
        packed = await clients(cluster.urls[1], "packed", serializer="msgpack")
        await packed.join(r)
        sender = await clients(cluster.urls[2], "sender")
        assert await sender.call("bcast", {"to": [r]}, "hello", {"bin": b"\x07\x00"}) is True
        results = await asyncio.gather(*(m.result() for m in members))
        for (kind, mode, i), result in zip(kinds, results, strict=True):
            assert result["got"] == [["hello", {"bin": {"$bin": "0700"}}]], (kind, mode, i)
        await settle(sender, [packed])
        assert packed.got("b") == [["hello", {"bin": b"\x07\x00"}]]
    finally:
        for member in members:
            member.stop()


async def test_except_and_several_rooms(cluster: Cluster, clients: Clients) -> None:
    a, b, x = room("a"), room("b"), room("x")
    memberships = [
        [a],
        [b],
        [a, b],  # in both target rooms: once
        [a, x],  # excluded
        [x],
        [],
    ]
    # every kind of member on every node
    everyone = await clients.spread(cluster, len(memberships) * 3)
    for i, client in enumerate(everyone):
        if memberships[i // 3]:
            await client.join(*memberships[i // 3])
    expected = {i for i in range(len(everyone)) if i // 3 in (0, 1, 2)}
    sender = everyone[-1]
    await sender.call("bcast", {"to": [a, b], "except": [x]}, "hi")
    await sender.call("bcast", {"to": [a, b, x], "event": "c"}, "all three")
    await settle(sender, everyone)
    for i, client in enumerate(everyone):
        assert client.got("b") == ([["hi"]] if i in expected else []), (client.name, i)
        in_any = i // 3 in (0, 1, 2, 3, 4)
        assert client.got("c") == ([["all three"]] if in_any else []), (client.name, i)


async def test_sender_is_excluded(cluster: Cluster, clients: Clients) -> None:
    r, x = room("r"), room("x")
    everyone = await clients.spread(cluster, 6)
    members = everyone[:4]  # nodes 0, 1, 2, 0
    await asyncio.gather(*(c.join(r) for c in members))
    await everyone[2].join(x)
    sender = members[0]
    # socket.to(room): the room without the sender
    await sender.call("bcast", {"to": [r], "from_socket": True, "event": "to"}, 1)
    # socket.broadcast: the namespace without the sender
    await sender.call("bcast", {"from_socket": True, "event": "bc"}, 2)
    # socket.to(room).except_(x)
    await sender.call("bcast", {"to": [r], "except": [x], "from_socket": True, "event": "tx"}, 3)
    await settle(sender, everyone)
    for i, client in enumerate(everyone):
        assert client.got("to") == ([[1]] if i in (1, 2, 3) else []), client.name
        assert client.got("bc") == ([[2]] if i != 0 else []), client.name
        assert client.got("tx") == ([[3]] if i in (1, 3) else []), client.name


async def test_pipelined_broadcasts_keep_their_order_on_every_node(
    cluster: Cluster, clients: Clients
) -> None:
    """One client emits 100 ``bcast`` without waiting for the acks: each handler runs in its
    own task, yet every member, on every node, gets them in the order they were sent."""
    r = room("r")
    members = await clients.spread(cluster, 6)
    await asyncio.gather(*(c.join(r) for c in members))
    sender = members[0]
    acks = await asyncio.gather(*(sender.call("bcast", {"to": [r]}, seq) for seq in range(100)))
    assert acks == [True] * 100
    await settle(sender, members)
    for client in members:
        assert [args[0] for args in client.got("b")] == list(range(100)), client.name


async def test_broadcast_acks_are_gathered_from_every_node(
    cluster: Cluster, clients: Clients
) -> None:
    r = room("r")
    members = await clients.spread(cluster, 6)
    await asyncio.gather(*(c.join(r) for c in members))
    caller = await clients(cluster.urls[0], "caller")
    started = time.monotonic()
    result = await caller.call("bcast_ack", r, 5)
    assert time.monotonic() - started < 3, "waited for a timeout instead of counting acks"
    assert "timeout" not in result, result
    assert sorted(a["from"] for a in result["acks"]) == sorted(c.name for c in members)
    assert all(c.got("ask") == [[ASK_JSON]] for c in members)


async def test_broadcast_acks_with_no_remote_member(cluster: Cluster, clients: Clients) -> None:
    """Nodes without a member answer with a count of 0; the gathering still completes."""
    r = room("r")
    member = await clients(cluster.urls[1], "member")
    await member.join(r)
    caller = await clients(cluster.urls[0], "caller")
    started = time.monotonic()
    assert await caller.call("bcast_ack", r, 5) == {"acks": [{"from": "member"}]}
    assert time.monotonic() - started < 3
    empty = room("empty")
    assert await caller.call("bcast_ack", empty, 5) == {"acks": []}


@pytest.mark.parametrize("silent_node", [0, 2], ids=["silent-local", "silent-remote"])
async def test_broadcast_ack_timeout_returns_the_acks_that_came(
    cluster: Cluster, clients: Clients, silent_node: int
) -> None:
    r = room("r")
    members = await clients.spread(cluster, 6)
    silent = await clients(cluster.urls[silent_node], "silent", silent=True)
    await asyncio.gather(*(c.join(r) for c in [*members, silent]))
    caller = await clients(cluster.urls[0], "caller")
    started = time.monotonic()
    result = await caller.call("bcast_ack", r, 1.0)
    elapsed = time.monotonic() - started
    assert result["timeout"] is True, result
    assert sorted(a["from"] for a in result["acks"]) == sorted(c.name for c in members)
    assert 0.9 < elapsed < 4, elapsed
    assert len(silent.got("ask")) == 1


@pytest.mark.parametrize("leaving_node", [0, 2], ids=["leaves-local", "leaves-remote"])
async def test_member_leaving_during_broadcast_ack(
    cluster: Cluster, clients: Clients, leaving_node: int
) -> None:
    """A recipient that disconnects instead of answering: the others' acks still come back."""
    r = room("r")
    members = await clients.spread(cluster, 3)
    leaving = await clients(cluster.urls[leaving_node], "leaving", silent=True)
    await asyncio.gather(*(c.join(r) for c in [*members, leaving]))
    caller = await clients(cluster.urls[0], "caller")
    call = asyncio.ensure_future(caller.call("bcast_ack", r, 2.0))
    await leaving.wait_for("ask")
    await leaving.close()
    result = await call
    assert result["timeout"] is True, result
    assert sorted(a["from"] for a in result["acks"]) == sorted(c.name for c in members)


async def test_fetch_sockets_across_nodes(cluster: Cluster, clients: Clients) -> None:
    r = room("r")
    everyone = await clients.spread(cluster, 8)
    members = everyone[:6]
    await asyncio.gather(*(c.join(r) for c in members))
    for asker in (everyone[6], everyone[7], members[2]):
        assert await asker.call("fetch", r) == sorted(c.sid for c in members)
    assert await everyone[0].call("fetch", room("nobody")) == []


async def test_disconnect_sockets_across_nodes(cluster: Cluster, clients: Clients) -> None:
    r = room("r")
    everyone = await clients.spread(cluster, 9)
    members, others = everyone[:6], everyone[6:]
    await asyncio.gather(*(c.join(r) for c in members))
    kicker = others[0]
    assert await kicker.call("kick", r) is True
    deadline = time.monotonic() + 5
    while not all(c.disconnected for c in members):
        assert time.monotonic() < deadline, [c.name for c in members if not c.disconnected]
        await asyncio.sleep(0.02)
    for client in others:
        assert client.disconnected == []
        assert await client.call("fetch", r) == []
    assert await kicker.call("fetch", r) == []


async def test_sockets_join_across_nodes(cluster: Cluster, clients: Clients) -> None:
    a, b = room("a"), room("b")
    everyone = await clients.spread(cluster, 8)
    members, others = everyone[:6], everyone[6:]
    await asyncio.gather(*(c.join(a) for c in members))
    assert await others[0].call("pull", a, b) is True
    assert await others[1].call("fetch", b) == sorted(c.sid for c in members)
    await others[1].call("bcast", {"to": [b]}, "pulled")
    await settle(others[1], everyone)
    for client in everyone:
        assert client.got("b") == ([["pulled"]] if client in members else []), client.name


async def test_server_side_emit_answers_once_per_other_node(
    cluster: Cluster, clients: Clients
) -> None:
    for url in cluster.urls:
        client = await clients(url)
        answers = await client.call("server_emit", "x", {"n": 1})
        assert answers == [{"event": "ping-nodes", "args": ["x", {"n": 1}]}] * (len(cluster) - 1)


def post_emit(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/emit/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def wait_everyone(
    everyone: list[Client], members: list[Client], event: str, args: list
) -> None:
    try:
        for client in members:
            assert await client.wait_for(event) == [args], client.name
    except AssertionError as exc:
        infos = await node_infos(sorted({c.url for c in everyone}))
        raise AssertionError(f"{exc}\nnodes: {infos}") from None
    # and the others got nothing: a later broadcast from a member has overtaken it
    await settle(members[0], everyone)
    for client in everyone:
        assert client.got(event) == ([args] if client in members else []), client.name


async def test_emit_from_a_sync_view_reaches_every_node(cluster: Cluster, clients: Clients) -> None:
    r = room("r")
    everyone = await clients.spread(cluster, 8)
    members = everyone[:6]
    await asyncio.gather(*(c.join(r) for c in members))
    body = {"to": r, "event": "from-view", "args": [1, "two"], "namespace": NSP}
    assert await asyncio.to_thread(post_emit, cluster.urls[1], body) == {"ok": True}
    await wait_everyone(everyone, members, "from-view", [1, "two"])
    # a namespace-wide one too
    body = {"event": "view-all", "args": [3]}
    assert await asyncio.to_thread(post_emit, cluster.urls[2], body) == {"ok": True}
    for client in everyone:
        assert await client.wait_for("view-all") == [[3]]


async def test_emit_from_the_management_command_reaches_every_node(
    cluster: Cluster, clients: Clients
) -> None:
    r = room("r")
    everyone = await clients.spread(cluster, 8)
    members = everyone[:6]
    await asyncio.gather(*(c.join(r) for c in members))
    command = [sys.executable, "-m", "django", "socketio_emit", "from-cmd", '{"a": 1}', "plain"]
    command += ["--namespace", NSP, "--to", r]
    started = time.monotonic()
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=cluster.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"emitted 'from-cmd' to {r} in {NSP}" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert time.monotonic() - started < 15
    await wait_everyone(everyone, members, "from-cmd", [{"a": 1}, "plain"])


async def test_socketio_client_js(cluster: Cluster, clients: Clients, run_node) -> None:
    """The official npm client: members on every node, broadcasts, acks and exclusions."""
    r = room("js")
    watcher = await clients(cluster.urls[0], "watcher")  # a python outsider
    lines = await run_node(
        "rooms", json.dumps({"urls": cluster.urls, "clients": 6, "room": r}), timeout=30
    )
    result = lines[-1]
    assert result["event"] == "result", lines
    assert result["errors"] == [], result
    # the js script checks exact delivery itself; check what it reports
    assert result["fetched"] == sorted(result["sids"])
    assert sorted(result["acks"]) == sorted(range(6))
    assert watcher.got("b") == []


async def test_a_burst_of_joins_stays_reachable_from_other_nodes(
    cluster: Cluster, clients: Clients
) -> None:
    """150 sockets of one node join 150 new rooms at once: that node joins 150 groups in
    the layer at once, and none may be lost (channels-redis fails an operation outright
    when its connection pool, 100 by default, is exhausted).

    The sockets connect in small waves first: a burst of connections would also trip the
    test settings' 200 ms heartbeat on a busy machine, which is not what this is about.
    """
    burst: list[Client] = []
    for wave in range(6):
        burst += await asyncio.gather(
            *(clients(cluster.urls[0], f"b{wave * 25 + i}") for i in range(25))
        )
    rooms = [room(c.name) for c in burst]
    await asyncio.gather(*(c.join(r) for c, r in zip(burst, rooms, strict=True)))
    sender = await clients(cluster.urls[1], "sender")
    for c, r in zip(burst, rooms, strict=True):
        await sender.call("bcast", {"to": [r], "event": "direct"}, c.name)
    await settle(sender, [*burst, sender])
    assert [c.name for c in burst if c.got("direct") != [[c.name]]] == []


async def test_socketio_status_command(cluster: Cluster, clients: Clients) -> None:
    """manage.py socketio_status sees every node, its sockets and its rooms (read-only)."""
    r = room("status")
    everyone = await clients.spread(cluster, 7)
    members = everyone[:5]  # nodes 0, 1, 2, 0, 1
    await asyncio.gather(*(c.join(r) for c in members))
    command = [sys.executable, "-m", "django", "socketio_status"]
    done = await asyncio.to_thread(
        subprocess.run, [*command, "--json"], cwd=ROOT, env=cluster.env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["nodes_seen"] == 3 and len(report["processes"]) == 3, report
    assert report["namespaces"][NSP]["rooms"][r] == 5
    assert report["namespaces"][NSP]["sockets"] >= 7
    per_node = sorted(
        p["namespaces"].get(NSP, {}).get("rooms", {}).get(r, 0) for p in report["processes"]
    )
    assert per_node == [1, 2, 2]
    for process in report["processes"]:  # a socket's own room is not listed
        assert not any(
            c.sid in process["namespaces"].get(NSP, {}).get("rooms", {}) for c in everyone
        )
    # the text form, and the servers still serve the same sockets afterwards
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=cluster.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 server process(es) seen, 3 answered.\n"), done.stdout
    assert f"{r} 5" in done.stdout.split("All processes:")[1]
    assert await everyone[5].call("fetch", r) == sorted(c.sid for c in members)


def test_socketio_status_without_a_shared_layer() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "django", "socketio_status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "CommandError: No channel layer shared between processes (SOCKETIO['CHANNEL_LAYER'] is "
        "'default', an in-memory layer), so the servers cannot be asked. Configure "
        "channels_redis in CHANNEL_LAYERS, for the servers and for this command."
    )
