"""The chat's Socket.IO handlers, found by django_socketio's autodiscovery.

``/chat``: anyone; pick a nickname, join one room at a time, talk, see who is typing.
``/private``: logged-in Django users only; messages carry the username.

Client -> server events (a handler's return value is the client's ack):
    /chat     set-nick(nick) -> {ok, nick} | {ok: false, error}
              join(room)     -> {ok, room, count, members} | {ok: false, error}
              message(text)  -> {ok, id, ts} | {ok: false, error}
              typing(), stop-typing()
    /private  message(text)  -> {ok, id, ts, user} | {ok: false, error}
Server -> client events:
    /chat     message {id, room, nick, text, ts}, notice {room, text, ts},
              members {room, members}, typing {nick}, stop-typing {nick}
    /private  welcome {user, members}, message {id, user, text, ts}, notice {text, ts},
              members {members}

Times are milliseconds since the epoch, stamped by the server.
"""

import secrets
import time

from django_socketio import ConnectionRefused, Namespace, on

MAX_NICK = 24
MAX_ROOM = 40
MAX_TEXT = 2000


def now_ms() -> int:
    return int(time.time() * 1000)


def clean(value, limit):
    """`value` stripped, or None if it is not a non-empty string of at most `limit` chars."""
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value if 0 < len(value) <= limit else None


def error(message):
    return {"ok": False, "error": message}


class Chat(Namespace):
    namespace = "/chat"

    async def on_connect(self, socket, auth):
        user = socket.user
        name = user.get_username() if user is not None and user.is_authenticated else None
        socket.data["nick"] = name or f"guest-{secrets.token_hex(2)}"
        socket.data["room"] = None

    async def on_disconnect(self, socket, reason):
        room = socket.data.get("room")
        if room is not None:
            await self._left(socket, room)

    # -- helpers -------------------------------------------------------------------------

    async def _members(self, socket, room):
        sockets = await socket.nsp.in_(room).fetch_sockets()
        return sorted(s.data.get("nick", "?") for s in sockets)

    async def _notice(self, socket, room, text):
        await socket.nsp.to(room).emit("notice", {"room": room, "text": text, "ts": now_ms()})

    async def _send_members(self, socket, room):
        members = await self._members(socket, room)
        await socket.nsp.to(room).emit("members", {"room": room, "members": members})
        return members

    async def _left(self, socket, room):
        """`socket` has left `room` (already out of it): tell whoever is still there."""
        nick = socket.data["nick"]
        await socket.nsp.to(room).emit("stop-typing", {"nick": nick})
        await self._notice(socket, room, f"{nick} left")
        await self._send_members(socket, room)

    # -- events --------------------------------------------------------------------------

    @on("set-nick")
    async def set_nick(self, socket, nick=None):
        nick = clean(nick, MAX_NICK)
        if nick is None:
            return error(f"a nickname is 1 to {MAX_NICK} characters")
        old, socket.data["nick"] = socket.data["nick"], nick
        room = socket.data["room"]
        if room is not None and old != nick:
            await self._notice(socket, room, f"{old} is now known as {nick}")
            await self._send_members(socket, room)
        return {"ok": True, "nick": nick}

    async def on_join(self, socket, room=None):
        room = clean(room, MAX_ROOM)
        if room is None:
            return error(f"a room name is 1 to {MAX_ROOM} characters")
        previous = socket.data["room"]
        if previous != room:
            if previous is not None:
                await socket.leave(previous)
                await self._left(socket, previous)
            await socket.join(room)
            socket.data["room"] = room
            await self._notice(socket, room, f"{socket.data['nick']} joined")
        members = await self._send_members(socket, room)
        return {"ok": True, "room": room, "count": len(members), "members": members}

    async def on_message(self, socket, text=None):
        room = socket.data["room"]
        if room is None:
            return error("join a room first")
        text = text.strip() if isinstance(text, str) else ""
        if not 0 < len(text) <= MAX_TEXT:
            return error(f"a message is 1 to {MAX_TEXT} characters")
        message = {
            "id": secrets.token_urlsafe(8),
            "room": room,
            "nick": socket.data["nick"],
            "text": text,
            "ts": now_ms(),
        }
        # Everyone else in the room; the sender shows its own copy and ticks it on this ack.
        await socket.to(room).emit("message", message)
        return {"ok": True, "id": message["id"], "ts": message["ts"]}

    async def on_typing(self, socket):
        room = socket.data["room"]
        if room is not None:
            await socket.to(room).emit("typing", {"nick": socket.data["nick"]})

    @on("stop-typing")
    async def stop_typing(self, socket):
        room = socket.data["room"]
        if room is not None:
            await socket.to(room).emit("stop-typing", {"nick": socket.data["nick"]})


class Private(Namespace):
    """Only for logged-in users: the Django session cookie comes with the handshake."""

    namespace = "/private"
    room = "members"

    async def on_connect(self, socket, auth):
        user = socket.user
        if user is None or not user.is_authenticated:
            raise ConnectionRefused("login required", {"code": 401})
        socket.data["user"] = user.get_username()
        await socket.join(self.room)
        members = await self._members(socket)
        # Held back by the server until the client has seen its CONNECT.
        await socket.emit("welcome", {"user": socket.data["user"], "members": members})
        await socket.to(self.room).emit(
            "notice", {"text": f"{socket.data['user']} joined", "ts": now_ms()}
        )
        await socket.to(self.room).emit("members", {"members": members})

    async def on_disconnect(self, socket, reason):
        name = socket.data.get("user")
        if name is None:
            return
        await socket.nsp.to(self.room).emit("notice", {"text": f"{name} left", "ts": now_ms()})
        await socket.nsp.to(self.room).emit("members", {"members": await self._members(socket)})

    async def _members(self, socket):
        sockets = await socket.nsp.in_(self.room).fetch_sockets()
        return sorted({s.data.get("user", "?") for s in sockets})

    async def on_message(self, socket, text=None):
        text = text.strip() if isinstance(text, str) else ""
        if not 0 < len(text) <= MAX_TEXT:
            return error(f"a message is 1 to {MAX_TEXT} characters")
        message = {
            "id": secrets.token_urlsafe(8),
            "user": socket.data["user"],
            "text": text,
            "ts": now_ms(),
        }
        await socket.to(self.room).emit("message", message)
        return {"ok": True, "id": message["id"], "ts": message["ts"], "user": message["user"]}
