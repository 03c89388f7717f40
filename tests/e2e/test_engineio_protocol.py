"""The official Engine.IO v4 protocol test suite, ported to Python, plus the edges it skips.

First, ``test-suite/test-suite.js`` of socketio/engine.io-protocol, test by test: each
``test_official_*`` names the ``it(...)`` it ports in its docstring and sends the same
requests and frames in the same order, with the same assertions and no waits the original
lacks (the races live there); `official.py` keeps the original's WebSocket semantics.
CI cannot fetch that repository, so this port is its copy; ``scripts/conformance`` runs
the original. Then, beyond the suite: every error code with its status and JSON body,
maxPayload on both transports, isolation between sessions, and the Origin / CORS checks.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from .helpers import (
    WAIT,
    assert_session_gone,
    closed,
    error,
    open_polling,
    open_websocket,
    poll,
    poll_packets,
    polling_url,
    post,
    receive,
    request,
    websocket_url,
)
from .official import (
    HANDSHAKE_KEYS,
    PING_INTERVAL,
    PING_TIMEOUT,
    fetch,
    init_long_polling_session,
    sleep,
)

pytestmark = pytest.mark.e2e

MAX_PAYLOAD = 1_000_000


def assert_error(response: tuple[int, str], code: int, status: int = 400) -> None:
    got_status, body = response
    assert (got_status, json.loads(body)) == (status, error(code)), body


async def assert_ws_refused(http, url: str, **kwargs) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        async with http.ws_connect(url, **kwargs):
            pass
    assert info.value.status == 403


async def assert_ws_accepted_and_closed(http, url: str) -> None:
    """The reference server's answer to a websocket for a session it cannot upgrade."""
    async with http.ws_connect(url) as ws:
        assert await closed(ws) == 1000


# -- the official suite, test by test ----------------------------------------------------
#
# Each test ports one it(...) of engine.io-protocol's test-suite/test-suite.js, named in
# its docstring: the same requests and frames in the same order, the same assertions, no
# waits the original does not have (see official.py for the WebSocket semantics kept).


def eio(server, path: str = "engine.io") -> str:
    return f"{server.url}/{path}/?EIO=4&transport=polling"


def eio_ws(server, query: str = "EIO=4&transport=websocket", path: str = "engine.io") -> str:
    return f"{server.ws_url}/{path}/?{query}"


#: The tests that socket.io-protocol's suite has too, word for word but for the path
#: (/socket.io/) and the titles ("should open" for "opens"): run on both paths, each
#: naming both originals (test_socketio_protocol.py ports the rest of that suite).
BOTH_SUITES = pytest.mark.parametrize("path", ["engine.io", "socket.io"])


@BOTH_SUITES
async def test_official_polling_successfully_opens_a_session(path, server):
    """it("successfully opens a session") (handshake, HTTP long-polling).

    socket.io-protocol: it("should successfully open a session").
    """
    status, content = await fetch(eio(server, path))
    assert status == 200
    assert content.startswith("0")
    value = json.loads(content[1:])
    assert set(value) == HANDSHAKE_KEYS
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == ["websocket"]
    assert value["pingInterval"] == PING_INTERVAL
    assert value["pingTimeout"] == PING_TIMEOUT
    assert value["maxPayload"] == 1000000


@BOTH_SUITES
async def test_official_polling_fails_with_an_invalid_eio_query_parameter(path, server):
    """it("fails with an invalid 'EIO' query parameter") (handshake, HTTP long-polling).

    socket.io-protocol: it("should fail with an invalid 'EIO' query parameter").
    """
    status, _ = await fetch(f"{server.url}/{path}/?transport=polling")
    assert status == 400
    status2, _ = await fetch(f"{server.url}/{path}/?EIO=abc&transport=polling")
    assert status2 == 400


@BOTH_SUITES
async def test_official_polling_fails_with_an_invalid_transport_query_parameter(path, server):
    """it("fails with an invalid 'transport' query parameter") (handshake, HTTP long-polling).

    socket.io-protocol: it("should fail with an invalid 'transport' query parameter").
    """
    status, _ = await fetch(f"{server.url}/{path}/?EIO=4")
    assert status == 400
    status2, _ = await fetch(f"{server.url}/{path}/?EIO=4&transport=abc")
    assert status2 == 400


