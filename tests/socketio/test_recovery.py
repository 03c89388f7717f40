"""Connection state recovery in one process, as a client sees it (`SocketIOCommunicator`)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from django.test import override_settings

from django_socketio import ConnectionRefused, Namespace, on
from django_socketio.server import DjangoSocketIOServer
from django_socketio.socketio.recovery import RecoveryConfig
from django_socketio.stats import STATS

from .test_server import Sio, eventually, sio  # noqa: F401  (the fixture)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def rsio():
    """A server with recovery on (window 120 s, on a clock the test moves)."""
    rs = Sio()
    rs.server.enable_recovery(RecoveryConfig(max_disconnection_duration=120.0))
    rs.clock = Clock()
    rs.server.recovery_store.clock = rs.clock
    rs.sockets = {}
    rs.middleware_runs = []

    rs.hold_connect = None  # an asyncio.Event: a connect with auth "slow" waits for it

    async def middleware(socket, auth):
        rs.middleware_runs.append(socket.recovered)
        if isinstance(auth, dict) and auth.get("refuse"):
            raise ConnectionRefused("refused")
        if isinstance(auth, dict) and auth.get("slow"):
            await rs.hold_connect.wait()

    @rs.register
    class Room(Namespace):
        namespace = "/"
        middlewares = [middleware]

        async def on_connect(self, socket, auth):
            rs.sockets[socket.id] = socket
            if not socket.recovered:
                socket.data["name"] = (auth or {}).get("name")

        async def on_disconnect(self, socket, reason):
            await socket.emit("said-at-disconnect", reason)

        @on("join")
        async def join(self, socket, room):
            await socket.join(room)

        @on("whoami")
        async def whoami(self, socket):
            return socket.id, sorted(socket.rooms), socket.data, socket.recovered

    yield rs
    await rs.close()


async def first_event(client, event="hello"):
    """Have the client receive one event, so that it holds an offset."""
    got = await client.receive_event()
    assert got.event == event
    return got


async def test_recovery_is_off_by_default(sio):  # noqa: F811
    @sio.register
    class Plain(Namespace):
        namespace = "/"

        @on("ping-me")
        async def ping_me(self, socket):
            await socket.emit("pong", "text")

    assert sio.server.recovery is None
    client = await sio.connected()
    await client.emit("ping-me")
    event = await client.receive_event()
    assert (event.event, event.args) == ("pong", ["text"])  # no offset added
    assert client.pid is None and client.offset is None  # no pid in CONNECT


async def test_a_dropped_client_gets_its_id_rooms_data_and_missed_events_once_in_order(rsio):
    nsp = rsio.server.of("/")
    client = await rsio.connected(auth={"name": "ada"})
    other = await rsio.connected()
    assert client.pid and client.pid != client.sid
    await client.emit_with_ack("join", "r1")
    await nsp.emit("hello")
    await first_event(client)
    await first_event(other)
    old = rsio.sockets[client.sid]
    before = STATS.recoveries

    await client.drop()
    await eventually(lambda: not old.connected)
    await nsp.emit("all", 1)
    await nsp.to("r1").emit("room", 2)
    await nsp.to("elsewhere").emit("not-for-it", 3)
    await nsp.except_("r1").emit("not-for-it", 4)
    await old.emit("direct", b"\x00\x01")
    await nsp.to("r1").volatile.emit("volatile", 5)
    assert await nsp.to("r1").timeout(0.05).emit_with_ack("with-ack", 6) == []  # nobody in r1

    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert again.recovered and again.sid == client.sid and again.pid == client.pid
    missed = [await again.receive_event() for _ in range(4)]
    assert [(e.event, e.args[:-1]) for e in missed] == [
        ("said-at-disconnect", ["transport close"]),
        ("all", [1]),
        ("room", [2]),
        ("direct", [b"\x00\x01"]),
    ]
    offsets = [e.args[-1] for e in missed]
    assert len(set(offsets)) == 4 and again.offset == offsets[-1]
    assert await again.emit_with_ack("whoami") == [
        client.sid,
        sorted([client.sid, "r1"]),
        {"name": "ada"},
        True,
    ]
    assert rsio.middleware_runs == [False, False]  # SKIP_MIDDLEWARES: not on recovery
    assert STATS.recoveries == before + 1
    # live again: the next event arrives once, after the replayed ones
    await nsp.to("r1").emit("live", 7)
    event = await again.receive_event()
    assert (event.event, event.args[:-1]) == ("live", [7])
    assert await again.receive_nothing()
    # `other` never left: it got each broadcast once, live
    got = [(await other.receive_event()).event for _ in range(2)]
    assert got == ["all", "not-for-it"] and await other.receive_nothing()


async def test_volatile_and_ack_carrying_emits_carry_no_offset_and_are_not_replayed(rsio):
    nsp = rsio.server.of("/")
    client = await rsio.connected()
    await nsp.emit("hello")
    await first_event(client)
    await nsp.to(client.sid).volatile.emit("volatile", "x")
    event = await client.receive_event()
    assert (event.event, event.args) == ("volatile", ["x"])  # no offset
    socket = rsio.sockets[client.sid]
    asked = await socket.emit("question", "q", callback=lambda *a: None)
    assert asked
    event = await client.receive_event()
    assert (event.event, event.args, event.wants_ack) == ("question", ["q"], True)
    await nsp.emit("hello")
    offset = (await first_event(client)).args[-1]
    await client.drop()
    await eventually(lambda: not socket.connected)
    await nsp.to(client.sid).volatile.emit("volatile", "y")
    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert again.recovered and client.offset == offset
    missed = []
    while not await again.receive_nothing():
        missed.append((await again.receive_event()).event)
    assert missed == ["said-at-disconnect"]


async def test_connection_middlewares_run_again_when_skip_middlewares_is_false(rsio):
    rsio.server.recovery = RecoveryConfig(skip_middlewares=False)
    client = await rsio.connected()
    await rsio.server.of("/").emit("hello")
    await first_event(client)
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert again.recovered
    assert rsio.middleware_runs == [False, True]  # it sees socket.recovered


async def test_a_refused_recovery_leaves_no_socket_behind(rsio):
    rsio.server.recovery = RecoveryConfig(skip_middlewares=False)
    client = await rsio.connected()
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    again = client.reconnect()
    again.auth = {"refuse": True}
    rsio.clients.append(again)
    assert await again.connect() == (False, {"message": "refused"})
    assert client.sid not in rsio.server.of("/").sockets


async def test_a_forged_pid_or_offset_gets_a_fresh_session(rsio):
    client = await rsio.connected()
    await rsio.server.of("/").emit("hello")
    await first_event(client)
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    failed = STATS.recoveries_failed
    forged = client.reconnect()
    forged.pid = "not-a-session"
    rsio.clients.append(forged)
    assert await forged.connect() == (True, None)
    assert not forged.recovered and forged.sid != client.sid and forged.pid != "not-a-session"
    wrong_offset = client.reconnect()
    wrong_offset.offset = "deadbeef.1"
    rsio.clients.append(wrong_offset)
    assert await wrong_offset.connect() == (True, None)
    assert not wrong_offset.recovered and wrong_offset.sid != client.sid
    assert STATS.recoveries_failed == failed + 2
    # single use: the session went with the failed attempt
    late = client.reconnect()
    rsio.clients.append(late)
    assert await late.connect() == (True, None)
    assert not late.recovered


async def test_a_session_expires_after_max_disconnection_duration(rsio):
    client = await rsio.connected()
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    rsio.clock.now += 120.5
    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert not again.recovered and again.sid != client.sid


async def test_a_client_that_never_got_an_event_recovers(rsio):
    """Reference bugs #4888/#5538: no offset yet must not mean no recovery."""
    client = await rsio.connected(auth={"name": "quiet"})
    await client.emit_with_ack("join", "r1")
    assert client.offset is None
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    await rsio.server.of("/").to("r1").emit("while-away")
    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert again.recovered and again.sid == client.sid
    events = [(await again.receive_event()).event for _ in range(2)]
    assert events == ["said-at-disconnect", "while-away"]
    assert (await again.emit_with_ack("whoami"))[2] == {"name": "quiet"}


