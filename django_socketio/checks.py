"""System checks for the SOCKETIO setting and the project around it (``manage.py check``).

[edge] Misconfiguration is reported here, with ids and messages that name the
setting and the fix, instead of failing at the first connection or, worse,
silently. The same per-key rules guard `conf.build_settings`, so a bad value
that reaches daphne or uvicorn (which run no checks) stops start-up with
`ImproperlyConfigured` naming the key, never a bare ``ValueError``.

Table-driven: each ``SOCKETIO`` key has one line in `RULES`, naming a `Rule`
(a test that returns what is wrong, or None, and a check id). Adding a key is a
default in ``conf.DEFAULTS``, one line here and a row in the README's settings
table; ``tests/test_checks.py`` fails for a key without a rule. Checks that
look at several keys or at other Django settings are functions registered
below the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import DEFAULTS
from .engineio.session import BACKLOG_POLICIES
from .recovery_store import URL_SCHEMES, layer_redis
from .socketio.limits import POLICIES

DAPHNE_MAX_MESSAGE = 1024 * 1024
ID = "django_socketio."


@dataclass(frozen=True)
class Rule:
    """What a SOCKETIO value must be: `problem(value)` says what is wrong, or None."""

    problem: Callable[[Any], str | None]
    id: str
    hint: str | None = None


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _positive_seconds(value: Any) -> str | None:
    if _number(value) and value > 0 and value < float("inf"):
        return None
    return f"must be a positive number of seconds, not {value!r}"


def _seconds(value: Any) -> str | None:
    if _number(value) and 0 <= value < float("inf"):
        return None
    return f"must be a number of seconds, 0 or more, not {value!r}"


def _positive_int(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return None
    return f"must be a positive integer, not {value!r}"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be True or False, not {value!r}"


_PATH_CHARS = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$")


def _path(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip("/") or not _PATH_CHARS.match(value):
        return f"must be a URL path such as 'socket.io' (no '?', '#' or spaces), not {value!r}"
    return None


TRANSPORT_NAMES = ("polling", "websocket")


def _transports(value: Any) -> str | None:
    if (
        isinstance(value, (list, tuple, set, frozenset))
        and value
        and all(isinstance(t, str) for t in value)
        and set(value) <= set(TRANSPORT_NAMES)
    ):
        return None
    return f"must list 'polling' and/or 'websocket', e.g. ('polling', 'websocket'), not {value!r}"


def origin_problem(origin: Any) -> str | None:
    """What is wrong with one entry of CORS_ALLOWED_ORIGINS, or None."""
    if origin == "*":
        return None
    if not isinstance(origin, str):
        return f"has {origin!r}; each origin must be a string like 'https://app.example.com'"
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        return (
            f"has {origin!r}; an origin is scheme://host[:port] with no path, "
            "e.g. 'https://app.example.com' or 'http://localhost:5173'"
        )
    canonical = f"{parts.scheme}://{parts.netloc.lower()}"
    if origin.rstrip("/") != canonical:
        return f"has {origin!r}; write it as browsers send it: {canonical!r}"
    return None


def _origins(value: Any) -> str | None:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple, set, frozenset)):
        return f"must be a list of origins or '*', not {value!r}"
    for origin in value:
        problem = origin_problem(origin)
        if problem:
            return problem
    return None


COOKIE_KEYS = {"name": str, "path": str, "httponly": bool, "samesite": str, "secure": bool}
SAMESITE = ("Lax", "Strict", "None", "")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 6265 cookie-name


def _cookie(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        return f"must be None, True, a cookie name or a dict, not {value!r}"
    unknown = sorted(set(value) - set(COOKIE_KEYS), key=str)
    if unknown:
        return f"has unknown key(s) {unknown}; known: {', '.join(COOKIE_KEYS)}"
    for key, kind in COOKIE_KEYS.items():
        if key in value and not isinstance(value[key], kind):
            return f"[{key!r}] must be a {kind.__name__}, not {value[key]!r}"
    if "name" in value and not _TOKEN.match(value["name"]):
        return f"['name'] must be a cookie name (letters, digits, no spaces), not {value['name']!r}"
    if "path" in value and not value["path"].startswith("/"):
        return f"['path'] must start with '/', not {value['path']!r}"
    if value.get("samesite", "Lax") not in SAMESITE:
        return f"['samesite'] must be one of {SAMESITE}, not {value['samesite']!r}"
    if value.get("samesite") == "None" and not value.get("secure", False):
        return "['samesite'] 'None' needs 'secure': True (browsers drop the cookie otherwise)"
    return None


def _optional_bool(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return f"must be None (the default), True or False, not {value!r}"


def _json_encoder(value: Any) -> str | None:
    import json

    from django.utils.module_loading import import_string

    if not isinstance(value, str):
        return f"must be the dotted path of a json.JSONEncoder subclass, not {value!r}"
    try:
        encoder = import_string(value)
    except ImportError as exc:
        return f"cannot be imported ({exc})"
    if not (isinstance(encoder, type) and issubclass(encoder, json.JSONEncoder)):
        return f"must name a json.JSONEncoder subclass, not {encoder!r}"
    return None


def _admin_ui(value: Any) -> str | None:
    from .admin_ui import setting_problem

    return setting_problem(value)


PARSERS = ("json", "msgpack", "auto")


def _parser(value: Any) -> str | None:
    if value in PARSERS and isinstance(value, str):
        return None
    return f"must be one of {', '.join(map(repr, PARSERS))}, not {value!r}"


def _layer_alias(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return None
    return f"must be an alias in CHANNEL_LAYERS (e.g. 'default') or None, not {value!r}"


def _optional_rate(value: Any) -> str | None:
    if value is None or (_number(value) and 0 < value < float("inf")):
        return None
    return f"must be None (no limit) or a positive number, not {value!r}"


def _count(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    return f"must be an integer, 0 or more, not {value!r}"


def _optional_count(value: Any) -> str | None:
    if value is None or _positive_int(value) is None:
        return None
    return f"must be None (no limit) or a positive integer, not {value!r}"


def _policy(value: Any) -> str | None:
    if value in POLICIES:
        return None
    return f"must be one of {', '.join(map(repr, POLICIES))}, not {value!r}"


def _header(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and _TOKEN.match(value)):
        return None
    return f"must be None or a header name such as 'X-Forwarded-For', not {value!r}"


SECONDS = Rule(_positive_seconds, ID + "E003")
POSITIVE_INT = Rule(_positive_int, ID + "E004")
TRANSPORTS = Rule(_transports, ID + "E005")
PATH = Rule(_path, ID + "E006")
ORIGINS = Rule(_origins, ID + "E007")
BOOL = Rule(_bool, ID + "E008")
COOKIE = Rule(_cookie, ID + "E009", hint="See COOKIE in the README's settings table.")
LAYER_ALIAS = Rule(_layer_alias, ID + "E010")
OPTIONAL_RATE = Rule(_optional_rate, ID + "E030")
OPTIONAL_COUNT = Rule(_optional_count, ID + "E031")
POLICY = Rule(_policy, ID + "E032")
COUNT = Rule(_count, ID + "E051")
SECONDS_OR_ZERO = Rule(_seconds, ID + "E052")
HEADER = Rule(
    _header,
    ID + "E033",
    hint="Name the header your own proxy sets; clients can send any header themselves.",
)
ADMIN_UI = Rule(_admin_ui, ID + "E040", hint="See 'The Admin UI' in the README.")
OPTIONAL_BOOL = Rule(_optional_bool, ID + "E014")
JSON_ENCODER = Rule(
    _json_encoder,
    ID + "E015",
    hint="The default is 'django.core.serializers.json.DjangoJSONEncoder'.",
)
PARSER = Rule(_parser, ID + "E012", hint="See 'The MessagePack parser' in the README.")


def _recovery_store(value: Any) -> str | None:
    if value in ("auto", "memory") or (isinstance(value, str) and value.startswith(URL_SCHEMES)):
        return None
    return f"must be 'auto', 'memory' or a redis:// URL, not {value!r}"


#: SOCKETIO["RECOVERY"] keys and the rule of each value.
RECOVERY_KEYS: dict[str, Callable[[Any], str | None]] = {
    "MAX_DISCONNECTION_DURATION": _positive_seconds,
    "SKIP_MIDDLEWARES": _bool,
    "MAX_EVENTS": _positive_int,
    "STORE": _recovery_store,
}


def _recovery(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return f"must be None (off) or a dict such as {{'SKIP_MIDDLEWARES': False}}, not {value!r}"
    for key, item in value.items():
        rule = RECOVERY_KEYS.get(key)
        if rule is None:
            return f"has an unknown key {key!r} (known: {', '.join(RECOVERY_KEYS)})"
        problem = rule(item)
        if problem is not None:
            return f"[{key!r}] {problem}"
    return None


RECOVERY = Rule(_recovery, ID + "E060", hint="See 'Connection state recovery' in the README.")


def _backlog_policy(value: Any) -> str | None:
    if value in BACKLOG_POLICIES:
        return None
    return f"must be one of {', '.join(map(repr, BACKLOG_POLICIES))}, not {value!r}"


BACKLOG_POLICY = Rule(_backlog_policy, ID + "E020")

#: One line per SOCKETIO key: the rule its value must pass.
RULES: dict[str, Rule] = {
    "PING_INTERVAL": SECONDS,
    "PING_TIMEOUT": SECONDS,
    "MAX_PAYLOAD": POSITIVE_INT,
    "PATH": PATH,
    "TRANSPORTS": TRANSPORTS,
    "ALLOW_EIO3": BOOL,
    "CORS_ALLOWED_ORIGINS": ORIGINS,
    "CORS_CREDENTIALS": OPTIONAL_BOOL,
    "COOKIE": COOKIE,
    "CONNECT_TIMEOUT": SECONDS,
    "MAX_ATTACHMENTS": POSITIVE_INT,
    "MAX_DEPTH": POSITIVE_INT,
    "JSON_ENCODER": JSON_ENCODER,
    "EVENTS_PER_SECOND": OPTIONAL_RATE,
    "EVENTS_BURST": OPTIONAL_COUNT,
    "MAX_HANDLERS_IN_FLIGHT": OPTIONAL_COUNT,
    "SYNC_HANDLERS_PER_SOCKET": POSITIVE_INT,
    "EVENT_LIMIT_POLICY": POLICY,
    "EVENT_LIMIT_ERROR_ACK": BOOL,
    "MAX_NAMESPACES_PER_CONNECTION": OPTIONAL_COUNT,
    "MAX_ROOMS_PER_SOCKET": OPTIONAL_COUNT,
    "CONNECTIONS_PER_MINUTE": OPTIONAL_COUNT,
    "CLIENT_ADDRESS_HEADER": HEADER,
    "PARSER": PARSER,
    "CHANNEL_LAYER": LAYER_ALIAS,
    "NODE_HEARTBEAT_INTERVAL": SECONDS,
    "NODE_TIMEOUT": SECONDS,
    "REQUEST_TIMEOUT": SECONDS,
    "NODE_CHANNEL_CAPACITY": POSITIVE_INT,
    "FORWARDED_REQUESTS": COUNT,
    "ADMIN_UI": ADMIN_UI,
    "MAX_BACKLOG_BYTES": POSITIVE_INT,
    "MAX_BACKLOG_PACKETS": POSITIVE_INT,
    "BACKLOG_POLICY": BACKLOG_POLICY,
    "MAX_PAYLOAD_PACKETS": POSITIVE_INT,
    "UPGRADE_TIMEOUT": SECONDS,
    "TAKEOVER_WINDOW": SECONDS_OR_ZERO,
    "VOLATILE_LATEST": BOOL,
    "RECOVERY": RECOVERY,
}


def value_errors(raw: Mapping[str, Any]) -> list[CheckMessage]:
    """The per-key errors for a SOCKETIO dict: unknown keys and values that break a rule."""
    messages: list[CheckMessage] = []
    for key in sorted(set(raw) - set(DEFAULTS), key=str):
        messages.append(
            Error(
                f"Unknown SOCKETIO key {key!r}.",
                hint="Known keys: " + ", ".join(sorted(DEFAULTS)),
                id=ID + "E002",
            )
        )
    for key, rule in RULES.items():
        if key in raw:
            problem = rule.problem(raw[key])
            if problem is not None:
                sep = "" if problem.startswith("[") else " "
                messages.append(
                    Error(f"SOCKETIO[{key!r}]{sep}{problem}.", hint=rule.hint, id=rule.id)
                )
    return messages


def _raw() -> Any:
    return getattr(settings, "SOCKETIO", {})


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = _raw()
    if not isinstance(raw, dict):
        return [Error(f"SOCKETIO must be a dict, not {raw!r}.", id=ID + "E001")]
    messages = value_errors(raw)
    bad = {key for key, rule in RULES.items() if key in raw and rule.problem(raw[key])}
    merged = {**DEFAULTS, **raw}

    def ok(*keys: str) -> bool:  # compare only values that passed their own rule
        return not bad.intersection(keys)

    if ok("NODE_TIMEOUT", "NODE_HEARTBEAT_INTERVAL") and (
        merged["NODE_TIMEOUT"] <= merged["NODE_HEARTBEAT_INTERVAL"]
    ):
        messages.append(
            Error(
                f"SOCKETIO['NODE_TIMEOUT'] ({merged['NODE_TIMEOUT']}) must be longer than "
                f"SOCKETIO['NODE_HEARTBEAT_INTERVAL'] ({merged['NODE_HEARTBEAT_INTERVAL']}): "
                "processes would forget each other between heartbeats.",
                hint="Keep NODE_TIMEOUT at about three heartbeats (defaults: 15 and 5).",
                id=ID + "E011",
            )
        )
    forwarded, capacity = merged["FORWARDED_REQUESTS"], merged["NODE_CHANNEL_CAPACITY"]
    if ok("FORWARDED_REQUESTS", "NODE_CHANNEL_CAPACITY") and capacity < 2 * forwarded:
        messages.append(
            Error(
                f"SOCKETIO['NODE_CHANNEL_CAPACITY'] ({capacity}) must hold at least twice "
                f"SOCKETIO['FORWARDED_REQUESTS'] ({forwarded}): a full node channel loses "
                "forwarded polling requests and their answers.",
                hint="Raise NODE_CHANNEL_CAPACITY or lower FORWARDED_REQUESTS.",
                id=ID + "E050",
            )
        )
    payload = merged["MAX_PAYLOAD"]
    if ok("MAX_PAYLOAD") and payload > DAPHNE_MAX_MESSAGE:
        messages.append(
            Warning(
                f"SOCKETIO['MAX_PAYLOAD'] is {payload} bytes, above daphne's default websocket "
                f"message limit of {DAPHNE_MAX_MESSAGE}.",
                hint="Start daphne with --websocket-max-message-size and "
                "--websocket-max-frame-size.",
                id=ID + "W001",
            )
        )
    backlog = merged["MAX_BACKLOG_BYTES"]
    if ok("MAX_PAYLOAD", "MAX_BACKLOG_BYTES") and backlog < 2 * payload:
        messages.append(
            Warning(
                f"SOCKETIO['MAX_BACKLOG_BYTES'] ({backlog}) is less than twice "
                f"SOCKETIO['MAX_PAYLOAD'] ({payload}).",
                hint="A client sent two large messages before it could confirm reading the "
                "first would count as a slow consumer; keep MAX_BACKLOG_BYTES well above the "
                "largest message you emit.",
                id=ID + "W007",
            )
        )
    if ok("CHANNEL_LAYER"):
        messages.extend(_layer_messages(raw, merged["CHANNEL_LAYER"]))
    admin = merged["ADMIN_UI"]
    if (
        ok("ADMIN_UI")
        and isinstance(admin, dict)
        and admin.get("AUTH") is False
        and not settings.DEBUG
    ):
        messages.append(
            Warning(
                "SOCKETIO['ADMIN_UI'] has 'AUTH': False and DEBUG is off: anyone who "
                "reaches the server can watch every socket and disconnect them.",
                hint="Set 'USERNAME' and 'PASSWORD' (a Django password hash) or rely on "
                "'STAFF', and remove 'AUTH': False.",
                id=ID + "W040",
            )
        )
    return messages


@register(Tags.compatibility)
def check_recovery_scope(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Recovery on, with nothing shared between processes: say what that means."""
    raw = _raw()
    if not isinstance(raw, dict) or not isinstance(raw.get("RECOVERY"), dict):
        return []
    if _recovery(raw["RECOVERY"]) is not None:
        return []  # E060 says what is wrong
    store = raw["RECOVERY"].get("STORE", "auto")
    alias = raw.get("CHANNEL_LAYER", DEFAULTS["CHANNEL_LAYER"])
    if store != "memory" and (store != "auto" or layer_redis(alias) is not None):
        return []  # in Redis: every process recovers every session
    return [
        Warning(
            "SOCKETIO['RECOVERY'] is on, and sessions and missed events are kept in each "
            "server process's memory: a client that reconnects to another process, or "
            "after a restart, gets a fresh session (socket.recovered is False).",
            hint="Use a channels_redis layer (its Redis then keeps them, 'STORE': 'auto') "
            "or set 'STORE' to a redis:// URL; or run one server process, or send each "
            "client back to the process that served it (sticky sessions) and add "
            "'django_socketio.W060' to SILENCED_SYSTEM_CHECKS.",
            id=ID + "W060",
        )
    ]