@BOTH_SUITES
async def test_official_polling_fails_with_an_invalid_request_method(path, server):
    """it("fails with an invalid request method") (handshake, HTTP long-polling).

    socket.io-protocol: it("should fail with an invalid request method").
    """
    status, _ = await fetch(eio(server, path), method="POST")
    assert status == 400
    status2, _ = await fetch(eio(server, path), method="PUT")
    assert status2 == 400


@BOTH_SUITES
async def test_official_websocket_successfully_opens_a_session(path, server, websockets):
    """it("successfully opens a session") (handshake, WebSocket).

    socket.io-protocol: it("should successfully open a session").
    """
    socket = websockets(eio_ws(server, path=path))
    data = await socket.wait_for("message")
    assert data.startswith("0")
    value = json.loads(data[1:])
    assert set(value) == HANDSHAKE_KEYS
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == []
    assert value["pingInterval"] == PING_INTERVAL
    assert value["pingTimeout"] == PING_TIMEOUT
    assert value["maxPayload"] == 1000000
    await socket.close()


@BOTH_SUITES
async def test_official_websocket_fails_with_an_invalid_eio_query_parameter(
    path, server, websockets
):
    """it("fails with an invalid 'EIO' query parameter") (handshake, WebSocket).

    socket.io-protocol: it("should fail with an invalid 'EIO' query parameter").

    The original does not await its ``waitFor(socket, "close")``: it asserts nothing
    beyond "no uncaught error". `test_websocket_with_an_invalid_query_is_refused` below
    checks the refusal.
    """
    socket = websockets(eio_ws(server, "transport=websocket", path))
    socket.ignore_errors()
    _ = socket.wait_for("close")
    socket2 = websockets(eio_ws(server, "EIO=abc&transport=websocket", path))
    socket2.ignore_errors()
    _ = socket2.wait_for("close")


@BOTH_SUITES
async def test_official_websocket_fails_with_an_invalid_transport_query_parameter(
    path, server, websockets
):
    """it("fails with an invalid 'transport' query parameter") (handshake, WebSocket).

    socket.io-protocol: it("should fail with an invalid 'transport' query parameter").

    As above, the original awaits nothing.
    """
    socket = websockets(eio_ws(server, "EIO=4", path))
    socket.ignore_errors()
    _ = socket.wait_for("close")
    socket2 = websockets(eio_ws(server, "EIO=4&transport=abc", path))
    socket2.ignore_errors()
    _ = socket2.wait_for("close")


async def test_official_polling_one_plain_text_packet(server):
    """it("sends and receives a payload containing one plain text packet")."""
    sid = await init_long_polling_session(server.url, "engine.io")
    status, content = await fetch(f"{eio(server)}&sid={sid}", method="POST", body="4hello")
    assert (status, content) == (200, "ok")
    status, content = await fetch(f"{eio(server)}&sid={sid}")
    assert (status, content) == (200, "4hello")


async def test_official_polling_several_plain_text_packets(server):
    """it("sends and receives a payload containing several plain text packets")."""
    sid = await init_long_polling_session(server.url, "engine.io")
    body = "4test1\x1e4test2\x1e4test3"
    status, content = await fetch(f"{eio(server)}&sid={sid}", method="POST", body=body)
    assert (status, content) == (200, "ok")
    status, content = await fetch(f"{eio(server)}&sid={sid}")
    assert (status, content) == (200, "4test1\x1e4test2\x1e4test3")


async def test_official_polling_plain_text_and_binary_packets(server):
    """it("sends and receives a payload containing plain text and binary packets")."""
    sid = await init_long_polling_session(server.url, "engine.io")
    body = "4hello\x1ebAQIDBA=="
    status, content = await fetch(f"{eio(server)}&sid={sid}", method="POST", body=body)
    assert (status, content) == (200, "ok")
    status, content = await fetch(f"{eio(server)}&sid={sid}")
    assert (status, content) == (200, "4hello\x1ebAQIDBA==")