async def test_a_client_whose_offset_aged_out_of_the_log_recovers(rsio):
    """Reference bug #5282: a quiet connection's last event is older than the window."""
    client = await rsio.connected()
    await rsio.server.of("/").emit("hello")
    await first_event(client)
    rsio.clock.now += 300  # five quiet minutes
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    await rsio.server.of("/").emit("while-away")  # trims "hello" out of the log
    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert again.recovered and again.sid == client.sid
    events = [(await again.receive_event()).event for _ in range(2)]
    assert events == ["said-at-disconnect", "while-away"]


async def test_a_live_duplicate_is_closed_before_its_session_is_restored(rsio):
    """Reference bug #4880: the client reconnects before the server saw the old one die."""
    client = await rsio.connected(auth={"name": "twice"})
    await client.emit_with_ack("join", "r1")
    await rsio.server.of("/").emit("hello")
    await first_event(client)
    old = rsio.sockets[client.sid]
    evictions = STATS.recovery_evictions
    again = client.reconnect()  # while `client` is still connected
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert again.recovered and again.sid == client.sid
    assert not old.connected and STATS.recovery_evictions == evictions + 1
    nsp = rsio.server.of("/")
    assert nsp.sockets[client.sid] is not old and len(nsp.rooms.rooms["r1"]) == 1
    await nsp.to("r1").emit("once")
    events = [(await again.receive_event()).event for _ in range(2)]
    assert events == ["said-at-disconnect", "once"]
    assert await again.receive_nothing()
    with pytest.raises(Exception, match="io server disconnect"):
        while True:
            await client.receive_event()


