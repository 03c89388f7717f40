"""System checks for the SOCKETIO setting (``manage.py check``).

[edge] Misconfiguration is reported here, with ids, instead of crashing at the
first connection.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import DEFAULTS

DAPHNE_MAX_MESSAGE = 1024 * 1024


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    raw = getattr(settings, "SOCKETIO", {})
    if not isinstance(raw, dict):
        return [Error("SOCKETIO must be a dict.", id="django_socketio.E001")]
    messages: list[Any] = []
    for key in sorted(set(raw) - set(DEFAULTS)):
        messages.append(
            Error(
                f"Unknown SOCKETIO key {key!r}.",
                hint="Known keys: " + ", ".join(sorted(DEFAULTS)),
                id="django_socketio.E002",
            )
        )
    for key in ("PING_INTERVAL", "PING_TIMEOUT", "CONNECT_TIMEOUT"):
        value = raw.get(key, DEFAULTS[key])
        if not isinstance(value, Real) or isinstance(value, bool) or value <= 0:
            messages.append(
                Error(
                    f"SOCKETIO[{key!r}] must be a positive number of seconds.",
                    id="django_socketio.E003",
                )
            )
    for key in ("MAX_PAYLOAD", "MAX_ATTACHMENTS"):
        value = raw.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            messages.append(
                Error(f"SOCKETIO[{key!r}] must be a positive integer.", id="django_socketio.E004")
            )
    transports = raw.get("TRANSPORTS", DEFAULTS["TRANSPORTS"])
    if (
        isinstance(transports, str)
        or not transports
        or not set(transports) <= {"polling", "websocket"}
    ):
        messages.append(
            Error(
                "SOCKETIO['TRANSPORTS'] must list 'polling' and/or 'websocket'.",
                id="django_socketio.E005",
            )
        )
    payload = raw.get("MAX_PAYLOAD", DEFAULTS["MAX_PAYLOAD"])
    if isinstance(payload, int) and payload > DAPHNE_MAX_MESSAGE:
        messages.append(
            Warning(
                f"SOCKETIO['MAX_PAYLOAD'] is {payload} bytes, above daphne's default websocket "
                f"message limit of {DAPHNE_MAX_MESSAGE}.",
                hint="Start daphne with --websocket-max-message-size and "
                "--websocket-max-frame-size.",
                id="django_socketio.W001",
            )
        )
    return messages
