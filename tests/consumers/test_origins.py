"""Host, Origin and CORS, from the offending client's side, on both transports.

Each case opens a session over polling (the handshake GET) and over a websocket of its
own, with the headers a browser (or an attacker) would send, and checks what it gets:
refused (HTTP 400 or 403; a websocket closed before accept), or accepted with which
CORS headers, and whether its cookies still reach the application. The test settings
have ``ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]``.
"""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from .helpers import request

TRANSPORTS = ["polling", "websocket"]
LISTED = "https://app.example.com"
COOKIE = (b"cookie", b"sessionid=victim")


async def attempt(server, transport: str, headers: list[tuple[bytes, bytes]], scheme="http"):
    """Open a session: ("accepted", CORS headers, the scope the app got) or ("refused", status)."""
    if transport == "polling":
        response = await request(
            server, "GET", "EIO=4&transport=polling", headers=headers, scheme=scheme
        )
        if response["status"] != 200:
            return "refused", response["status"]
        sid = json.loads(response["body"][1:])["sid"]
        cors = {k: v for k, v in response["headers"].items() if k != b"content-type"}
        return "accepted", cors, server.echo.scopes[sid]
    comm = WebsocketCommunicator(
        server.ws, "/engine.io/?EIO=4&transport=websocket", headers=headers
    )
    comm.scope["scheme"] = "wss" if scheme == "https" else "ws"
    connected, code = await comm.connect()
    if not connected:
        await comm.wait()
        return "refused", 403 if code == 1008 else code
    sid = json.loads((await comm.receive_from())[1:])["sid"]
    scope = server.echo.scopes[sid]
    await comm.disconnect()
    return "accepted", {}, scope  # no CORS on a websocket


def cors_of(transport: str, headers: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return headers if transport == "polling" else {}


def reflected(origin: str, credentials: bool = True) -> dict[bytes, bytes]:
    headers = {b"access-control-allow-origin": origin.encode(), b"vary": b"Origin"}
    if credentials:
        headers[b"access-control-allow-credentials"] = b"true"
    return headers


def has_cookie(scope) -> bool:
    return any(name == b"cookie" for name, _ in scope["headers"])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_allowed_hosts_origin_gets_the_cors_headers_it_needs(servers, transport):
    """The Vite dev server case: a page on another port of an ALLOWED_HOSTS host."""
    server = servers()
    origin = "http://localhost:5173"
    headers = [(b"origin", origin.encode()), (b"host", b"localhost:8000"), COOKIE]
    outcome, cors, scope = await attempt(server, transport, headers)
    assert outcome == "accepted"
    assert cors == cors_of(transport, reflected(origin))
    assert has_cookie(scope)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_listed_origins_replace_the_allowed_hosts_rule(servers, transport):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    host = (b"host", b"localhost:8000")
    for origin in ("http://localhost:5173", "http://testserver"):
        assert await attempt(server, transport, [(b"origin", origin.encode()), host]) == (
            "refused",
            403,
        ), origin
    outcome, cors, _ = await attempt(server, transport, [(b"origin", LISTED.encode()), host])
    assert (outcome, cors) == ("accepted", cors_of(transport, reflected(LISTED)))
    outcome, cors, _ = await attempt(
        server, transport, [(b"origin", b"http://localhost:8000"), host]
    )  # same origin
    assert (outcome, cors) == ("accepted", cors_of(transport, reflected("http://localhost:8000")))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_same_origin_is_scheme_host_and_port(servers, transport):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])  # no ALLOWED_HOSTS rule: same origin only
    host = (b"host", b"testserver:8000")
    for origin in ("http://testserver:9999", "https://testserver:8000", "http://testserver"):
        outcome = await attempt(server, transport, [(b"origin", origin.encode()), host])
        assert outcome == ("refused", 403), origin
    assert (await attempt(server, transport, [(b"origin", b"http://testserver:8000"), host]))[
        0
    ] == "accepted"
    # default ports are the same origin with or without them
    https_host = (b"host", b"testserver:443")
    outcome = await attempt(
        server, transport, [(b"origin", b"https://testserver"), https_host], scheme="https"
    )
    assert outcome[0] == "accepted"


