"""Recovery on, on the official clients' server (10 s ping timeout): test_recovery.py."""

from tests.e2e.clients_settings import *  # noqa: F403
from tests.e2e.clients_settings import SOCKETIO

SOCKETIO = {**SOCKETIO, "RECOVERY": {"MAX_DISCONNECTION_DURATION": 120}}
SILENCED_SYSTEM_CHECKS = ["django_socketio.W060"]  # one process on purpose
