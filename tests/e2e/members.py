"""Room members of every kind as subprocesses: socket.io-client 2.x (Engine.IO v3), 4.8
with the JSON or the MessagePack parser (Node), and python-socketio 4.x (``.venv-sio4``).

`Member.start(...)` spawns one; `ready()` waits until it has joined its room; `result()`
waits for what it received. Used by test_v3_clients.py and tests/multinode.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.conftest import require_or_skip
from tests.processes import node_binary

ROOT = Path(__file__).resolve().parents[2]
SIO4_PYTHON = ROOT / ".venv-sio4" / "bin" / "python"
WAIT = 20.0


def sio4_python() -> str:
    """python-socketio 4.x's interpreter (made by scripts/setup), else skip (fail in CI)."""
    if not SIO4_PYTHON.exists():
        require_or_skip(f"{SIO4_PYTHON} is missing: run scripts/setup")
    return str(SIO4_PYTHON)


class Member:
    def __init__(self, kind: str, process: asyncio.subprocess.Process) -> None:
        self.kind = kind
        self.process = process
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(
        cls,
        kind: str,
        url: str,
        mode: str,
        namespace: str,
        join: list[Any],
        event: str,
        count: int = 1,
    ) -> Member:
        """`kind`: "v2", "json", "msgpack" (Node) or "sio4" (python-socketio 4.x)."""
        options = {"namespace": namespace, "join": join, "event": event, "count": count}
        if kind == "sio4":
            sio4 = {
                "namespace": namespace,
                "join_args": join[0] if len(join) == 1 else join,
                "room": "",
                "event": event,
                "count": count,
            }
            args = [
                sio4_python(),
                str(ROOT / "tests/e2e/sio4_client.py"),
                url,
                mode,
                "rooms",
                json.dumps(sio4),
            ]
        else:
            script = ROOT / "tests/e2e/js/room_member.mjs"
            args = [
                node_binary("socket.io-client-v2"),
                str(script),
                url,
                kind,
                mode,
                json.dumps(options),
            ]
        process = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        return cls(kind, process)

    async def _line(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.process.stdout.readline(), WAIT)  # type: ignore[union-attr]
        if not raw:
            err = await self.process.stderr.read()  # type: ignore[union-attr]
            raise AssertionError(f"{self.kind} member ended: {self.lines} {err.decode()[-2000:]}")
        line = json.loads(raw)
        self.lines.append(line)
        if line["event"] == "error":
            raise AssertionError(f"{self.kind} member failed: {line['error']}")
        return line

    async def ready(self) -> dict[str, Any]:
        line = await self._line()
        assert line["event"] == "ready", line
        return line

    async def result(self) -> dict[str, Any]:
        line = await self._line()
        assert line["event"] == "result", line
        await asyncio.wait_for(self.process.wait(), WAIT)
        return line

    def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


__all__ = ["Member", "sio4_python"]
