"""Outbound backlog and polling request limits, in process, from the client's side.

The same limits against real daphne and uvicorn processes, with a client that
really stops reading, are in tests/e2e/test_slow_consumer.py.
"""

from __future__ import annotations

import asyncio
import logging

from channels.testing import ApplicationCommunicator, WebsocketCommunicator

from django_socketio.stats import STATS

from .helpers import SEP, error, handshake, http_scope, poll, post


def query(sid: str) -> str:
    return f"EIO=4&transport=polling&sid={sid}"


# -- the backlog of a client that does not read --------------------------------------


async def test_a_polling_client_that_stops_polling_is_closed_as_a_slow_consumer(servers, caplog):
    server = servers(MAX_BACKLOG_BYTES=10_000, MAX_BACKLOG_PACKETS=50)
    sid = await handshake(server)
    caplog.set_level(logging.INFO, "django_socketio.engineio")
    sent = 0
    while await server.engine.send(sid, "x" * 99):  # 100 bytes with the type
        sent += 1
        assert sent <= 50
    assert sent == 50  # the packet limit came first
    await asyncio.sleep(0)
    assert server.echo.disconnected == [(sid, "slow consumer")]
    assert sid not in server.engine.connections
    assert "slow consumer" in caplog.text and "MAX_BACKLOG_PACKETS 50" in caplog.text
    assert (await poll(server, sid))["body"] == error(1, "Session ID unknown")


async def test_the_byte_limit_counts_what_was_sent_and_not_confirmed(servers):
    server = servers(MAX_BACKLOG_BYTES=1_000, MAX_BACKLOG_PACKETS=10_000)
    sid = await handshake(server)
    for _ in range(9):
        assert await server.engine.send(sid, "x" * 99)
    # Probe PINGs ride behind every 300 bytes (a quarter of the limit unconfirmed).
    body = (await poll(server, sid))["body"].decode().split(SEP)
    assert [i for i, p in enumerate(body) if p == "2"] == [3, 7, 11]
    # Each PONG confirms what was sent before its PING.
    assert (await post(server, sid, "3"))["status"] == 200
    assert server.engine.backlog(sid) == (600, 6)
    assert (await post(server, sid, "3" + SEP + "3"))["status"] == 200
    assert server.engine.backlog(sid) == (0, 0)
    for _ in range(10):
        assert await server.engine.send(sid, "x" * 99)
    assert not await server.engine.send(sid, "x")
    await asyncio.sleep(0)
    assert server.echo.disconnected == [(sid, "slow consumer")]


async def test_with_the_drop_policy_the_message_is_refused_and_the_client_stays(servers):
    server = servers(MAX_BACKLOG_BYTES=1_000, BACKLOG_POLICY="drop")
    sid = await handshake(server)
    for _ in range(10):
        assert await server.engine.send(sid, "x" * 99)
    dropped = STATS.messages_dropped
    assert await server.engine.send(sid, "dropped") is False
    assert STATS.messages_dropped == dropped + 1  # counted (io.stats(), /metrics)
    await asyncio.sleep(0)
    assert server.echo.disconnected == []
    packets = (await poll(server, sid))["body"].decode().split(SEP)
    packets += (await poll(server, sid))["body"].decode().split(SEP)  # one GET: MAX_PAYLOAD
    assert "4dropped" not in packets and len([p for p in packets if p[0] == "4"]) == 10


async def test_volatile_messages_go_only_to_a_client_that_can_take_them(servers):
    server = servers(MAX_BACKLOG_BYTES=1_000)
    sid = await handshake(server)
    # Polling: volatile only while a GET waits, as the reference server.
    assert await server.engine.send(sid, "v", volatile=True) is False
    comm = ApplicationCommunicator(server.http, http_scope("GET", query(sid)))
    await comm.send_input({"type": "http.request", "body": b""})
    await asyncio.sleep(0.05)
    assert await server.engine.send(sid, "v", volatile=True) is True
    await comm.receive_output()
    assert (await comm.receive_output())["body"] == b"4v"


async def test_a_websocket_client_that_does_not_read_never_blocks_the_emitter(servers):
    """The ASGI server makes `send` wait (uvicorn while the peer does not read): the emitter
    returns at once, frames wait in the connection's bounded queue, then the policy acts."""
    server = servers(MAX_BACKLOG_BYTES=10_000)
    stuck = asyncio.Event()

    async def app(scope, receive, send):
        async def slow_send(message):
            if message["type"] == "websocket.send" and message.get("text", "")[:1] == "4":
                await stuck.wait()  # never set: the peer never reads
            await send(message)

        await server.ws(scope, receive, slow_send)

    comm = WebsocketCommunicator(app, "/engine.io/?EIO=4&transport=websocket")
    connected, _ = await comm.connect()
    assert connected
    sid = next(iter(server.engine.connections))
    started = asyncio.get_running_loop().time()
    sent = 0
    while await server.engine.send(sid, "x" * 999):
        sent += 1
    assert sent == 10
    assert asyncio.get_running_loop().time() - started < 1.0
    await asyncio.sleep(0.05)
    assert server.echo.disconnected == [(sid, "slow consumer")]
    await comm.disconnect()