def _layer_messages(raw: Mapping[str, Any], alias: str | None) -> list[CheckMessage]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if alias is None or alias in layers:
        return []
    if "CHANNEL_LAYER" in raw:
        known = ", ".join(repr(a) for a in layers) or "none"
        return [
            Error(
                f"SOCKETIO['CHANNEL_LAYER'] is {alias!r}, which is not an alias in "
                f"CHANNEL_LAYERS (aliases: {known}).",
                hint="Name an alias of CHANNEL_LAYERS, or set SOCKETIO['CHANNEL_LAYER'] = None "
                "to run in one process.",
                id=ID + "E010",
            )
        ]
    return [
        Warning(
            "No channel layer: CHANNEL_LAYERS has no 'default' alias, so rooms and broadcasts "
            "stay within each server process, and socketio_emit / emit_sync from another "
            "process (a shell, a worker, a WSGI server) reach nobody.",
            hint="Configure CHANNEL_LAYERS (channels_redis for several processes, "
            "channels.layers.InMemoryChannelLayer for one), or set "
            "SOCKETIO['CHANNEL_LAYER'] = None to run in one process on purpose.",
            id=ID + "W002",
        )
    ]


@register(Tags.compatibility, deploy=True)
def check_deploy_layer(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: an in-memory layer does not reach other processes."""
    from channels.layers import InMemoryChannelLayer
    from django.utils.module_loading import import_string

    raw = _raw()
    alias = raw.get("CHANNEL_LAYER", DEFAULTS["CHANNEL_LAYER"]) if isinstance(raw, dict) else None
    config = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get(alias) if alias else None
    try:
        backend = import_string(config["BACKEND"]) if config else None
    except (ImportError, KeyError, TypeError):
        return []  # Channels reports a broken layer itself
    if not (isinstance(backend, type) and issubclass(backend, InMemoryChannelLayer)):
        return []
    return [
        Warning(
            f"CHANNEL_LAYERS[{alias!r}] is the in-memory layer: rooms and broadcasts stay "
            "within each server process, and socketio_emit / emit_sync from another process "
            "(a shell, a worker, a WSGI server) reach nobody.",
            hint="In production use channels_redis (see docs/deployment.md); with one server "
            "process on purpose, add 'django_socketio.W005' to SILENCED_SYSTEM_CHECKS.",
            id=ID + "W005",
        )
    ]


@register(Tags.security, deploy=True)
def check_deploy_daphne_bodies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy`` with daphne: it buffers a whole request body before MAX_PAYLOAD.

    Daphne reads every HTTP body into memory before the application runs (audit F4: a
    300 MiB chunked POST cost 300 MiB before our 413), which only a front proxy's body
    limit or another ASGI server prevents. "daphne" in INSTALLED_APPS is how Channels 4
    projects use it.
    """
    if "daphne" not in settings.INSTALLED_APPS:
        return []
    raw = _raw()
    limit = raw.get("MAX_PAYLOAD", DEFAULTS["MAX_PAYLOAD"]) if isinstance(raw, dict) else None
    return [
        Warning(
            "daphne reads a whole request body into memory before the application sees it, "
            f"so SOCKETIO['MAX_PAYLOAD'] ({limit} bytes) refuses a too large polling POST "
            "only after it has arrived: one client can make the server hold any amount.",
            hint="Behind daphne, set the front proxy's body limit to about MAX_PAYLOAD "
            "(nginx: client_max_body_size 1m; in the location of /socket.io/), or run "
            "uvicorn, which refuses the body at the limit; then add 'django_socketio.W006' "
            "to SILENCED_SYSTEM_CHECKS. See the README, Limits that belong to the deployment.",
            id=ID + "W006",
        )
    ]


@register(Tags.compatibility)
def check_runserver(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`manage.py runserver` serves Socket.IO only when it is daphne's (ASGI) runserver."""
    from django.core.management import get_commands

    if get_commands().get("runserver") == "daphne":
        return []
    return [
        Warning(
            "manage.py runserver is Django's WSGI server here: it serves no Socket.IO "
            "(requests to /socket.io/ get 404).",
            hint="Put 'daphne' first in INSTALLED_APPS (before django.contrib.staticfiles) and "
            "set ASGI_APPLICATION; or run daphne or uvicorn. If you never use runserver, add "
            "'django_socketio.W003' to SILENCED_SYSTEM_CHECKS.",
            id=ID + "W003",
        )
    ]


@register(Tags.compatibility)
def check_namespaces(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A server with no namespace answers every client "Invalid namespace"."""
    from .server import io

    if io.dynamic or any(nsp.handler is not None for nsp in io.namespaces.values()):
        return []
    return [
        Warning(
            "No Socket.IO namespace is registered, so every client gets 'Invalid namespace'.",
            hint="Declare a Namespace subclass in a sockets.py module of an app listed in "
            "INSTALLED_APPS (or register one with django_socketio.register).",
            id=ID + "W004",
        )
    ]


@register(Tags.security)
def check_origins(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """ALLOWED_HOSTS ``"*"`` with no listed origins lets any site's page in."""
    raw = _raw()
    origins = raw.get("CORS_ALLOWED_ORIGINS") if isinstance(raw, dict) else None
    if "*" in settings.ALLOWED_HOSTS and not origins:
        return [
            Warning(
                "ALLOWED_HOSTS contains '*' and SOCKETIO['CORS_ALLOWED_ORIGINS'] lists no "
                "origins, so a page on any site may open a Socket.IO connection as the "
                "logged-in user.",
                hint="List the origins of your pages in SOCKETIO['CORS_ALLOWED_ORIGINS'] "
                "(e.g. ['https://www.example.com']); then only they, and same-origin pages, "
                "are allowed.",
                id=ID + "W020",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_cors_credentials(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``"*"`` with credentials explicitly on: any site acts as the logged-in user."""
    raw = _raw()
    if not isinstance(raw, dict):
        return []
    origins = raw.get("CORS_ALLOWED_ORIGINS", ())
    star = origins == "*" or (isinstance(origins, (list, tuple, set, frozenset)) and "*" in origins)
    if star and raw.get("CORS_CREDENTIALS") is True:
        return [
            Warning(
                "SOCKETIO['CORS_ALLOWED_ORIGINS'] is '*' and SOCKETIO['CORS_CREDENTIALS'] is "
                "True: any site's page may use the Socket.IO connection of a logged-in user "
                "(with SameSite=None session cookies, or from a sibling subdomain).",
                hint="List your pages' origins instead of '*', or remove CORS_CREDENTIALS: "
                "'*' alone sends 'Access-Control-Allow-Origin: *' and ignores cookies.",
                id=ID + "W021",
            )
        ]
    return []


def first_error(raw: Mapping[str, Any]) -> str | None:
    """The first per-key error for `raw` as one line, for `conf.build_settings`."""
    for message in value_errors(raw):
        if message.id != ID + "E002":
            return message.msg
    return None
