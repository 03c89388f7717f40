"""What the end-to-end suites share: servers on their own sockets, stopping processes, Node.

Servers get their listening socket from the test, already bound and listening
(`start_server`): choosing a free port by binding port 0, closing it and letting the
server bind it again is a race, since any process can take the port in between (another
test's server, or an outgoing connection given it as its ephemeral port), and the server
then dies with "Address already in use".
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parent.parent


# uvicorn as the README recommends running it: without permessage-deflate, like the
# reference server (see "Running under uvicorn" in the README).
UVICORN_OPTIONS = ("--ws-per-message-deflate", "false")


def free_port() -> int:
    """A port free now, for servers that cannot be handed a socket (retry if it is taken)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_socket() -> socket.socket:
    """A TCP socket on a free port of 127.0.0.1, listening, for a server process to inherit."""
    sock = socket.socket()
    try:
        # so that a restarted server can bind the port again while the connections its
        # predecessor had are still closing (tests/multinode/test_rolling_restart.py)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def server_command(kind: str, app: str, fd: int, *options: str) -> list[str]:
    """The command that serves `app` with `kind` (daphne or uvicorn) on the socket `fd`.

    `options` are the server's own (``--websocket_timeout -1`` for daphne; ``--name value``
    pairs of ``uvicorn.Config`` for uvicorn, after `UVICORN_OPTIONS`).
    """
    if kind == "daphne":
        return [sys.executable, "-m", "daphne", "--fd", str(fd), *options, app]
    if kind == "uvicorn":
        uvicorn = [sys.executable, "-m", "tests.uvicorn_fd", str(fd), app]
        return [*uvicorn, *UVICORN_OPTIONS, *options]
    raise ValueError(f"unknown server {kind!r}")


def start_server(
    kind: str, app: str, *options: str, **popen: Any
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `kind` serving `app` on a socket of its own; the process and its port.

    The port is listening before this returns (connections wait in the backlog until the
    server accepts them), so there is nothing to retry; still wait for an answer before
    counting on the application.
    """
    with listening_socket() as sock:
        command = server_command(kind, app, sock.fileno(), *options)
        process = subprocess.Popen(command, pass_fds=(sock.fileno(),), **popen)
        return process, sock.getsockname()[1]


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
