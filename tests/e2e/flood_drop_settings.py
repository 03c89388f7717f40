"""``flood_settings`` with EVENT_LIMIT_POLICY "drop": the flooder stays connected."""

from tests.e2e.flood_settings import *  # noqa: F403
from tests.e2e.flood_settings import SOCKETIO

SOCKETIO = {**SOCKETIO, "EVENT_LIMIT_POLICY": "drop"}
