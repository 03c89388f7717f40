"""``manage.py socketio_emit EVENT [ARG ...]``: emit to connected clients from a shell.

Each ARG is parsed as JSON when it can be (``42``, ``'{"a": 1}'``), else kept as a
string. The message travels through the channel layer, so it reaches clients on
every server process sharing that layer. When it could reach no process (no
``CHANNEL_LAYERS``, an alias in ``SOCKETIO["CHANNEL_LAYER"]`` that is not there, the
in-memory layer, Redis down) the command says why and exits with status 1.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_socketio.exceptions import EmitError, EncodeError


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


class Command(BaseCommand):
    help = "Emit an event to Socket.IO clients on every server process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event")
        parser.add_argument("values", nargs="*", metavar="ARG", help="arguments, JSON if possible")
        parser.add_argument("--namespace", "-n", default="/", help="namespace (default /)")
        parser.add_argument("--to", "-t", action="append", default=[], help="room (repeatable)")
        parser.add_argument(
            "--except", dest="except_", action="append", default=[], help="room to skip"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django_socketio import io

        operator = io.of(options["namespace"]).except_(options["except_"])
        if options["to"]:
            operator = operator.to(options["to"])
        try:
            operator.emit_sync(options["event"], *[_parse(a) for a in options["values"]])
        except (EmitError, EncodeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        target = ", ".join(options["to"]) or "everyone"
        self.stdout.write(f"emitted {options['event']!r} to {target} in {options['namespace']}")
