"""Settings for emitting from outside the server, the way a management command runs.

``EMIT_LAYER``: ``none`` (no ``CHANNEL_LAYERS``, as ``startproject`` leaves it),
``memory``, or a Redis URL. ``EMIT_ALIAS``: ``SOCKETIO["CHANNEL_LAYER"]`` (else unset).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import SOCKETIO

_layer = os.environ.get("EMIT_LAYER", "none")
if _layer == "none":
    del CHANNEL_LAYERS  # noqa: F821
elif _layer == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_layer]},
        }
    }
if "EMIT_ALIAS" in os.environ:
    SOCKETIO = {**SOCKETIO, "CHANNEL_LAYER": os.environ["EMIT_ALIAS"]}
