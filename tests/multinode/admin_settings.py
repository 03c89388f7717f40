"""Daphne processes with the operator's tools: the Django admin, the Admin UI, metrics.

On top of `tests.multinode.settings` (Redis from ``REDIS_URL``): the Django admin on a
shared SQLite file (``ADMIN_TEST_DB``), Django's cache in the same Redis (Admin UI
login sessions valid on every process), ``SOCKETIO["ADMIN_UI"]`` with a username
and a password hash (``ADMIN_UI_MODE`` picks the mode), and the Admin UI's page
from the npm package served by Django (tests/multinode/admin_urls.py).
"""

import os

from tests.multinode.settings import *  # noqa: F403
from tests.multinode.settings import INSTALLED_APPS, SOCKETIO

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *INSTALLED_APPS,
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "tests.multinode.admin_urls"
STATIC_URL = "/static/"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("ADMIN_TEST_DB", ":memory:"),
        "OPTIONS": {"timeout": 20},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
}
# MD5, for the test project only: Django's PBKDF2 (1,000,000 iterations, also run for a
# wrong password) costs seconds of CPU per login on a loaded 2-core machine and made
# test_admin_ui_protocol time out. The code paths are the real ones (check_password).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SOCKETIO = {
    **SOCKETIO,
    "ADMIN_UI": {
        "USERNAME": "admin",
        # make_password("admin-ui-test", "adminuitestsalt") with the MD5 hasher above
        "PASSWORD": "md5$adminuitestsalt$72bbc709763dfe139e1f6a71d4558750",
        "MODE": os.environ.get("ADMIN_UI_MODE", "development"),
        "STATS_INTERVAL": 0.5,
    },
}
