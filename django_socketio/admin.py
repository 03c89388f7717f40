"""The "Socket.IO" section of the Django admin: every process, socket and room, live.

[edge] Staff with the ``django_socketio.operate`` permission see the processes
(from their stats and heartbeats), the namespaces with socket counts, a searchable
list of the sockets of every process, the rooms with their members; and can
disconnect a socket, make it join or leave a room, or emit a test event to a room.
Everything is read and done through the cluster-wide operations (a node request
for the sockets, ``disconnect_sockets``, ``sockets_join``...), so a page served by
one process shows and acts on all of them. The view is sync (Django's admin); our
API called from a thread runs on the server's event loop and blocks (see
``socketio/blocking.py``). Serve the admin from the ASGI processes that run Socket.IO.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .admin_ui import PERMISSION
from .models import Deployment


def can_operate(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perm(PERMISSION))


async def _gather() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from .live import cluster_sockets
    from .server import io

    await io.start()
    return await io.cluster_stats(), await cluster_sockets(io)


def _processes(stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from .server import io

    heard_ago = getattr(io.adapter, "heard_ago", lambda node: None)
    rows = []
    for s in stats:
        heard = heard_ago(s.get("node_id"))
        rows.append(
            {
                "server_id": s["server_id"],
                "hostname": s["hostname"],
                "pid": s["pid"],
                "uptime": int(s["uptime"]),
                "sockets": sum(s["sockets"].values()),
                "connections": sum(s["connections"].values()),
                "heartbeat": "this process"
                if s["server_id"] == io.server_id
                else (f"{heard:.1f} s ago" if heard is not None else "unknown"),
            }
        )
    return sorted(rows, key=lambda r: r["server_id"])


def _matches(socket: dict[str, Any], query: str) -> bool:
    fields = [socket["id"], socket["nsp"], socket.get("user") or "", socket.get("serverId", "")]
    fields += [socket["handshake"].get("address") or "", *socket["rooms"]]
    return any(query in str(field).lower() for field in fields)


def _act(request: HttpRequest) -> str:
    """Run the posted action; returns the message to show."""
    from .server import io

    post = request.POST
    action, nsp = post.get("action", ""), post.get("nsp", "/")
    sid, room = post.get("sid", ""), post.get("room", "")
    if not nsp.startswith("/"):
        raise ValueError("a namespace starts with '/'")
    namespace = io.of(nsp)
    if action == "disconnect" and sid:
        namespace.in_(sid).disconnect_sockets(post.get("close") == "1")
        return f"Disconnected {sid}."
    if action in ("join", "leave") and sid and room:
        operator = namespace.in_(sid)
        run = operator.sockets_join if action == "join" else operator.sockets_leave
        run(room)
        return f"Socket {sid} {'joined' if action == 'join' else 'left'} {room!r}."
    if action == "emit" and room and post.get("event"):
        args = json.loads(post.get("args") or "[]")
        args = args if isinstance(args, list) else [args]
        namespace.to(room).emit(post["event"], *args)
        return f"Emitted {post['event']!r} to {room!r} in {nsp}."
    raise ValueError(f"incomplete action {action!r}")


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """No rows, no forms: the changelist is the live page."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_operate(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_operate(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        # Not wrapped in admin_view: a signed-in user who is not staff gets 403, not a
        # login form; an anonymous one is sent to the admin's login.
        return [path("", self.live_view, name="django_socketio_deployment_changelist")]

    def live_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            login = reverse("admin:login", current_app=self.admin_site.name)
            return HttpResponseRedirect(f"{login}?next={request.path}")
        if not can_operate(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                messages.success(request, _act(request))
            except (ValueError, TypeError) as exc:
                messages.error(request, f"Not done: {exc}")
            return HttpResponseRedirect(request.get_full_path())
        from .server import io

        stats, sockets = io.run_from_thread(_gather())
        query = request.GET.get("q", "").strip().lower()
        shown = [s for s in sockets if _matches(s, query)] if query else sockets
        namespaces: dict[str, int] = {}
        rooms: dict[tuple[str, str], list[str]] = {}
        for socket in sockets:
            namespaces[socket["nsp"]] = namespaces.get(socket["nsp"], 0) + 1
            for room in socket["rooms"]:
                if room != socket["id"]:
                    rooms.setdefault((socket["nsp"], room), []).append(socket["id"])
        context = {
            **self.admin_site.each_context(request),
            "title": "Socket.IO: live deployment",
            "opts": self.model._meta,
            "processes": _processes(stats),
            "namespaces": sorted(namespaces.items()),
            "sockets": sorted(shown, key=lambda s: (s["nsp"], s["connectedAt"])),
            "total": len(sockets),
            "rooms": [
                {"nsp": nsp, "room": room, "members": members}
                for (nsp, room), members in sorted(rooms.items())
            ],
            "query": request.GET.get("q", ""),
        }
        return TemplateResponse(request, "admin/django_socketio/live.html", context)