@pytest.mark.parametrize("transport", TRANSPORTS)
@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
async def test_same_origin_behind_a_tls_proxy(servers, transport):
    server = servers(CORS_ALLOWED_ORIGINS=[LISTED])
    headers = [(b"origin", b"https://testserver"), (b"host", b"testserver")]
    assert await attempt(server, transport, headers) == ("refused", 403)  # http, says ASGI
    proto = (b"x-forwarded-proto", b"https")
    assert (await attempt(server, transport, [*headers, proto]))[0] == "accepted"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_dns_rebinding_is_refused(servers, transport):
    """The attacker's name for our address: Origin and Host agree, ALLOWED_HOSTS does not."""
    server = servers()
    headers = [(b"origin", b"http://evil.example"), (b"host", b"evil.example"), COOKIE]
    status = 400 if transport == "polling" else 403
    assert await attempt(server, transport, headers) == ("refused", status)
    # without an Origin too, as Django answers any request for a host it does not serve
    assert await attempt(server, transport, [(b"host", b"evil.example")]) == ("refused", status)
    assert server.echo.connected == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_star_sends_a_literal_star_and_ignores_cookies(servers, transport):
    server = servers(CORS_ALLOWED_ORIGINS="*")
    headers = [(b"origin", b"https://elsewhere.example"), (b"host", b"testserver"), COOKIE]
    outcome, cors, scope = await attempt(server, transport, headers)
    assert outcome == "accepted"
    assert cors == cors_of(transport, {b"access-control-allow-origin": b"*"})
    assert not has_cookie(scope)  # the page's user is not the one whose cookies came along
    # an origin allowed anyway keeps its credentials
    same = [(b"origin", b"http://testserver"), (b"host", b"testserver"), COOKIE]
    outcome, cors, scope = await attempt(server, transport, same)
    assert cors == cors_of(transport, reflected("http://testserver"))
    assert has_cookie(scope)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_star_with_credentials_needs_the_explicit_opt_in(servers, transport):
    server = servers(CORS_ALLOWED_ORIGINS="*", CORS_CREDENTIALS=True)
    headers = [(b"origin", b"https://elsewhere.example"), COOKIE]
    outcome, cors, scope = await attempt(server, transport, headers)
    assert outcome == "accepted"
    assert cors == cors_of(transport, reflected("https://elsewhere.example"))
    assert has_cookie(scope)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("credentials", [None, True, False])
async def test_null_and_non_http_origins_are_never_allowed(servers, transport, credentials):
    server = servers(CORS_ALLOWED_ORIGINS="*", CORS_CREDENTIALS=credentials)
    for origin in (b"null", b"file://", b"chrome-extension://abc", b"http://"):
        assert await attempt(server, transport, [(b"origin", origin)]) == ("refused", 403)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_allowed_hosts_star_allows_any_origin_when_none_are_listed(servers, transport):
    """What the `django_socketio.W010` check warns about."""
    with override_settings(ALLOWED_HOSTS=["*"]):
        server = servers()
        headers = [(b"origin", b"http://evil.example"), (b"host", b"localhost"), COOKIE]
        outcome, cors, scope = await attempt(server, transport, headers)
        assert outcome == "accepted"
        assert cors == cors_of(transport, reflected("http://evil.example"))
        assert has_cookie(scope)
        server = servers(CORS_ALLOWED_ORIGINS=[LISTED])  # listing origins closes it
        assert await attempt(server, transport, headers) == ("refused", 403)


def test_remembered_decisions_are_bounded_and_follow_the_settings():
    """Decisions are cached per header values; a client varying them cannot grow the table."""
    from django_socketio import origins
    from django_socketio.conf import build_settings

    settings = build_settings({})
    for n in range(origins._MAX_DECISIONS + 100):
        scope = {
            "headers": [(b"host", b"testserver"), (b"origin", f"http://o{n}.example".encode())]
        }
        with pytest.raises(origins.EngineIOError):
            origins.admit(scope, settings)
        assert len(origins._decisions) <= origins._MAX_DECISIONS
    scope = {"headers": [(b"host", b"elsewhere.example")]}
    with pytest.raises(origins.EngineIOError):
        origins.admit(scope, settings)
    with override_settings(ALLOWED_HOSTS=["elsewhere.example"]):
        assert origins.admit(scope, settings).credentials  # not the remembered refusal
