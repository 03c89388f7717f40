"""The test client, used the way the module docstring tells users to, against the global `io`.

The handlers are the conformance ones (``tests/conformance/sockets.py``), registered on
``django_socketio.io`` by autodiscover: "/" and "/custom" emit ``auth`` from on_connect,
echo ``message`` as ``message-back``, ack ``message-with-ack`` with its arguments, and
answer ``emit-with-ack`` by asking the client for an ack and emitting what it answered.
"""

import asyncio
import functools
import textwrap

import pytest
from channels.routing import URLRouter

import django_socketio.testing
from django_socketio.exceptions import PacketError
from django_socketio.routing import websocket_urlpatterns
from django_socketio.server import DjangoSocketIOServer
from django_socketio.testing import Disconnected, SocketIOCommunicator


def documented_example() -> tuple[str, str]:
    """The module docstring's example: (the sockets.py part, the test part)."""
    doc = django_socketio.testing.__doc__
    example = textwrap.dedent(doc.split("::\n", 1)[1].split("\nMark a test", 1)[0])
    handlers, test = example.split("# myapp/tests/test_sockets.py\n")
    return handlers, test


async def test_the_docstring_example_runs_as_written():
    # against the global io (the conformance "/" handler is the docstring's `Main`)...
    _, test = documented_example()
    scope: dict = {}
    exec(compile(test, "testing.py docstring", "exec"), scope)
    await scope["test_main_namespace"]()

    # ...and against the docstring's own namespace, on a fresh server
    handlers, _ = documented_example()
    exec(compile(handlers, "testing.py docstring", "exec"), scope)
    server = DjangoSocketIOServer()
    server.register(scope["Main"])
    application = URLRouter(websocket_urlpatterns(engine=server.engine))
    scope["SocketIOCommunicator"] = functools.partial(SocketIOCommunicator, application)
    try:
        await scope["test_main_namespace"]()
    finally:
        await server.engine.shutdown()
        await server.adapter.stop()


async def test_another_namespace_and_several_ack_arguments():
    async with SocketIOCommunicator(namespace="custom", auth={"n": 1}) as client:
        assert await client.connect() == (True, None)
        assert tuple(await client.receive_event()) == ("auth", [{"n": 1}])
        assert await client.emit_with_ack("message-with-ack", 1, "2", [3]) == [1, "2", [3]]
        await client.emit("emit-with-ack")
        asked = await client.receive_event()
        await asked.ack("a", "b")
        assert tuple(await client.receive_event()) == ("emit-with-ack", ["a", "b"])


async def test_an_unknown_namespace_is_refused():
    async with SocketIOCommunicator(namespace="/nowhere") as client:
        assert await client.connect() == (False, {"message": "Invalid namespace"})
        assert client.connected is False


async def test_a_websocket_from_a_foreign_origin_is_refused():
    client = SocketIOCommunicator(headers={"Origin": "https://evil.example"})
    with pytest.raises(Disconnected) as raised:
        await client.connect()
    assert (raised.value.reason, raised.value.code) == ("websocket refused", 1008)
    await client.close()


async def test_the_handshake_and_ids_are_exposed():
    async with SocketIOCommunicator() as client:
        handshake = await client.open()
        assert handshake["sid"] == client.eio_sid
        assert handshake["upgrades"] == []
        assert (handshake["pingInterval"], handshake["pingTimeout"]) == (300, 200)
        assert client.connected is False
        assert await client.connect() == (True, None)
        assert isinstance(client.sid, str) and client.sid != client.eio_sid
        assert client.connected is True


async def test_binary_round_trip_through_the_echo():
    async with SocketIOCommunicator() as client:
        await client.connect()
        await client.receive_event()  # "auth"
        payload = {"file": b"\x00\x01\xff", "parts": [b"a", {"b": b""}], "n": 1}
        await client.emit("message", payload, b"tail")
        event = await client.receive_event()
        assert event.event == "message-back"
        assert event.args == [payload, b"tail"]
        assert await client.emit_with_ack("message-with-ack", [b"x", b"y"]) == [[b"x", b"y"]]


