"""The conformance server: the settings the Engine.IO and Socket.IO test suites expect.

pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, connect timeout 1 s; the
parser of each session detected from its first message, so that JSON and MessagePack
clients share the server; Engine.IO v3 (Socket.IO 2.x) clients allowed.
"""

from tests.settings import *  # noqa: F403
from tests.settings import SOCKETIO

SOCKETIO = {**SOCKETIO, "PARSER": "auto", "ALLOW_EIO3": True}
