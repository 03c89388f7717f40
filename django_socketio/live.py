"""What every process has connected, for the people operating it.

[aio] The Admin UI (`admin_ui`) and the Django admin page (`admin`) read the same
serialised sockets: this process's directly, the others' through a node request
(``sockets``) over the channel layer, like ``fetch_sockets``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .socketio.server import SocketIOServer
    from .socketio.socket import Socket

REDACTED_HEADERS = frozenset({"cookie", "authorization"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_safe(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=repr))
    except (TypeError, ValueError):
        return repr(value)


def client_address(headers: dict[str, str], address: str | None) -> str | None:
    """As the reference does: cf-connecting-ip, then the first x-forwarded-for, then the peer."""
    forwarded = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return address


def serialize(socket: Socket) -> dict[str, Any]:
    """A local socket as the UI's ``SerializedSocket`` (auth never; cookies redacted)."""
    hs = socket.handshake
    headers = {k: ("[redacted]" if k in REDACTED_HEADERS else v) for k, v in hs.headers.items()}
    return {
        "id": socket.id,
        "clientId": socket.client.eio_sid[:12],  # truncated, as the reference does
        "transport": socket.client.transport,
        "nsp": socket.nsp.name,
        "data": json_safe(socket.data),
        "handshake": {
            "address": client_address(hs.headers, hs.address),
            "headers": headers,
            "query": hs.query,
            "issued": hs.issued,
            "secure": hs.secure,
            "time": hs.time,
            "url": hs.url,
            "xdomain": hs.xdomain,
        },
        "rooms": sorted(socket.rooms),
        # ours, beyond the Admin UI's fields (it ignores them)
        "user": _user(socket.user),
        "serverId": socket.nsp.server.server_id,
        "connectedAt": datetime.fromtimestamp(hs.issued / 1000, UTC).isoformat(),
    }


def _user(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.get_username() if hasattr(user, "get_username") else user)


def local_sockets(server: SocketIOServer) -> list[dict[str, Any]]:
    return [
        serialize(socket)
        for nsp in list(server.namespaces.values())
        for socket in list(nsp.sockets.values())
        if socket.connected
    ]


def install(server: SocketIOServer) -> None:
    """Let other processes ask this one for its sockets."""

    async def answer(payload: dict[str, Any]) -> Any:
        return local_sockets(server)

    server.node_requests["sockets"] = answer


async def cluster_sockets(server: SocketIOServer) -> list[dict[str, Any]]:
    """Every connected socket of every namespace on every process that answers in time.

    Each has the Admin UI's ``SerializedSocket`` fields plus ``user``, ``serverId``
    and ``connectedAt`` (ISO-8601).
    """
    remote = await server.ask_nodes("sockets")
    found = local_sockets(server)  # after the wait: the freshest local state
    for answer in remote:
        found.extend(answer or ())
    return found
