"""What the end-to-end suites share: free ports, stopping processes, finding Node."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit within `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def node_binary(package: str, node_modules: Path = ROOT / "node_modules") -> str:
    """The `node` executable, once `package` is installed (else skip, or fail in CI)."""
    node = shutil.which("node")
    if node is None:
        require_or_skip("node is not installed")
    if not (node_modules / package).is_dir():
        require_or_skip(f"{package} is not in {node_modules}: run `npm ci` beside it")
    return node  # type: ignore[return-value]
