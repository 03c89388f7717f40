"""The official Socket.IO v5 protocol test suite, ported to Python, test by test.

``test-suite/test-suite.js`` of socketio/socket.io-protocol (32 tests) against the
conformance server's ``/socket.io/`` (``tests/conformance/sockets.py``: "/" and "/custom"
emit ``auth`` with the CONNECT payload, echo ``message`` as ``message-back`` and ack
``message-with-ack`` with its arguments). Each test names the ``it(...)`` it ports in its
docstring and sends the same requests and frames in the same order, with the same
assertions and no waits the original lacks (the races live there); `official.py` keeps
the original's WebSocket semantics. CI cannot fetch that repository, so this port is its
copy; ``scripts/conformance`` runs the original. The 13 Engine.IO tests it shares with
engine.io-protocol's suite are ported once, in test_engineio_protocol.py, on both paths.
"""

from __future__ import annotations

import json

import pytest

from .official import (
    JsWebSocket,
    fetch,
    init_long_polling_session,
    wait_for_packets,
)

pytestmark = pytest.mark.e2e


def sio(server) -> str:
    return f"{server.url}/socket.io/?EIO=4&transport=polling"


def sio_ws(server, query: str = "EIO=4&transport=websocket") -> str:
    return f"{server.ws_url}/socket.io/?{query}"


async def init_socketio_connection(server, websockets) -> JsWebSocket:
    """The suite's ``initSocketIOConnection()``: connected to "/", the ``auth`` packet read."""
    socket = websockets(sio_ws(server))
    await socket.wait_for("message")  # Engine.IO handshake
    await socket.send("40")
    await socket.wait_for("message")  # Socket.IO handshake
    await socket.wait_for("message")  # "auth" packet
    return socket


# -- Engine.IO protocol -----------------------------------------------------------------
#
# Its handshake, heartbeat and close tests are engine.io-protocol's, word for word but for
# the path: test_engineio_protocol.py runs those ports on /socket.io/ too (`BOTH_SUITES`),
# each naming this suite's it(...). Its upgrade tests stop earlier than engine.io's, so
# they are ported here.


# -- Engine.IO protocol: upgrade -------------------------------------------------------


