"""Inbound strictness and limits, asserted from the offending client's side.

Each test says what a misbehaving client sees (its connection closed, an event
dropped, an error ack, a CONNECT_ERROR) and that a well-behaved client next to
it sees nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from dataclasses import replace

import pytest

from django_socketio import Namespace, RoomLimitExceeded, on
from django_socketio.socketio.limits import InboundLimits
from django_socketio.socketio.namespace import RESERVED_EVENTS

from .test_server import Chat, Sio, eventually


@pytest.fixture
async def sio():
    sio = Sio()
    yield sio
    await sio.close()


# -- protocol strictness, as Node's Client.ondecoded -------------------------------------


@pytest.mark.parametrize("event", sorted(RESERVED_EVENTS))
async def test_a_reserved_event_name_closes_the_connection_before_any_listener(sio, event):
    seen = []

    @sio.register
    class Spy(Chat):
        async def on_connect(self, socket, auth):
            socket.use(lambda e, args: seen.append(("middleware", e)))
            socket.on_any(lambda e, *args: seen.append(("any", e)))

    client = await sio.connected()
    other = await sio.connected()
    await client.emit(event, "x")
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]
    assert seen == []
    assert sio.server.limit_counters.reserved_events == 1
    assert await other.emit_with_ack("ping") == ["pong"]


@pytest.mark.parametrize("event", ["disconnecting", "newListener", "removeListener"])
def test_a_handler_for_a_reserved_event_is_refused_where_it_is_written(event):
    with pytest.raises(TypeError, match=f"'{event}' is a reserved event name"):
        type("Bad", (Namespace,), {f"on_{event}": lambda self, socket: "called"})
    with pytest.raises(ValueError, match=f"'{event}' is a reserved event name"):
        on(event)


async def test_an_event_or_ack_for_a_namespace_never_joined_closes_the_connection(sio):
    sio.register(Chat)
    for frame in ('42/elsewhere,["ping"]', '43/elsewhere,1["x"]', "41/elsewhere,"):
        client = await sio.connected()
        await client.send_raw(frame)
        assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"] * 3
    assert sio.server.limit_counters.protocol_violations == 3


async def test_a_second_connect_to_a_connected_namespace_closes_the_connection(sio):
    sio.register(Chat)
    client = await sio.connected()
    other = await sio.connected()
    await client.send_raw("40")
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]
    assert await other.emit_with_ack("ping") == ["pong"]


async def test_connect_disconnect_connect_is_allowed(sio):
    sio.register(Chat)
    client = await sio.connected()
    await client.send_raw("41")
    await eventually(lambda: sio.handler().reasons == ["client namespace disconnect"])
    await client.send_raw("40")
    await eventually(lambda: len(sio.server.of("/").sockets) == 1)
    assert client.closed is False


# -- the connect timer (F9) ----------------------------------------------------------------


async def test_a_client_whose_connects_are_all_refused_is_closed_at_the_connect_timeout(sio):
    from django_socketio import ConnectionRefused

    @sio.register
    class Private(Chat):
        namespace = "/private"

        async def on_connect(self, socket, auth):
            raise ConnectionRefused("no")

    sio.server.connect_timeout = 0.3
    client = sio.client("/private")
    assert await client.connect() == (False, {"message": "no"})
    assert await client.wait_closed(timeout=2) == 1000


# -- handler failures in the log (F12) -----------------------------------------------------


async def test_wrong_arguments_are_one_info_line_per_socket_not_tracebacks(sio, caplog):
    @sio.register
    class Strict(Chat):
        async def on_one(self, socket, value):
            return value

        def on_sync_one(self, socket, value):
            return value

    client = await sio.connected()
    with caplog.at_level(logging.INFO, logger="django_socketio"):
        for _ in range(20):
            await client.emit("one", 1, 2, 3)
            await client.emit("sync_one")
        assert await client.emit_with_ack("one", 7) == [7]
        assert await client.emit_with_ack("sync_one", 8) == [8]
    records = [r for r in caplog.records if r.name == "django_socketio"]
    assert [r.levelname for r in records] == ["INFO"]
    assert records[0].exc_info is None
    assert "'one' with 3 argument(s)" in records[0].getMessage()


async def test_a_raising_handler_logs_a_few_tracebacks_then_counts(sio, caplog):
    @sio.register
    class Fragile(Chat):
        async def on_boom(self, socket):
            raise ValueError("kaboom")

    client = await sio.connected()
    with caplog.at_level(logging.ERROR, logger="django_socketio"):
        for _ in range(50):
            await client.emit("boom")
        assert await client.emit_with_ack("ping") == ["pong"]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 5  # FAILURE_LOG_BURST; the other 45 only counted


async def test_a_huge_value_in_a_bad_packet_is_cut_in_the_log(sio, caplog):
    sio.register(Chat)
    client = await sio.connected()
    huge = "x" * 100_000
    with caplog.at_level(logging.INFO):
        await client.send_raw('451-["ping",{"_placeholder":true,"num":"' + huge + '"}]')
        await client.send_raw(b"\x00")
        assert await client.wait_closed() == 1000
    lines = [r.getMessage() for r in caplog.records]
    assert any("placeholder for a missing attachment" in line for line in lines)
    assert max(len(line) for line in lines) < 1000


# -- nesting depth (F22) -------------------------------------------------------------------


async def test_nesting_deeper_than_max_depth_closes_the_connection(sio):
    sio.register(Chat)
    client = await sio.connected()
    ok = [1]
    for _ in range(62):  # ["ping", ok] nests 64 deep: the default MAX_DEPTH
        ok = [ok]
    assert await client.emit_with_ack("ping", ok) == ["pong", ok]
    await client.send_raw('42["ping",' + "[" * 64 + "]" * 64 + "]")
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]


async def test_brackets_inside_strings_do_not_count_as_nesting(sio):
    sio.register(Chat)
    client = await sio.connected()
    text = '[{"\\"' * 200
    assert await client.emit_with_ack("ping", text) == ["pong", text]
    await asyncio.sleep(0)


# -- events per second, handlers in flight (F10, F11, F5) -------------------------------------


class Counter(Chat):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    async def on_count(self, socket, n):
        self.seen.append(n)
        return n


async def test_events_over_the_rate_are_dropped_with_one_log_line(sio, caplog):
    sio.register(Counter)
    sio.server.inbound = InboundLimits(events_per_second=5, events_burst=10)
    flooder = await sio.connected()
    other = await sio.connected()
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING, logger="django_socketio"):
        started = loop.time()
        for n in range(19):  # with "late": 10 refused, a burst, not yet a flood (below)
            await flooder.emit("count", n)
        assert await other.emit_with_ack("count", "other") == ["other"]
        refilled = math.ceil((loop.time() - started) * 5)  # tokens that came back meanwhile
        with pytest.raises(TimeoutError):  # no error ack unless EVENT_LIMIT_ERROR_ACK
            await flooder.emit_with_ack("count", "late", timeout=0.1)
    seen = sio.handler().seen
    assert seen[:10] == list(range(10))  # the burst
    assert 10 <= len([n for n in seen if n != "other"]) <= 10 + refilled
    assert sio.server.limit_counters.events_rate_limited >= 9 - refilled
    drops = [r for r in caplog.records if "dropping events" in r.getMessage()]
    assert len(drops) == 1
    assert "over EVENTS_PER_SECOND" in drops[0].getMessage()
    assert flooder.connected and not flooder.closed
    await asyncio.sleep(0.25)  # a token came back
    assert await flooder.emit_with_ack("count", "again") == ["again"]


async def test_a_flood_is_not_read_until_the_bucket_is_half_full(sio):
    sio.register(Counter)
    sio.server.inbound = InboundLimits(events_per_second=5, events_burst=10)
    # a production heartbeat: a pause is at most PING_TIMEOUT / 2 (its PONGs wait too)
    sio.server.engine.config = replace(sio.server.engine.config, ping_interval=25, ping_timeout=20)
    flooder = await sio.connected()
    other = await sio.connected()
    for n in range(30):
        await flooder.emit("count", n)
    await asyncio.sleep(0.3)
    assert await other.emit_with_ack("count", "other") == ["other"]
    # 10 let through, 11 refused (more than the burst in a row), and the rest not read:
    # for a second (5 tokens at 5/s), then at about its rate.
    assert sio.handler().seen == [*range(10), "other"]
    assert sio.server.limit_counters.events_rate_limited == 11
    assert flooder.connected and not flooder.closed


async def test_an_event_over_the_rate_gets_an_error_ack_when_asked(sio):
    sio.register(Counter)
    sio.server.inbound = InboundLimits(events_per_second=1, events_burst=1, error_ack=True)
    client = await sio.connected()
    assert await client.emit_with_ack("count", 1) == [1]
    [error] = await client.emit_with_ack("count", 2)
    assert error["error"] == "rate_limited"
    assert 0 < error["retryAfter"] <= 1000
    assert sio.handler().seen == [1]


async def test_the_disconnect_policy_disconnects_the_flooder_only(sio):
    sio.register(Counter)
    sio.server.inbound = InboundLimits(events_per_second=1, events_burst=3, policy="disconnect")
    flooder = await sio.connected()
    other = await sio.connected()
    for n in range(10):
        await flooder.emit("count", n)
    await eventually(lambda: flooder.disconnect_reason == "io server disconnect")
    assert await flooder.wait_closed() == 1000  # its last namespace: the connection too
    assert sio.handler().reasons == ["rate limited"]
    assert sio.handler().seen == [0, 1, 2]
    assert sio.server.limit_counters.sockets_disconnected == 1
    assert await other.emit_with_ack("count", "fine") == ["fine"]


async def test_handlers_in_flight_per_socket_are_bounded(sio):
    release = asyncio.Event()
    started = []

    @sio.register
    class Slow(Chat):
        async def on_slow(self, socket, n):
            started.append(n)
            await release.wait()
            return n

    sio.server.inbound = InboundLimits(max_handlers_in_flight=3, error_ack=True)
    client = await sio.connected()
    waits = [asyncio.ensure_future(client.emit_with_ack("slow", n)) for n in range(5)]
    await asyncio.wait(waits[3:], timeout=1)
    assert [t.result() for t in waits[3:]] == [[{"error": "too_many_in_flight"}]] * 2
    assert started == [0, 1, 2]
    release.set()
    assert [await t for t in waits[:3]] == [[0], [1], [2]]
    assert sio.server.limit_counters.events_over_in_flight == 2
    assert await client.emit_with_ack("slow", 9) == [9]  # slots are given back


async def test_one_socket_flooding_a_sync_handler_does_not_queue_ahead_of_others(sio):
    import time

    done: list[str] = []

    @sio.register
    class Sync(Chat):
        def on_work(self, socket, who):
            time.sleep(0.05)
            done.append(who)
            return who

    flooder = await sio.connected()
    other = await sio.connected()
    for _ in range(20):
        await flooder.emit("work", "flooder")
    await asyncio.sleep(0.01)  # the flood is queued before the bystander asks
    assert await other.emit_with_ack("work", "other", timeout=5) == ["other"]
    # SYNC_HANDLERS_PER_SOCKET = 1: the bystander waited for one or two of the
    # flooder's calls, not for all twenty.
    assert done.index("other") <= 3
    await eventually(lambda: len(done) == 21, timeout=5)


# -- namespaces per connection, dynamic namespaces (F8) ----------------------------------------


class Dynamic(Chat):
    namespace = re.compile(r"^/n\d+$")


async def test_namespaces_per_connection_are_capped_with_a_connect_error(sio):
    sio.register(Dynamic)
    sio.server.inbound = InboundLimits(max_namespaces=2)
    client = sio.client("/n3")
    await client.open()
    await client.send_raw("40/n1,")
    await client.send_raw("40/n2,")
    await eventually(lambda: {"/n1", "/n2"} <= set(sio.server.namespaces))
    assert await client.connect() == (False, {"message": "Too many namespaces"})
    assert sio.server.limit_counters.namespaces_refused == 1
    assert "/n3" not in sio.server.namespaces


async def test_a_dynamic_namespace_is_removed_with_its_last_socket(sio):
    sio.register(Dynamic)
    a = await sio.connected("/n1")
    b = await sio.connected("/n1")
    handler = sio.server.namespaces["/n1"].handler
    await a.disconnect()
    assert "/n1" in sio.server.namespaces
    await b.disconnect()
    await eventually(lambda: "/n1" not in sio.server.namespaces)
    assert handler is not None and handler.reasons == ["client namespace disconnect"] * 2
    again = await sio.connected("/n1")  # made again on the next CONNECT
    assert await again.emit_with_ack("ping") == ["pong"]


async def test_a_static_namespace_stays_without_sockets(sio):
    sio.register(Chat)
    client = await sio.connected()
    await client.disconnect()
    await asyncio.sleep(0.05)
    assert "/" in sio.server.namespaces


# -- rooms per socket (F23) ------------------------------------------------------------------


async def test_a_join_past_max_rooms_raises_and_joins_nothing(sio):
    @sio.register
    class Rooms(Chat):
        async def on_join(self, socket, *rooms):
            try:
                await socket.join(rooms)
            except RoomLimitExceeded as exc:
                return {"error": str(exc)}
            return sorted(socket.rooms - {socket.id})

    sio.server.inbound = InboundLimits(max_rooms=3)
    client = await sio.connected()
    assert await client.emit_with_ack("join", "a", "b") == [["a", "b"]]
    [answer] = await client.emit_with_ack("join", "c", "d")
    assert "at most 3 rooms" in answer["error"]
    assert await client.emit_with_ack("join", "a", "c") == [["a", "b", "c"]]  # a: no-op
    assert sio.server.limit_counters.rooms_refused == 1


class WhoAmIChat(Chat):
    async def on_whoami(self, socket):
        return socket.user.username


@pytest.mark.django_db(transaction=True)
async def test_authentication_does_not_wait_for_the_shared_sync_thread(sio):
    """A CONNECT loads the user in the thread pool: a busy shared thread cannot stall it."""
    import threading

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import AsyncClient

    release = threading.Event()

    @sio.register
    class Busy(WhoAmIChat):
        def on_block(self, socket):  # holds Channels' one shared sync thread
            release.wait(10)

    user = await get_user_model().objects.acreate(username="grace")
    browser = AsyncClient()
    await browser.aforce_login(user)
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    blocker = await sio.connected()
    await blocker.emit("block")
    await asyncio.sleep(0.1)
    try:
        late = sio.client(headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"})
        assert await late.connect(timeout=3) == (True, None)
        assert await late.emit_with_ack("whoami") == ["grace"]
    finally:
        release.set()
