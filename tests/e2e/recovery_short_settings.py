"""Recovery with a one-second window and the middlewares run again (test_recovery.py).

On the official clients' server (clients_settings: 10 s ping timeout, 10 s CONNECT_TIMEOUT).
"""

from tests.e2e.clients_settings import *  # noqa: F403
from tests.e2e.clients_settings import SOCKETIO

SOCKETIO = {
    **SOCKETIO,
    "RECOVERY": {"MAX_DISCONNECTION_DURATION": 1, "SKIP_MIDDLEWARES": False},
}
SILENCED_SYSTEM_CHECKS = ["django_socketio.W060"]  # one process on purpose
