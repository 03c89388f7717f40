"""SocketIOApplication: Socket.IO at its path, everything else to the project."""

import json

from channels.testing import ApplicationCommunicator, HttpCommunicator, WebsocketCommunicator

from django_socketio import io
from django_socketio.conf import build_settings
from django_socketio.engineio.engine import Engine
from django_socketio.routing import SocketIOApplication

from .helpers import Echo


async def django_like(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"django " + scope["path"].encode()})


def app(**kwargs):
    settings = build_settings({"PATH": "rt"})
    echo = Echo()
    echo.engine = Engine(echo, settings.engine)
    return SocketIOApplication(engine=echo.engine, settings=settings, **kwargs), echo


async def test_the_path_goes_to_engine_io_with_or_without_the_slash():
    application, _ = app(fallback=django_like)
    for path in ("/rt/", "/rt"):
        response = await HttpCommunicator(
            application, "GET", f"{path}?EIO=4&transport=polling"
        ).get_response()
        assert response["status"] == 200
        assert json.loads(response["body"][1:])["upgrades"] == ["websocket"]


async def test_other_http_paths_go_to_the_fallback_or_get_404():
    application, _ = app(fallback=django_like)
    response = await HttpCommunicator(application, "GET", "/rt/x").get_response()
    assert response["body"] == b"django /rt/x"
    bare, _ = app()
    response = await HttpCommunicator(bare, "GET", "/admin/").get_response()
    assert response["status"] == 404


async def test_websockets_elsewhere_go_to_the_websocket_fallback_or_are_refused():
    async def other(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})

    refused = WebsocketCommunicator(app()[0], "/chat/")
    assert (await refused.connect())[0] is False
    accepted = WebsocketCommunicator(app(websocket_fallback=other)[0], "/chat/")
    assert (await accepted.connect())[0] is True
    await accepted.disconnect()
    engine_io = WebsocketCommunicator(app()[0], "/rt/?EIO=4&transport=websocket")
    assert (await engine_io.connect())[0] is True
    assert (await engine_io.receive_from()).startswith("0{")
    await engine_io.disconnect()


async def test_lifespan_startup_and_shutdown_complete():
    application, _ = app()
    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(2) == {"type": "lifespan.startup.complete"}
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(2) == {"type": "lifespan.shutdown.complete"}
    await lifespan.wait(2)
    # The shutdown stopped the process's server for good (new sessions refused, see
    # tests/multinode/test_rolling_restart.py); the other tests share it: put it back.
    assert io.engine.stopping is True
    io.engine.stopping = False
