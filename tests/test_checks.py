"""The system checks (django_socketio/checks.py), compared by value: id, message and hint.

Each bad value a user could write gets a message naming the key; the same rule stops
`build_settings` (daphne's start-up) with ImproperlyConfigured naming the key.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_socketio import checks
from django_socketio.conf import DEFAULTS, build_settings

LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def run(socketio: Any, **other: Any) -> list[Any]:
    with override_settings(SOCKETIO=socketio, **{"CHANNEL_LAYERS": LAYERS, **other}):
        return checks.check_settings()


def test_every_key_has_a_rule_and_its_default_passes() -> None:
    # Adding a SOCKETIO key means adding its rule to checks.RULES (one line).
    assert set(checks.RULES) == set(DEFAULTS)
    assert run({}) == []
    assert run(dict(DEFAULTS)) == []


def test_not_a_dict() -> None:
    assert run(["PING_INTERVAL"]) == [
        Error("SOCKETIO must be a dict, not ['PING_INTERVAL'].", id="django_socketio.E001")
    ]


def test_unknown_key() -> None:
    assert run({"PING_INTERVALL": 3}) == [
        Error(
            "Unknown SOCKETIO key 'PING_INTERVALL'.",
            hint="Known keys: " + ", ".join(sorted(DEFAULTS)),
            id="django_socketio.E002",
        )
    ]


SECONDS_KEYS = [k for k, r in checks.RULES.items() if r is checks.SECONDS]


@pytest.mark.parametrize("key", SECONDS_KEYS)
@pytest.mark.parametrize("value", [0, -1, "25", None, True, float("inf")])
def test_seconds(key: str, value: Any) -> None:
    assert run({key: value}) == [
        Error(
            f"SOCKETIO[{key!r}] must be a positive number of seconds, not {value!r}.",
            id="django_socketio.E003",
        )
    ]


@pytest.mark.parametrize("key", ["MAX_PAYLOAD", "MAX_ATTACHMENTS", "NODE_CHANNEL_CAPACITY"])
@pytest.mark.parametrize("value", [0, 1.5, "10", True])
def test_positive_int(key: str, value: Any) -> None:
    assert run({key: value}) == [
        Error(
            f"SOCKETIO[{key!r}] must be a positive integer, not {value!r}.",
            id="django_socketio.E004",
        )
    ]


@pytest.mark.parametrize("value", [-1, 1.5, "10", True, None])
def test_forwarded_requests_is_a_count(value: Any) -> None:
    assert run({"FORWARDED_REQUESTS": value}) == [
        Error(
            f"SOCKETIO['FORWARDED_REQUESTS'] must be an integer, 0 or more, not {value!r}.",
            id="django_socketio.E051",
        )
    ]


@pytest.mark.parametrize("value", [-0.1, "0.3", True, None, float("inf")])
def test_the_takeover_window_is_seconds_or_zero(value: Any) -> None:
    assert run({"TAKEOVER_WINDOW": value}) == [
        Error(
            f"SOCKETIO['TAKEOVER_WINDOW'] must be a number of seconds, 0 or more, not {value!r}.",
            id="django_socketio.E052",
        )
    ]
    assert run({"TAKEOVER_WINDOW": 0}) == run({"TAKEOVER_WINDOW": 0.3}) == []


def test_the_node_channel_must_hold_the_forwarded_requests() -> None:
    assert run({"FORWARDED_REQUESTS": 0, "NODE_CHANNEL_CAPACITY": 1}) == []
    assert run({"FORWARDED_REQUESTS": 50, "NODE_CHANNEL_CAPACITY": 100}) == []
    assert run({"FORWARDED_REQUESTS": 51, "NODE_CHANNEL_CAPACITY": 100}) == [
        Error(
            "SOCKETIO['NODE_CHANNEL_CAPACITY'] (100) must hold at least twice "
            "SOCKETIO['FORWARDED_REQUESTS'] (51): a full node channel loses forwarded "
            "polling requests and their answers.",
            hint="Raise NODE_CHANNEL_CAPACITY or lower FORWARDED_REQUESTS.",
            id="django_socketio.E050",
        )
    ]


@pytest.mark.parametrize("value", ["websocket", [], ["polling", "webtransport"], None])
def test_transports(value: Any) -> None:
    assert run({"TRANSPORTS": value}) == [
        Error(
            "SOCKETIO['TRANSPORTS'] must list 'polling' and/or 'websocket', e.g. "
            f"('polling', 'websocket'), not {value!r}.",
            id="django_socketio.E005",
        )
    ]


@pytest.mark.parametrize("value", ["", "/", "socket io", "a?b", 5])
def test_path(value: Any) -> None:
    assert run({"PATH": value}) == [
        Error(
            "SOCKETIO['PATH'] must be a URL path such as 'socket.io' (no '?', '#' or spaces), "
            f"not {value!r}.",
            id="django_socketio.E006",
        )
    ]


@pytest.mark.parametrize(
    "value", ["*", "https://app.example.com", ["http://localhost:5173", "https://a.b/"], ()]
)
def test_good_origins(value: Any) -> None:
    assert run({"CORS_ALLOWED_ORIGINS": value}) == []


FORMAT = "an origin is scheme://host[:port] with no path, e.g. 'https://app.example.com' or 'http://localhost:5173'"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("app.example.com", f"has 'app.example.com'; {FORMAT}"),
        (["https://a.example.com/app"], f"has 'https://a.example.com/app'; {FORMAT}"),
        (["ftp://a.example.com"], f"has 'ftp://a.example.com'; {FORMAT}"),
        (["http://a:99999"], f"has 'http://a:99999'; {FORMAT}"),
        (
            ["https://App.Example.com"],
            "has 'https://App.Example.com'; write it as browsers send it: "
            "'https://app.example.com'",
        ),
        ([5], "has 5; each origin must be a string like 'https://app.example.com'"),
        (5, "must be a list of origins or '*', not 5"),
    ],
)
def test_bad_origins(value: Any, problem: str) -> None:
    assert run({"CORS_ALLOWED_ORIGINS": value}) == [
        Error(f"SOCKETIO['CORS_ALLOWED_ORIGINS'] {problem}.", id="django_socketio.E007")
    ]


def test_bool() -> None:
    assert run({"EVENT_LIMIT_ERROR_ACK": "no"}) == [
        Error(
            "SOCKETIO['EVENT_LIMIT_ERROR_ACK'] must be True or False, not 'no'.",
            id="django_socketio.E008",
        )
    ]


@pytest.mark.parametrize(
    "value",
    [None, True, False, "io", {"name": "sid", "samesite": "Strict", "secure": True, "path": "/"}],
)
def test_good_cookies(value: Any) -> None:
    assert run({"COOKIE": value}) == []
    build_settings({"COOKIE": value})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (5, " must be None, True, a cookie name or a dict, not 5"),
        (
            {"nmae": "io"},
            " has unknown key(s) ['nmae']; known: name, path, httponly, samesite, secure",
        ),
        ({"secure": "yes"}, "['secure'] must be a bool, not 'yes'"),
        (
            "my cookie",
            "['name'] must be a cookie name (letters, digits, no spaces), not 'my cookie'",
        ),
        ({"path": "app"}, "['path'] must start with '/', not 'app'"),
        (
            {"samesite": "lax"},
            "['samesite'] must be one of ('Lax', 'Strict', 'None', ''), not 'lax'",
        ),
        (
            {"samesite": "None"},
            "['samesite'] 'None' needs 'secure': True (browsers drop the cookie otherwise)",
        ),
    ],
)
def test_bad_cookies(value: Any, problem: str) -> None:
    assert run({"COOKIE": value}) == [
        Error(
            f"SOCKETIO['COOKIE']{problem}.",
            hint="See COOKIE in the README's settings table.",
            id="django_socketio.E009",
        )
    ]


def test_layer_alias_type() -> None:
    assert run({"CHANNEL_LAYER": 3}) == [
        Error(
            "SOCKETIO['CHANNEL_LAYER'] must be an alias in CHANNEL_LAYERS (e.g. 'default') or "
            "None, not 3.",
            id="django_socketio.E010",
        )
    ]


def test_unknown_layer_alias() -> None:
    assert run({"CHANNEL_LAYER": "redis"}) == [
        Error(
            "SOCKETIO['CHANNEL_LAYER'] is 'redis', which is not an alias in CHANNEL_LAYERS "
            "(aliases: 'default').",
            hint="Name an alias of CHANNEL_LAYERS, or set SOCKETIO['CHANNEL_LAYER'] = None to "
            "run in one process.",
            id="django_socketio.E010",
        )
    ]


@pytest.mark.parametrize("layers", [None, {}])
def test_no_channel_layer(layers: Any) -> None:
    expected = Warning(
        "No channel layer: CHANNEL_LAYERS has no 'default' alias, so rooms and broadcasts stay "
        "within each server process, and socketio_emit / emit_sync from another process (a "
        "shell, a worker, a WSGI server) reach nobody.",
        hint="Configure CHANNEL_LAYERS (channels_redis for several processes, "
        "channels.layers.InMemoryChannelLayer for one), or set SOCKETIO['CHANNEL_LAYER'] = None "
        "to run in one process on purpose.",
        id="django_socketio.W002",
    )
    assert run({}, CHANNEL_LAYERS=layers) == [expected]
    assert run({"CHANNEL_LAYER": None}, CHANNEL_LAYERS=layers) == []


def test_node_timeout_shorter_than_heartbeat() -> None:
    assert run({"NODE_TIMEOUT": 5, "NODE_HEARTBEAT_INTERVAL": 5}) == [
        Error(
            "SOCKETIO['NODE_TIMEOUT'] (5) must be longer than SOCKETIO['NODE_HEARTBEAT_INTERVAL'] "
            "(5): processes would forget each other between heartbeats.",
            hint="Keep NODE_TIMEOUT at about three heartbeats (defaults: 15 and 5).",
            id="django_socketio.E011",
        )
    ]
    # A value that already failed its own rule is not compared again.
    assert [m.id for m in run({"NODE_TIMEOUT": "x"})] == ["django_socketio.E003"]


def test_payload_above_daphne() -> None:
    assert run({"MAX_PAYLOAD": 2_000_000}) == [
        Warning(
            "SOCKETIO['MAX_PAYLOAD'] is 2000000 bytes, above daphne's default websocket message "
            "limit of 1048576.",
            hint="Start daphne with --websocket-max-message-size and --websocket-max-frame-size.",
            id="django_socketio.W001",
        )
    ]


def test_a_backlog_under_twice_the_payload_warns_with_an_id_of_its_own() -> None:
    [warning] = run({"MAX_BACKLOG_BYTES": 1_500_000})
    assert warning.id == "django_socketio.W007"  # W020 is ALLOWED_HOSTS "*" (it was both)
    assert "MAX_BACKLOG_BYTES'] (1500000) is less than twice" in warning.msg


def test_every_check_id_is_used_by_one_check_only() -> None:
    import inspect
    import re

    source = inspect.getsource(checks)
    ids = re.findall(r'id=ID \+ "([EW]\d+)"', source)
    # E002 and E010 are each raised from two places for one rule; warnings are one each.
    warnings = [i for i in ids if i.startswith("W")]
    assert len(warnings) == len(set(warnings)), sorted(warnings)


def test_several_problems_are_all_reported() -> None:
    ids = [m.id for m in run({"PING_TIMEOUT": 0, "PATH": "", "NOPE": 1})]
    assert ids == ["django_socketio.E002", "django_socketio.E003", "django_socketio.E006"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"PING_INTERVAL": "25"},
            "SOCKETIO['PING_INTERVAL'] must be a positive number of seconds, not '25'.",
        ),
        (
            {"COOKIE": {"samesite": "lax"}},
            "SOCKETIO['COOKIE']['samesite'] must be one of ('Lax', 'Strict', 'None', ''), "
            "not 'lax'.",
        ),
        ({"MAX_PAYLOAD": "1e6"}, "SOCKETIO['MAX_PAYLOAD'] must be a positive integer, not '1e6'."),
    ],
)
def test_build_settings_names_the_key(value: dict[str, Any], message: str) -> None:
    """What daphne's start-up shows for a value `manage.py check` would have reported."""
    with pytest.raises(ImproperlyConfigured) as raised:
        build_settings(value)
    assert str(raised.value) == f"{message} (manage.py check lists every problem)"
    with override_settings(SOCKETIO=value), pytest.raises(ImproperlyConfigured):
        build_settings()


