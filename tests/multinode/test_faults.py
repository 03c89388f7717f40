"""Faults: a node killed without a goodbye, and Redis going away and coming back.

Each test has its own cluster (it breaks it). Nodes beat every 0.5 s and are forgotten
after 2 s of silence (``tests.multinode.settings``).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.conftest import require_or_skip

from .conftest import LAYERS, Client, Clients, ClusterFactory, node_infos

pytestmark = pytest.mark.e2e

HEARTBEAT_WINDOW = 3.0  # NODE_TIMEOUT (2 s) and a margin


def room(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


async def delivered(sender: Client, members: list[Client], r: str, timeout: float = 2.0) -> list:
    """Broadcast a fresh token to `r` from `sender`; the members that got it in time."""
    token = uuid.uuid4().hex
    await sender.call("bcast", {"to": [r], "event": "probe"}, token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all([token] in c.got("probe") for c in members):
            break
        await asyncio.sleep(0.02)
    return [c for c in members if [token] in c.got("probe")]


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_killed_node_is_forgotten_and_the_others_keep_serving(
    start_cluster: ClusterFactory, clients: Clients, layer: str
) -> None:
    cluster = await start_cluster(3, layer)
    r = room("r")
    everyone = await clients.spread(cluster, 6)  # nodes 0, 1, 2, 0, 1, 2
    await asyncio.gather(*(c.join(r) for c in everyone))
    survivors = [c for i, c in enumerate(everyone) if i % 3 != 2]
    sender = everyone[0]
    assert len(await delivered(sender, everyone, r)) == 6

    cluster[2].kill()
    killed_at = time.monotonic()
    # at once: the remaining nodes still deliver to each other
    assert await delivered(sender, survivors, r) == survivors
    assert await delivered(everyone[1], survivors, r) == survivors

    # after the heartbeat window the dead node is forgotten: nobody waits for it
    await asyncio.sleep(max(0.0, killed_at + HEARTBEAT_WINDOW - time.monotonic()))
    for asker in (everyone[0], everyone[1]):
        started = time.monotonic()
        assert await asker.call("fetch", r) == sorted(c.sid for c in survivors)
        assert time.monotonic() - started < 1.0, "fetch waited for the dead node"
        started = time.monotonic()
        result = await asker.call("bcast_ack", r, 5)
        assert time.monotonic() - started < 1.0, "bcast_ack waited for the dead node"
        assert "timeout" not in result, result
        assert sorted(a["from"] for a in result["acks"]) == sorted(c.name for c in survivors)
        answers = await asker.call("server_emit", "after")
        assert len(answers) == 1, answers
    infos = await node_infos(cluster.urls[:2])
    assert [len(info["nodes"]) for info in infos] == [1, 1], infos
    cluster.assert_no_errors(cluster.nodes[:2])


@pytest.mark.parametrize("layer", list(LAYERS))
async def test_redis_restart(
    start_cluster: ClusterFactory, clients: Clients, layer: str, redis
) -> None:
    if not redis.restartable:
        require_or_skip("REDIS_URL names an external Redis, which this test cannot restart")
    cluster = await start_cluster(3, layer)
    r, late = room("r"), room("late")
    everyone = await clients.spread(cluster, 6)
    await asyncio.gather(*(c.join(r) for c in everyone))
    on_node0 = [everyone[0], everyone[3]]
    assert len(await delivered(everyone[0], everyone, r)) == 6

    await asyncio.to_thread(redis.stop)
    try:
        # local delivery does not depend on Redis
        for _ in range(3):
            started = time.monotonic()
            assert await delivered(everyone[0], on_node0, r) == on_node0
            outage_call = time.monotonic() - started
            assert outage_call < 5, f"a broadcast took {outage_call:.1f} s during the outage"
        # queries answer (with what they can reach) instead of hanging
        fetched = await everyone[3].call("fetch", r, timeout=15)
        assert set(fetched) >= {c.sid for c in on_node0}
        # rooms joined meanwhile (their groups cannot be joined in the layer now)
        for client in everyone:
            await client.join(late)
    finally:
        await asyncio.to_thread(redis.start)

    # Cross-node traffic comes back by itself: broadcasts from every node reach every
    # member, and queries from every node see every member. Poll: the first operation on
    # each pooled Redis connection opened before the restart fails (and is lost).
    deadline = time.monotonic() + 10
    expected = sorted(c.sid for c in everyone)
    while True:
        problems = []
        for sender in everyone[:3]:  # one on each node
            for target in (r, late):
                got = await delivered(sender, everyone, target, timeout=1.0)
                if len(got) != 6:
                    problems.append(
                        f"{target} from {sender.name}: only {[c.name for c in got]} got it"
                    )
            fetched = await sender.call("fetch", r)
            if fetched != expected:
                problems.append(f"{sender.name} fetched {len(fetched)} of 6")
        if not problems:
            break
        if time.monotonic() > deadline:
            infos = await node_infos(cluster.urls)
            lost = [c.name for c in everyone if c.disconnected]
            raise AssertionError(
                f"10 s after the restart: {problems}; disconnected: {lost}; nodes: {infos}"
            )
    await cluster.wait_ready(timeout=10)
