"""The Socket.IO client tests again, with the MessagePack parser on the clients' side.

The official ``socket.io-client`` with ``socket.io-msgpack-parser`` (npm) and
python-socketio's ``AsyncClient(serializer="msgpack")`` run the scenarios of
test_socketio_clients.py against the same conformance server, which detects each
session's parser from its first message (``SOCKETIO["PARSER"] = "auto"``): over
polling, websocket and upgrade; connecting with and without auth, refusals, events and
acks both ways, bytes nested in objects (inline, no attachments), rooms, disconnects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import test_socketio_clients as clients
from .test_socketio_clients import (  # noqa: F401  (collected again here, with msgpack)
    node,
    test_node_binary_both_ways,
    test_node_connect_outcomes,
    test_node_disconnect_reasons,
    test_node_empty_binary_attachment,
    test_node_events_on_two_namespaces,
    test_node_rooms,
    test_node_server_acks_and_ack_timeout,
    test_python_binary_both_ways,
    test_python_connect_outcomes,
    test_python_disconnect_reasons,
    test_python_empty_binary_attachment,
    test_python_events_on_two_namespaces,
    test_python_rooms,
    test_python_server_acks_and_ack_timeout,
    test_python_server_emit_with_ack,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _msgpack_clients() -> Iterator[None]:
    clients.PARSER["name"] = "msgpack"
    try:
        yield
    finally:
        clients.PARSER["name"] = "json"
