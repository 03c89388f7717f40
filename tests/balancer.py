"""nginx as the load balancer in front of several server processes, on a free port.

Round-robin without affinity (each request to the next process, whichever client
sent it), or ``ip_hash`` (sticky by client address, the usual Socket.IO advice) for
comparison. The configuration is generated in a temporary directory; nginx runs in
the foreground as a child process and is stopped with it. nginx comes from the
Debian packages (scripts/setup installs ``nginx-light`` as root).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_or_skip
from tests.nginx import nginx_config
from tests.processes import free_port, terminate


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        require_or_skip("nginx is not installed (scripts/setup installs nginx-light as root)")
    return found  # type: ignore[return-value]


@dataclass
class Balancer:
    port: int
    process: subprocess.Popen[bytes]
    directory: tempfile.TemporaryDirectory[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = Path(self.directory.name) / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        terminate(self.process)
        self.directory.cleanup()


def start_balancer(ports: list[int], sticky: bool = False, max_fails: int = 1) -> Balancer:
    """nginx on a free port in front of `ports`: round-robin, or ip_hash if `sticky`."""
    binary = nginx_binary()
    directory = tempfile.TemporaryDirectory(prefix="nginx-")
    port = free_port()
    path = Path(directory.name) / "nginx.conf"
    path.write_text(nginx_config(directory.name, port, ports, sticky, max_fails))
    process = subprocess.Popen(
        [binary, "-c", str(path), "-p", directory.name, "-e", f"{directory.name}/error.log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    balancer = Balancer(port, process, directory)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return balancer
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = balancer.error_log()
                balancer.stop()
                raise RuntimeError(f"nginx did not start:\n{log}") from None
            time.sleep(0.05)