async def test_official_polling_closes_the_session_upon_invalid_packet_format(server):
    """it("closes the session upon invalid packet format") (message, HTTP long-polling)."""
    sid = await init_long_polling_session(server.url, "engine.io")
    try:
        status, _ = await fetch(f"{eio(server)}&sid={sid}", method="POST", body="abc")
        assert status == 400
    except aiohttp.ClientError:
        pass  # as the original: node-fetch throws when the request is closed abnormally
    status, _ = await fetch(f"{eio(server)}&sid={sid}")
    assert status == 400


async def test_official_polling_closes_the_session_upon_duplicate_poll_requests(server):
    """it("closes the session upon duplicate poll requests")."""
    sid = await init_long_polling_session(server.url, "engine.io")

    async def second() -> tuple[int, str]:
        await sleep(5)
        return await fetch(f"{eio(server)}&sid={sid}&t=burst")

    responses = await asyncio.gather(fetch(f"{eio(server)}&sid={sid}"), second())
    assert responses[0] == (200, "1")
    assert responses[1][0] in (400, 500)
    status, _ = await fetch(f"{eio(server)}&sid={sid}")
    assert status == 400


async def test_official_websocket_sends_and_receives_a_plain_text_packet(server, websockets):
    """it("sends and receives a plain text packet") (message, WebSocket)."""
    socket = websockets(eio_ws(server))
    await socket.wait_for("open")
    await socket.wait_for("message")  # handshake
    await socket.send("4hello")
    assert await socket.wait_for("message") == "4hello"
    await socket.close()


async def test_official_websocket_sends_and_receives_a_binary_packet(server, websockets):
    """it("sends and receives a binary packet") (message, WebSocket)."""
    socket = websockets(eio_ws(server))
    await socket.wait_for("message")  # handshake
    await socket.send(bytes([1, 2, 3, 4]))
    assert await socket.wait_for("message") == bytes([1, 2, 3, 4])
    await socket.close()


async def test_official_websocket_closes_the_session_upon_invalid_packet_format(server, websockets):
    """it("closes the session upon invalid packet format") (message, WebSocket)."""
    socket = websockets(eio_ws(server))
    await socket.wait_for("message")  # handshake
    await socket.send("abc")
    await socket.wait_for("close")
    await socket.close()


@BOTH_SUITES
async def test_official_polling_sends_ping_pong_packets(path, server):
    """it("sends ping/pong packets") (heartbeat, HTTP long-polling).

    socket.io-protocol: it("should send ping/pong packets").
    """
    sid = await init_long_polling_session(server.url, path)
    for _ in range(3):
        status, content = await fetch(f"{eio(server, path)}&sid={sid}")
        assert (status, content) == (200, "2")
        status, _ = await fetch(f"{eio(server, path)}&sid={sid}", method="POST", body="3")
        assert status == 200


@BOTH_SUITES
async def test_official_polling_closes_the_session_upon_ping_timeout(path, server):
    """it("closes the session upon ping timeout") (heartbeat, HTTP long-polling).

    socket.io-protocol: it("should close the session upon ping timeout").
    """
    sid = await init_long_polling_session(server.url, path)
    await sleep(PING_INTERVAL + PING_TIMEOUT)
    status, _ = await fetch(f"{eio(server, path)}&sid={sid}")
    assert status == 400


@BOTH_SUITES
async def test_official_websocket_sends_ping_pong_packets(path, server, websockets):
    """it("sends ping/pong packets") (heartbeat, WebSocket).

    socket.io-protocol: it("should send ping/pong packets").
    """
    socket = websockets(eio_ws(server, path=path))
    await socket.wait_for("message")  # handshake
    for _ in range(3):
        assert await socket.wait_for("message") == "2"
        await socket.send("3")
    await socket.close()


