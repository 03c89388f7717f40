"""A Socket.IO client that joins a room and then never reads: the slow consumer.

Raw sockets rather than a client library, so that nothing reads on its behalf: its
receive buffer is shrunk to 4 KiB and fills at once, and the server's writes back up.
Used by slow_consumer.py and soak.py.
"""

from __future__ import annotations

import base64
import os
import socket
import time


def frame(text: str) -> bytes:
    """A masked websocket text frame (client to server), payload under 126 bytes."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def stalled_client(port: int, pause: float = 0.0) -> socket.socket:
    """Connect to / on `port`, send ``join`` (`pause` seconds after the CONNECT), never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    if pause:
        sock.sendall(frame("40"))
        time.sleep(pause)
        sock.sendall(frame('420["join"]'))
    else:
        sock.sendall(frame("40") + frame('420["join"]'))
    return sock
