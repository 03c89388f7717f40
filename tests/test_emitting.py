"""Emitting from outside the server says so when it reaches no one.

`manage.py socketio_emit` exits with status 1 and a message naming the fix, and
`emit_sync` raises `EmitError`, when nothing could be sent: no ``CHANNEL_LAYERS`` (the
``startproject`` default), a typo in ``SOCKETIO["CHANNEL_LAYER"]``, the in-memory layer
(which only reaches its own process), or Redis down. The success path, a real Redis and
three server processes, is ``tests/multinode/test_rooms.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings
from django.utils import timezone

from django_socketio.exceptions import EmitError
from django_socketio.server import DjangoSocketIOServer
from tests.processes import ROOT, free_port

DOWN = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

CASES = {
    "no CHANNEL_LAYERS": (
        {"EMIT_LAYER": "none"},
        "CHANNEL_LAYERS is not set. Configure a channel layer shared with the server "
        "processes (channels_redis) under the alias SOCKETIO['CHANNEL_LAYER'] names ('default').",
    ),
    "the in-memory layer": (
        {"EMIT_LAYER": "memory"},
        "channel layer 'default' reaches no other process (the in-memory layer only "
        "reaches its own). Use channels_redis.",
    ),
    "Redis down": ({"EMIT_LAYER": DOWN}, "the channel layer failed (ConnectionError: "),
}


def run_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "django", "socketio_emit", "news", '{"a": 1}', "--to", "r"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.emitter_settings", **env}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_socketio_emit_exits_non_zero_with_the_reason():
    with ThreadPoolExecutor(len(CASES)) as pool:
        results = pool.map(run_command, [env for env, _ in CASES.values()])
        done = dict(zip(CASES, results, strict=True))
    for case, (_, reason) in CASES.items():
        result = done[case]
        assert result.returncode == 1, (case, result.stdout, result.stderr)
        assert result.stdout == "", case
        assert "CommandError: event 'news' reached no one: " in result.stderr, (case, result)
        assert reason in result.stderr, (case, result.stderr)
        assert "Traceback" not in result.stderr, (case, result.stderr)


def test_socketio_emit_with_a_typo_in_the_alias_stops_at_the_system_check():
    """An alias CHANNEL_LAYERS lacks is an error (E010) before the command runs."""
    result = run_command({"EMIT_LAYER": "memory", "EMIT_ALIAS": "defualt"})
    assert (result.returncode, result.stdout) == (1, "")
    assert (
        "(django_socketio.E010) SOCKETIO['CHANNEL_LAYER'] is 'defualt', which is not an "
        "alias in CHANNEL_LAYERS (aliases: 'default')." in result.stderr
    ), result.stderr


def emit_sync_outside_the_server(**settings) -> None:
    """emit_sync as a WSGI view or a worker would call it: a process that serves no one."""
    with override_settings(**settings):
        server = DjangoSocketIOServer()
        assert not server.serving
        server.of("/").to("r").emit_sync("news", {"at": timezone.now()})


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"CHANNEL_LAYERS": {}}, "CHANNEL_LAYERS is not set"),
        ({"SOCKETIO": {"CHANNEL_LAYER": "defualt"}}, "CHANNEL_LAYERS has no 'defualt'"),
        ({"SOCKETIO": {"CHANNEL_LAYER": None}}, "SOCKETIO['CHANNEL_LAYER'] is None"),
        ({}, "the in-memory layer only reaches its own"),
        (
            {
                "CHANNEL_LAYERS": {
                    "default": {
                        "BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [DOWN]},
                    }
                }
            },
            "the channel layer failed (ConnectionError: ",
        ),
    ],
    ids=["no layers", "typo", "none", "in memory", "redis down"],
)
def test_emit_sync_raises_when_it_reaches_no_process(settings, reason):
    with pytest.raises(EmitError, match=r"^event 'news' reached no one: ") as raised:
        emit_sync_outside_the_server(**settings)
    assert reason in str(raised.value)


def test_emit_sync_in_a_serving_process_needs_no_layer():
    """The server's own process reaches its clients (none here) without any layer."""
    with override_settings(CHANNEL_LAYERS={}):
        server = DjangoSocketIOServer()
        server.serving = True
        server.of("/").emit_sync("news", timezone.now())