@BOTH_SUITES
async def test_official_websocket_closes_the_session_upon_ping_timeout(path, server, websockets):
    """it("closes the session upon ping timeout") (heartbeat, WebSocket).

    socket.io-protocol: it("should close the session upon ping timeout").
    """
    socket = websockets(eio_ws(server, path=path))
    await socket.wait_for("close")  # handshake


@BOTH_SUITES
async def test_official_polling_forcefully_closes_the_session(path, server):
    """it("forcefully closes the session") (close, HTTP long-polling).

    socket.io-protocol: it("should forcefully close the session").
    """
    sid = await init_long_polling_session(server.url, path)
    poll_response, _ = await asyncio.gather(
        fetch(f"{eio(server, path)}&sid={sid}"),
        fetch(f"{eio(server, path)}&sid={sid}", method="POST", body="1"),
    )
    assert poll_response == (200, "6")
    status, _ = await fetch(f"{eio(server, path)}&sid={sid}")
    assert status == 400


@BOTH_SUITES
async def test_official_websocket_forcefully_closes_the_session(path, server, websockets):
    """it("forcefully closes the session") (close, WebSocket).

    socket.io-protocol: it("should forcefully close the session").
    """
    socket = websockets(eio_ws(server, path=path))
    await socket.wait_for("message")  # handshake
    await socket.send("1")
    await socket.wait_for("close")


