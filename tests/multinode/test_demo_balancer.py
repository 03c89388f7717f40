"""The chat demo in Chromium behind a round-robin balancer: three processes, no affinity.

The same browser script as tests/demo (user B is on long-polling only, so nearly every
one of its requests reaches a process that does not hold its session and is forwarded);
the demo's processes share a private Redis (`REDIS_URL`) and one SQLite database.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.balancer import start_balancer
from tests.demo.conftest import (
    START_TIMEOUT,
    DemoServer,
    _manage,
    demo_env,
    start_demo,
    wait_for_demo,
)
from tests.demo.test_browser import node, run_browser  # noqa: F401 (`node` is a fixture)
from tests.processes import terminate

from .conftest import RedisServer

pytestmark = pytest.mark.e2e


def test_the_chat_demo_through_a_round_robin_balancer(
    node: str,  # noqa: F811
    redis: RedisServer,
    tmp_path: Path,
) -> None:
    env = {**demo_env(tmp_path / "db.sqlite3"), "REDIS_URL": redis.url}
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(env, "create_demo_user")
    servers = []
    try:
        for _ in range(3):
            servers.append(start_demo(env, prefix="demo-rr-"))
        deadline = time.monotonic() + START_TIMEOUT
        for server in servers:
            wait_for_demo(server, deadline)
        balancer = start_balancer([int(s.url.rsplit(":", 1)[1]) for s in servers])
        try:
            front = DemoServer(balancer.url, servers[0].process, servers[0].log)
            try:
                r = run_browser(node, front)
            except pytest.fail.Exception as exc:  # with what the three processes logged
                logs = "\n".join(f"--- {s.url}\n{s.log_text()[-6000:]}" for s in servers)
                pytest.fail(f"{exc}\n{logs}\n--- balancer\n{balancer.error_log()}", pytrace=False)
        finally:
            balancer.stop()
        logs = "\n".join(s.log_text() for s in servers)
        assert r["pageErrors"] == []
        assert (r["aJoinCount"], r["bJoinCount"]) == (1, 2)
        assert r["aMembers"] == ["alice", "bob"]
        assert r["bReceived"] == {"author": "alice", "text": "hello from alice"}
        assert r["aTick"]["tick"] == "✓" and r["aTick"]["id"]
        # B (long-polling only, its requests spread over the three processes) -> A.
        assert r["aReceived"] == {"author": "bob", "text": "hi from bob"}
        assert r["bTick"]["tick"] == "✓" and r["bTick"]["id"]
        assert r["bTransport"] == "polling" and r["aTransport"] in ("polling", "websocket")
        # Round-robin spread the polling requests: more than one process answered POSTs.
        assert sum('"POST /socket.io/' in s.log_text(2_000_000) for s in servers) >= 2
        assert "Traceback" not in logs, logs[-8000:]
    finally:
        for server in servers:
            terminate(server.process)
            server.log.close()
