"""Mistakes a new user makes, and the message each one now gets.

The app missing from INSTALLED_APPS, a Namespace class without a `namespace` line, a
client asking for a namespace nobody serves, no handler at all, an unknown layer alias.
"""

from __future__ import annotations

import logging
import types

import pytest
from django.core.checks import Warning
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_socketio import Namespace, checks
from django_socketio.registry import declared_namespaces
from django_socketio.routing import socketio_application
from django_socketio.testing import SocketIOCommunicator


def _module(**classes: type) -> types.ModuleType:
    module = types.ModuleType("someapp.sockets")
    for name, cls in classes.items():
        cls.__module__ = module.__name__
        setattr(module, name, cls)
    return module


def test_a_class_without_namespace_serves_slash() -> None:
    class Main(Namespace):
        async def on_message(self, socket: object) -> None: ...

    assert declared_namespaces(_module(Main=Main)) == [Main]


def test_a_base_class_in_the_same_module_is_not_registered() -> None:
    class Base(Namespace):
        pass

    class Chat(Base):
        namespace = "/chat"

    class Other(Base):
        namespace = "/other"

    assert declared_namespaces(_module(Base=Base, Chat=Chat, Other=Other)) == [Chat, Other]


def test_app_not_installed() -> None:
    with override_settings(INSTALLED_APPS=["channels"]), pytest.raises(ImproperlyConfigured) as e:
        socketio_application(object())
    assert str(e.value) == (
        "'django_socketio' is not in INSTALLED_APPS: add it (after 'channels'), or no "
        "sockets.py module is found and every client gets 'Invalid namespace'."
    )


def test_no_namespace_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_socketio import io

    assert checks.check_namespaces() == []
    monkeypatch.setattr(io, "namespaces", {})
    monkeypatch.setattr(io, "dynamic", [])
    assert checks.check_namespaces() == [
        Warning(
            "No Socket.IO namespace is registered, so every client gets 'Invalid namespace'.",
            hint="Declare a Namespace subclass in a sockets.py module of an app listed in "
            "INSTALLED_APPS (or register one with django_socketio.register).",
            id="django_socketio.W004",
        )
    ]


async def test_an_unknown_namespace_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="django_socketio")
    async with SocketIOCommunicator(namespace="/nobody-serves-this") as client:
        connected, error = await client.connect()
    assert (connected, error) == (False, {"message": "Invalid namespace"})
    [record] = [r for r in caplog.records if "/nobody-serves-this" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "a client asked for namespace '/nobody-serves-this', which no handler serves, and got "
        "'Invalid namespace' (served: /, "
    )


def test_unknown_layer_alias_is_logged_at_runtime(caplog: pytest.LogCaptureFixture) -> None:
    from django_socketio.server import DjangoSocketIOServer

    caplog.set_level(logging.WARNING, logger="django_socketio")
    with override_settings(SOCKETIO={"CHANNEL_LAYER": "redis"}):
        adapter = DjangoSocketIOServer().make_adapter()
    assert type(adapter).__name__ == "Adapter"
    assert [r.getMessage() for r in caplog.records] == [
        "CHANNEL_LAYERS has no alias 'redis' (SOCKETIO['CHANNEL_LAYER']): rooms and broadcasts "
        "stay in this process; see `manage.py check`"
    ]
