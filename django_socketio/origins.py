"""Who may talk to the server from a browser: the Origin check and CORS headers.

[edge] A request without an Origin header (a non-browser client) is allowed. A
browser's Origin is allowed when it is the same origin as the request, when its
host matches ``ALLOWED_HOSTS`` (the rule Channels' AllowedHostsOriginValidator
applies to websockets), or when it is listed in ``SOCKETIO["CORS_ALLOWED_ORIGINS"]``.
CORS response headers are only sent for the listed origins: same-origin pages
need none, and ALLOWED_HOSTS says which hosts serve the site, not who may read it
cross-origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.http.request import validate_host

from .conf import Settings


def _allowed_hosts() -> list[str]:
    hosts = list(django_settings.ALLOWED_HOSTS)
    if django_settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def cors_listed(origin: str, settings: Settings) -> bool:
    return settings.cors_any_origin or origin.rstrip("/") in settings.cors_allowed_origins


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    if origin is None:
        return True
    if cors_listed(origin, settings):
        return True
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname
    except ValueError:
        return False
    if not hostname or parts.scheme not in ("http", "https"):
        return False
    if host is not None and parts.netloc.lower() == host.lower():
        return True
    return validate_host(hostname, _allowed_hosts())


def cors_headers(origin: str | None, settings: Settings) -> list[tuple[bytes, bytes]]:
    if origin is None or not cors_listed(origin, settings):
        return []
    headers = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
    if settings.cors_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    return headers
