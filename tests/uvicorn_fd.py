"""Run uvicorn on an inherited listening TCP socket.

``python -m tests.uvicorn_fd FD APP [--name value ...]``; each ``--name value`` becomes the
``uvicorn.Config`` argument ``name`` (dashes as underscores; ``true``/``false`` as booleans).

Why not ``uvicorn --fd FD``: uvicorn rebuilds that socket as ``AF_UNIX`` whatever it is, so
asyncio and uvloop serve every connection as a Unix-domain one (no ``TCP_NODELAY``: Nagle
then delays small frames), which is not how uvicorn serves a port. Here the socket keeps its
real family and goes to ``Server.run(sockets=...)``, the way uvicorn's own supervisor hands
its workers their socket. The test helpers (`tests.processes.start_server`) use this so
that no other process can take the port between choosing it and listening on it.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return int(text) if text.isdigit() else text


def main(argv: list[str]) -> None:
    fd, app, *options = argv
    if len(options) % 2:
        raise SystemExit(f"options come in --name value pairs: {options}")
    kwargs = {
        name.removeprefix("--").replace("-", "_"): _value(value)
        for name, value in zip(options[::2], options[1::2], strict=True)
    }
    sock = socket.socket(fileno=int(fd))  # family and type read from the descriptor
    uvicorn.Server(uvicorn.Config(app, **kwargs)).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
