"""The long-polling consumer, in process, through Channels' communicators."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.testing import ApplicationCommunicator
from django.test import override_settings

from .helpers import error, handshake, http_scope, poll, post, request

TEXT = b"text/plain; charset=UTF-8"
JSON = b"application/json"


def query(sid: str) -> str:
    return f"EIO=4&transport=polling&sid={sid}"


async def start_poll(server, sid: str, app=None) -> ApplicationCommunicator:
    """A GET that has been sent and is now waiting for packets."""
    comm = ApplicationCommunicator(app or server.http, http_scope("GET", query(sid)))
    await comm.send_input({"type": "http.request", "body": b""})
    assert await comm.receive_nothing(timeout=0.05)
    return comm


async def response_of(comm: ApplicationCommunicator) -> tuple[int, bytes]:
    start = await comm.receive_output()
    assert start["type"] == "http.response.start"
    body = await comm.receive_output()
    assert body["type"] == "http.response.body"
    await comm.wait()
    return start["status"], body["body"]


# -- handshake ---------------------------------------------------------------------


async def test_handshake_opens_a_session(server):
    response = await request(server, "GET", "EIO=4&transport=polling&t=NwXG3Fk")
    assert response["status"] == 200
    assert response["headers"] == {b"content-type": TEXT}
    body = response["body"].decode()
    assert body[0] == "0"
    handshake = json.loads(body[1:])
    sid = handshake.pop("sid")
    assert handshake == {
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000,
    }
    assert len(sid) == 20
    assert list(server.engine.connections) == [sid]
    assert server.echo.connected == [sid]


async def test_each_handshake_gets_its_own_sid(server):
    sids = {await handshake(server) for _ in range(5)}
    assert len(sids) == 5
    assert set(server.engine.connections) == sids


async def test_polling_only_server_offers_no_upgrade(servers):
    server = servers(TRANSPORTS=["polling"])
    response = await request(server, "GET", "EIO=4&transport=polling")
    assert json.loads(response["body"][1:])["upgrades"] == []


async def test_websocket_only_server_refuses_polling(servers):
    server = servers(TRANSPORTS=["websocket"])
    response = await request(server, "GET", "EIO=4&transport=polling")
    assert (response["status"], response["body"]) == (400, error(0, "Transport unknown"))
    assert response["headers"] == {b"content-type": JSON}


async def test_bad_requests_get_the_reference_error_bodies(server):
    sid = await handshake(server)
    cases = [
        ("GET", "EIO=4&transport=flash", 400, error(0, "Transport unknown")),
        ("GET", "EIO=4&transport=polling&sid=nope", 400, error(1, "Session ID unknown")),
        ("POST", "EIO=4&transport=polling&sid=nope", 400, error(1, "Session ID unknown")),
        ("POST", "EIO=4&transport=polling", 400, error(2, "Bad handshake method")),
        ("PUT", f"EIO=4&transport=polling&sid={sid}", 400, error(3, "Bad request")),
        ("GET", "EIO=3&transport=polling", 400, error(5, "Unsupported protocol version")),
    ]
    for method, query_string, status, body in cases:
        response = await request(server, method, query_string)
        assert (method, query_string, response["status"], response["body"]) == (
            method,
            query_string,
            status,
            body,
        )
        assert response["headers"] == {b"content-type": JSON}
    assert list(server.engine.connections) == [sid]  # none of that touched the session


# -- exchanging messages ---------------------------------------------------------------


async def test_post_then_get_echoes_text_and_binary(server):
    sid = await handshake(server)
    response = await post(server, sid, "4hello\x1ebAQIDBA==")
    assert (response["status"], response["body"]) == (200, b"ok")
    assert response["headers"] == {b"content-type": b"text/html"}
    assert server.echo.messages == [(sid, "hello"), (sid, b"\x01\x02\x03\x04")]
    response = await poll(server, sid)
    assert (response["status"], response["body"]) == (200, b"4hello\x1ebAQIDBA==")
    assert response["headers"] == {b"content-type": TEXT}


async def test_utf8_text_survives_the_round_trip(server):
    sid = await handshake(server)
    await post(server, sid, "4héllo €😀")
    assert (await poll(server, sid))["body"].decode() == "4héllo €😀"


async def test_get_waits_until_a_message_is_sent_without_a_busy_loop(server):
    sid = await handshake(server)
    receives = 0

    async def app(scope, receive, send):
        async def counted():
            nonlocal receives
            receives += 1
            return await receive()

        await server.http(scope, counted, send)

    comm = await start_poll(server, sid, app)
    cpu = time.process_time()
    await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu
    assert comm.output_queue.empty()
    # One receive for the request, one that waits for a disconnect; nothing spins.
    assert receives == 2
    assert cpu < 0.1, f"waiting for 0.2 s took {cpu:.3f} s of CPU"

    assert await server.engine.send(sid, "hi") is True
    assert await response_of(comm) == (200, b"4hi")


async def test_messages_sent_while_no_get_waits_are_queued_in_order(server):
    sid = await handshake(server)
    for data in ("a", b"\x00", "c"):
        assert await server.engine.send(sid, data) is True
    assert (await poll(server, sid))["body"] == b"4a\x1ebAA==\x1e4c"


async def test_disconnect_during_a_pending_get_ends_the_wait_and_the_session(server):
    sid = await handshake(server)
    comm = await start_poll(server, sid)
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(timeout=1)
    assert comm.output_queue.empty()  # nobody to answer
    assert server.echo.disconnected == [(sid, "transport error")]
    assert sid not in server.engine.connections
    assert await server.engine.send(sid, "late") is False
    assert (await poll(server, sid))["body"] == error(1, "Session ID unknown")


async def test_a_second_concurrent_get_closes_the_session(server):
    sid = await handshake(server)
    first = await start_poll(server, sid)
    response = await poll(server, sid)
    assert (response["status"], response["body"]) == (400, error(3, "Bad request"))
    assert await response_of(first) == (200, b"1")  # the waiting GET learns it is closed
    assert server.echo.disconnected == [(sid, "transport error")]
    assert sid not in server.engine.connections


async def test_client_close_answers_the_pending_get_with_noop(server):
    sid = await handshake(server)
    waiting = await start_poll(server, sid)
    response = await post(server, sid, "1")
    assert (response["status"], response["body"]) == (200, b"ok")
    assert await response_of(waiting) == (200, b"6")
    assert server.echo.disconnected == [(sid, "transport close")]
    assert sid not in server.engine.connections


async def test_server_close_delivers_the_queue_then_close(server):
    sid = await handshake(server)
    waiting = await start_poll(server, sid)
    await server.engine.send(sid, "bye")
    assert await response_of(waiting) == (200, b"4bye")
    await server.engine.send(sid, "last")
    await server.engine.close(sid)
    assert server.echo.disconnected == []  # waiting for the last GET
    assert await server.engine.send(sid, "too late") is False
    assert (await poll(server, sid))["body"] == b"4last\x1e1"
    await asyncio.sleep(0)  # the engine finalizes after answering
    assert server.echo.disconnected == [(sid, "forced close")]
    assert sid not in server.engine.connections


async def test_server_close_answers_a_waiting_get(server):
    sid = await handshake(server)
    waiting = await start_poll(server, sid)
    await server.engine.close(sid, "kicked")
    assert await response_of(waiting) == (200, b"1")
    await asyncio.sleep(0)
    assert server.echo.disconnected == [(sid, "kicked")]


# -- heartbeat ---------------------------------------------------------------------------


async def test_ping_is_sent_on_the_pending_get_and_a_pong_keeps_the_session(servers):
    server = servers(PING_INTERVAL=0.05, PING_TIMEOUT=0.1)
    sid = await handshake(server)
    for _ in range(3):
        assert (await poll(server, sid))["body"] == b"2"
        assert (await post(server, sid, "3"))["body"] == b"ok"
    assert server.echo.disconnected == []
    assert sid in server.engine.connections


async def test_no_pong_closes_with_ping_timeout(servers):
    server = servers(PING_INTERVAL=0.05, PING_TIMEOUT=0.2)
    started = asyncio.get_running_loop().time()
    sid = await handshake(server)
    assert (await poll(server, sid))["body"] == b"2"
    waiting = await start_poll(server, sid)
    assert await response_of(waiting) == (200, b"1")
    # The PONG is due PING_TIMEOUT after the PING was due (not after this client got it,
    # which on a loaded machine is later): no close before interval + timeout.
    assert asyncio.get_running_loop().time() - started >= 0.24
    assert server.echo.disconnected == [(sid, "ping timeout")]
    assert sid not in server.engine.connections


async def test_a_request_after_the_ping_timeout_finds_the_session_closed(servers):
    """Even when the loop was too busy to run the timer on time (as on a loaded machine)."""
    server = servers(PING_INTERVAL=0.05, PING_TIMEOUT=0.1)
    sid = await handshake(server)
    assert (await poll(server, sid))["body"] == b"2"
    time.sleep(0.15)  # block the loop past the pong deadline: the timeout timer cannot run
    response = await poll(server, sid)
    assert (response["status"], response["body"]) == (400, error(1, "Session ID unknown"))
    await asyncio.sleep(0)
    assert server.echo.disconnected == [(sid, "ping timeout")]


async def test_a_client_silent_for_interval_plus_timeout_finds_the_session_closed(servers):
    """The official suites' "should close the session upon ping timeout" on a busy loop.

    The client sleeps PING_INTERVAL + PING_TIMEOUT after the handshake and polls. The
    PING timer could not run on time either: the PONG deadline still counts from when
    the PING was due, not from when the loop got to it (the reference server fires its
    timers on time; it must not matter here that ours ran late).
    """
    server = servers(PING_INTERVAL=0.1, PING_TIMEOUT=0.1)
    sid = await handshake(server)
    time.sleep(0.21)  # block the loop: neither the PING nor the timeout timer can run
    response = await poll(server, sid)
    assert (response["status"], response["body"]) == (400, error(1, "Session ID unknown"))
    await asyncio.sleep(0)
    assert server.echo.disconnected == [(sid, "ping timeout")]


# -- limits and bad payloads --------------------------------------------------------------


async def test_post_over_max_payload_is_refused_before_the_body_is_read(servers):
    server = servers(MAX_PAYLOAD=100)
    sid = await handshake(server)
    comm = ApplicationCommunicator(server.http, http_scope("POST", query(sid)))
    await comm.send_input({"type": "http.request", "body": b"4" + b"x" * 59, "more_body": True})
    assert await comm.receive_nothing(timeout=0.05)  # 60 bytes: still under the limit
    await comm.send_input({"type": "http.request", "body": b"x" * 60, "more_body": True})
    # 120 bytes: refused now, while the last chunk has not been sent.
    start = await comm.receive_output()
    body = await comm.receive_output()
    assert (start["status"], body["body"]) == (413, b'{"code":3,"message":"Payload too large"}')
    await comm.wait()
    assert comm.input_queue.empty()
    assert server.echo.messages == []
    assert server.echo.disconnected == [(sid, "transport error")]


async def test_content_length_over_max_payload_is_refused_at_once(servers):
    server = servers(MAX_PAYLOAD=100)
    sid = await handshake(server)
    headers = [(b"content-length", b"101")]
    comm = ApplicationCommunicator(server.http, http_scope("POST", query(sid), headers))
    # Not a byte of the body has been sent.
    start = await comm.receive_output()
    body = await comm.receive_output()
    assert (start["status"], body["body"]) == (413, b'{"code":3,"message":"Payload too large"}')
    await comm.wait()
    assert server.echo.disconnected == [(sid, "transport error")]


async def test_post_at_max_payload_is_accepted(servers):
    server = servers(MAX_PAYLOAD=100)
    sid = await handshake(server)
    body = "4" + "x" * 99
    headers = [(b"content-length", b"100")]
    assert (await post(server, sid, body, headers))["body"] == b"ok"
    assert server.echo.messages == [(sid, "x" * 99)]


async def test_a_malformed_content_length_does_not_crash_the_consumer(servers):
    server = servers(MAX_PAYLOAD=100)
    # "²" is a digit to str.isdigit() but not to int(): the body is counted instead.
    for value in (b"\xb2", b"-1", b"abc", b""):
        sid = await handshake(server)
        response = await post(server, sid, "4hi", [(b"content-length", value)])
        assert (value, response["status"], response["body"]) == (value, 200, b"ok")
        assert server.echo.messages[-1] == (sid, "hi")


async def test_a_huge_content_length_is_refused(servers):
    server = servers(MAX_PAYLOAD=100)
    # More digits than int() converts by default (4300).
    for value in (b"9" * 5000, b"0" * 5000 + b"101"):
        sid = await handshake(server)
        response = await post(server, sid, "4hi", [(b"content-length", value)])
        assert response["status"] == 413
    sid = await handshake(server)
    response = await post(server, sid, "4hi", [(b"content-length", b"0" * 5000 + b"3")])
    assert (response["status"], response["body"]) == (200, b"ok")


async def test_invalid_payloads_get_400_and_close_the_session(server):
    for body in (b"9x", b"4a\x1e", b"b!!!", b"", b"4\xff"):
        sid = await handshake(server)
        response = await post(server, sid, body)
        assert (body, response["status"], response["body"]) == (
            body,
            400,
            error(3, "Bad request"),
        )
        assert server.echo.disconnected[-1] == (sid, "parse error")
        assert sid not in server.engine.connections
        assert (await poll(server, sid))["body"] == error(1, "Session ID unknown")
    assert server.echo.messages == []


async def test_an_unexpected_packet_closes_the_session_with_parse_error(server):
    sid = await handshake(server)
    await post(server, sid, "4before\x1e5\x1e4after")
    assert server.echo.messages == [(sid, "before")]  # nothing after the bad packet
    assert server.echo.disconnected == [(sid, "parse error")]
    assert sid not in server.engine.connections


# -- the handler ------------------------------------------------------------------------


async def test_a_handler_that_raises_does_not_break_the_session(server, caplog):
    sid = await handshake(server)
    with caplog.at_level(logging.ERROR, logger="django_socketio.engineio"):
        response = await post(server, sid, "4raise\x1e4after")
    assert (response["status"], response["body"]) == (200, b"ok")
    assert server.echo.messages == [(sid, "raise"), (sid, "after")]
    assert (await poll(server, sid))["body"] == b"4after"
    [record] = [r for r in caplog.records if r.name == "django_socketio.engineio"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Engine.IO handler Echo.on_message failed"
    assert str(record.exc_info[1]) == "the handler failed"
    assert server.echo.disconnected == []


# -- cookie ---------------------------------------------------------------------------------


async def test_no_cookie_by_default(server):
    response = await request(server, "GET", "EIO=4&transport=polling")
    assert b"set-cookie" not in response["headers"]


async def test_cookie_names_the_sid_on_the_handshake_only(servers):
    server = servers(COOKIE="io")
    response = await request(server, "GET", "EIO=4&transport=polling")
    sid = json.loads(response["body"][1:])["sid"]
    cookie = f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
    assert response["headers"][b"set-cookie"] == cookie.encode()
    assert b"set-cookie" not in (await post(server, sid, "4x"))["headers"]
    assert b"set-cookie" not in (await poll(server, sid))["headers"]


async def test_cookie_options(servers):
    server = servers(
        COOKIE={"name": "eio", "path": "/app", "httponly": False, "samesite": "", "secure": True}
    )
    response = await request(server, "GET", "EIO=4&transport=polling")
    sid = json.loads(response["body"][1:])["sid"]
    assert response["headers"][b"set-cookie"] == f"eio={sid}; Path=/app; Secure".encode()


async def test_the_cookie_is_secure_on_https_or_with_session_cookie_secure(servers):
    """F19: `Secure` follows the request's scheme, or SESSION_COOKIE_SECURE; explicit wins."""

    async def cookie(server, scheme="http") -> bytes:
        response = await request(server, "GET", "EIO=4&transport=polling", scheme=scheme)
        return response["headers"][b"set-cookie"].split(b"; ", 1)[1]

    server = servers(COOKIE="io")
    assert await cookie(server) == b"Path=/; HttpOnly; SameSite=Lax"
    assert await cookie(server, "https") == b"Path=/; HttpOnly; SameSite=Lax; Secure"
    with override_settings(SESSION_COOKIE_SECURE=True):
        assert await cookie(servers(COOKIE="io")) == b"Path=/; HttpOnly; SameSite=Lax; Secure"
    server = servers(COOKIE={"name": "io", "secure": False})
    assert await cookie(server, "https") == b"Path=/; HttpOnly; SameSite=Lax"


