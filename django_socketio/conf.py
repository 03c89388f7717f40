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
from .socketio.limits import InboundLimits
from .socketio.recovery import RecoveryConfig

DEFAULTS: dict[str, Any] = {
    # Engine.IO
    "PING_INTERVAL": 25.0,  # seconds between server pings
    "PING_TIMEOUT": 20.0,  # seconds to wait for the pong before closing
    "MAX_PAYLOAD": 1_000_000,  # bytes per polling POST or websocket message
    "PATH": "socket.io",  # URL path, without slashes
    "TRANSPORTS": ("polling", "websocket"),
    "ALLOW_EIO3": False,  # also serve Engine.IO v3 clients (Socket.IO 1.x/2.x)
    "CORS_ALLOWED_ORIGINS": (),  # cross-origin pages ("https://app.example.com") or "*"
    # Access-Control-Allow-Credentials for allowed origins; None: yes, but not to an
    # origin let in by "*" alone (True explicitly: reflect credentials to any origin)
    "CORS_CREDENTIALS": None,
    "COOKIE": None,  # None, a cookie name, or a dict: name, path, httponly, samesite, secure
    "MAX_BACKLOG_BYTES": 8 * 1024 * 1024,  # sent to a client and not yet read by it
    "MAX_BACKLOG_PACKETS": 10_000,  # the same, in packets
    "BACKLOG_POLICY": "disconnect",  # past a backlog limit: "disconnect" or "drop"
    "MAX_PAYLOAD_PACKETS": 1_000,  # packets per polling POST
    "UPGRADE_TIMEOUT": 10.0,  # seconds for a probing websocket to finish the upgrade
    # seconds a new polling session waits for its websocket, which may reach another
    # process and take the session over, before the application sees it; 0: never
    "TAKEOVER_WINDOW": 0.3,
    "VOLATILE_LATEST": False,  # keep the newest volatile message for a client behind
    # Socket.IO
    "CONNECT_TIMEOUT": 45.0,  # seconds for a session to join a namespace
    "MAX_ATTACHMENTS": 10,  # binary attachments per packet
    "MAX_DEPTH": 64,  # how deeply arrays/objects may nest in a packet's JSON
    # Inbound limits (None: off); the README's Limits section says what a client sees
    "EVENTS_PER_SECOND": None,  # per socket: token bucket refill rate
    "EVENTS_BURST": None,  # per socket: bucket size (None: EVENTS_PER_SECOND)
    "MAX_HANDLERS_IN_FLIGHT": 100,  # per socket: events whose handler has not finished
    "SYNC_HANDLERS_PER_SOCKET": 1,  # per socket: sync handlers in worker threads at once
    "EVENT_LIMIT_POLICY": "drop",  # "drop" (log once per 10 s) or "disconnect"
    "EVENT_LIMIT_ERROR_ACK": False,  # answer a refused event's ack with an error object
    "MAX_NAMESPACES_PER_CONNECTION": 100,  # namespaces one connection may join
    "MAX_ROOMS_PER_SOCKET": None,  # rooms a socket may be in; join beyond raises
    "CONNECTIONS_PER_MINUTE": None,  # new connections per client address per minute
    "CLIENT_ADDRESS_HEADER": None,  # header your proxy sets with the client address
    "PARSER": "json",  # "json", "msgpack", or "auto" (each session's first message tells)
    # dotted path of a json.JSONEncoder subclass; its default() writes other types
    "JSON_ENCODER": "django.core.serializers.json.DjangoJSONEncoder",
    # Several processes
    "CHANNEL_LAYER": "default",  # alias in CHANNEL_LAYERS; None: this process only
    "NODE_HEARTBEAT_INTERVAL": 5.0,  # seconds between a node's heartbeats
    "NODE_TIMEOUT": 15.0,  # a node silent this long is forgotten
    "REQUEST_TIMEOUT": 5.0,  # default bound on cross-node queries
    "NODE_CHANNEL_CAPACITY": 10_000,  # messages a node channel may hold (layer capacity)
    "FORWARDED_REQUESTS": 1000,  # polling requests carried to other processes at once; 0: none
    # Operating
    "ADMIN_UI": None,  # a dict: serve the Socket.IO Admin UI protocol (see admin_ui.py)
    # Connection state recovery: None (off) or a dict, see RECOVERY_DEFAULTS
    "RECOVERY": None,
}

