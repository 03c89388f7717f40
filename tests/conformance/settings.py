"""The conformance server: the settings the Engine.IO and Socket.IO test suites expect.

pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, connect timeout 1 s.
"""

from tests.settings import *  # noqa: F403
