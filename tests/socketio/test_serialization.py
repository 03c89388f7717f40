"""Django's types travel in emits, broadcasts and acks (DjangoJSONEncoder by default);
what cannot be encoded is a clear error in the ``django_socketio`` logger naming the event,
never asyncio's "Task exception was never retrieved".
"""

from __future__ import annotations

import gc
import json
import logging

import pytest
from channels.routing import URLRouter
from django.test import override_settings

from django_socketio import Namespace, io
from django_socketio.exceptions import EncodeError
from django_socketio.routing import websocket_urlpatterns
from django_socketio.server import DjangoSocketIOServer
from django_socketio.testing import SocketIOCommunicator
from tests.sioapp.sockets import DJANGO_TYPES, DJANGO_TYPES_JSON


async def connected(namespace: str = "/sync", **kwargs) -> SocketIOCommunicator:
    client = SocketIOCommunicator(namespace=namespace, **kwargs)
    assert (await client.connect())[0]
    if namespace == "/sync":
        assert (await client.receive_event()).event == "welcome"
    return client


def no_task_exception_never_retrieved(caplog: pytest.LogCaptureFixture) -> None:
    gc.collect()  # a failed task that nobody awaited reports itself when collected
    stray = [r for r in caplog.records if r.name == "asyncio"]
    assert stray == [], [r.getMessage() for r in stray]


async def test_django_types_in_an_emit_and_an_ack():
    client = await connected()
    try:
        assert await client.emit_with_ack("types") == [DJANGO_TYPES_JSON]
        event = await client.receive_event()
        assert (event.event, event.args) == ("types", [DJANGO_TYPES_JSON])
    finally:
        await client.close()


async def test_django_types_in_a_broadcast():
    client = await connected()
    try:
        await io.of("/sync").emit("news", DJANGO_TYPES)
        assert (await client.receive_event()).args == [DJANGO_TYPES_JSON]
    finally:
        await client.close()


async def test_an_unencodable_ack_is_logged_with_the_event_and_no_ack_is_sent(caplog):
    caplog.set_level(logging.INFO)
    client = await connected()
    try:
        with pytest.raises(TimeoutError):
            await client.emit_with_ack("unencodable", timeout=0.5)
        assert await client.emit_with_ack("reason", "x") == []  # still served (None: no args)
    finally:
        await client.close()
    errors = [r for r in caplog.records if r.name == "django_socketio" and r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [
        "cannot encode the ack of event 'unencodable' in namespace /sync: "
        "Object of type object is not JSON serializable"
    ]
    no_task_exception_never_retrieved(caplog)


async def test_an_unencodable_emit_fails_the_handler_naming_the_emitted_event(caplog):
    client = await connected()
    try:
        await client.emit("emit-unencodable")
        assert await client.emit_with_ack("reason", "x") == []  # still served (None: no args)
    finally:
        await client.close()
    (record,) = [r for r in caplog.records if r.name == "django_socketio"]
    assert record.getMessage() == "handler for event 'emit-unencodable' in namespace /sync failed"
    assert isinstance(record.exc_info[1], EncodeError)
    assert str(record.exc_info[1]) == (
        "cannot encode the arguments of event 'cannot-go': "
        "Object of type object is not JSON serializable"
    )
    no_task_exception_never_retrieved(caplog)


async def test_an_unencodable_broadcast_raises_encode_error_to_the_emitter():
    with pytest.raises(EncodeError, match=r"'news'.*Object of type set"):
        await io.of("/sync").emit("news", {1, 2})
    with pytest.raises(TypeError):  # EncodeError is a TypeError, as json's own error
        await io.of("/sync").to("room").emit("news", object())


class SetEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, set | frozenset):
            return sorted(o)
        return super().default(o)


class Sets(Namespace):
    namespace = "/"

    async def on_sets(self, socket):
        await socket.emit("sets", {3, 1, 2})
        return frozenset({"b", "a"})


@override_settings(SOCKETIO={"JSON_ENCODER": "tests.socketio.test_serialization.SetEncoder"})
async def test_another_encoder_class_from_the_setting():
    server = DjangoSocketIOServer()
    server.register(Sets)
    app = URLRouter(websocket_urlpatterns(engine=server.engine))
    try:
        async with SocketIOCommunicator(app) as client:
            assert (await client.connect())[0]
            assert await client.emit_with_ack("sets") == [["a", "b"]]
            assert (await client.receive_event()).args == [[1, 2, 3]]
    finally:
        await server.engine.shutdown()
        await server.adapter.stop()


@override_settings(SOCKETIO={"JSON_ENCODER": "tests.nowhere.Encoder"})
def test_an_encoder_that_cannot_be_imported_names_the_setting():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"SOCKETIO\['JSON_ENCODER'\]"):
        DjangoSocketIOServer().engine  # noqa: B018


class FailingCallback(Namespace):
    namespace = "/"

    async def on_go(self, socket):
        def callback(err, *args):
            raise RuntimeError("a bug in the ack callback")

        await socket.timeout(5).emit("question", callback=callback)  # waits in a task


async def test_a_failing_background_task_is_logged_not_left_to_asyncio(caplog):
    server = DjangoSocketIOServer()
    server.register(FailingCallback)
    app = URLRouter(websocket_urlpatterns(engine=server.engine))
    try:
        async with SocketIOCommunicator(app) as client:
            assert (await client.connect())[0]
            await client.emit("go")
            asked = await client.receive_event()
            await asked.ack("answer")
            assert await client.receive_nothing(0.2)
    finally:
        await server.engine.shutdown()
        await server.adapter.stop()
    (record,) = [r for r in caplog.records if r.name.startswith("django_socketio")]
    assert (record.name, record.getMessage()) == (
        "django_socketio.engineio",
        "background task failed",
    )
    assert str(record.exc_info[1]) == "a bug in the ack callback"
    no_task_exception_never_retrieved(caplog)