async def test_should_successfully_upgrade_from_polling_to_websocket(server, websockets):
    """it("should successfully upgrade from HTTP long-polling to WebSocket")."""
    sid = await init_long_polling_session(server.url, "socket.io")
    socket = websockets(sio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket.wait_for("open")
    await socket.send("2probe")  # send probe
    assert await socket.wait_for("message") == "3probe"
    await socket.send("5")  # complete upgrade


async def test_should_ignore_http_requests_with_same_sid_after_upgrade(server, websockets):
    """it("should ignore HTTP requests with same sid after upgrade")."""
    sid = await init_long_polling_session(server.url, "socket.io")
    socket = websockets(sio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket.wait_for("open")
    await socket.send("2probe")
    await socket.send("5")
    status, _ = await fetch(f"{sio(server)}&sid={sid}")
    assert status == 400


async def test_should_ignore_websocket_connection_with_same_sid_after_upgrade(server, websockets):
    """it("should ignore WebSocket connection with same sid after upgrade")."""
    sid = await init_long_polling_session(server.url, "socket.io")
    socket = websockets(sio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket.wait_for("open")
    await socket.send("2probe")
    await socket.send("5")
    socket2 = websockets(sio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket2.wait_for("close")


# -- Socket.IO protocol: connect -------------------------------------------------------


@pytest.mark.parametrize(
    ("connect", "prefix", "auth"),
    [
        pytest.param(
            "40", "40", '42["auth",{}]', id="should allow connection to the main namespace"
        ),
        pytest.param(
            '40{"token":"123"}',
            "40",
            '42["auth",{"token":"123"}]',
            id="should allow connection to the main namespace with a payload",
        ),
        pytest.param(
            "40/custom,",
            "40/custom,",
            '42/custom,["auth",{}]',
            id="should allow connection to a custom namespace",
        ),
        pytest.param(
            '40/custom,{"token":"abc"}',
            "40/custom,",
            '42/custom,["auth",{"token":"abc"}]',
            id="should allow connection to a custom namespace with a payload",
        ),
    ],
)
async def test_should_allow_connection(server, websockets, connect, prefix, auth):
    """Four it(...)s that differ only in their packets, each case named by its original.

    it("should allow connection to the main namespace"), it("should allow connection
    to the main namespace with a payload"), it("should allow connection to a custom
    namespace"), it("should allow connection to a custom namespace with a payload").
    """
    socket = websockets(sio_ws(server))
    await socket.wait_for("message")  # Engine.IO handshake
    await socket.send(connect)
    data = await socket.wait_for("message")
    assert data.startswith(prefix)
    handshake = json.loads(data[len(prefix) :])
    assert set(handshake) == {"sid"}
    assert isinstance(handshake["sid"], str)
    auth_packet = await socket.wait_for("message")
    assert auth_packet == auth


async def test_should_disallow_connection_to_an_unknown_namespace(server, websockets):
    """it("should disallow connection to an unknown namespace")."""
    socket = websockets(sio_ws(server))
    await socket.wait_for("message")  # Engine.IO handshake
    await socket.send("40/random")
    data = await socket.wait_for("message")
    assert data == '44/random,{"message":"Invalid namespace"}'


async def test_should_disallow_connection_with_an_invalid_handshake(server, websockets):
    """it("should disallow connection with an invalid handshake")."""
    socket = websockets(sio_ws(server))
    await socket.wait_for("message")  # Engine.IO handshake
    await socket.send("4abc")
    await socket.wait_for("close")


async def test_should_close_the_connection_if_no_handshake_is_received(server, websockets):
    """it("should close the connection if no handshake is received")."""
    socket = websockets(sio_ws(server))
    await socket.wait_for("close")


# -- Socket.IO protocol: disconnect ----------------------------------------------------


async def test_should_disconnect_from_the_main_namespace(server, websockets):
    """it("should disconnect from the main namespace")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send("41")
    data = await socket.wait_for("message")
    assert data == "2"


async def test_should_connect_then_disconnect_from_a_custom_namespace(server, websockets):
    """it("should connect then disconnect from a custom namespace")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.wait_for("message")  # ping
    await socket.send("40/custom")
    await socket.wait_for("message")  # Socket.IO handshake
    await socket.wait_for("message")  # auth packet
    await socket.send("41/custom")
    await socket.send('42["message","message to main namespace"]')
    data = await socket.wait_for("message")
    assert data == '42["message-back","message to main namespace"]'


# -- Socket.IO protocol: message -------------------------------------------------------


async def test_should_send_a_plain_text_packet(server, websockets):
    """it("should send a plain-text packet")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send('42["message",1,"2",{"3":[true]}]')
    data = await socket.wait_for("message")
    assert data == '42["message-back",1,"2",{"3":[true]}]'


async def test_should_send_a_packet_with_binary_attachments(server, websockets):
    """it("should send a packet with binary attachments")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    await socket.send(bytes([1, 2, 3]))
    await socket.send(bytes([4, 5, 6]))
    packets = await wait_for_packets(socket, 3)
    assert packets[0] == (
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )
    assert packets[1] == bytes([1, 2, 3])
    assert packets[2] == bytes([4, 5, 6])
    await socket.close()


async def test_should_send_a_plain_text_packet_with_an_ack(server, websockets):
    """it("should send a plain-text packet with an ack")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    data = await socket.wait_for("message")
    assert data == '43456[1,"2",{"3":[false]}]'


async def test_should_send_a_packet_with_binary_attachments_and_an_ack(server, websockets):
    """it("should send a packet with binary attachments and an ack")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send(
        '452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )
    await socket.send(bytes([1, 2, 3]))
    await socket.send(bytes([4, 5, 6]))
    packets = await wait_for_packets(socket, 3)
    assert packets[0] == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert packets[1] == bytes([1, 2, 3])
    assert packets[2] == bytes([4, 5, 6])
    await socket.close()


async def test_should_close_the_connection_upon_invalid_format_unknown_packet_type(
    server, websockets
):
    """it("should close the connection upon invalid format (unknown packet type)")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send("4abc")
    await socket.wait_for("close")


async def test_should_close_the_connection_upon_invalid_format_invalid_payload_format(
    server, websockets
):
    """it("should close the connection upon invalid format (invalid payload format)")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send("42{}")
    await socket.wait_for("close")


async def test_should_close_the_connection_upon_invalid_format_invalid_ack_id(server, websockets):
    """it("should close the connection upon invalid format (invalid ack id)")."""
    socket = await init_socketio_connection(server, websockets)
    await socket.send('42abc["message-with-ack",1,"2",{"3":[false]}]')
    await socket.wait_for("close")
