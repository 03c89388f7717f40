"""Who may talk to the server from a browser: the Host, the Origin, the CORS headers.

[edge] Django's own rules, applied to both transports before anything else runs:

- **Host** is validated as ``HttpRequest.get_host()`` does: the ``Host`` header (or
  ``X-Forwarded-Host`` with ``USE_X_FORWARDED_HOST``) must match ``ALLOWED_HOSTS`` (with
  DEBUG's localhost defaults when it is empty). Otherwise HTTP 400, or the websocket
  is refused: this is what defeats DNS rebinding, where the page's origin and the Host
  are both the attacker's name for our address.
- **Origin**: none (not a browser) is allowed. A browser's origin is allowed when it is
  the same origin as the request (scheme, host and port, as Django's CSRF check; the
  scheme honours ``SECURE_PROXY_SSL_HEADER``); when ``SOCKETIO["CORS_ALLOWED_ORIGINS"]``
  lists it, or is ``"*"`` (any origin but ``null``); or, when no origins are listed,
  when its host matches ``ALLOWED_HOSTS`` (any scheme and port: Channels'
  ``AllowedHostsOriginValidator`` rule). Otherwise HTTP 403, or the websocket is refused.
- **CORS**: every allowed request with an Origin gets the headers a browser needs to
  read the answer: the origin reflected (``Vary: Origin``) with
  ``Access-Control-Allow-Credentials: true`` unless ``CORS_CREDENTIALS`` is False. An
  origin let in by ``"*"`` alone gets a literal ``*`` and no credentials, and its
  requests' cookies are ignored (a websocket carries them whatever CORS says), unless
  ``CORS_CREDENTIALS`` is explicitly True: then any site can act as the logged-in user,
  which ``check --deploy`` points out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http.request import split_domain_port, validate_host

from .conf import Settings
from .exceptions import EngineIOError, ErrorCode

Headers = list[tuple[bytes, bytes]]
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Admission:
    """An allowed request: the CORS headers for its responses, and whether its cookies
    may identify a user."""

    cors: Headers
    credentials: bool = True


_NO_ORIGIN = Admission([])


def allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS``, or DEBUG's defaults when it is empty (as ``get_host()``)."""
    hosts = list(django_settings.ALLOWED_HOSTS)
    if django_settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def request_host(scope: dict[str, Any]) -> str | None:
    """The validated ``host[:port]`` of the request (None without a Host header).

    Raises EngineIOError(BAD_REQUEST) for a host ``ALLOWED_HOSTS`` does not match.
    """
    host = None
    if django_settings.USE_X_FORWARDED_HOST:
        host = _header(scope, b"x-forwarded-host")
    if host is None:
        host = _header(scope, b"host")
    if host is None:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, allowed_hosts()):
        raise EngineIOError(ErrorCode.BAD_REQUEST)
    return host


def request_is_secure(scope: dict[str, Any]) -> bool:
    """As ``HttpRequest.is_secure()``: ``SECURE_PROXY_SSL_HEADER``, else the ASGI scheme."""
    proxy_header = django_settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        name, secure_value = proxy_header
        key = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        value = _header(scope, key)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in ("https", "wss")


def _origin_parts(origin: str) -> tuple[str, str, int] | None:
    """(scheme, lower-case host, port) of an http(s) origin; None for anything else."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _same_origin(origin: tuple[str, str, int], host: str | None, secure: bool) -> bool:
    if host is None:
        return False
    ours = _origin_parts(("https://" if secure else "http://") + host)
    return ours is not None and ours == origin


def admit(scope: dict[str, Any], settings: Settings) -> Admission:
    """Check a request's Host and Origin; what its responses need. Raises EngineIOError.

    Every polling request asks, and a decision depends only on a few header values
    and the settings, so decisions are remembered (and forgotten when a setting
    changes, or when a client varying its headers fills the table).
    """
    key = (id(settings), scope.get("scheme"), *_relevant_headers(scope))
    cached = _decisions.get(key)
    if cached is not None and cached[0] is settings:  # (the entry keeps the id taken)
        decision = cached[1]
    else:
        try:
            decision = _admit(scope, settings)
        except EngineIOError as exc:
            decision = exc.code
        if len(_decisions) >= _MAX_DECISIONS:
            _decisions.clear()
        _decisions[key] = (settings, decision)
    if isinstance(decision, ErrorCode):
        raise EngineIOError(decision)
    return decision


_RELEVANT = (b"host", b"origin", b"x-forwarded-host")
_MAX_DECISIONS = 1024
_decisions: dict[tuple[Any, ...], tuple[Settings, Admission | ErrorCode]] = {}


def _relevant_headers(scope: dict[str, Any]) -> list[Any]:
    relevant = _relevant_names()
    # (name, value) pairs; some servers give lists, which are not hashable
    return [(name, value) for name, value in scope.get("headers", ()) if name in relevant]


@cache
def _relevant_names() -> frozenset[bytes]:
    """The headers a decision reads: Host, Origin, and the proxy's, when configured."""
    proxy_header = django_settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return frozenset(_RELEVANT)
    name = proxy_header[0].removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    return frozenset((*_RELEVANT, name))


@receiver(setting_changed)
def _forget_decisions(**kwargs: Any) -> None:
    _decisions.clear()
    _relevant_names.cache_clear()


def _admit(scope: dict[str, Any], settings: Settings) -> Admission:
    host = request_host(scope)
    origin = _header(scope, b"origin")
    if origin is None:
        return _NO_ORIGIN
    parts = _origin_parts(origin)
    if parts is None:  # "null", file://, garbage: never a trusted page
        raise EngineIOError(ErrorCode.FORBIDDEN)
    listed = settings.cors_allowed_origins
    known = (
        _same_origin(parts, host, request_is_secure(scope))
        or origin.rstrip("/") in listed
        or (
            not listed
            and validate_host(split_domain_port(urlsplit(origin).netloc)[0], allowed_hosts())
        )
    )
    credentials = settings.cors_credentials is not False
    if not known:
        if not settings.cors_any_origin:
            raise EngineIOError(ErrorCode.FORBIDDEN)
        if settings.cors_credentials is not True:  # "*" alone: a public, anonymous API
            return Admission([(b"access-control-allow-origin", b"*")], credentials=False)
    cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
    if credentials:
        cors.append((b"access-control-allow-credentials", b"true"))
    return Admission(cors, credentials)


def without_credentials(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope with nothing that identifies a user: no cookies, no user, no session."""
    scope = {k: v for k, v in scope.items() if k not in ("user", "session", "cookies")}
    scope["headers"] = [(k, v) for k, v in scope.get("headers", ()) if k != b"cookie"]
    return scope