# -- origins and CORS -------------------------------------------------------------------------

LISTED = "https://app.example.com"
CORS = {
    b"access-control-allow-origin": LISTED.encode(),
    b"vary": b"Origin",
    b"access-control-allow-credentials": b"true",
}


async def test_cors_headers_for_a_listed_origin(servers):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    origin = [(b"origin", LISTED.encode())]
    response = await request(server, "GET", "EIO=4&transport=polling", headers=origin)
    assert response["headers"] == {b"content-type": TEXT, **CORS}
    sid = json.loads(response["body"][1:])["sid"]
    assert (await post(server, sid, "4x", origin))["headers"] == {
        b"content-type": b"text/html",
        **CORS,
    }
    assert (await poll(server, sid, origin))["headers"] == {b"content-type": TEXT, **CORS}
    # Errors too, so the page can read them.
    response = await poll(server, "nope", origin)
    assert response["headers"] == {b"content-type": JSON, **CORS}
    assert response["body"] == error(1, "Session ID unknown")


async def test_cors_without_credentials(servers):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED], CORS_CREDENTIALS=False)
    response = await request(
        server, "GET", "EIO=4&transport=polling", headers=[(b"origin", LISTED.encode())]
    )
    assert response["headers"] == {
        b"content-type": TEXT,
        b"access-control-allow-origin": LISTED.encode(),
        b"vary": b"Origin",
    }