def test_runserver_check() -> None:
    from django.core.management import get_commands

    get_commands.cache_clear()
    with override_settings(INSTALLED_APPS=["django.contrib.staticfiles", "django_socketio"]):
        get_commands.cache_clear()
        assert checks.check_runserver() == [
            Warning(
                "manage.py runserver is Django's WSGI server here: it serves no Socket.IO "
                "(requests to /socket.io/ get 404).",
                hint="Put 'daphne' first in INSTALLED_APPS (before django.contrib.staticfiles) "
                "and set ASGI_APPLICATION; or run daphne or uvicorn. If you never use "
                "runserver, add 'django_socketio.W003' to SILENCED_SYSTEM_CHECKS.",
                id="django_socketio.W003",
            )
        ]
    with override_settings(
        INSTALLED_APPS=["daphne", "django.contrib.staticfiles", "django_socketio"]
    ):
        get_commands.cache_clear()
        assert checks.check_runserver() == []
    get_commands.cache_clear()


@pytest.mark.parametrize("value", ["json", "msgpack", "auto"])
def test_known_parsers_pass(value: Any) -> None:
    assert run({"PARSER": value}) == []


@pytest.mark.parametrize("value", ["JSON", "pickle", None, 1])
def test_unknown_parser(value: Any) -> None:
    assert run({"PARSER": value}) == [
        Error(
            f"SOCKETIO['PARSER'] must be one of 'json', 'msgpack', 'auto', not {value!r}.",
            hint="See 'The MessagePack parser' in the README.",
            id="django_socketio.E012",
        )
    ]


