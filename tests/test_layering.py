"""The layers of ARCHITECTURE.md, checked by reading the imports (with `ast`).

[pure] modules import the standard library and each other, nothing else: no asyncio,
no Django, no Channels. The [aio] engine imports no Django or Channels, not even
through one of our modules. Imports inside functions and under ``TYPE_CHECKING``
count too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "django_socketio"

PURE = [
    "django_socketio.exceptions",
    "django_socketio.engineio.packets",
    "django_socketio.engineio.packets_v3",
    "django_socketio.engineio.session",
    "django_socketio.engineio.handshake",
    "django_socketio.stats",
    "django_socketio.socketio.limits",
    "django_socketio.engineio.limits",
    "django_socketio.socketio.rooms",
    "django_socketio.internode",
    "django_socketio.nodes",
]
if (ROOT / "django_socketio/socketio/packets.py").exists():
    PURE.append("django_socketio.socketio.packets")
PURE.append("django_socketio.socketio.msgpack_parser")

# Third-party codecs a pure module may use: they do no I/O.
CODECS = {"msgpack"}

# Allowed in the standard library, but not in a pure module: it does I/O or runs a loop.
NOT_PURE_STDLIB = {"asyncio", "socket", "selectors", "threading", "logging"}


def path_of(module: str) -> Path:
    base = ROOT / module.replace(".", "/")
    return base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"


def is_package(module: str) -> bool:
    return path_of(module).name == "__init__.py"


def imports(module: str) -> set[str]:
    """The absolute names of every module `module` imports, relative imports resolved."""
    tree = ast.parse(path_of(module).read_text(), filename=str(path_of(module)))
    package = module if is_package(module) else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # `from . import packets` imports a module; `from .packets import X` a name.
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if target.startswith(PACKAGE) and path_of(submodule).exists():
                    found.add(submodule)
                else:
                    found.add(target)
    return found


def ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def reachable(module: str) -> set[str]:
    """Every module `module` imports, directly or through our own modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports(todo.pop()):
            if name not in seen:
                seen.add(name)
                if ours(name) and path_of(name).exists():
                    todo.append(name)
    return seen


def test_the_import_parser_resolves_relative_imports():
    assert imports("django_socketio.engineio.session") >= {
        "django_socketio.exceptions",
        "django_socketio.engineio.packets",
        "json",
    }


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_only_the_stdlib_and_other_pure_modules(module):
    direct = imports(module)
    foreign = sorted(
        name
        for name in direct
        if not ours(name)
        and name.partition(".")[0] not in CODECS
        and (
            name.partition(".")[0] not in sys.stdlib_module_names
            or name.partition(".")[0] in NOT_PURE_STDLIB
        )
    )
    assert foreign == [], f"{module} imports {foreign}"
    impure = sorted(name for name in direct if ours(name) and name not in PURE)
    assert impure == [], f"{module} imports {impure}, which are not [pure]"


def test_engine_imports_no_django_or_channels():
    names = reachable("django_socketio.engineio.engine")
    bad = sorted(n for n in names if n.partition(".")[0] in {"django", "channels", "daphne"})
    assert bad == []
    assert "asyncio" in names  # it is the [aio] layer: the check reads the right file


def test_the_check_sees_an_edge_module_for_what_it_is():
    assert "channels.consumer" in imports("django_socketio.engineio.consumers")
    assert "django.conf" in reachable("django_socketio.conf")
