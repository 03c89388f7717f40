"""The bench app as a django-sio consumer: ``event_<name>`` methods handle events."""

from sio import SocketIOConsumer


class BenchConsumer(SocketIOConsumer):
    namespace = "/"

    async def connect(self, socket, auth):
        return True

    async def event_echo(self, socket, *args, ack=None):
        if ack is not None:
            await ack(*args)

    async def event_join(self, socket, *args, ack=None):
        await socket.join("all")
        if ack is not None:
            await ack()

    async def event_bcast(self, socket, *args, ack=None):
        await socket.server.emit("b", *args, room="all", namespace=self.namespace)
        if ack is not None:
            await ack()