async def test_a_restored_session_lost_before_its_connect_went_out_is_kept_again(rsio):
    """The reconnection took the session from the store, then its connection died while
    the connect handlers ran (a process stopping meanwhile): the session is kept again,
    and the next reconnection recovers it (it was lost: socket.io-client got a fresh one)."""
    rsio.server.recovery = RecoveryConfig(skip_middlewares=False)
    client = await rsio.connected(auth={"name": "ada"})
    await client.emit_with_ack("join", "r1")
    await rsio.server.of("/").emit("hello")
    await first_event(client)
    await client.drop()
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    rsio.hold_connect = asyncio.Event()
    second = client.reconnect()
    second.auth = {"slow": True}
    rsio.clients.append(second)
    connecting = asyncio.ensure_future(second.connect(timeout=5))
    await eventually(lambda: len(rsio.middleware_runs) == 2)  # restored, held in the middleware
    await second.drop()
    rsio.hold_connect.set()
    with contextlib.suppress(Exception):
        await connecting
    await rsio.server.of("/").to("r1").emit("meanwhile")
    third = client.reconnect()
    rsio.clients.append(third)
    assert await third.connect() == (True, None)
    assert third.recovered and third.sid == client.sid
    assert (await third.emit_with_ack("whoami"))[1:3] == [
        sorted([client.sid, "r1"]),
        {"name": "ada"},
    ]
    events = [(await third.receive_event()).event for _ in range(2)]
    # the first socket's emit from on_disconnect (recoverable), then what came meanwhile
    assert events == ["said-at-disconnect", "meanwhile"]
    assert await third.receive_nothing()


async def test_a_client_leaving_on_purpose_is_not_kept(rsio):
    client = await rsio.connected()
    await client.disconnect()  # "client namespace disconnect": not recoverable
    await eventually(lambda: not rsio.sockets[client.sid].connected)
    again = client.reconnect()
    rsio.clients.append(again)
    assert await again.connect() == (True, None)
    assert not again.recovered


@override_settings(SOCKETIO={"RECOVERY": {"MAX_DISCONNECTION_DURATION": 30, "MAX_EVENTS": 50}})
def test_the_recovery_setting_turns_it_on():
    server = DjangoSocketIOServer()
    server.engine  # noqa: B018  (reads the settings)
    assert server.recovery == RecoveryConfig(30.0, True, 50)
    assert server.recovery_store.window == 30.0 and server.recovery_store.max_events == 50


def test_the_readme_settings_turn_recovery_on():
    from tests.readme import blocks

    found = blocks("recovery")
    module: dict = {}
    exec(compile(found["settings.py"], "README.md", "exec"), module)
    with override_settings(SOCKETIO=module["SOCKETIO"]):
        server = DjangoSocketIOServer()
        server.engine  # noqa: B018  (reads the settings)
    assert server.recovery == RecoveryConfig(120.0, True, 10_000)


async def test_the_readme_test_client_example_runs(rsio):
    from tests.readme import blocks

    module: dict = {}
    exec(compile(blocks("recovery")["tests"], "README.md", "exec"), module)
    await module["test_a_lost_client_recovers"](rsio.application)
