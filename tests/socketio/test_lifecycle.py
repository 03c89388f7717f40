"""A socket owns its lifecycle; acks live in one `AckTable`, shared with the test client."""

from __future__ import annotations

import asyncio

import pytest

from django_socketio import ConnectionRefused, Namespace, on
from django_socketio.socketio.acks import AckTable
from django_socketio.socketio.socket import SocketState, SocketStateError

from .test_server import eventually, sio  # noqa: F401  (the fixture)


async def test_a_socket_moves_connecting_connected_disconnected(sio):  # noqa: F811
    seen: dict[str, SocketState] = {}
    sockets = []

    @sio.register
    class States(Namespace):
        namespace = "/"

        def on_connect(self, socket, auth):
            seen["on_connect"] = socket.state
            sockets.append(socket)

        def on_disconnect(self, socket, reason):
            seen["on_disconnect"] = socket.state

        @on("state")
        def state(self, socket):
            return socket.state.value

    client = await sio.connected()
    assert await client.emit_with_ack("state") == ["connected"]
    (socket,) = sockets
    with pytest.raises(SocketStateError, match=r"cannot accept .* it is connected"):
        await socket.accept()
    await client.disconnect()
    await eventually(lambda: "on_disconnect" in seen)
    assert seen == {
        "on_connect": SocketState.CONNECTING,
        "on_disconnect": SocketState.DISCONNECTED,
    }
    assert socket.detach() is False  # already gone: nothing happens twice


async def test_a_refused_socket_is_disconnected_and_what_it_emitted_is_dropped(sio):  # noqa: F811
    sockets = []

    @sio.register
    class Refusing(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            sockets.append(socket)
            await socket.emit("never")
            raise ConnectionRefused("no")

    client = sio.client()
    ok, data = await client.connect()
    assert (ok, data) == (False, {"message": "no"})
    assert sockets[0].state is SocketState.DISCONNECTED
    assert sockets[0].write_frames(['2["late"]']) is False
    assert await client.receive_nothing()


async def test_acks_awaited_by_the_server_fail_when_the_socket_leaves(sio):  # noqa: F811
    waiting: list[asyncio.Task] = []

    @sio.register
    class Asking(Namespace):
        namespace = "/"

        @on("ask")
        async def ask(self, socket):
            waiting.append(asyncio.ensure_future(socket.emit_with_ack("question")))

    client = await sio.connected()
    await client.emit("ask")
    question = await client.receive_event()
    assert question.event == "question"
    await client.disconnect()
    with pytest.raises(ConnectionError, match="disconnected"):
        await waiting[0]


async def test_the_ack_table_numbers_resolves_forgets_and_fails():
    table = AckTable()
    first, future = table.future()
    calls = []
    second = table.register(calls.append)
    assert (first, second, len(table)) == (0, 1, 2)
    assert table.resolve(first, ["a"]) is None and future.result() == ["a"]
    assert table.resolve(first, ["again"]) is None  # answered once only
    assert table.resolve(second, ["b"]) == calls.append  # the caller runs callbacks
    assert table.resolve(None, []) is None and table.forget(99) is None
    third, pending = table.future()
    table.fail_all(ConnectionError("gone"))
    assert len(table) == 0 and isinstance(pending.exception(), ConnectionError)
    assert table.register(calls.append) == third + 1  # ids never reused
