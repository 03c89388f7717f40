"""The same room features in one process, on the in-memory channel layer (``tests.settings``).

Without Redis or other nodes everything still works locally, and cross-node queries
return at once with nothing from elsewhere.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from .conftest import Clients, Cluster, settle
from .test_rooms import post_emit

pytestmark = pytest.mark.e2e


def room(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


async def test_room_broadcast_except_and_several_rooms(
    single_node: Cluster, clients: Clients
) -> None:
    a, b, x = room("a"), room("b"), room("x")
    memberships = [[a], [b], [a, b], [a, x], [x], []]
    everyone = [await clients(single_node.urls[0], f"c{i}") for i in range(len(memberships))]
    for client, rooms in zip(everyone, memberships, strict=True):
        if rooms:
            await client.join(*rooms)
    sender = everyone[-1]
    await sender.call("bcast", {"to": [a]}, "a only")
    await sender.call("bcast", {"to": [a, b], "except": [x]}, "a or b, not x")
    # from a non-member: the whole room
    await sender.call("bcast", {"to": [a], "from_socket": True, "event": "to"}, "not me")
    await settle(sender, everyone)
    expected = {
        0: [["a only"], ["a or b, not x"]],
        1: [["a or b, not x"]],
        2: [["a only"], ["a or b, not x"]],
        3: [["a only"]],
        4: [],
        5: [],
    }
    for i, client in enumerate(everyone):
        assert client.got("b") == expected[i], client.name
    # socket.to(room) from a member: the others in the room
    await everyone[0].call("bcast", {"to": [a], "from_socket": True, "event": "to"}, "from c0")
    await settle(sender, everyone)
    tos = {c.name: c.got("to") for c in everyone}
    both = [["not me"], ["from c0"]]
    assert tos == {"c0": [["not me"]], "c1": [], "c2": both, "c3": both, "c4": [], "c5": []}


async def test_fetch_and_disconnect_sockets(single_node: Cluster, clients: Clients) -> None:
    r = room("r")
    everyone = [await clients(single_node.urls[0], f"c{i}") for i in range(4)]
    members = everyone[:3]
    await asyncio.gather(*(c.join(r) for c in members))
    started = time.monotonic()
    assert await everyone[3].call("fetch", r) == sorted(c.sid for c in members)
    assert time.monotonic() - started < 1, "waited for nodes that do not exist"
    assert await everyone[3].call("kick", r) is True
    for client in members:
        deadline = time.monotonic() + 5
        while not client.disconnected:
            assert time.monotonic() < deadline, client.name
            await asyncio.sleep(0.02)
    assert everyone[3].disconnected == []
    assert await everyone[3].call("fetch", r) == []


async def test_sockets_join_and_broadcast_acks(single_node: Cluster, clients: Clients) -> None:
    a, b = room("a"), room("b")
    everyone = [await clients(single_node.urls[0], f"c{i}") for i in range(4)]
    await asyncio.gather(*(c.join(a) for c in everyone[:3]))
    assert await everyone[3].call("pull", a, b) is True
    assert await everyone[3].call("fetch", b) == sorted(c.sid for c in everyone[:3])
    started = time.monotonic()
    result = await everyone[3].call("bcast_ack", b, 5)
    assert time.monotonic() - started < 1
    assert sorted(a["from"] for a in result["acks"]) == ["c0", "c1", "c2"]


async def test_server_side_emit_without_other_nodes(single_node: Cluster, clients: Clients) -> None:
    client = await clients(single_node.urls[0])
    started = time.monotonic()
    assert await client.call("server_emit", "x") == []
    assert time.monotonic() - started < 1


async def test_emit_from_a_sync_view(single_node: Cluster, clients: Clients) -> None:
    r = room("r")
    everyone = [await clients(single_node.urls[0], f"c{i}") for i in range(3)]
    await asyncio.gather(*(c.join(r) for c in everyone[:2]))
    body = {"to": r, "event": "from-view", "args": [{"k": "v"}]}
    assert await asyncio.to_thread(post_emit, single_node.urls[0], body) == {"ok": True}
    for client in everyone[:2]:
        assert await client.wait_for("from-view") == [[{"k": "v"}]]
    await settle(everyone[0], everyone)
    assert everyone[2].got("from-view") == []
