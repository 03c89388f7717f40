"""No loss under load: 300 clients in one room over 3 nodes, 1,000 broadcasts.

The clients are npm ``socket.io-client`` sockets in one Node process
(``js/load.mjs``), on the websocket transport, spread evenly over the nodes. One of
them emits ``bcast`` 1,000 times with a sequence number, keeping up to WINDOW emits
awaiting their acks; every socket must get 0..999 exactly once each, in order.

python-socketio clients would do too, but 300,000 received events cost the test
process far more CPU than Node does, on a machine the three servers already keep busy.

RedisChannelLayer only. Run the same way with RedisPubSubChannelLayer on a shared
2-core machine, some clients were dropped by the test settings' 200 ms heartbeat
timeout (``PING_TIMEOUT`` 0.2 in ``tests/settings.py``): nodes spending ~100-200 us of
CPU per delivered frame do not always answer a pong in time.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from tests.processes import node_binary

from .conftest import JS_DIR, ROOT, Clients, ClusterFactory, node_infos

pytestmark = pytest.mark.e2e

CLIENTS = 300
MESSAGES = 1000
WINDOW = 16  # emits awaiting their ack at once: the server keeps their order


async def test_every_client_gets_every_broadcast_once_in_order(
    start_cluster: ClusterFactory, clients: Clients
) -> None:
    cluster = await start_cluster(3, "redis")
    room = f"load-{uuid.uuid4().hex[:8]}"
    config = {
        "urls": cluster.urls,
        "clients": CLIENTS,
        "messages": MESSAGES,
        "room": room,
        "window": WINDOW,
        "deadlineMs": 150_000,
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        node_binary("socket.io-client"),
        str(JS_DIR / "load.mjs"),
        json.dumps(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 170)
    except TimeoutError:
        process.kill()
        raise
    elapsed = time.monotonic() - started
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    assert lines, f"load.mjs exited {process.returncode}: {stderr.decode()[-4000:]}"
    result = lines[-1]
    print(f"\nload: {json.dumps(result)} ({elapsed:.1f} s in all)")
    dropped = [
        s for s in result.get("samples", []) if any("disconnected" in p for p in s["problems"])
    ]
    if dropped or "closed while connecting" in str(result.get("error")):
        pytest.fail(
            "clients were disconnected, so delivery could not be checked; the nodes' logs "
            "say why (ping timeout, or no namespace joined within CONNECT_TIMEOUT: see "
            "tests/multinode/settings.py for the relaxed timings these nodes run with): "
            f"{json.dumps(result)[:3000]}",
            pytrace=False,
        )
    assert result["event"] == "result", lines
    assert result.get("error") is None, result
    assert result["senderError"] is None, result
    assert result["clients"] == CLIENTS
    assert result["complete"], result
    assert result["bad"] == 0, result["samples"]
    # nothing was dropped by the layer (a node channel over capacity) or failed in it
    infos = await node_infos(cluster.urls)
    for info in infos:
        assert info["stats"]["dropped"] == 0, infos
        assert info["stats"]["errors"] == 0, infos
    cluster.assert_no_errors()