def test_deploy_warns_about_the_in_memory_layer() -> None:
    with override_settings(CHANNEL_LAYERS=LAYERS):
        assert checks.check_deploy_layer() == [
            Warning(
                "CHANNEL_LAYERS['default'] is the in-memory layer: rooms and broadcasts stay "
                "within each server process, and socketio_emit / emit_sync from another "
                "process (a shell, a worker, a WSGI server) reach nobody.",
                hint="In production use channels_redis (see docs/deployment.md); with one "
                "server process on purpose, add 'django_socketio.W005' to "
                "SILENCED_SYSTEM_CHECKS.",
                id="django_socketio.W005",
            )
        ]
    redis = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=redis):
        assert checks.check_deploy_layer() == []
    with override_settings(CHANNEL_LAYERS=LAYERS, SOCKETIO={"CHANNEL_LAYER": None}):
        assert checks.check_deploy_layer() == []


def test_deploy_check_warns_that_daphne_buffers_bodies_before_max_payload():
    with override_settings(INSTALLED_APPS=["daphne", *django_settings.INSTALLED_APPS]):
        [warning] = checks.check_deploy_daphne_bodies()
    assert warning.id == "django_socketio.W006"
    assert "MAX_PAYLOAD'] (1000000 bytes)" in warning.msg
    assert "client_max_body_size" in warning.hint
    assert checks.check_deploy_daphne_bodies() == []  # uvicorn, or daphne not listed


