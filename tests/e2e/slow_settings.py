"""The conformance server with a production heartbeat and a small backlog limit.

The slow-consumer tests (test_slow_consumer.py) need the backlog limit, not the
heartbeat, to be what drops a client that stops reading: pings every 25 s, and
MAX_BACKLOG_BYTES at 256 KiB so that a few seconds of broadcast reach it.
"""

from tests.settings import *  # noqa: F403
from tests.settings import SOCKETIO as BASE

SOCKETIO = {
    **BASE,
    "PING_INTERVAL": 25,
    "PING_TIMEOUT": 20,
    "CONNECT_TIMEOUT": 20,
    "MAX_PAYLOAD": 100_000,
    "MAX_BACKLOG_BYTES": 256 * 1024,
}
