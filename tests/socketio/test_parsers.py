"""Choosing the parser: ``SOCKETIO["PARSER"]``, detection per session, broadcasts across both.

In process, through `SocketIOCommunicator` (which speaks either parser).
"""

from __future__ import annotations

import pytest

from django_socketio import Namespace
from django_socketio.socketio.msgpack_parser import MsgPackParser
from django_socketio.socketio.packets import JSONParser, Packet
from django_socketio.socketio.rooms import BroadcastOptions
from django_socketio.testing import Disconnected

from .test_server import Sio


class Counting:
    """Counts the packets a parser encodes."""

    calls = 0

    def encode(self, packet: Packet) -> list[str | bytes]:
        self.calls += 1
        return super().encode(packet)  # type: ignore[misc]


class CountingJSON(Counting, JSONParser):
    pass


class CountingMsgPack(Counting, MsgPackParser):
    pass


class Room(Namespace):
    namespace = "/"

    async def on_join(self, socket, room):
        await socket.join(room)
        return True

    async def on_to(self, socket, room, *args):
        await socket.nsp.to(room).emit("news", *args)
        return True

    async def on_echo(self, socket, *args):
        return args


@pytest.fixture
async def auto():
    sio = Sio()
    sio.server.parsers = {"json": CountingJSON(), "msgpack": CountingMsgPack()}
    sio.server.use_parser("auto")
    sio.register(Room)
    yield sio
    await sio.close()


async def test_each_session_speaks_the_parser_of_its_first_message(auto):
    plain = await auto.connected(parser="json")
    packed = await auto.connected(parser="msgpack")
    data = {"bytes": b"\x00\xff", "list": [1, None, "é"]}
    assert await plain.emit_with_ack("echo", data) == [data]
    assert await packed.emit_with_ack("echo", data) == [data]
    sockets = {s.id: s for s in auto.server.of("/").sockets.values()}
    assert sockets[plain.sid].client.parser.name == "json"
    assert sockets[packed.sid].client.parser.name == "msgpack"


async def test_a_broadcast_is_encoded_once_per_parser(auto):
    clients = [await auto.connected(parser=p) for p in ("json", "msgpack") * 3]
    for client in clients:
        assert await client.emit_with_ack("join", "r") == [True]
    before = {name: parser.calls for name, parser in auto.server.parsers.items()}
    assert await clients[0].emit_with_ack("to", "r", {"b": b"\x01"}, 2) == [True]
    for client in clients:
        event = await client.receive_event()
        assert (event.event, event.args) == ("news", [{"b": b"\x01"}, 2])
    after = {name: parser.calls for name, parser in auto.server.parsers.items()}
    # the ack of `to` is one more JSON encoding; the broadcast one per parser
    assert after == {"json": before["json"] + 2, "msgpack": before["msgpack"] + 1}


async def test_other_nodes_get_every_parsers_encoding(auto):
    nsp = auto.server.of("/")
    published = []

    async def publish(nsp, frames, opts, **kwargs):
        published.append(frames)
        return True

    auto.server.adapter.publish = publish
    await nsp.emit("hi", b"\x02")
    (frames,) = published
    assert frames == {
        "json": JSONParser().encode(Packet(2, "/", ["hi", b"\x02"])),
        "msgpack": MsgPackParser().encode(Packet(2, "/", ["hi", b"\x02"])),
    }
    # ... and deliver from another node's message writes each socket's own encoding
    plain = await auto.connected(parser="json")
    packed = await auto.connected(parser="msgpack")
    await nsp.deliver(frames, BroadcastOptions())
    assert tuple(await plain.receive_event()) == ("hi", [b"\x02"])
    assert tuple(await packed.receive_event()) == ("hi", [b"\x02"])


async def test_msgpack_only_server_refuses_a_json_client(settings):
    settings.SOCKETIO = {**settings.SOCKETIO, "PARSER": "msgpack"}
    sio = Sio()
    sio.register(Room)
    try:
        packed = await sio.connected(parser="msgpack")
        assert await packed.emit_with_ack("echo", b"\x00") == [b"\x00"]
        plain = sio.client(parser="json")
        with pytest.raises(Disconnected):
            await plain.connect()
        sio.clients.remove(plain)
    finally:
        await sio.close()


async def test_json_only_server_refuses_a_msgpack_client(settings):
    sio = Sio()
    sio.register(Room)
    try:
        packed = sio.client(parser="msgpack")
        with pytest.raises(Disconnected):
            await packed.connect()
        sio.clients.remove(packed)
        assert await (await sio.connected()).emit_with_ack("echo", 1) == [1]
    finally:
        await sio.close()


# -- Engine.IO v3 clients through the test client ------------------------------------------


@pytest.fixture
async def eio3(settings):
    settings.SOCKETIO = {**settings.SOCKETIO, "ALLOW_EIO3": True}
    sio = Sio()
    sio.register(Room)
    sio.server.of("/chat").set_handler(Room())
    yield sio
    await sio.close()


async def test_v3_clients_join_rooms_with_v4_clients_and_share_broadcasts(eio3):
    old = await eio3.connected(eio=3)
    old_chat = await eio3.connected("/chat", eio=3, auth={"token": "x"})
    new = await eio3.connected()
    assert old.sid == old.eio_sid and old_chat.sid == f"/chat#{old_chat.eio_sid}"
    socket = eio3.server.of("/chat").sockets[old_chat.sid]
    assert socket.handshake.auth == {"token": "x"}  # the namespace's query
    for client in (old, new):
        assert await client.emit_with_ack("join", "r") == [True]
    assert await new.emit_with_ack("to", "r", {"b": b"\x01\x02"}) == [True]
    for client in (old, new):
        assert tuple(await client.receive_event()) == ("news", [{"b": b"\x01\x02"}])
    assert await old.emit_with_ack("echo", b"\x00", [b"\xff"]) == [b"\x00", [b"\xff"]]


async def test_v3_clients_are_refused_when_not_allowed(settings):
    sio = Sio()
    try:
        client = sio.client(eio=3)
        with pytest.raises(Disconnected):
            await client.connect()
        sio.clients.remove(client)
    finally:
        await sio.close()


async def test_a_broadcast_to_v3_and_v4_websockets_is_framed_once_per_protocol(eio3, monkeypatch):
    from django_socketio.engineio import engine as engine_module

    framed: list[int] = []
    real = engine_module.message_frames

    def counting(messages, protocol=4, b64=False):
        framed.append(protocol)
        return real(messages, protocol, b64)

    clients = [await eio3.connected(eio=e) for e in (3, 4, 3, 4, 3)]
    for client in clients:
        assert await client.emit_with_ack("join", "r") == [True]
    monkeypatch.setattr(engine_module, "message_frames", counting)
    await eio3.server.of("/").to("r").emit("news", b"\x01", "x")
    for client in clients:
        assert tuple(await client.receive_event()) == ("news", [b"\x01", "x"])
    assert sorted(framed) == [3, 4]
