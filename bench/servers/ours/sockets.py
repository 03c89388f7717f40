"""The bench app: ``echo`` acks its arguments (``sync_echo`` from a worker thread),
``join`` joins room ``all``, ``bcast`` broadcasts its arguments to room ``all`` as event
``b``."""

from django_socketio import Namespace, io


class Bench(Namespace):
    namespace = "/"

    async def on_echo(self, socket, *args):
        return args  # a tuple: each element is one ack argument

    def on_sync_echo(self, socket, *args):
        return args  # in a worker thread (bench/flood.py --handler sync_echo)

    async def on_join(self, socket, *args):
        await socket.join("all")

    async def on_bcast(self, socket, *args):
        await io.to("all").emit("b", *args)
