"""SOCKETIO["ADMIN_UI"] is validated by the system checks, with messages naming the key."""

from __future__ import annotations

import pytest
from django.core.checks import Warning
from django.test import override_settings

from django_socketio import checks

HASH = "pbkdf2_sha256$1000000$tZ37WL3bO0GA3IP1AvRWF8$dek6k5oMVa0Xu8tNpdbgVu4d6VAb68+GCEkql25+3mA="


def errors(value: object) -> list[str]:
    with override_settings(SOCKETIO={"ADMIN_UI": value}):
        return [m.msg for m in checks.check_settings() if m.id == "django_socketio.E040"]


@pytest.mark.parametrize(
    "value",
    [None, {"USERNAME": "admin", "PASSWORD": HASH}, {"STAFF": True, "MODE": "production"}],
)
def test_good_values(value: object) -> None:
    assert errors(value) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("yes", "must be None or a dict"),
        ({"USER": "x"}, "unknown key(s) ['USER']"),
        ({"USERNAME": "admin", "PASSWORD": "plain-text"}, "must be a Django password hash"),
        ({"USERNAME": "admin"}, "needs both 'USERNAME' and 'PASSWORD'"),
        ({"MODE": "debug"}, "['MODE'] must be one of"),
        ({"NAMESPACE": "admin"}, "must start with '/'"),
        ({"STAFF": False}, "allows no login"),
        ({"STATS_INTERVAL": 0}, "positive number of seconds"),
    ],
)
def test_bad_values_name_the_key(value: object, fragment: str) -> None:
    (message,) = errors(value)
    assert message.startswith("SOCKETIO['ADMIN_UI']") and fragment in message


def test_auth_off_warns_outside_debug() -> None:
    with override_settings(SOCKETIO={"ADMIN_UI": {"AUTH": False}}, DEBUG=False):
        found = [m for m in checks.check_settings() if m.id == "django_socketio.W040"]
    assert len(found) == 1 and isinstance(found[0], Warning)
    with override_settings(SOCKETIO={"ADMIN_UI": {"AUTH": False}}, DEBUG=True):
        assert not [m for m in checks.check_settings() if m.id == "django_socketio.W040"]
