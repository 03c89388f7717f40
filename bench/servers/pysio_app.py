"""The bench app on python-socketio's ``AsyncServer``, as an ASGI app (uvicorn or daphne).

``echo`` acks its arguments; ``join`` joins room ``all`` (ack); ``bcast`` broadcasts its
arguments to room ``all`` as event ``b``. With ``REDIS_URL`` set, rooms span processes
through ``AsyncRedisManager`` (the multi-process scenario).

    uvicorn --app-dir bench/servers pysio_app:app
    daphne --websocket_timeout -1 pysio_app:app      (from bench/servers)
"""

import os

import socketio

_redis = os.environ.get("REDIS_URL")

sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=socketio.AsyncRedisManager(_redis) if _redis else None,
    ping_interval=25,
    ping_timeout=20,
    max_http_buffer_size=1_000_000,
)


@sio.event
async def echo(sid, *args):
    return args  # a tuple: each element is one ack argument


@sio.event
async def join(sid, *args):
    await sio.enter_room(sid, "all")


@sio.event
async def bcast(sid, *args):
    await sio.emit("b", args, room="all")


app = socketio.ASGIApp(sio)
