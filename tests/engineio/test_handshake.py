"""Request validation: each bad request gets the reference server's error code and status."""

from __future__ import annotations

import json

import pytest

from django_socketio.engineio.handshake import Request, parse_query, parse_request
from django_socketio.exceptions import EngineIOError, ErrorCode, ProtocolError

BOTH = ("polling", "websocket")

# (method, query string, websocket?, transports, code)
BAD_REQUESTS = [
    ("GET", b"EIO=4", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("GET", b"EIO=4&transport=", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("GET", b"EIO=4&transport=flash", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("GET", b"EIO=4&transport=Polling", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    ("GET", b"EIO=4&transport=webtransport", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    # An HTTP request can only be polling; a websocket connect must say websocket
    # (the reference server: TRANSPORT_HANDSHAKE_ERROR / TRANSPORT_MISMATCH).
    ("GET", b"EIO=4&transport=websocket", False, BOTH, ErrorCode.BAD_REQUEST),
    ("GET", b"EIO=4&transport=polling", True, BOTH, ErrorCode.BAD_REQUEST),
    ("GET", b"EIO=4&transport=websocket&sid=abc", False, BOTH, ErrorCode.BAD_REQUEST),
    ("POST", b"EIO=4&transport=websocket&sid=abc", False, BOTH, ErrorCode.BAD_REQUEST),
    # A transport the server does not offer.
    ("GET", b"EIO=4&transport=websocket", True, ("polling",), ErrorCode.UNKNOWN_TRANSPORT),
    ("GET", b"EIO=4&transport=polling", False, ("websocket",), ErrorCode.UNKNOWN_TRANSPORT),
    # The transport is checked first, whatever else is wrong.
    ("POST", b"transport=flash", False, BOTH, ErrorCode.UNKNOWN_TRANSPORT),
    # A handshake is a GET.
    ("POST", b"EIO=4&transport=polling", False, BOTH, ErrorCode.BAD_HANDSHAKE_METHOD),
    ("PUT", b"EIO=4&transport=polling", False, BOTH, ErrorCode.BAD_HANDSHAKE_METHOD),
    ("POST", b"EIO=4&transport=polling&sid=", False, BOTH, ErrorCode.BAD_HANDSHAKE_METHOD),
    # ... checked before the protocol version.
    ("POST", b"transport=polling", False, BOTH, ErrorCode.BAD_HANDSHAKE_METHOD),
    # Only Engine.IO v4.
    ("GET", b"transport=polling", False, BOTH, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
    ("GET", b"EIO=3&transport=polling", False, BOTH, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
    ("GET", b"EIO=5&transport=polling", False, BOTH, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
    ("GET", b"EIO=04&transport=polling", False, BOTH, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
    ("GET", b"EIO=&transport=websocket", True, BOTH, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION),
    # With a sid, polling takes GET and POST only.
    ("PUT", b"EIO=4&transport=polling&sid=abc", False, BOTH, ErrorCode.BAD_REQUEST),
    ("DELETE", b"EIO=4&transport=polling&sid=abc", False, BOTH, ErrorCode.BAD_REQUEST),
    ("OPTIONS", b"EIO=4&transport=polling&sid=abc", False, BOTH, ErrorCode.BAD_REQUEST),
]


@pytest.mark.parametrize(("method", "query", "websocket", "transports", "code"), BAD_REQUESTS)
def test_bad_request_gets_its_error_code_and_status_400(method, query, websocket, transports, code):
    with pytest.raises(EngineIOError) as exc:
        parse_request(method, parse_query(query), websocket, transports)
    assert exc.value.code is code
    assert exc.value.status == 400
    assert isinstance(exc.value, ProtocolError)


GOOD_REQUESTS = [
    ("GET", b"EIO=4&transport=polling", False, Request("polling", None, "GET")),
    ("GET", b"EIO=4&transport=polling&t=OdxNT1a", False, Request("polling", None, "GET")),
    ("GET", b"EIO=4&transport=polling&sid=", False, Request("polling", None, "GET")),
    ("GET", b"EIO=4&transport=polling&sid=abc", False, Request("polling", "abc", "GET")),
    ("POST", b"EIO=4&transport=polling&sid=abc", False, Request("polling", "abc", "POST")),
    # A request with a sid is not a handshake: its EIO is not checked here.
    ("POST", b"transport=polling&sid=abc", False, Request("polling", "abc", "POST")),
    ("GET", b"EIO=4&transport=websocket", True, Request("websocket", None, "GET")),
    ("GET", b"EIO=4&transport=websocket&sid=abc", True, Request("websocket", "abc", "GET")),
    # Percent-encoding is undone.
    ("GET", b"EIO=4&transport=polling&sid=a%2Bb", False, Request("polling", "a+b", "GET")),
]


@pytest.mark.parametrize(("method", "query", "websocket", "request_"), GOOD_REQUESTS)
def test_good_request_is_parsed(method, query, websocket, request_):
    assert parse_request(method, parse_query(query), websocket, BOTH) == request_


def test_parse_query_keeps_blank_values_and_takes_the_last_duplicate():
    assert parse_query(b"EIO=4&transport=polling&transport=websocket&sid=&x") == {
        "EIO": "4",
        "transport": "websocket",
        "sid": "",
        "x": "",
    }


def test_parse_query_reads_bytes_as_latin_1():
    assert parse_query(b"sid=\xe9") == {"sid": "é"}
    assert parse_query(b"sid=%C3%A9") == {"sid": "é"}


# -- the error table and its wire form ----------------------------------------------

ERRORS = [
    (ErrorCode.UNKNOWN_TRANSPORT, 400, b'{"code":0,"message":"Transport unknown"}'),
    (ErrorCode.UNKNOWN_SID, 400, b'{"code":1,"message":"Session ID unknown"}'),
    (ErrorCode.BAD_HANDSHAKE_METHOD, 400, b'{"code":2,"message":"Bad handshake method"}'),
    (ErrorCode.BAD_REQUEST, 400, b'{"code":3,"message":"Bad request"}'),
    (ErrorCode.FORBIDDEN, 403, b'{"code":4,"message":"Forbidden"}'),
    (
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
        400,
        b'{"code":5,"message":"Unsupported protocol version"}',
    ),
]


@pytest.mark.parametrize(("code", "status", "body"), ERRORS)
def test_error_status_and_body(code, status, body):
    error = EngineIOError(code)
    assert error.status == status
    assert error.body() == body
    assert json.loads(error.body()) == {"code": int(code), "message": code.message}
    assert str(error) == code.message


def test_every_error_code_is_in_the_table():
    assert [code for code, _, _ in ERRORS] == list(ErrorCode)
    assert [int(code) for code in ErrorCode] == [0, 1, 2, 3, 4, 5]


def test_an_explicit_status_overrides_the_default():
    error = EngineIOError(ErrorCode.BAD_REQUEST, status=413)
    assert (error.status, error.body()) == (413, b'{"code":3,"message":"Bad request"}')