@pytest.mark.parametrize(
    ("key", "value", "id_", "problem"),
    [
        ("EVENTS_PER_SECOND", 0, "E030", "must be None (no limit) or a positive number, not 0"),
        ("EVENTS_PER_SECOND", "10/s", "E030", "must be None (no limit) or a positive number"),
        ("EVENTS_BURST", 2.5, "E031", "must be None (no limit) or a positive integer, not 2.5"),
        ("MAX_HANDLERS_IN_FLIGHT", -1, "E031", "must be None (no limit) or a positive integer"),
        ("MAX_NAMESPACES_PER_CONNECTION", True, "E031", "must be None (no limit) or a posi"),
        ("MAX_ROOMS_PER_SOCKET", "100", "E031", "must be None (no limit) or a positive integer"),
        ("CONNECTIONS_PER_MINUTE", 0, "E031", "must be None (no limit) or a positive integer"),
        ("EVENT_LIMIT_POLICY", "kick", "E032", "must be one of 'drop', 'disconnect', not 'kick'"),
        ("CLIENT_ADDRESS_HEADER", "X Forwarded", "E033", "must be None or a header name"),
        ("SYNC_HANDLERS_PER_SOCKET", 0, "E004", "must be a positive integer, not 0"),
        ("EVENT_LIMIT_ERROR_ACK", "yes", "E008", "must be True or False"),
        ("MAX_DEPTH", 0, "E004", "must be a positive integer, not 0"),
    ],
)
def test_inbound_limit_keys(key: str, value: Any, id_: str, problem: str) -> None:
    [message] = run({key: value})
    assert message.id == "django_socketio." + id_
    assert message.msg.startswith(f"SOCKETIO[{key!r}] {problem}")
    with override_settings(SOCKETIO={key: value}), pytest.raises(ImproperlyConfigured, match=key):
        build_settings()


