"""Recovery with a one-second window and the middlewares run again (test_recovery.py)."""

from tests.conformance.settings import *  # noqa: F403
from tests.conformance.settings import SOCKETIO

SOCKETIO = {
    **SOCKETIO,
    "RECOVERY": {"MAX_DISCONNECTION_DURATION": 1, "SKIP_MIDDLEWARES": False},
}
SILENCED_SYSTEM_CHECKS = ["django_socketio.W060"]  # one process on purpose
