"""The Socket.IO conformance handlers, on "/" and "/custom" (found by autodiscover)."""

from django_socketio import Namespace, on


class Conformance(Namespace):
    namespace = "/"

    async def on_connect(self, socket, auth):
        await socket.emit("auth", auth)

    async def on_message(self, socket, *args):
        await socket.emit("message-back", *args)

    @on("message-with-ack")
    async def message_with_ack(self, socket, *args):
        return args

    @on("emit-with-ack")
    async def emit_with_ack(self, socket, *args):
        reply = await socket.emit_with_ack("emit-with-ack", *args)
        values = reply if isinstance(reply, tuple) else () if reply is None else (reply,)
        await socket.emit("emit-with-ack", *values)


class Custom(Conformance):
    namespace = "/custom"