def test_inbound_limits_reach_the_settings() -> None:
    settings = build_settings(
        {
            "EVENTS_PER_SECOND": 20,
            "EVENT_LIMIT_POLICY": "disconnect",
            "MAX_ROOMS_PER_SOCKET": 50,
            "CONNECTIONS_PER_MINUTE": 30,
            "CLIENT_ADDRESS_HEADER": "X-Forwarded-For",
        }
    )
    assert settings.inbound.events_per_second == 20.0
    assert settings.inbound.policy == "disconnect"
    assert settings.inbound.max_rooms == 50
    assert settings.inbound.max_handlers_in_flight == 100  # the default
    assert settings.engine.connections_per_minute == 30
    assert settings.engine.client_address_header == "X-Forwarded-For"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("on", "must be None (off) or a dict such as {'SKIP_MIDDLEWARES': False}, not 'on'"),
        (
            {"WINDOW": 3},
            "has an unknown key 'WINDOW' (known: MAX_DISCONNECTION_DURATION, "
            "SKIP_MIDDLEWARES, MAX_EVENTS, STORE)",
        ),
        ({"STORE": "redis"}, "['STORE'] must be 'auto', 'memory' or a redis:// URL, not 'redis'"),
        (
            {"MAX_DISCONNECTION_DURATION": 0},
            "['MAX_DISCONNECTION_DURATION'] must be a positive number of seconds, not 0",
        ),
        ({"SKIP_MIDDLEWARES": 1}, "['SKIP_MIDDLEWARES'] must be True or False, not 1"),
        ({"MAX_EVENTS": 0}, "['MAX_EVENTS'] must be a positive integer, not 0"),
    ],
)
def test_bad_recovery_settings(value: Any, problem: str) -> None:
    sep = "" if problem.startswith("[") else " "
    assert run({"RECOVERY": value}) == [
        Error(
            f"SOCKETIO['RECOVERY']{sep}{problem}.",
            hint="See 'Connection state recovery' in the README.",
            id="django_socketio.E060",
        )
    ]
    with override_settings(SOCKETIO={"RECOVERY": value}), pytest.raises(ImproperlyConfigured):
        build_settings()