#: What ``SOCKETIO["RECOVERY"] = {}`` means; given keys override these.
RECOVERY_DEFAULTS: dict[str, Any] = {
    "MAX_DISCONNECTION_DURATION": 120.0,  # seconds a session and its missed events are kept
    "SKIP_MIDDLEWARES": True,  # a recovered socket does not run connection middlewares
    "MAX_EVENTS": 10_000,  # events kept at most (per process in memory; the Redis stream's MAXLEN)
    # "auto": the Redis of a channels-redis layer, else "memory"; or a redis:// URL
    "STORE": "auto",
}


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str = "io"
    path: str = "/"
    httponly: bool = True
    samesite: str = "Lax"
    secure: bool | None = None  # None: on https requests, or with SESSION_COOKIE_SECURE

    def header(self, sid: str, https: bool = False) -> bytes:
        parts = [f"{self.name}={sid}", f"Path={self.path}"]
        if self.httponly:
            parts.append("HttpOnly")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        secure = self.secure
        if secure is None:
            secure = https or bool(getattr(django_settings, "SESSION_COOKIE_SECURE", False))
        if secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")


@dataclass(frozen=True, slots=True)
class Settings:
    engine: EngineConfig
    path: str
    cors_allowed_origins: tuple[str, ...]
    cors_credentials: bool | None
    cookie: Cookie | None
    connect_timeout: float
    max_attachments: int
    max_depth: int
    inbound: InboundLimits
    parser: str
    json_encoder: str
    channel_layer: str | None
    node_heartbeat_interval: float
    node_timeout: float
    request_timeout: float
    node_channel_capacity: int
    forwarded_requests: int = 1000
    admin_ui: dict[str, Any] | None = None
    recovery: RecoveryConfig | None = None

    @property
    def cors_any_origin(self) -> bool:
        return "*" in self.cors_allowed_origins


def _optional(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)


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
            allow_eio3=bool(raw["ALLOW_EIO3"]),
            connections_per_minute=_optional(int, raw["CONNECTIONS_PER_MINUTE"]),
            client_address_header=_optional(str, raw["CLIENT_ADDRESS_HEADER"]),
            max_backlog_bytes=int(raw["MAX_BACKLOG_BYTES"]),
            max_backlog_packets=int(raw["MAX_BACKLOG_PACKETS"]),
            backlog_policy=str(raw["BACKLOG_POLICY"]),
            max_payload_packets=int(raw["MAX_PAYLOAD_PACKETS"]),
            upgrade_timeout=float(raw["UPGRADE_TIMEOUT"]),
            takeover_window=float(raw["TAKEOVER_WINDOW"]),
            volatile_latest=bool(raw["VOLATILE_LATEST"]),
        ),
        path=str(raw["PATH"]).strip("/"),
        cors_allowed_origins=tuple(o.rstrip("/") for o in origins),
        cors_credentials=(
            None if raw["CORS_CREDENTIALS"] is None else bool(raw["CORS_CREDENTIALS"])
        ),
        cookie=cookie,
        connect_timeout=float(raw["CONNECT_TIMEOUT"]),
        max_attachments=int(raw["MAX_ATTACHMENTS"]),
        max_depth=int(raw["MAX_DEPTH"]),
        inbound=InboundLimits(
            events_per_second=_optional(float, raw["EVENTS_PER_SECOND"]),
            events_burst=_optional(int, raw["EVENTS_BURST"]),
            max_handlers_in_flight=_optional(int, raw["MAX_HANDLERS_IN_FLIGHT"]),
            sync_handlers_per_socket=int(raw["SYNC_HANDLERS_PER_SOCKET"]),
            policy=str(raw["EVENT_LIMIT_POLICY"]),
            error_ack=bool(raw["EVENT_LIMIT_ERROR_ACK"]),
            max_namespaces=_optional(int, raw["MAX_NAMESPACES_PER_CONNECTION"]),
            max_rooms=_optional(int, raw["MAX_ROOMS_PER_SOCKET"]),
        ),
        parser=str(raw["PARSER"]),
        json_encoder=str(raw["JSON_ENCODER"]),
        channel_layer=raw["CHANNEL_LAYER"],
        node_heartbeat_interval=float(raw["NODE_HEARTBEAT_INTERVAL"]),
        node_timeout=float(raw["NODE_TIMEOUT"]),
        request_timeout=float(raw["REQUEST_TIMEOUT"]),
        node_channel_capacity=int(raw["NODE_CHANNEL_CAPACITY"]),
        forwarded_requests=int(raw["FORWARDED_REQUESTS"]),
        admin_ui=raw["ADMIN_UI"],
        recovery=_recovery(raw["RECOVERY"]),
    )


def _recovery(value: dict[str, Any] | None) -> RecoveryConfig | None:
    if value is None:
        return None
    merged = {**RECOVERY_DEFAULTS, **value}
    return RecoveryConfig(
        max_disconnection_duration=float(merged["MAX_DISCONNECTION_DURATION"]),
        skip_middlewares=bool(merged["SKIP_MIDDLEWARES"]),
        max_events=int(merged["MAX_EVENTS"]),
        store=str(merged["STORE"]),
    )


@cache
def get_settings() -> Settings:
    return build_settings()


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "SOCKETIO":
        get_settings.cache_clear()
