"""The conformance server as the live fuzz test runs it: a heartbeat that tolerates load.

The fuzzer leaves polling sessions and half-opened sockets behind on purpose; a short
heartbeat and connect timeout make the server drop them within seconds, so the test can
check that memory goes back down. The event rate limit is on, so that path is fuzzed too.
"""

from tests.conformance.settings import *  # noqa: F403
from tests.conformance.settings import SOCKETIO

SOCKETIO = {
    **SOCKETIO,
    "PING_INTERVAL": 1.0,
    "PING_TIMEOUT": 4.0,
    "CONNECT_TIMEOUT": 2.0,
    "EVENTS_PER_SECOND": 500,
    "EVENTS_BURST": 1000,
}
