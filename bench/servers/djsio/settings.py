"""Settings of the django-sio bench project.

django-sio broadcasts to a room through Channels groups, so it needs a channel layer
even in one process: the in-memory layer, or channels-redis with ``REDIS_URL``.
"""

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels", "djsio"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "djsio.urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
ASGI_APPLICATION = "djsio.asgi.application"

REDIS_URL = os.environ.get("REDIS_URL")
CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}
