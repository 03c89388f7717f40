"""Sync handlers act on the socket, seen from the client (`SocketIOCommunicator`).

The ``/sync`` namespace of ``tests/sioapp/sockets.py`` has only sync handlers, with no
``await`` anywhere: ``socket.emit``, ``join``, ``leave``, ``to(room).emit``,
``emit_with_ack``, ``disconnect`` and ``io.of(...).emit`` called from the worker thread
run on the server's loop. Before, each made a coroutine nobody awaited and did nothing.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from asgiref.sync import async_to_sync

from django_socketio import io
from django_socketio.testing import Disconnected, SocketIOCommunicator
from tests.sioapp.sockets import SYNC_REASONS


@pytest.fixture(autouse=True)
def _no_unawaited_coroutines():
    """Fail a test that left a coroutine of ours un-awaited (Python's RuntimeWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    dropped = [str(w.message) for w in caught if "was never awaited" in str(w.message)]
    assert dropped == []


async def test_a_sync_connect_handler_emits():
    async with SocketIOCommunicator(namespace="/sync") as client:
        assert await client.connect() == (True, None)
        event = await client.receive_event()
        assert (event.event, event.args) == ("welcome", [client.sid])


async def test_sync_handlers_join_leave_and_broadcast_to_a_room():
    async with (
        SocketIOCommunicator(namespace="/sync") as a,
        SocketIOCommunicator(namespace="/sync") as b,
        SocketIOCommunicator(namespace="/sync") as c,
    ):
        for client in (a, b, c):
            assert (await client.connect())[0]
            assert (await client.receive_event()).event == "welcome"
        assert await a.emit_with_ack("join", "r1") == [["r1"]]
        assert await b.emit_with_ack("join", "r1") == [["r1"]]
        assert await b.emit_with_ack("join", "r2") == [["r1", "r2"]]
        assert await a.emit_with_ack("to-room", "r1", "hi", {"n": 1}) == [True]
        event = await b.receive_event()
        assert (event.event, event.args) == ("room-message", ["hi", {"n": 1}])
        assert await a.receive_nothing() and await c.receive_nothing()

        assert await b.emit_with_ack("leave", "r1") == [["r2"]]
        assert await a.emit_with_ack("to-room", "r1", "again") == [True]
        assert await b.receive_nothing()


async def test_a_sync_handler_emits_through_io():
    async with (
        SocketIOCommunicator(namespace="/sync") as a,
        SocketIOCommunicator(namespace="/sync") as b,
    ):
        for client in (a, b):
            assert (await client.connect())[0]
            await client.receive_event()
        assert await a.emit_with_ack("everyone", 1, "two") == [True]
        for client in (a, b):
            event = await client.receive_event()
            assert (event.event, event.args) == ("everyone", [1, "two"])


async def test_a_sync_handler_waits_for_the_clients_ack():
    async with SocketIOCommunicator(namespace="/sync") as client:
        assert (await client.connect())[0]
        await client.receive_event()
        await client.emit("ask", "what?")
        asked = await client.receive_event()
        assert (asked.event, asked.args, asked.wants_ack) == ("question", ["what?"], True)
        acked = asyncio.ensure_future(client.emit_with_ack("ask", "again"))
        await asked.ack("an answer", 42)
        # the first `ask` got its answer; the second is still waiting for its own
        second = await client.receive_event()
        assert second.args == ["again"]
        await second.ack("second answer")
        assert await acked == ["second answer"]  # one ack argument: the value itself


async def test_a_sync_handler_disconnects_its_socket_and_a_sync_on_disconnect_runs():
    """disconnect() in a sync handler runs the sync on_disconnect in the same worker
    thread, which is blocked in that call: it must not wait for itself."""
    async with SocketIOCommunicator(namespace="/sync") as client:
        assert (await client.connect())[0]
        await client.receive_event()
        sid = client.sid
        await client.emit("kick")
        with pytest.raises(Disconnected):
            await client.receive_event()
        assert client.disconnect_reason == "io server disconnect"
    # DISCONNECT is sent before on_disconnect runs: wait for the handler to finish
    for _ in range(500):
        if sid in SYNC_REASONS:
            break
        await asyncio.sleep(0.01)
    assert SYNC_REASONS.get(sid) == "server namespace disconnect"


def test_the_api_called_from_a_plain_thread_runs_on_the_servers_loop():
    """Not a handler: any thread of a serving process (what a sync view is)."""

    async def scenario():
        async with SocketIOCommunicator(namespace="/sync") as client:
            assert (await client.connect())[0]
            await client.receive_event()
            await asyncio.to_thread(io.of("/sync").emit, "from-a-thread", 1)
            event = await client.receive_event()
            assert (event.event, event.args) == ("from-a-thread", [1])
            sockets = await asyncio.to_thread(io.of("/sync").fetch_sockets)
            assert [s.id for s in sockets] == [client.sid]
            await asyncio.to_thread(io.of("/sync").emit_sync, "sync", 2)
            assert (await client.receive_event()).args == [2]
            # Channels' idiom still works: async_to_sync gets the awaitable it asks for
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # not even "a non-async-marked callable"
                await asyncio.to_thread(async_to_sync(io.of("/sync").emit), "a2s", 3)
                await asyncio.to_thread(async_to_sync(io.of("/sync").send), 4)  # delegates
            assert (await client.receive_event()).args == [3]
            assert (await client.receive_event()).args == [4]
            kick = async_to_sync(io.of("/sync").in_(client.sid).disconnect_sockets)
            await asyncio.to_thread(kick, False)
            with pytest.raises(Disconnected):
                await client.receive_event()

    asyncio.run(scenario())


async def test_emit_sync_on_the_loop_says_to_await_emit():
    with pytest.raises(RuntimeError, match="await emit"):
        io.of("/sync").emit_sync("x")


async def test_a_forgotten_await_in_an_async_handler_is_logged(caplog):
    """Python's "never awaited" RuntimeWarning is hidden under daphne: we log an error."""
    from channels.routing import URLRouter

    from django_socketio import Namespace, on
    from django_socketio.routing import websocket_urlpatterns
    from django_socketio.server import DjangoSocketIOServer

    class Forgetful(Namespace):
        namespace = "/"

        async def on_forget(self, socket):
            socket.emit("never-sent", 1)  # the bug: no await
            socket.to("room").emit("never-sent")
            return "returned"

        @on("create_task")
        async def create_task(self, socket):
            await asyncio.ensure_future(socket.emit("via-a-task", 2))  # awaited: fine
            await asyncio.create_task(socket.emit("via-a-task", 3))

    server = DjangoSocketIOServer()
    server.register(Forgetful)
    app = URLRouter(websocket_urlpatterns(engine=server.engine))
    try:
        async with SocketIOCommunicator(app) as client:
            assert (await client.connect())[0]
            assert await client.emit_with_ack("forget") == ["returned"]
            assert await client.receive_nothing()
            gc.collect()
            assert [r.getMessage() for r in caplog.records if r.name == "django_socketio"] == [
                "Socket.emit() was called without await, so it did nothing. In async code "
                "write `await Socket.emit(...)`; from sync code (a sync handler) call it "
                "without await.",
                "BroadcastOperator.emit() was called without await, so it did nothing. In "
                "async code write `await BroadcastOperator.emit(...)`; from sync code (a sync "
                "handler) call it without await.",
            ]
            caplog.clear()
            await client.emit("create_task")
            assert [tuple(await client.receive_event()) for _ in range(2)] == [
                ("via-a-task", [2]),
                ("via-a-task", [3]),
            ]
            gc.collect()
            assert [r for r in caplog.records if r.name == "django_socketio"] == []
    finally:
        await server.engine.shutdown()
        await server.adapter.stop()


async def test_the_readme_sync_handler_example_runs_as_written():
    from channels.routing import URLRouter

    from django_socketio import Namespace
    from django_socketio.routing import websocket_urlpatterns
    from django_socketio.server import DjangoSocketIOServer
    from tests.readme import blocks

    module: dict = {}
    exec(compile(blocks("api")["rooms/sockets.py"], "README.md", "exec"), module)
    server = module["io"] = DjangoSocketIOServer()  # a fresh server instead of the project's
    server.register(module["Rooms"])

    class Admin(Namespace):
        namespace = "/admin"

    server.register(Admin)
    app = URLRouter(websocket_urlpatterns(engine=server.engine))
    try:
        async with (
            SocketIOCommunicator(app, "/admin") as admin,
            SocketIOCommunicator(app, "/rooms") as a,
            SocketIOCommunicator(app, "/rooms") as b,
        ):
            for client in (admin, a, b):
                assert (await client.connect())[0]
            joined = asyncio.ensure_future(b.emit_with_ack("join", "lobby"))
            rules = await b.receive_event()
            assert rules.event == "rules"
            await rules.ack(True)
            assert await joined == [{"rooms": sorted([b.sid, "lobby"]), "accepted": True}]
            assert tuple(await admin.receive_event()) == ("activity", ["lobby"])
            joined = asyncio.ensure_future(a.emit_with_ack("join", "lobby"))
            await (await a.receive_event()).ack(False)
            assert (await joined)[0]["accepted"] is False
            assert tuple(await b.receive_event()) == ("joined", [a.sid])
    finally:
        await server.engine.shutdown()
        await server.adapter.stop()