def test_recovery_on_warns_that_it_stays_within_each_process() -> None:
    with override_settings(SOCKETIO={}):
        assert checks.check_recovery_scope() == []
    with override_settings(SOCKETIO={"RECOVERY": {"MAX_EVENTS": 0}}):
        assert checks.check_recovery_scope() == []  # E060 says what is wrong
    with override_settings(SOCKETIO={"RECOVERY": {}}):
        (warning,) = checks.check_recovery_scope()
    assert warning.id == "django_socketio.W060" and isinstance(warning, Warning)
    assert "gets a fresh session" in warning.msg
    assert build_settings({"RECOVERY": {}}).recovery is not None
    assert build_settings().recovery is None


REDIS_LAYERS = [
    {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://r:1"]}},
    {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [("r", 1)]}},
]


@pytest.mark.parametrize("layer", REDIS_LAYERS)
def test_recovery_across_processes_does_not_warn(layer: dict[str, Any]) -> None:
    """W060 only when a session cannot be recovered on another process."""
    with override_settings(CHANNEL_LAYERS={"default": layer}, SOCKETIO={"RECOVERY": {}}):
        assert checks.check_recovery_scope() == []  # "auto": the layer's Redis
        with override_settings(SOCKETIO={"RECOVERY": {"STORE": "memory"}}):
            assert [w.id for w in checks.check_recovery_scope()] == ["django_socketio.W060"]
    with override_settings(SOCKETIO={"RECOVERY": {"STORE": "redis://elsewhere:6379/2"}}):
        assert checks.check_recovery_scope() == []  # in-memory layer, Redis store
    with override_settings(SOCKETIO={"RECOVERY": {}, "CHANNEL_LAYER": None}):
        assert [w.id for w in checks.check_recovery_scope()] == ["django_socketio.W060"]


def test_the_store_recovery_uses() -> None:
    from django_socketio.recovery_store import KEY_PREFIX, redis_target

    config = build_settings({"RECOVERY": {}}).recovery
    assert config is not None and config.store == "auto"
    assert redis_target(config, "default") is None  # the in-memory layer: memory
    with override_settings(CHANNEL_LAYERS={"default": REDIS_LAYERS[0]}):
        host, prefix = redis_target(config, "default")  # type: ignore[misc]
        assert host["address"] == "redis://r:1" and prefix == "asgi" + KEY_PREFIX
        assert redis_target(config, None) is None
    with override_settings(CHANNEL_LAYERS={"default": REDIS_LAYERS[1]}):
        host, _prefix = redis_target(config, "default")  # type: ignore[misc]
        assert (host["host"], host["port"]) == ("r", 1)
    url = build_settings({"RECOVERY": {"STORE": "unix:///run/r.sock"}}).recovery
    assert redis_target(url, "default") == ("unix:///run/r.sock", KEY_PREFIX)  # type: ignore[arg-type]


def test_the_readme_redis_recovery_settings_recover_across_processes() -> None:
    from django_socketio.recovery_store import redis_target
    from tests.readme import blocks

    module: dict[str, Any] = {}
    exec(compile(blocks("recovery")["settings-redis.py"], "README.md", "exec"), module)
    layers, socketio = module["CHANNEL_LAYERS"], module["SOCKETIO"]
    assert run(socketio, CHANNEL_LAYERS=layers) == []  # E060: valid
    with override_settings(CHANNEL_LAYERS=layers, SOCKETIO=socketio):
        assert checks.check_recovery_scope() == []  # no W060: every process recovers
        config = build_settings().recovery
        assert config is not None and config.max_events == 10_000
        host, _prefix = redis_target(config, "default")  # type: ignore[misc]
        assert host["address"] == "redis://127.0.0.1:6379/0"
