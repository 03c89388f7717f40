"""An echo application on an Engine, its two consumers, and a few request helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from channels.testing import HttpCommunicator

from django_socketio.conf import Settings, build_settings
from django_socketio.engineio.consumers import PollingConsumer, WebsocketConsumer
from django_socketio.engineio.engine import Engine

SEP = "\x1e"


@dataclass
class Echo:
    """The application above Engine.IO: echoes every message, remembers what happened."""

    engine: Engine | None = None
    connected: list[str] = field(default_factory=list)
    messages: list[tuple[str, str | bytes]] = field(default_factory=list)
    disconnected: list[tuple[str, str]] = field(default_factory=list)
    scopes: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def on_connect(self, sid: str, scope: dict[str, Any]) -> None:
        self.connected.append(sid)
        self.scopes[sid] = scope

    async def on_message(self, sid: str, data: str | bytes) -> None:
        self.messages.append((sid, data))
        if data == "raise":
            raise RuntimeError("the handler failed")
        assert self.engine is not None
        await self.engine.send(sid, data)

    async def on_disconnect(self, sid: str, reason: str) -> None:
        self.disconnected.append((sid, reason))


@dataclass
class Server:
    engine: Engine
    echo: Echo
    settings: Settings
    http: Any
    ws: Any


def make_server(overrides: dict[str, Any] | None = None) -> Server:
    settings = build_settings(
        {"PING_INTERVAL": 25, "PING_TIMEOUT": 20, "MAX_PAYLOAD": 1000, **(overrides or {})}
    )
    echo = Echo()
    engine = echo.engine = Engine(echo, settings.engine)
    return Server(
        engine=engine,
        echo=echo,
        settings=settings,
        http=PollingConsumer.as_asgi(engine=engine, settings=settings),
        ws=WebsocketConsumer.as_asgi(engine=engine, settings=settings),
    )


def http_scope(method: str, query: str, headers: list[tuple[bytes, bytes]] | None = None):
    """The scope of one HTTP request, for an ApplicationCommunicator."""
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": "/engine.io/",
        "query_string": query.encode(),
        "headers": headers or [],
    }


async def request(
    server: Server,
    method: str,
    query: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str = "http",
) -> dict[str, Any]:
    """One complete HTTP request; returns status, headers (a dict) and body."""
    comm = HttpCommunicator(server.http, method, f"/engine.io/?{query}", body=body, headers=headers)
    comm.scope["scheme"] = scheme
    response = await comm.get_response()
    await comm.wait()
    response["headers"] = header_dict(response["headers"])
    return response


def header_dict(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    result: dict[bytes, bytes] = {}
    for name, value in headers:
        assert name not in result, f"header {name!r} sent twice"
        result[name] = value
    return result


async def handshake(server: Server, headers=None) -> str:
    """Open a polling session; returns its sid."""
    response = await request(server, "GET", "EIO=4&transport=polling", headers=headers)
    assert response["status"] == 200
    body = response["body"].decode()
    assert body[0] == "0"
    return json.loads(body[1:])["sid"]


async def post(server: Server, sid: str, body: str | bytes, headers=None) -> dict[str, Any]:
    if isinstance(body, str):
        body = body.encode()
    return await request(
        server, "POST", f"EIO=4&transport=polling&sid={sid}", body=body, headers=headers
    )


async def poll(server: Server, sid: str, headers=None) -> dict[str, Any]:
    return await request(server, "GET", f"EIO=4&transport=polling&sid={sid}", headers=headers)


def error(code: int, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