async def test_a_foreign_origin_is_forbidden(servers):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    for origin in (b"https://evil.example", b"null", b"file://", b"https://app.example.com.evil"):
        response = await request(
            server, "GET", "EIO=4&transport=polling", headers=[(b"origin", origin)]
        )
        assert (origin, response["status"], response["body"]) == (
            origin,
            403,
            b'{"code":4,"message":"Forbidden"}',
        )
        assert response["headers"] == {b"content-type": JSON}
    assert server.engine.connections == {}
    assert server.echo.connected == []


async def test_a_foreign_origin_cannot_use_an_existing_session(servers):
    server = servers()
    sid = await handshake(server)
    response = await post(server, sid, "4x", [(b"origin", b"https://evil.example")])
    assert (response["status"], response["body"]) == (403, error(4, "Forbidden"))
    assert server.echo.messages == []


async def test_options_preflight_for_a_listed_origin(servers):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    response = await request(
        server,
        "OPTIONS",
        "EIO=4&transport=polling",
        headers=[
            (b"origin", LISTED.encode()),
            (b"access-control-request-method", b"POST"),
            (b"access-control-request-headers", b"content-type, x-token"),
        ],
    )
    assert (response["status"], response["body"]) == (204, b"")
    assert response["headers"] == {
        **CORS,
        b"access-control-allow-methods": b"GET, POST, OPTIONS",
        b"access-control-allow-headers": b"content-type, x-token",
    }
    assert server.engine.connections == {}


async def test_options_preflight_without_requested_headers(servers):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    sid = await handshake(server)
    response = await request(server, "OPTIONS", query(sid), headers=[(b"origin", LISTED.encode())])
    assert response["status"] == 204
    assert response["headers"] == {**CORS, b"access-control-allow-methods": b"GET, POST, OPTIONS"}
    assert list(server.engine.connections) == [sid]


async def test_options_without_an_origin_is_not_a_preflight(servers):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    response = await request(server, "OPTIONS", "EIO=4&transport=polling")
    assert (response["status"], response["body"]) == (400, error(2, "Bad handshake method"))
    assert response["headers"] == {b"content-type": JSON}