async def test_pings_are_answered_while_the_test_waits_for_something_else():
    # PING_INTERVAL 0.3 s and PING_TIMEOUT 0.2 s in the test settings: after 0.5 s an
    # unanswered ping would close the session.
    async with SocketIOCommunicator() as client:
        await client.connect()
        await asyncio.sleep(0.7)
        assert client.connected is True
        await client.emit("message", "still here")
        assert (await client.receive_event()).event == "auth"
        assert (await client.receive_event()).args == ["still here"]


async def test_acking_an_event_that_asked_for_no_ack_is_an_error():
    async with SocketIOCommunicator() as client:
        await client.connect()
        event = await client.receive_event()
        assert event.wants_ack is False
        with pytest.raises(RuntimeError, match="did not ask for an ack"):
            await event.ack()


async def test_timeouts_raise_timeout_error():
    async with SocketIOCommunicator() as client:
        await client.connect()
        await client.receive_event()
        with pytest.raises(TimeoutError, match=r"no event within 0\.05 s"):
            await client.receive_event(timeout=0.05)
        # "message" has a handler but it returns nothing, so the ack carries no arguments
        assert await client.emit_with_ack("message") == []
        await client.receive_event()  # its "message-back"
        # an event without a handler is never acked
        with pytest.raises(TimeoutError, match="no ack for 'nobody-handles-this'"):
            await client.emit_with_ack("nobody-handles-this", timeout=0.1)


async def test_emitting_before_connecting_is_an_error():
    client = SocketIOCommunicator()
    with pytest.raises(RuntimeError, match="not connected"):
        await client.emit("message")
    await client.disconnect()  # nothing was opened: nothing to do


async def test_after_the_connection_closes_waiting_raises_disconnected():
    client = SocketIOCommunicator()
    await client.connect()
    assert not await client.receive_nothing(timeout=1)  # the connect handler's "auth" came
    await client.close()
    assert client.closed is True
    # what arrived before is still delivered
    assert (await client.receive_event()).event == "auth"
    with pytest.raises(Disconnected) as raised:
        await client.receive_event()
    assert raised.value.reason == "io client disconnect"
    with pytest.raises(Disconnected):
        await client.emit("message")


# -- the client is strict about what the server sends -------------------------------------

OPEN = '0{"sid":"eio","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}'


def scripted(*answers: str, crash: bool = False):
    """A fake server: the Engine.IO handshake, then `answers` to the namespace CONNECT."""

    async def application(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": OPEN})
        while (message := await receive())["type"] == "websocket.receive":
            if message.get("text", "").startswith("40"):
                for frame in answers:
                    await send({"type": "websocket.send", "text": frame})
                if crash:
                    raise RuntimeError("the application crashed")

    return application


async def test_an_event_before_connect_is_a_protocol_error():
    client = SocketIOCommunicator(scripted('42["early"]', '40{"sid":"a"}'))
    with pytest.raises(PacketError, match="EVENT before CONNECT on namespace /"):
        await client.connect()
    assert client.disconnect_reason == "parse error"
    with pytest.raises(PacketError):
        await client.close()


async def test_a_malformed_packet_from_the_server_is_raised():
    client = SocketIOCommunicator(scripted('40{"sid":"a"}', '42["x"]', '42["unterminated'))
    assert await client.connect() == (True, None)
    assert client.sid == "a"
    assert tuple(await client.receive_event()) == ("x", [])
    with pytest.raises(PacketError, match="invalid JSON"):
        await client.receive_event()
    with pytest.raises(PacketError):
        await client.close()


async def test_a_crashing_application_surfaces_its_error():
    client = SocketIOCommunicator(scripted('40{"sid":"a"}', crash=True))
    assert await client.connect() == (True, None)
    with pytest.raises(RuntimeError, match="the application crashed"):
        await client.receive_event()
    assert client.disconnect_reason == "transport error"
    with pytest.raises(RuntimeError, match="the application crashed"):
        await client.close()
