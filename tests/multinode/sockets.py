"""Handlers the multi-node tests drive: rooms, broadcasts, cross-node queries."""

import datetime
import decimal

from django_socketio import Namespace, io

#: What `bcast_ack` asks every member, with Django types, and what the clients get.
ASK_PAYLOAD = {"amount": decimal.Decimal("1.50"), "day": datetime.date(2026, 12, 2), "n": [1]}
ASK_JSON = {"amount": "1.50", "day": "2026-12-02", "n": [1]}


class Rooms(Namespace):
    namespace = "/rooms"

    async def on_join(self, socket, rooms):
        await socket.join(rooms)
        return sorted(socket.rooms - {socket.id})

    async def on_leave(self, socket, room):
        await socket.leave(room)

    async def on_bcast(self, socket, spec, *args):
        """spec: {"to": [...], "except": [...], "from_socket": bool, "event": str}"""
        target = socket if spec.get("from_socket") else io.of(self.namespace)
        if spec.get("to"):
            op = target.to(spec["to"])
        elif spec.get("from_socket"):
            op = socket.broadcast
        else:
            op = io.of(self.namespace).except_([])
        if spec.get("except"):
            op = op.except_(spec["except"])
        await op.emit(spec.get("event", "b"), *args)
        return True

    async def on_bcast_ack(self, socket, room, timeout):
        try:
            operator = io.of(self.namespace).to(room).timeout(timeout)
            # Django types travel to the other nodes as the clients will see them
            return {"acks": await operator.emit_with_ack("ask", ASK_PAYLOAD)}
        except TimeoutError as exc:
            return {"timeout": True, "acks": getattr(exc, "responses", [])}

    async def on_fetch(self, socket, room):
        sockets = await io.of(self.namespace).in_(room).fetch_sockets()
        return sorted(s.id for s in sockets)

    async def on_kick(self, socket, room):
        await io.of(self.namespace).in_(room).disconnect_sockets()
        return True

    async def on_pull(self, socket, room, into):
        await io.of(self.namespace).in_(room).sockets_join(into)
        return True

    async def on_server_emit(self, socket, *args):
        return await io.of(self.namespace).server_side_emit_with_ack("ping-nodes", *args, timeout=2)

    async def on_server_event(self, event, *args):
        return {"event": event, "args": list(args)}

    async def on_count(self, socket, item):
        """Changes socket.data at the top level and inside a list (the Admin UI sees both)."""
        socket.data["count"] = socket.data.get("count", 0) + 1
        socket.data.setdefault("items", []).append(item)
        return socket.data["count"]

    async def on_echo(self, socket, *args):
        return list(args)

    async def on_node_info(self, socket):
        """What this node's adapter knows: its id, the live nodes, its counters."""
        adapter = io.adapter
        stats = getattr(adapter, "stats", None)
        return {
            "node": getattr(adapter, "node_id", None),
            "nodes": sorted(adapter.live_nodes()) if hasattr(adapter, "live_nodes") else [],
            "groups": len(getattr(adapter, "groups", ())),
            "tag": io.engine.node_tag,
            "stats": vars(stats) if stats is not None else {},
            # forwarded requests waiting here for their owner's answer
            "forwarding": len(getattr(getattr(adapter, "forwarding", None), "_waiting", ())),
        }


class Members(Namespace):
    """Asks every process who is in the room while connecting, as the demo's /private does.

    A forwarded POST carrying this CONNECT must not hold up the loop that brings the
    other processes' answers (it did: the POST waited out the request timeout, 400).
    """

    namespace = "/members"

    async def on_connect(self, socket, auth):
        await socket.join("members")
        sockets = await socket.nsp.in_("members").fetch_sockets()
        socket.data["members"] = len(sockets)

    async def on_count(self, socket):
        return socket.data["members"]
