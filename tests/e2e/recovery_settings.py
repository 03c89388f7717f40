"""The conformance server with connection state recovery on (test_recovery.py)."""

from tests.conformance.settings import *  # noqa: F403
from tests.conformance.settings import SOCKETIO

SOCKETIO = {**SOCKETIO, "RECOVERY": {"MAX_DISCONNECTION_DURATION": 120}}
SILENCED_SYSTEM_CHECKS = ["django_socketio.W060"]  # one process on purpose
