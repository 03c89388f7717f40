"""The `SOCKETIO = {...}` setting, read once into a frozen `Settings`.

[edge] Keys are upper case like Django's other dict settings; times are in
seconds. Wrong values are reported by `checks.py` (``manage.py check``); this
module never raises at import, and `build_settings` (first called when the
ASGI application is built) raises `ImproperlyConfigured` naming the key, with
the same message as the check, rather than a bare ``ValueError`` from deep
inside daphne's start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .engineio.session import EngineConfig

DEFAULTS: dict[str, Any] = {
    # Engine.IO
    "PING_INTERVAL": 25.0,  # seconds between server pings
    "PING_TIMEOUT": 20.0,  # seconds to wait for the pong before closing
    "MAX_PAYLOAD": 1_000_000,  # bytes per polling POST or websocket message
    "PATH": "socket.io",  # URL path, without slashes
    "TRANSPORTS": ("polling", "websocket"),
    "CORS_ALLOWED_ORIGINS": (),  # extra origins ("https://app.example.com") or "*"
    "CORS_CREDENTIALS": True,  # Access-Control-Allow-Credentials for allowed origins
    "COOKIE": None,  # None, a cookie name, or a dict: name, path, httponly, samesite, secure
    # Socket.IO
    "CONNECT_TIMEOUT": 45.0,  # seconds for a session to join a namespace
    "MAX_ATTACHMENTS": 10,  # binary attachments per packet
    "MAX_DEPTH": 64,  # how deeply arrays/objects may nest in a packet's JSON
    # Several processes
    "CHANNEL_LAYER": "default",  # alias in CHANNEL_LAYERS; None: this process only
    "NODE_HEARTBEAT_INTERVAL": 5.0,  # seconds between a node's heartbeats
    "NODE_TIMEOUT": 15.0,  # a node silent this long is forgotten
    "REQUEST_TIMEOUT": 5.0,  # default bound on cross-node queries
    "NODE_CHANNEL_CAPACITY": 10_000,  # messages a node channel may hold (layer capacity)
}


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str = "io"
    path: str = "/"
    httponly: bool = True
    samesite: str = "Lax"
    secure: bool = False

    def header(self, sid: str) -> bytes:
        parts = [f"{self.name}={sid}", f"Path={self.path}"]
        if self.httponly:
            parts.append("HttpOnly")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")


@dataclass(frozen=True, slots=True)
class Settings:
    engine: EngineConfig
    path: str
    cors_allowed_origins: tuple[str, ...]
    cors_credentials: bool
    cookie: Cookie | None
    connect_timeout: float
    max_attachments: int
    max_depth: int
    channel_layer: str | None
    node_heartbeat_interval: float
    node_timeout: float
    request_timeout: float
    node_channel_capacity: int

    @property
    def cors_any_origin(self) -> bool:
        return "*" in self.cors_allowed_origins


def user_settings() -> dict[str, Any]:
    value = getattr(django_settings, "SOCKETIO", None)
    return value if isinstance(value, dict) else {}


def build_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Merge DEFAULTS, the project's SOCKETIO dict and `overrides` into Settings."""
    from .checks import first_error

    given = {**user_settings(), **(overrides or {})}
    problem = first_error(given)
    if problem is not None:
        raise ImproperlyConfigured(f"{problem} (manage.py check lists every problem)")
    raw = {**DEFAULTS, **given}
    origins = raw["CORS_ALLOWED_ORIGINS"]
    origins = (origins,) if isinstance(origins, str) else tuple(origins or ())
    cookie = raw["COOKIE"]
    if isinstance(cookie, str):
        cookie = Cookie(name=cookie)
    elif isinstance(cookie, dict):
        cookie = Cookie(**cookie)
    elif cookie is True:
        cookie = Cookie()
    else:
        cookie = None
    return Settings(
        engine=EngineConfig(
            ping_interval=float(raw["PING_INTERVAL"]),
            ping_timeout=float(raw["PING_TIMEOUT"]),
            max_payload=int(raw["MAX_PAYLOAD"]),
            transports=tuple(raw["TRANSPORTS"]),
        ),
        path=str(raw["PATH"]).strip("/"),
        cors_allowed_origins=tuple(o.rstrip("/") for o in origins),
        cors_credentials=bool(raw["CORS_CREDENTIALS"]),
        cookie=cookie,
        connect_timeout=float(raw["CONNECT_TIMEOUT"]),
        max_attachments=int(raw["MAX_ATTACHMENTS"]),
        max_depth=int(raw["MAX_DEPTH"]),
        channel_layer=raw["CHANNEL_LAYER"],
        node_heartbeat_interval=float(raw["NODE_HEARTBEAT_INTERVAL"]),
        node_timeout=float(raw["NODE_TIMEOUT"]),
        request_timeout=float(raw["REQUEST_TIMEOUT"]),
        node_channel_capacity=int(raw["NODE_CHANNEL_CAPACITY"]),
    )


@cache
def get_settings() -> Settings:
    return build_settings()


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "SOCKETIO":
        get_settings.cache_clear()
