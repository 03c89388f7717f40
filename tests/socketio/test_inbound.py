"""Inbound strictness and limits, asserted from the offending client's side.

Each test says what a misbehaving client sees (its connection closed, an event
dropped, an error ack, a CONNECT_ERROR) and that a well-behaved client next to
it sees nothing at all.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from django_socketio import Namespace, on
from django_socketio.socketio.namespace import RESERVED_EVENTS

from .test_server import Chat, Sio, eventually


@pytest.fixture
async def sio():
    sio = Sio()
    yield sio
    await sio.close()


# -- protocol strictness, as Node's Client.ondecoded -------------------------------------


@pytest.mark.parametrize("event", sorted(RESERVED_EVENTS))
async def test_a_reserved_event_name_closes_the_connection_before_any_listener(sio, event):
    seen = []

    @sio.register
    class Spy(Chat):
        async def on_connect(self, socket, auth):
            socket.use(lambda e, args: seen.append(("middleware", e)))
            socket.on_any(lambda e, *args: seen.append(("any", e)))

    client = await sio.connected()
    other = await sio.connected()
    await client.emit(event, "x")
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]
    assert seen == []
    assert sio.server.limit_counters.reserved_events == 1
    assert await other.emit_with_ack("ping") == ["pong"]


@pytest.mark.parametrize("event", ["disconnecting", "newListener", "removeListener"])
def test_a_handler_for_a_reserved_event_is_refused_where_it_is_written(event):
    with pytest.raises(TypeError, match=f"'{event}' is a reserved event name"):
        type("Bad", (Namespace,), {f"on_{event}": lambda self, socket: "called"})
    with pytest.raises(ValueError, match=f"'{event}' is a reserved event name"):
        on(event)


async def test_an_event_or_ack_for_a_namespace_never_joined_closes_the_connection(sio):
    sio.register(Chat)
    for frame in ('42/elsewhere,["ping"]', '43/elsewhere,1["x"]', "41/elsewhere,"):
        client = await sio.connected()
        await client.send_raw(frame)
        assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"] * 3
    assert sio.server.limit_counters.protocol_violations == 3


async def test_a_second_connect_to_a_connected_namespace_closes_the_connection(sio):
    sio.register(Chat)
    client = await sio.connected()
    other = await sio.connected()
    await client.send_raw("40")
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]
    assert await other.emit_with_ack("ping") == ["pong"]


async def test_connect_disconnect_connect_is_allowed(sio):
    sio.register(Chat)
    client = await sio.connected()
    await client.send_raw("41")
    await eventually(lambda: sio.handler().reasons == ["client namespace disconnect"])
    await client.send_raw("40")
    await eventually(lambda: len(sio.server.of("/").sockets) == 1)
    assert client.closed is False


# -- the connect timer (F9) ----------------------------------------------------------------


async def test_a_client_whose_connects_are_all_refused_is_closed_at_the_connect_timeout(sio):
    from django_socketio import ConnectionRefused

    @sio.register
    class Private(Chat):
        namespace = "/private"

        async def on_connect(self, socket, auth):
            raise ConnectionRefused("no")

    sio.server.connect_timeout = 0.3
    client = sio.client("/private")
    assert await client.connect() == (False, {"message": "no"})
    assert await client.wait_closed(timeout=2) == 1000


# -- handler failures in the log (F12) -----------------------------------------------------


async def test_wrong_arguments_are_one_info_line_per_socket_not_tracebacks(sio, caplog):
    @sio.register
    class Strict(Chat):
        async def on_one(self, socket, value):
            return value

        def on_sync_one(self, socket, value):
            return value

    client = await sio.connected()
    with caplog.at_level(logging.INFO, logger="django_socketio"):
        for _ in range(20):
            await client.emit("one", 1, 2, 3)
            await client.emit("sync_one")
        assert await client.emit_with_ack("one", 7) == [7]
        assert await client.emit_with_ack("sync_one", 8) == [8]
    records = [r for r in caplog.records if r.name == "django_socketio"]
    assert [r.levelname for r in records] == ["INFO"]
    assert records[0].exc_info is None
    assert "'one' with 3 argument(s)" in records[0].getMessage()


async def test_a_raising_handler_logs_a_few_tracebacks_then_counts(sio, caplog):
    @sio.register
    class Fragile(Chat):
        async def on_boom(self, socket):
            raise ValueError("kaboom")

    client = await sio.connected()
    with caplog.at_level(logging.ERROR, logger="django_socketio"):
        for _ in range(50):
            await client.emit("boom")
        assert await client.emit_with_ack("ping") == ["pong"]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 5  # FAILURE_LOG_BURST; the other 45 only counted


async def test_a_huge_value_in_a_bad_packet_is_cut_in_the_log(sio, caplog):
    sio.register(Chat)
    client = await sio.connected()
    huge = "x" * 100_000
    with caplog.at_level(logging.INFO):
        await client.send_raw('451-["ping",{"_placeholder":true,"num":"' + huge + '"}]')
        await client.send_raw(b"\x00")
        assert await client.wait_closed() == 1000
    lines = [r.getMessage() for r in caplog.records]
    assert any("placeholder for a missing attachment" in line for line in lines)
    assert max(len(line) for line in lines) < 1000


# -- nesting depth (F22) -------------------------------------------------------------------


async def test_nesting_deeper_than_max_depth_closes_the_connection(sio):
    sio.register(Chat)
    client = await sio.connected()
    ok = [1]
    for _ in range(62):  # ["ping", ok] nests 64 deep: the default MAX_DEPTH
        ok = [ok]
    assert await client.emit_with_ack("ping", ok) == ["pong", ok]
    await client.send_raw('42["ping",' + "[" * 64 + "]" * 64 + "]")
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]


async def test_brackets_inside_strings_do_not_count_as_nesting(sio):
    sio.register(Chat)
    client = await sio.connected()
    text = '[{"\\"' * 200
    assert await client.emit_with_ack("ping", text) == ["pong", text]
    await asyncio.sleep(0)
