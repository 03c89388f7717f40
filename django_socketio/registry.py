"""Finding namespace handlers: ``sockets.py`` modules, the way the admin finds ``admin.py``.

[edge] `autodiscover()` imports ``<app>.sockets`` for every installed app and
registers each `Namespace` subclass defined there, at its `namespace`. A class
that sets no `namespace` serves the one it inherits (``"/"`` from `Namespace`)
(forgetting the line must not leave a handler silently unregistered), unless
another class of the same module subclasses it: that one is a base class, and
is left alone. `register` does the same for a class anywhere else. Two handlers
for one namespace raise `AlreadyRegistered` at import time, naming both.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import TypeVar

from django.apps import apps
from django.utils.module_loading import module_has_submodule

from .socketio.namespace import Namespace
from .socketio.server import AlreadyRegistered, SocketIOServer

MODULE_NAME = "sockets"


def _server(server: SocketIOServer | None) -> SocketIOServer:
    if server is not None:
        return server
    from .server import io

    return io


N = TypeVar("N", bound=type[Namespace])


def register(handler_class: N, server: SocketIOServer | None = None) -> N:
    """Register `handler_class` (usable as a class decorator)."""
    target = _server(server)
    if handler_class in _registered(target):
        return handler_class
    target.register(handler_class)
    _registered(target).add(handler_class)
    return handler_class


def _registered(server: SocketIOServer) -> set[type[Namespace]]:
    found = server.__dict__.setdefault("_registered_classes", set())
    return found


def declared_namespaces(module: object) -> list[type[Namespace]]:
    """The handler classes a ``sockets`` module declares (bases of others excepted)."""
    defined = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Namespace) and obj.__module__ == getattr(module, "__name__", None)
    ]
    bases = {base for obj in defined for base in obj.__mro__[1:]}
    return [obj for obj in defined if "namespace" in vars(obj) or obj not in bases]


def autodiscover(server: SocketIOServer | None = None) -> list[str]:
    """Import every installed app's ``sockets`` module and register what it declares."""
    imported = []
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, MODULE_NAME):
            continue
        module = import_module(f"{app_config.name}.{MODULE_NAME}")
        imported.append(module.__name__)
        for handler_class in declared_namespaces(module):
            register(handler_class, server)
    return imported


__all__ = ["AlreadyRegistered", "autodiscover", "declared_namespaces", "register"]
