"""``manage.py socketio_status``: what the running Socket.IO servers serve, read-only.

The command joins the channel layer as a short-lived node: it says hello (every
server answers with its heartbeat, so it learns who is there), asks each server
for its `status()` through the same cross-process request the adapter uses for
``fetch_sockets``, prints namespaces, sockets and rooms per process and in
total, and says goodbye. It changes nothing on the servers. Servers are only
visible through a shared layer (channels_redis); with the in-memory layer or
``SOCKETIO["CHANNEL_LAYER"] = None`` there is nothing to ask, and it says so.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

SETTLE = 0.3  # seconds without a new node before asking
#: Daphne has no ASGI lifespan events, so its processes join the layer late.
NONE_SEEN = (
    "A server process joins the channel layer when Socket.IO starts there: under daphne "
    "with its first Socket.IO connection, under uvicorn --lifespan on at start-up. The "
    "servers and this command must use the same CHANNEL_LAYERS."
)


class Command(BaseCommand):
    help = "Show namespaces, sockets and rooms on every Socket.IO server process (read-only)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=2.0,
            help="seconds to wait for the servers to answer hello (default 2)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_socketio import io

        # Inside the loop: some layers (channels_redis' pubsub) need one when built.
        report = asyncio.run(_gather(io, options["wait"]))
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.stdout.write(render(report))


def _shared_adapter(io: Any) -> Any:
    from channels.layers import InMemoryChannelLayer

    from django_socketio.adapter import ChannelLayerAdapter
    from django_socketio.conf import get_settings

    adapter = io.adapter
    if isinstance(adapter, ChannelLayerAdapter) and not isinstance(
        adapter.layer, InMemoryChannelLayer
    ):
        return adapter
    alias = get_settings().channel_layer
    raise CommandError(
        "No channel layer shared between processes "
        f"(SOCKETIO['CHANNEL_LAYER'] is {alias!r}"
        + (", an in-memory layer" if isinstance(adapter, ChannelLayerAdapter) else "")
        + "), so the servers cannot be asked. Configure channels_redis in "
        "CHANNEL_LAYERS, for the servers and for this command."
    )


async def _gather(io: Any, wait: float) -> dict[str, Any]:
    adapter = _shared_adapter(io)
    await io.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen, quiet_since = 0, loop.time()
        while loop.time() < deadline:  # hello answers arrive at once; stop once they settle
            await asyncio.sleep(0.05)
            now_seen = len(adapter.live_nodes())
            if now_seen != seen:
                seen, quiet_since = now_seen, loop.time()
            elif seen and loop.time() - quiet_since >= SETTLE:
                break
        nodes = adapter.live_nodes()
        answers = await adapter.request(io.of("/"), "server_status", {}) if nodes else []
    finally:
        await adapter.stop()
    processes = sorted((a for a in answers if a), key=lambda a: (a["hostname"], a["pid"]))
    totals: dict[str, Any] = {}
    for process in processes:
        for name, info in process["namespaces"].items():
            total = totals.setdefault(name, {"sockets": 0, "rooms": {}})
            total["sockets"] += info["sockets"]
            for room, size in info["rooms"].items():
                total["rooms"][room] = total["rooms"].get(room, 0) + size
    return {
        "time": time.time(),
        "nodes_seen": len(nodes),
        "processes": processes,
        "namespaces": totals,
    }


def _rooms(rooms: dict[str, int], limit: int = 20) -> str:
    shown = sorted(rooms.items(), key=lambda pair: (-pair[1], pair[0]))
    text = ", ".join(f"{room} {size}" for room, size in shown[:limit])
    more = len(shown) - limit
    return text + (f", ... {more} more" if more > 0 else "")


def render(report: dict[str, Any]) -> str:
    processes = report["processes"]
    lines = [
        f"{report['nodes_seen']} server process(es) seen, {len(processes)} answered.",
    ]
    if not report["nodes_seen"]:
        lines.append(NONE_SEEN)
    for p in processes:
        c = p["connections"]
        lines.append(
            f"\n{p['hostname']} pid {p['pid']} (node {p['node_id']}), up {p['uptime']:.0f} s: "
            f"{c['websocket'] + c['polling']} connections "
            f"({c['websocket']} websocket, {c['polling']} polling)"
        )
        for name, info in sorted(p["namespaces"].items()):
            rooms = f"; rooms: {_rooms(info['rooms'])}" if info["rooms"] else ""
            lines.append(f"  {name}: {info['sockets']} sockets{rooms}")
    if processes:
        lines.append("\nAll processes:")
        for name, info in sorted(report["namespaces"].items()):
            rooms = f"; rooms: {_rooms(info['rooms'])}" if info["rooms"] else ""
            lines.append(f"  {name}: {info['sockets']} sockets{rooms}")
    return "\n".join(lines)
