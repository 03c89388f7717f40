"""Settings for the test suite (in-process tests and the conformance server)."""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "django_socketio",
    "tests.conformance",
    "tests.multinode",
    "tests.sioapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.urls"
# The tests start daphne and uvicorn themselves, never runserver.
SILENCED_SYSTEM_CHECKS = ["django_socketio.W003"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
USE_TZ = True
ASGI_APPLICATION = "tests.conformance.asgi.application"
SOCKETIO = {
    "PING_INTERVAL": 0.3,
    "PING_TIMEOUT": 0.2,
    "MAX_PAYLOAD": 1_000_000,
    "CONNECT_TIMEOUT": 1,
}
