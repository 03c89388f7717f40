"""Settings for the chat demo. Not for production: see the comments marked "demo".

Environment variables:
    DJANGO_DEBUG        "0" turns DEBUG off (default on, for the demo)
    DJANGO_SECRET_KEY   the secret key (default: a fixed, public demo key)
    DEMO_DB_PATH        the SQLite file (default: db.sqlite3 at the repository root)
    REDIS_URL           use channels_redis at this URL instead of the in-memory layer,
                        e.g. redis://localhost:6379/0 (needed to run several processes)
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent  # demo_project/
REPO_DIR = BASE_DIR.parent

# demo: a public key and DEBUG on by default.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-key-do-not-use-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") != "0"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "daphne",  # first: `manage.py runserver` is then daphne's, and serves Socket.IO
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_socketio",
    "demo_project.chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_project.urls"
ASGI_APPLICATION = "demo_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB_PATH") or REPO_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One process: the in-memory layer. Several processes (or nodes) share rooms and
# broadcasts through Redis.
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

SOCKETIO = {}  # the defaults; see django_socketio/conf.py

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "chat:index"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# demo: asgi.py serves static files itself (Django's ASGIStaticFilesHandler), so the demo
# runs under daphne without collectstatic or a web server in front. The browser client
# comes straight from npm: `npm ci --prefix demo_project` installs socket.io-client, whose
# dist/ folder is served at /static/vendor/socket.io-client/ (socket.io.min.js).
STATIC_URL = "static/"
SOCKET_IO_CLIENT_DIST = BASE_DIR / "node_modules" / "socket.io-client" / "dist"
STATICFILES_DIRS = (
    [("vendor/socket.io-client", SOCKET_IO_CLIENT_DIST)] if SOCKET_IO_CLIENT_DIST.is_dir() else []
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_socketio": {"handlers": ["console"], "level": "INFO"}},
}
