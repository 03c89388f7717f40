"""Settings of the bench project: as small as a Django project gets.

Single process: ``SOCKETIO["CHANNEL_LAYER"] = None`` (no layer at all). With
``REDIS_URL`` set (the multi-process scenario), rooms and broadcasts span processes
through channels-redis' ``RedisChannelLayer``.

``BENCH_PARSER`` picks ``SOCKETIO["PARSER"]`` (default ``"json"``).

``BENCH_ADMIN_UI=1`` turns the Admin UI on in production mode.

``BENCH_AUTH=1`` installs ``django.contrib.auth`` and ``sessions``, so every connection
also loads its Django user and session (as in a typical project).
"""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels", "django_socketio", "ours"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "ours.urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
ASGI_APPLICATION = "ours.asgi.application"

if os.environ.get("BENCH_AUTH") == "1":
    INSTALLED_APPS = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        *INSTALLED_APPS,
    ]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # BENCH_LAYER=channels_redis.pubsub.RedisPubSubChannelLayer: the other layer
            "BACKEND": os.environ.get("BENCH_LAYER", "channels_redis.core.RedisChannelLayer"),
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    SOCKETIO = {"CHANNEL_LAYER": "default"}
else:
    SOCKETIO = {"CHANNEL_LAYER": None}

# BENCH_PARSER=msgpack (or auto): the parser (bench/parser-cost compares them).
SOCKETIO["PARSER"] = os.environ.get("BENCH_PARSER", "json")

if os.environ.get("BENCH_ADMIN_UI") == "1":
    # Instrumentation as an operator leaves it on: the Admin UI in production mode
    # (server_stats every 2 s; bench/instrumentation-cost measures its cost).
    SOCKETIO["ADMIN_UI"] = {"AUTH": False, "MODE": "production"}

if os.environ.get("BENCH_RECOVERY") == "1":
    # Connection state recovery on (its cost: an offset and a log entry per broadcast).
    SOCKETIO["RECOVERY"] = {"MAX_DISCONNECTION_DURATION": 120}
    SILENCED_SYSTEM_CHECKS = ["django_socketio.W060"]

if os.environ.get("BENCH_TAKEOVER_WINDOW"):
    # bench/upgrade_share.py: the window a new polling session may move in (0: never).
    SOCKETIO["TAKEOVER_WINDOW"] = float(os.environ["BENCH_TAKEOVER_WINDOW"])

if os.environ.get("BENCH_MAX_BACKLOG_BYTES"):
    # bench/slow_consumer.py: a limit a stalled client reaches within the run.
    SOCKETIO["MAX_BACKLOG_BYTES"] = int(os.environ["BENCH_MAX_BACKLOG_BYTES"])

if os.environ.get("BENCH_LOG_ENGINE") == "1":
    # bench/slow_consumer.py and bench/soak.py read the engine's INFO lines (with the
    # time) to see when a slow consumer was dropped.
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"t": {"format": "%(created).3f %(name)s %(message)s"}},
        "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "t"}},
        "loggers": {
            "django_socketio.engineio": {"handlers": ["err"], "level": "INFO", "propagate": False}
        },
    }

# bench/flood.py: "off" switches every inbound limit off (as before they existed);
# "drop" and "disconnect" set an event rate per socket with that policy.
BENCH_LIMITS = os.environ.get("BENCH_LIMITS")
if BENCH_LIMITS == "off":
    SOCKETIO["MAX_HANDLERS_IN_FLIGHT"] = None
    SOCKETIO["MAX_NAMESPACES_PER_CONNECTION"] = None
elif BENCH_LIMITS in ("drop", "disconnect"):
    SOCKETIO["EVENTS_PER_SECOND"] = 100
    SOCKETIO["EVENTS_BURST"] = 200
    SOCKETIO["EVENT_LIMIT_POLICY"] = BENCH_LIMITS
    SOCKETIO["CONNECTIONS_PER_MINUTE"] = 10  # per address; the flooder reconnects at once
