"""The conformance server with the anti-flood settings the README recommends.

A production heartbeat (so only the limits act), events limited per socket with the
"disconnect" policy, and CONNECTIONS_PER_MINUTE (test_flood.py).
"""

from tests.conformance.settings import *  # noqa: F403
from tests.conformance.settings import SOCKETIO

SOCKETIO = {
    **SOCKETIO,
    "PING_INTERVAL": 25,
    "PING_TIMEOUT": 20,
    "CONNECT_TIMEOUT": 20,
    "EVENTS_PER_SECOND": 50,
    "EVENTS_BURST": 100,
    "EVENT_LIMIT_POLICY": "disconnect",
    "CONNECTIONS_PER_MINUTE": 5,
}
