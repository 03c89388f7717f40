"""The chat demo in headless Chromium: two visitors chat, a third logs in for /private.

``browser.mjs`` (playwright-core from ``demo_project/node_modules``) drives the pages
and prints what they showed as JSON; this test asserts it. Page A uses the default
transports (polling, then the websocket upgrade), page B ``?transport=polling``.
Set ``DEMO_SCREENSHOT=/tmp/chat.png`` to keep a screenshot of page A with two messages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_or_skip

from .conftest import ROOT, DemoServer

SCRIPT = Path(__file__).resolve().parent / "browser.mjs"
NODE_MODULES = ROOT / "demo_project" / "node_modules"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node() -> str:
    """Node, Chromium and the demo's npm packages, checked before the server starts."""
    node = shutil.which("node")
    if node is None:
        require_or_skip("node is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        require_or_skip(f"{CHROMIUM} is missing: apt-get install chromium")
    for package in ("playwright-core", "socket.io-client"):
        if not (NODE_MODULES / package).is_dir():
            require_or_skip(
                f"demo_project/node_modules/{package} is missing: "
                "run `npm ci --prefix demo_project`"
            )
    return node  # type: ignore[return-value]


def run_browser(node: str, server: DemoServer) -> dict[str, Any]:
    args = [node, str(SCRIPT), server.url]
    if os.environ.get("DEMO_SCREENSHOT"):
        args.append(os.environ["DEMO_SCREENSHOT"])
    try:
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"browser.mjs timed out\n{exc.stdout}\n{exc.stderr}", pytrace=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        pytest.fail(
            f"browser.mjs exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}",
            pytrace=False,
        )
    result = json.loads(lines[-1])
    if "error" in result:
        pytest.fail(
            f"browser.mjs stopped after steps {result['steps']}:\n{result['error']}\n"
            f"page errors: {result['pageErrors']}\nconsole: {result['console']}",
            pytrace=False,
        )
    return result


def test_chat_in_the_browser(node: str, demo_server: DemoServer) -> None:
    r = run_browser(node, demo_server)

    assert r["pageErrors"] == []
    # Both set their nicknames and join the same room; the join ack counts the members.
    assert (r["aJoinCount"], r["bJoinCount"]) == (1, 2)
    assert r["aMembers"] == ["alice", "bob"]
    assert r["aSawJoinNotice"] == 1

    # A -> B: B sees the message under A's nick; A's copy gets the delivery tick (the ack).
    assert r["bTyping"] == "alice is typing…"
    assert r["bReceived"] == {"author": "alice", "text": "hello from alice"}
    assert r["aTick"]["tick"] == "✓" and r["aTick"]["id"]
    assert r["bTypingCleared"] is True

    # B (long-polling only) -> A.
    assert r["aTyping"] == "bob is typing…"
    assert r["aReceived"] == {"author": "bob", "text": "hi from bob"}
    assert r["bTick"]["tick"] == "✓" and r["bTick"]["id"]
    assert r["bTransport"] == "polling"
    assert r["aTransport"] == "websocket"

    # /private refuses anonymous visitors, with the handler's message and data.
    assert r["privateAnonymous"]["state"] == "refused"
    assert r["privateAnonymous"]["status"] == "Refused: login required (401)"
    assert r["privateAnonymous"]["loginLink"].startswith("/login/")

    # Logged in as demo/demo, a third page joins /private; its messages carry the username.
    assert r["privateLoggedIn"]["state"] == "joined"
    assert r["privateLoggedIn"]["status"].startswith("Joined as demo")
    assert r["privateLoggedIn"]["account"] == "Logged in as demo"
    assert r["privateTick"]["tick"] == "✓" and r["privateTick"]["author"] == "demo"

    # A closes its page: B is told, and the member list shrinks.
    assert r["bSawLeaveNotice"] == 1
    assert r["bMembersAfterLeave"] == ["bob"]