async def test_official_successfully_upgrades_from_polling_to_websocket(server, websockets):
    """it("successfully upgrades from HTTP long-polling to WebSocket")."""
    sid = await init_long_polling_session(server.url, "engine.io")
    socket = websockets(eio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket.wait_for("open")
    await socket.send("2probe")  # send probe
    assert await socket.wait_for("message") == "3probe"
    status, content = await fetch(f"{eio(server)}&sid={sid}")
    assert status == 200
    assert content == "6"  # "noop" packet to cleanly end the HTTP long-polling request
    await socket.send("5")  # complete upgrade
    await socket.send("4hello")
    assert await socket.wait_for("message") == "4hello"


async def test_official_ignores_http_requests_with_same_sid_after_upgrade(server, websockets):
    """it("ignores HTTP requests with same sid after upgrade")."""
    sid = await init_long_polling_session(server.url, "engine.io")
    socket = websockets(eio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket.wait_for("open")
    await socket.send("2probe")
    await socket.send("5")
    status, _ = await fetch(f"{eio(server)}&sid={sid}")
    assert status == 400
    await socket.send("4hello")
    assert await socket.wait_for("message") == "4hello"


async def test_official_ignores_websocket_connection_with_same_sid_after_upgrade(
    server, websockets
):
    """it("ignores WebSocket connection with same sid after upgrade")."""
    sid = await init_long_polling_session(server.url, "engine.io")
    socket = websockets(eio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket.wait_for("open")
    await socket.send("2probe")
    await socket.send("5")
    socket2 = websockets(eio_ws(server, f"EIO=4&transport=websocket&sid={sid}"))
    await socket2.wait_for("close")
    await socket.send("4hello")
    assert await socket.wait_for("message") == "4hello"


# -- beyond the suite: handshake -------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "transport=websocket",
        "EIO=abc&transport=websocket",
        "EIO=4",
        "EIO=4&transport=abc",
        "EIO=4&transport=polling",
    ],
)
async def test_websocket_with_an_invalid_query_is_refused(server, http, query):
    await assert_ws_refused(http, f"{server.ws_url}/engine.io/?{query}")


# -- message ---------------------------------------------------------------------


async def test_polling_sends_and_receives_utf8_text(server, http):
    sid, _ = await open_polling(http, server)
    text = "4héllo €亜Б 😀"
    assert await post(http, server, sid, text.encode()) == (200, "ok")
    assert await poll_packets(http, server, sid) == [text]


async def test_polling_closes_the_session_upon_invalid_base64(server, http):
    sid, _ = await open_polling(http, server)
    assert_error(await post(http, server, sid, "b!!notbase64"), 3)
    assert_error(await poll(http, server, sid), 1)


async def test_polling_closes_the_session_upon_cancelled_polling_request(server, http):
    sid, _ = await open_polling(http, server)
    pending = asyncio.ensure_future(poll(http, server, sid))
    await asyncio.sleep(0.05)
    pending.cancel()  # aiohttp drops the connection
    with pytest.raises(asyncio.CancelledError):
        await pending
    deadline = time.monotonic() + WAIT
    while True:  # the server may see the drop a little after the next request starts
        status, body = await poll(http, server, sid)
        if status == 400:
            assert json.loads(body)["code"] in (1, 3), body
            break
        assert time.monotonic() < deadline, "the session outlived its cancelled poll"
    assert_error(await poll(http, server, sid), 1)


async def test_websocket_sends_and_receives_utf8_text(server, http):
    ws, _ = await open_websocket(http, server)
    async with ws:
        await ws.send_str("4hello")
        assert await receive(ws) == "4hello"
        await ws.send_str("4héllo €亜Б 😀")
        assert await receive(ws) == "4héllo €亜Б 😀"


async def test_polling_sends_and_receives_an_empty_binary_packet(server, http):
    sid, _ = await open_polling(http, server)
    assert await post(http, server, sid, "b\x1e4") == (200, "ok")
    assert await poll_packets(http, server, sid) == ["b", "4"]


async def test_websocket_sends_and_receives_an_empty_binary_packet(server, http):
    # Daphne sends no frame at all for empty bytes, so an empty binary message goes out
    # as the text packet "b" (base64 of nothing), which Engine.IO clients decode as b"".
    ws, _ = await open_websocket(http, server)
    async with ws:
        await ws.send_bytes(b"")
        await ws.send_str("4after")
        assert await receive(ws) == "b"
        assert await receive(ws) == "4after"


async def test_websocket_invalid_packet_format_ends_the_session(server, http):
    ws, handshake = await open_websocket(http, server)
    async with ws:
        await ws.send_str("abc")
        await closed(ws)
    await assert_session_gone(http, server, handshake["sid"])


# -- heartbeat -------------------------------------------------------------------


async def test_websocket_ping_timeout_ends_the_session(server, http):
    ws, handshake = await open_websocket(http, server)
    start = time.monotonic()
    async with ws:
        assert await receive(ws, pong=False) == "2"
        await closed(ws, pong=False)
    assert time.monotonic() - start < 3
    await assert_session_gone(http, server, handshake["sid"])


# -- close -----------------------------------------------------------------------


async def test_websocket_close_packet_ends_the_session(server, http):
    ws, handshake = await open_websocket(http, server)
    async with ws:
        await ws.send_str("1")
        await closed(ws)
    await assert_session_gone(http, server, handshake["sid"])


# -- upgrade ---------------------------------------------------------------------


async def test_upgrade_answers_a_pending_poll_with_noop(server, http):
    sid, _ = await open_polling(http, server)
    pending = asyncio.ensure_future(poll(http, server, sid))
    await asyncio.sleep(0.05)
    async with http.ws_connect(websocket_url(server, sid)) as ws:
        await ws.send_str("2probe")
        assert await receive(ws) == "3probe"
        assert await pending == (200, "6")
        await ws.send_str("5")
        await ws.send_bytes(b"\x00\xff")
        assert await receive(ws) == b"\x00\xff"


async def test_after_the_upgrade_polling_requests_are_refused(server, http):
    sid, _ = await open_polling(http, server)
    async with http.ws_connect(websocket_url(server, sid)) as ws:
        await ws.send_str("2probe")
        assert await receive(ws) == "3probe"
        await ws.send_str("5")
        await ws.send_str("4ready")
        assert await receive(ws) == "4ready"  # the upgrade is done
        assert_error(await poll(http, server, sid), 3)
        assert_error(await post(http, server, sid, "4nope"), 3)
        await ws.send_str("4hello")
        assert await receive(ws) == "4hello"


async def test_a_second_probe_during_an_upgrade_is_refused(server, http):
    sid, _ = await open_polling(http, server)
    async with http.ws_connect(websocket_url(server, sid)) as ws:
        await ws.send_str("2probe")
        assert await receive(ws) == "3probe"
        await assert_ws_accepted_and_closed(http, websocket_url(server, sid))
        await ws.send_str("5")
        await ws.send_str("4hello")
        assert await receive(ws) == "4hello"


async def test_an_abandoned_probe_leaves_the_session_on_polling(server, http):
    sid, _ = await open_polling(http, server)
    async with http.ws_connect(websocket_url(server, sid)) as ws:
        await ws.send_str("2probe")
        assert await receive(ws) == "3probe"
    # the probe closed before "5": polling goes on
    assert await post(http, server, sid, "4still polling") == (200, "ok")
    deadline = time.monotonic() + WAIT
    while (packets := await poll_packets(http, server, sid)) == ["6"]:
        # the server had not yet seen the probe go: one more NOOP
        assert time.monotonic() < deadline
    assert packets == ["4still polling"]


# -- every error code, with its status and body ------------------------------------------


async def test_error_unknown_transport(server, http):
    for query in ("EIO=4", "EIO=4&transport=abc", "EIO=4&transport=abc&sid=xyz"):
        assert_error(await request(http, "GET", f"{server.url}/engine.io/?{query}"), 0)


async def test_error_unknown_sid(server, http):
    assert_error(await poll(http, server, "unknown"), 1)
    assert_error(await post(http, server, "unknown", "4hi"), 1)
    await assert_ws_refused(http, websocket_url(server, "unknown"))


async def test_error_bad_handshake_method(server, http):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert_error(await request(http, method, polling_url(server)), 2)


async def test_error_bad_request(server, http):
    sid, _ = await open_polling(http, server)
    assert_error(await request(http, "PUT", polling_url(server, sid)), 3)
    assert_error(await post(http, server, sid, ""), 3)  # empty payload: closes
    assert_error(await poll(http, server, sid), 1)


async def test_error_websocket_transport_over_plain_http_is_bad_request(server, http):
    url = f"{server.url}/engine.io/?EIO=4&transport=websocket"
    assert_error(await request(http, "GET", url), 3)  # a websocket handshake without upgrade
    sid, _ = await open_polling(http, server)
    assert_error(await request(http, "GET", f"{url}&sid={sid}"), 3)  # transport mismatch


async def test_error_forbidden(server, http):
    headers = {"Origin": "http://evil.example.com"}
    assert_error(await request(http, "GET", polling_url(server), headers=headers), 4, 403)
    sid, _ = await open_polling(http, server)
    response = await request(http, "POST", polling_url(server, sid), data="4x", headers=headers)
    assert_error(response, 4, 403)
    assert await post(http, server, sid, "4still here") == (200, "ok")
    assert await poll_packets(http, server, sid) == ["4still here"]


async def test_error_unsupported_protocol_version(server, http):
    for eio in (None, "3", "5", "abc"):
        assert_error(await request(http, "GET", polling_url(server, eio=eio)), 5)


# -- maxPayload ------------------------------------------------------------------


async def test_polling_post_at_max_payload_is_accepted(server, http):
    sid, _ = await open_polling(http, server)
    body = "4" + "x" * (MAX_PAYLOAD - 1)
    assert await post(http, server, sid, body) == (200, "ok")
    assert await poll_packets(http, server, sid) == [body]


async def test_polling_post_over_max_payload_is_413_and_closes_the_session(server, http):
    sid, _ = await open_polling(http, server)
    status, _ = await post(http, server, sid, "4" + "x" * MAX_PAYLOAD)
    assert status == 413
    assert_error(await poll(http, server, sid), 1)


async def test_websocket_frame_at_max_payload_is_accepted(server, http):
    ws, _ = await open_websocket(http, server)
    async with ws:
        await ws.send_str("4" + "x" * (MAX_PAYLOAD - 1))
        assert await receive(ws) == "4" + "x" * (MAX_PAYLOAD - 1)
        await ws.send_bytes(b"\x01" * MAX_PAYLOAD)
        assert await receive(ws) == b"\x01" * MAX_PAYLOAD


@pytest.mark.parametrize(
    "frame",
    [
        "4" + "x" * MAX_PAYLOAD,
        b"\x01" * (MAX_PAYLOAD + 1),
        "4" + "€" * (MAX_PAYLOAD // 3 + 1),  # few characters, too many UTF-8 bytes
    ],
    ids=["text", "binary", "utf8"],
)
async def test_websocket_frame_over_max_payload_closes_with_1009(server, http, frame):
    ws, handshake = await open_websocket(http, server)
    async with ws:
        if isinstance(frame, str):
            await ws.send_str(frame)
        else:
            await ws.send_bytes(frame)
        # Daphne (autobahn) refuses to send 1009 for an application: it closes with 1000.
        assert await closed(ws) == (1000 if server.kind == "daphne" else 1009)
    await assert_session_gone(http, server, handshake["sid"])


# -- isolation -------------------------------------------------------------------


async def test_a_bad_session_does_not_affect_other_sessions(server, http):
    bad_poll, _ = await open_polling(http, server)
    good_poll, _ = await open_polling(http, server)
    good_ws, _ = await open_websocket(http, server)
    bad_ws, _ = await open_websocket(http, server)
    async with good_ws, bad_ws:
        # a pending poll on the good session across the other's failure
        pending = asyncio.ensure_future(poll_packets(http, server, good_poll))
        await asyncio.sleep(0.05)
        assert_error(await post(http, server, bad_poll, "abc"), 3)
        await bad_ws.send_str("zzz")
        await closed(bad_ws)
        assert_error(await poll(http, server, bad_poll), 1)

        assert await post(http, server, good_poll, "4still fine") == (200, "ok")
        assert await pending == ["4still fine"]
        await good_ws.send_str("4also fine")
        assert await receive(good_ws) == "4also fine"


# -- Origin and CORS ---------------------------------------------------------------


async def test_cors_preflight_is_not_granted_to_an_unknown_origin(server, http):
    headers = {
        "Origin": "http://evil.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with http.options(polling_url(server), headers=headers) as response:
        assert response.status == 403
        assert json.loads(await response.text()) == error(4)
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Methods" not in response.headers


async def test_same_origin_and_allowed_hosts_origins_get_the_cors_headers_they_need(server, http):
    """Any port of an ALLOWED_HOSTS host (a Vite dev server) may read the answers."""
    port = server.url.rsplit(":", 1)[1]
    for origin in (
        server.url,
        f"http://localhost:{port}",
        "https://localhost",
        "http://localhost:5173",
    ):
        async with http.get(polling_url(server), headers={"Origin": origin}) as response:
            assert response.status == 200, origin
            assert (await response.text())[0] == "0"
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
            assert response.headers["Vary"] == "Origin"
        ws, _ = await open_websocket(http, server, origin=origin)
        await ws.close()


async def test_dns_rebinding_is_refused_on_both_transports(server, http):
    """F15: the attacker's host name for our address, with the page's matching Origin."""
    headers = {"Host": "evil.example", "Origin": "http://evil.example"}
    async with http.get(polling_url(server), headers=headers) as response:
        assert response.status == 400
        assert json.loads(await response.text()) == error(3)
        assert "Access-Control-Allow-Origin" not in response.headers
    await assert_ws_refused(http, websocket_url(server), headers=headers)


async def test_websocket_from_a_foreign_origin_is_refused(server, http):
    await assert_ws_refused(http, websocket_url(server), origin="http://evil.example.com")
    await assert_ws_refused(http, websocket_url(server), origin="null")
    ws, _ = await open_websocket(http, server, origin=server.url)
    async with ws:
        await ws.send_str("4same origin")
        assert await receive(ws) == "4same origin"


async def test_upgrade_from_a_foreign_origin_is_refused(server, http):
    sid, _ = await open_polling(http, server)
    await assert_ws_refused(http, websocket_url(server, sid), origin="http://evil.example.com")
    assert await post(http, server, sid, "4still polling") == (200, "ok")
    assert await poll_packets(http, server, sid) == ["4still polling"]