# -- polling requests ----------------------------------------------------------------


async def test_a_second_post_while_one_is_in_flight_gets_400_and_closes(server):
    sid = await handshake(server)
    first = ApplicationCommunicator(server.http, http_scope("POST", query(sid)))
    await first.send_input({"type": "http.request", "body": b"4a", "more_body": True})
    assert await first.receive_nothing(timeout=0.05)
    response = await post(server, sid, "4b")
    assert (response["status"], response["body"]) == (400, error(3, "Bad request"))
    assert server.echo.disconnected == [(sid, "transport error")]
    await first.send_input({"type": "http.request", "body": b""})
    await first.receive_output()
    await first.wait()
    assert server.echo.messages == []


async def test_more_packets_than_max_payload_packets_in_one_post_get_400(servers):
    server = servers(MAX_PAYLOAD_PACKETS=16)
    sid = await handshake(server)
    assert (await post(server, sid, SEP.join(["4a"] * 16)))["status"] == 200
    response = await post(server, sid, SEP.join(["4a"] * 17))
    assert (response["status"], response["body"]) == (400, error(3, "Bad request"))
    assert server.echo.disconnected == [(sid, "parse error")]


async def test_a_polling_answer_is_cut_at_max_payload_and_the_rest_comes_next(servers):
    server = servers(MAX_PAYLOAD=1000, MAX_PAYLOAD_PACKETS=16)
    sid = await handshake(server)
    sent = ["a" * 299, "b" * 299, "c" * 299, "d" * 299, "é" * 600]  # 300, 300, ..., 1201 bytes
    for message in sent:
        assert await server.engine.send(sid, message)
    bodies = [(await poll(server, sid))["body"] for _ in range(3)]
    assert [len(b) for b in bodies] == [902, 300, 1201]  # 3 x 300 + 2 separators; 300; one
    received = [p for b in bodies for p in b.decode().split(SEP)]
    assert received == ["4" + m for m in sent]  # all of it, in order
    for n in range(20):
        assert await server.engine.send(sid, str(n))
    first, second = (await poll(server, sid))["body"], (await poll(server, sid))["body"]
    assert first.split(SEP.encode()) == [f"4{n}".encode() for n in range(16)]
    assert second.split(SEP.encode()) == [f"4{n}".encode() for n in range(16, 20)]


# -- the upgrade -----------------------------------------------------------------------


async def probing(server, sid: str) -> WebsocketCommunicator:
    probe = WebsocketCommunicator(server.ws, f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
    connected, _ = await probe.connect()
    assert connected
    await probe.send_to(text_data="2probe")
    assert await probe.receive_from() == "3probe"
    return probe


async def test_a_probe_that_never_upgrades_is_closed_after_upgrade_timeout(servers):
    server = servers(UPGRADE_TIMEOUT=0.3)
    sid = await handshake(server)
    probe = await probing(server, sid)
    message = await probe.receive_output(timeout=3)  # silence, then the server closes it
    assert message["type"] == "websocket.close"
    await probe.send_input({"type": "websocket.disconnect", "code": 1000})
    await probe.wait()
    assert server.echo.disconnected == []  # the session goes on, on polling
    assert await server.engine.send(sid, "still polling")
    assert (await poll(server, sid))["body"] == b"4still polling"


async def test_polls_during_an_upgrade_get_noop_at_most_every_100_ms(server):
    sid = await handshake(server)
    probe = await probing(server, sid)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(5):
        assert (await poll(server, sid))["body"] == b"6"
    assert loop.time() - started >= 0.5
    await probe.send_to(text_data="5")
    await probe.send_input({"type": "websocket.disconnect", "code": 1000})
    await probe.wait()


async def test_with_volatile_latest_a_client_behind_gets_the_newest_volatile_message(servers):
    server = servers(VOLATILE_LATEST=True)
    sid = await handshake(server)
    # No GET waits: the client cannot take them now; each replaces the one before.
    for n in range(3):
        assert await server.engine.send(sid, f"v{n}", volatile=True) is True
    assert (await poll(server, sid))["body"] == b"4v2"  # sent when a GET came
    await server.engine.send(sid, "regular")
    assert (await poll(server, sid))["body"] == b"4regular"


async def test_with_volatile_latest_a_busy_websocket_gets_the_newest_after_the_rest(servers):
    server = servers(VOLATILE_LATEST=True)
    release = asyncio.Event()
    sent: list[str] = []

    async def app(scope, receive, send):
        async def slow_send(message):
            if message["type"] == "websocket.send" and message.get("text", "")[:1] == "4":
                await release.wait()
                sent.append(message["text"])
            await send(message)

        await server.ws(scope, receive, slow_send)

    comm = WebsocketCommunicator(app, "/engine.io/?EIO=4&transport=websocket")
    assert (await comm.connect())[0]
    sid = next(iter(server.engine.connections))
    assert await server.engine.send(sid, "first")  # the writer now waits on the peer
    assert await server.engine.send(sid, "second")
    for n in range(3):
        assert await server.engine.send(sid, f"v{n}", volatile=True)
    release.set()
    await asyncio.sleep(0.05)
    assert sent == ["4first", "4second", "4v2"]
    await comm.disconnect()
