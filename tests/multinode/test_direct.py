"""The direct path between processes on a channels-redis layer's own Redis (direct.py).

Two in-process nodes (the engines of tests/nodes/test_forwarding.py) share the
private Redis through each channels-redis layer: a polling request reaching the
process that does not own the session is carried over the direct path (one PUBLISH
each way), and a process without it (another layer, or its subscription lost) is
still reached through the layer.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

import pytest

from tests.consumers.helpers import handshake, poll, post
from tests.nodes.test_forwarding import Node, wait_for

from .conftest import LAYERS, RedisServer


def make_layer(kind: str, redis: RedisServer, **options: Any) -> Any:
    module, _, name = LAYERS[kind].rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return cls(hosts=[redis.url], prefix="direct-test", **options)


async def two_nodes(kind: str, redis: RedisServer, **options: Any) -> tuple[Node, Node]:
    # Two layer objects, as two processes have: each its own connections.
    a = Node(make_layer(kind, redis, **options))
    b = Node(make_layer(kind, redis, **options))
    for node in (a, b):
        await node.start()
    await wait_for(lambda: all(len(n.adapter.live_nodes()) == 1 for n in (a, b)))
    return a, b


@pytest.mark.parametrize("kind", ["redis", "pubsub"])
async def test_a_forwarded_request_and_its_answer_take_one_publish_each(
    kind: str, redis: RedisServer
) -> None:
    a, b = await two_nodes(kind, redis)
    try:
        assert a.adapter.direct is not None and b.adapter.direct is not None
        sid = await handshake(a)
        a_got, b_got = a.adapter.direct.received, b.adapter.direct.received
        sent = await post(b, sid, b"4hello")
        assert (sent["status"], sent["body"]) == (200, b"ok")
        got = await poll(b, sid)
        assert (got["status"], got["body"]) == (200, b"4hello")  # a's echo, through b
        # The POST and the GET reached the owner directly, and their answers came back so.
        assert a.adapter.direct.received - a_got == 2
        assert b.adapter.direct.received - b_got == 2
    finally:
        for node in (a, b):
            await node.adapter.stop()


@pytest.mark.parametrize("kind", ["redis", "pubsub"])
async def test_a_process_without_the_direct_path_is_reached_through_the_layer(
    kind: str, redis: RedisServer
) -> None:
    a, b = await two_nodes(kind, redis)
    try:
        assert b.adapter.direct is not None
        await b.adapter.direct.stop()  # b stands for a process that has no direct path
        b.adapter.direct = None
        assert a.adapter.direct is not None
        before = a.adapter.direct.sent  # its answer to b's hello went direct
        sid = await handshake(a)
        sent = await post(b, sid, b"4one")  # b -> a over the layer, a's answer: no subscriber
        assert (sent["status"], sent["body"]) == (200, b"ok")
        got = await poll(b, sid)
        assert (got["status"], got["body"]) == (200, b"4one")
        assert a.adapter.direct.sent == before  # both answers went through the layer
    finally:
        for node in (a, b):
            await node.adapter.stop()


async def test_the_layers_encryption_applies_to_the_direct_path(redis: RedisServer) -> None:
    from redis import asyncio as aioredis

    a, b = await two_nodes("redis", redis, symmetric_encryption_keys=["a test key"])
    spy = aioredis.Redis.from_url(redis.url)
    watch = spy.pubsub()
    try:
        await watch.psubscribe("direct-testsio-direct:*")
        sid = await handshake(a)
        sent = await post(b, sid, b"4secret-text")
        assert (sent["status"], sent["body"]) == (200, b"ok")
        got = await poll(b, sid)
        assert (got["status"], got["body"]) == (200, b"4secret-text")
        seen: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(seen) < 4:  # the POST, its answer, the GET, its answer
            assert time.monotonic() < deadline, f"only {len(seen)} direct messages seen"
            found = await watch.get_message(timeout=1)
            if found is not None and found["type"] == "pmessage":
                seen.append(found["data"])
        assert not any(b"secret-text" in data for data in seen)  # encrypted by the layer
    finally:
        await watch.aclose()
        await spy.aclose()
        for node in (a, b):
            await node.adapter.stop()
