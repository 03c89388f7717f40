"""The websocket consumer, in process, through Channels' communicators: a session of
its own, and the upgrade of a polling session."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from channels.testing import ApplicationCommunicator, WebsocketCommunicator

from .helpers import error, handshake, http_scope, poll, post

WS = "/engine.io/?EIO=4&transport=websocket"


async def connect(server, query: str = "", headers=None) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(server.ws, WS + query, headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def open_session(server, headers=None) -> tuple[WebsocketCommunicator, str]:
    """A websocket session of its own; returns the communicator and the sid."""
    comm = await connect(server, headers=headers)
    frame = await comm.receive_from()
    assert frame[0] == "0"
    return comm, json.loads(frame[1:])["sid"]


async def closed_with(comm: WebsocketCommunicator) -> int:
    """The code of the websocket.close the server sends next."""
    message = await comm.receive_output()
    assert message["type"] == "websocket.close", message
    return message.get("code", 1000)


async def finish(comm: WebsocketCommunicator) -> None:
    """The client side goes away; the consumer must return."""
    await comm.send_input({"type": "websocket.disconnect", "code": 1000})
    await comm.wait()


# -- a websocket session -------------------------------------------------------------


async def test_handshake(server):
    comm = await connect(server)
    frame = await comm.receive_from()
    assert frame[0] == "0"
    handshake = json.loads(frame[1:])
    sid = handshake.pop("sid")
    assert handshake == {
        "upgrades": [],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000,
    }
    assert list(server.engine.connections) == [sid]
    assert server.echo.connected == [sid]
    await finish(comm)


async def test_echo_text_and_binary(server):
    comm, sid = await open_session(server)
    await comm.send_to(text_data="4hello é😀")
    assert await comm.receive_from() == "4hello é😀"
    await comm.send_to(bytes_data=b"\x00\x01\xff")
    assert await comm.receive_from() == b"\x00\x01\xff"
    await comm.send_to(bytes_data=b"4hello")  # raw bytes, no type byte
    assert await comm.receive_from() == b"4hello"
    assert server.echo.messages == [(sid, "hello é😀"), (sid, b"\x00\x01\xff"), (sid, b"4hello")]
    await finish(comm)


async def test_empty_message(server):
    comm, sid = await open_session(server)
    await comm.send_to(text_data="4")
    assert await comm.receive_from() == "4"
    assert server.echo.messages == [(sid, "")]
    await finish(comm)


async def test_server_sends_reach_the_websocket_in_order(server):
    comm, sid = await open_session(server)
    for data in ("a", b"b", "c"):
        assert await server.engine.send(sid, data) is True
    assert [await comm.receive_from() for _ in range(3)] == ["4a", b"b", "4c"]
    await finish(comm)


async def test_client_closing_the_websocket_is_transport_close(server):
    comm, sid = await open_session(server)
    await finish(comm)
    assert server.echo.disconnected == [(sid, "transport close")]
    assert sid not in server.engine.connections
    assert await server.engine.send(sid, "late") is False


async def test_client_close_packet_is_transport_close(server):
    comm, sid = await open_session(server)
    await comm.send_to(text_data="1")
    assert await closed_with(comm) == 1000
    await comm.wait()
    assert server.echo.disconnected == [(sid, "transport close")]
    assert sid not in server.engine.connections


async def test_server_close_flushes_then_closes(server):
    comm, sid = await open_session(server)
    await server.engine.send(sid, "bye")
    await server.engine.close(sid)
    assert await comm.receive_from() == "4bye"
    assert await closed_with(comm) == 1000
    assert server.echo.disconnected == [(sid, "forced close")]
    await finish(comm)
    assert server.echo.disconnected == [(sid, "forced close")]  # told once


@pytest.mark.parametrize("frame", ["9x", "", "0", "5"])
async def test_a_bad_packet_is_a_parse_error(server, frame):
    comm, sid = await open_session(server)
    await comm.send_input({"type": "websocket.receive", "text": frame})
    assert await closed_with(comm) == 1000
    await comm.wait()
    assert server.echo.disconnected == [(sid, "parse error")]
    assert sid not in server.engine.connections
    assert server.echo.messages == []


async def test_a_ping_from_the_client_is_answered(server):
    comm, _ = await open_session(server)
    await comm.send_to(text_data="2")
    assert await comm.receive_from() == "3"
    await comm.send_to(text_data="2probe")
    assert await comm.receive_from() == "3probe"
    await finish(comm)


async def test_a_handler_that_raises_does_not_break_the_session(server, caplog):
    comm, sid = await open_session(server)
    with caplog.at_level(logging.ERROR, logger="django_socketio.engineio"):
        await comm.send_to(text_data="4raise")
        await comm.send_to(text_data="4after")
        assert await comm.receive_from() == "4after"
    assert [r.getMessage() for r in caplog.records if r.name == "django_socketio.engineio"] == [
        "Engine.IO handler Echo.on_message failed"
    ]
    assert server.echo.messages == [(sid, "raise"), (sid, "after")]
    assert server.echo.disconnected == []
    await finish(comm)


# -- limits --------------------------------------------------------------------------------


async def test_a_text_frame_over_max_payload_closes_with_1009(servers):
    server = servers(MAX_PAYLOAD=64)
    comm, sid = await open_session(server)
    await comm.send_to(text_data="4" + "x" * 63)  # 64 bytes: at the limit
    assert await comm.receive_from() == "4" + "x" * 63
    await comm.send_to(text_data="4" + "x" * 64)
    assert await closed_with(comm) == 1009
    await comm.wait()
    assert server.echo.disconnected == [(sid, "transport error")]
    assert sid not in server.engine.connections


async def test_text_frames_are_measured_in_utf8_bytes(servers):
    server = servers(MAX_PAYLOAD=64)
    comm, sid = await open_session(server)
    await comm.send_to(text_data="4" + "é" * 40)  # 41 characters, 81 bytes
    assert await closed_with(comm) == 1009
    await comm.wait()
    assert server.echo.messages == []
    assert server.echo.disconnected == [(sid, "transport error")]


async def test_a_binary_frame_over_max_payload_closes_with_1009(servers):
    server = servers(MAX_PAYLOAD=64)
    comm, sid = await open_session(server)
    await comm.send_to(bytes_data=b"\x01" * 64)
    assert await comm.receive_from() == b"\x01" * 64
    await comm.send_to(bytes_data=b"\x01" * 65)
    assert await closed_with(comm) == 1009
    await comm.wait()
    assert server.echo.disconnected == [(sid, "transport error")]


# -- heartbeat -----------------------------------------------------------------------------


async def test_no_pong_closes_with_ping_timeout(servers):
    server = servers(PING_INTERVAL=0.05, PING_TIMEOUT=0.1)
    comm, sid = await open_session(server)
    assert await comm.receive_from() == "2"
    assert await closed_with(comm) == 1000
    assert server.echo.disconnected == [(sid, "ping timeout")]
    assert sid not in server.engine.connections
    await finish(comm)
    assert server.echo.disconnected == [(sid, "ping timeout")]


async def test_pong_keeps_the_session(servers):
    server = servers(PING_INTERVAL=0.05, PING_TIMEOUT=0.1)
    comm, sid = await open_session(server)
    for _ in range(4):  # 4 intervals: longer than interval + timeout
        assert await comm.receive_from() == "2"
        await comm.send_to(text_data="3")
    assert server.echo.disconnected == []
    assert sid in server.engine.connections
    await finish(comm)


async def test_the_next_ping_comes_one_interval_after_the_pong(servers):
    # Even when the pong deadline is further away than the next ping.
    server = servers(PING_INTERVAL=0.05, PING_TIMEOUT=0.5)
    comm, _ = await open_session(server)
    loop = asyncio.get_running_loop()
    assert await comm.receive_from() == "2"
    pinged = loop.time()
    await comm.send_to(text_data="3")
    assert await comm.receive_from() == "2"
    assert 0.045 <= loop.time() - pinged < 0.25
    await finish(comm)


# -- refused connections ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (WS, [(b"origin", b"https://evil.example")]),
        (WS + "&sid=nope", []),
        ("/engine.io/?EIO=4&transport=polling", []),
        ("/engine.io/?EIO=4", []),
        ("/engine.io/?EIO=3&transport=websocket", []),
    ],
)
async def test_refused_before_accept_with_1008(server, path, headers):
    comm = WebsocketCommunicator(server.ws, path, headers=headers)
    assert await comm.connect() == (False, 1008)
    await comm.wait()
    assert server.engine.connections == {}
    assert server.echo.connected == []


async def test_websocket_disabled_is_refused(servers):
    server = servers(TRANSPORTS=["polling"])
    comm = WebsocketCommunicator(server.ws, WS)
    assert await comm.connect() == (False, 1008)
    await comm.wait()


async def test_a_listed_origin_may_connect(servers):
    server = servers(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
    comm, sid = await open_session(server, headers=[(b"origin", b"https://app.example.com")])
    assert server.echo.connected == [sid]
    await finish(comm)


# -- upgrade from polling ----------------------------------------------------------------


async def pending_get(server, sid: str) -> ApplicationCommunicator:
    comm = ApplicationCommunicator(
        server.http, http_scope("GET", f"EIO=4&transport=polling&sid={sid}")
    )
    await comm.send_input({"type": "http.request", "body": b""})
    assert await comm.receive_nothing(timeout=0.05)
    return comm


async def answer(comm: ApplicationCommunicator) -> bytes:
    start = await comm.receive_output()
    assert start["status"] == 200
    body = (await comm.receive_output())["body"]
    await comm.wait()
    return body


async def test_upgrade_keeps_queued_packets_in_order(server):
    sid = await handshake(server)
    waiting = await pending_get(server, sid)

    probe = await connect(server, f"&sid={sid}")
    assert await probe.receive_nothing(timeout=0.05)  # no OPEN packet on a probe
    await probe.send_to(text_data="2probe")
    assert await probe.receive_from() == "3probe"
    assert await answer(waiting) == b"6"  # the pending poll ends with a NOOP

    # While upgrading, polls get NOOP (after 100 ms) and messages wait in the queue.
    await server.engine.send(sid, "one")
    assert (await poll(server, sid))["body"] == b"6"
    assert (await post(server, sid, "4from polling"))["body"] == b"ok"  # still allowed
    await server.engine.send(sid, "two")  # the echo of "from polling" is queued before it

    await probe.send_to(text_data="5")
    frames = [await probe.receive_from() for _ in range(3)]
    assert frames == ["4one", "4from polling", "4two"]

    # Now it is a websocket session.
    await probe.send_to(text_data="4over ws")
    assert await probe.receive_from() == "4over ws"
    response = await poll(server, sid)
    assert (response["status"], response["body"]) == (400, error(3, "Bad request"))
    assert server.echo.disconnected == []

    await finish(probe)
    assert server.echo.disconnected == [(sid, "transport close")]


async def test_a_probe_that_goes_away_leaves_the_session_on_polling(server):
    sid = await handshake(server)
    probe = await connect(server, f"&sid={sid}")
    await probe.send_to(text_data="2probe")
    assert await probe.receive_from() == "3probe"
    await finish(probe)

    assert server.echo.disconnected == []
    await server.engine.send(sid, "still here")
    assert (await poll(server, sid))["body"] == b"4still here"
    # And it may try again.
    probe = await connect(server, f"&sid={sid}")
    await probe.send_to(text_data="2probe")
    assert await probe.receive_from() == "3probe"
    await probe.send_to(text_data="5")
    await server.engine.send(sid, "on ws")
    assert await probe.receive_from() == "4on ws"
    await finish(probe)


async def accepted_and_closed(server, sid: str) -> None:
    """A websocket for `sid` is accepted and closed at once, as the reference server does."""
    other = WebsocketCommunicator(server.ws, WS + f"&sid={sid}")
    assert await other.connect() == (True, None)
    assert await closed_with(other) == 1000
    await other.wait()


async def test_only_one_probe_at_a_time(server):
    sid = await handshake(server)
    first = await connect(server, f"&sid={sid}")
    await accepted_and_closed(server, sid)
    await first.send_to(text_data="2probe")  # the first probe carries on
    assert await first.receive_from() == "3probe"
    await finish(first)


async def test_a_websocket_session_cannot_be_probed(server):
    comm, sid = await open_session(server)
    await accepted_and_closed(server, sid)
    await comm.send_to(text_data="4still here")
    assert await comm.receive_from() == "4still here"
    await finish(comm)


async def test_a_second_websocket_after_the_upgrade_is_closed(server):
    sid = await handshake(server)
    probe = await connect(server, f"&sid={sid}")
    await probe.send_to(text_data="2probe")
    assert await probe.receive_from() == "3probe"
    await probe.send_to(text_data="5")
    await probe.send_to(text_data="4upgraded")
    assert await probe.receive_from() == "4upgraded"
    await accepted_and_closed(server, sid)
    await probe.send_to(text_data="4hello")
    assert await probe.receive_from() == "4hello"
    assert server.echo.disconnected == []
    await finish(probe)


async def test_closing_a_session_closes_its_probe(server):
    sid = await handshake(server)
    probe = await connect(server, f"&sid={sid}")
    await probe.send_to(text_data="2probe")
    assert await probe.receive_from() == "3probe"
    await server.engine.close(sid)  # still polling: the last poll gets the CLOSE
    assert (await poll(server, sid))["body"] == b"1"
    assert await closed_with(probe) == 1000
    await asyncio.sleep(0)
    assert server.echo.disconnected == [(sid, "forced close")]
    await finish(probe)
    assert server.echo.disconnected == [(sid, "forced close")]
