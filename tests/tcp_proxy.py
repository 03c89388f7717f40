"""A TCP proxy that can cut every connection it carries, as a proxy or a network would.

Clients connect to `TcpProxy.port`; each connection is piped to the target port. A
connection to `control_port` (from the test, or from a client script that cannot call
back into pytest) is an outage: the proxy closes every connection it carries, on both
sides, without a word of the protocols inside (a websocket ends with no close frame, a
long poll with no answer), writes one byte back, and closes every new connection at
once until the control connection is closed. The outage has to last: a polling client
cut between two requests would otherwise just open a new connection for the next one
and never notice. Threads and blocking sockets: it runs beside any event loop.
"""

from __future__ import annotations

import contextlib
import socket
import threading


def _listener() -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)  # so that close() is noticed
    return listener


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = _listener()
        self._control = _listener()
        self.port: int = self._listener.getsockname()[1]
        self.control_port: int = self._control.getsockname()[1]
        self.severed = 0  # connections cut
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._down = False  # an outage: new connections are closed at once
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._watch_control, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._down:
                    client.close()
                    upstream.close()
                    continue
                self._pairs.append((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        src.close()  # each socket is the source of one pump: closed once

    def _watch_control(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._control.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.sever(down=True)
            with contextlib.suppress(OSError):
                conn.sendall(b"x")  # every connection is cut by now
                while conn.recv(1024):  # the outage lasts until the caller hangs up
                    pass
            conn.close()
            with self._lock:
                self._down = False

    def sever(self, down: bool = False) -> int:
        """Cut every connection carried now (`down`: and refuse new ones); how many."""
        with self._lock:
            self._down = self._down or down
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.severed += len(pairs)
        return len(pairs)

    def close(self) -> None:
        self._closed.set()
        self.sever()
        self._listener.close()
        self._control.close()
        for thread in self._threads:
            thread.join(timeout=2)
