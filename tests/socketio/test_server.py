"""The Socket.IO server as a client sees it, through `SocketIOCommunicator`.

Every test registers its namespaces on a fresh `DjangoSocketIOServer` served by
its own websocket route, so no handler leaks into the global `io`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading

import pytest
from channels.routing import URLRouter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import AsyncClient, override_settings

from django_socketio import AckTimeoutError, ConnectionRefused, Namespace, on, register
from django_socketio.registry import AlreadyRegistered
from django_socketio.routing import websocket_urlpatterns
from django_socketio.server import DjangoSocketIOServer
from django_socketio.socketio.packets import Packet, PacketType
from django_socketio.testing import Disconnected, SocketIOCommunicator


class Sio:
    """A fresh server, the ASGI application serving it, and the clients of one test."""

    def __init__(self) -> None:
        self.server = DjangoSocketIOServer()
        self.application = URLRouter(websocket_urlpatterns(engine=self.server.engine))
        self.clients: list[SocketIOCommunicator] = []

    def register(self, handler_class: type[Namespace]) -> type[Namespace]:
        return register(handler_class, server=self.server)

    def handler(self, namespace: str = "/") -> Namespace:
        handler = self.server.of(namespace).handler
        assert handler is not None
        return handler

    def client(self, namespace: str = "/", **kwargs) -> SocketIOCommunicator:
        client = SocketIOCommunicator(self.application, namespace, **kwargs)
        self.clients.append(client)
        return client

    async def connected(self, namespace: str = "/", **kwargs) -> SocketIOCommunicator:
        client = self.client(namespace, **kwargs)
        assert await client.connect() == (True, None)
        return client

    async def close(self) -> None:
        try:
            for client in self.clients:
                await client.close()  # raises what a client saw go wrong
        finally:
            await self.server.engine.shutdown()
            await self.server.adapter.stop()


@pytest.fixture
async def sio():
    sio = Sio()
    yield sio
    await sio.close()


async def eventually(condition, timeout: float = 1.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def quiet(*clients: SocketIOCommunicator, timeout: float = 0.05) -> bool:
    """No event reaches any of `clients` (waiting once for all of them)."""
    return all(await asyncio.gather(*(c.receive_nothing(timeout) for c in clients)))


class Chat(Namespace):
    """A namespace most tests can share: rooms, echo, acks, and what it saw."""

    namespace = "/"

    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def on_connect(self, socket, auth):
        socket.data["name"] = auth.get("name", "anon")

    async def on_join(self, socket, *rooms):
        await socket.join(rooms)
        return sorted(socket.rooms - {socket.id})

    async def on_leave(self, socket, room):
        await socket.leave(room)
        return sorted(socket.rooms - {socket.id})

    async def on_say(self, socket, room, text):
        await socket.to(room).emit("said", socket.data["name"], text)

    async def on_shout(self, socket, text):
        await socket.broadcast.emit("shouted", socket.data["name"], text)

    async def on_ping(self, socket, *args):
        return ("pong", *args)

    async def on_kick_me(self, socket, close=False):
        await socket.disconnect(close)

    async def on_disconnect(self, socket, reason):
        self.reasons.append(reason)


# -- connecting ---------------------------------------------------------------------------


async def test_connect_with_an_auth_payload_and_the_handshake(sio):
    @sio.register
    class Hello(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            h = socket.handshake
            await socket.emit(
                "hello", auth, socket.id, h.query["room"], h.headers["x-token"], h.address
            )

    client = sio.client(
        auth={"token": "abc", "n": [1, 2]}, query={"room": "r1"}, headers={"X-Token": "t"}
    )
    assert await client.connect() == (True, None)
    event = await client.receive_event()
    assert event.event == "hello"
    assert event.args == [{"token": "abc", "n": [1, 2]}, client.sid, "r1", "t", "127.0.0.1"]


async def test_without_auth_the_handler_gets_an_empty_dict(sio):
    @sio.register
    class Hello(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            await socket.emit("auth", auth)

    client = await sio.connected()
    assert (await client.receive_event()).args == [{}]


async def test_connection_refused_sends_its_message_and_data(sio):
    connects = []

    @sio.register
    class Guarded(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            await socket.emit("too-early")  # held back until CONNECT, then dropped
            if auth.get("password") != "secret":
                raise ConnectionRefused("msg", {"code": 401})
            connects.append(socket.id)

        async def on_disconnect(self, socket, reason):
            connects.append(reason)

    refused = sio.client(auth={"password": "guess"})
    assert await refused.connect() == (False, {"message": "msg", "data": {"code": 401}})
    assert refused.connected is False
    assert await refused.receive_nothing()
    assert await sio.server.of("/").fetch_sockets() == []

    welcome = await sio.connected(auth={"password": "secret"})
    assert connects == [welcome.sid]
    assert (await welcome.receive_event()).event == "too-early"


async def test_connection_refused_without_data_and_a_failing_connect_handler(sio, caplog):
    @sio.register
    class Moody(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            if auth.get("mood") == "grumpy":
                raise ConnectionRefused("Go away")
            raise RuntimeError("the connect handler broke")

    assert await sio.client(auth={"mood": "grumpy"}).connect() == (False, {"message": "Go away"})
    with caplog.at_level(logging.ERROR, logger="django_socketio"):
        answer = await sio.client().connect()
    assert answer == (False, {"message": "Internal server error"})
    assert "connect handler of namespace / failed" in caplog.text
    assert "the connect handler broke" in caplog.text


async def test_an_unknown_namespace_is_refused(sio):
    sio.register(Chat)
    client = sio.client("/nowhere")
    assert await client.connect() == (False, {"message": "Invalid namespace"})
    # io.of() alone creates no handler, so the namespace is still unknown to clients
    sio.server.of("/empty")
    assert await sio.client("/empty").connect() == (False, {"message": "Invalid namespace"})


async def test_a_dynamic_namespace_serves_every_matching_name(sio):
    @sio.register
    class Dynamic(Namespace):
        namespace = re.compile(r"^/dyn-\d+$")

        async def on_where(self, socket):
            return socket.namespace

    one = await sio.connected("/dyn-1")
    twenty_two = await sio.connected("/dyn-22")
    assert await one.emit_with_ack("where") == ["/dyn-1"]
    assert await twenty_two.emit_with_ack("where") == ["/dyn-22"]
    for name in ("/dyn-x", "/dyn-1/more", "/dyn-"):
        assert await sio.client(name).connect() == (False, {"message": "Invalid namespace"})

    # each matching name is a namespace of its own
    await sio.server.of("/dyn-1").emit("news", 1)
    assert (await one.receive_event()).args == [1]
    assert await twenty_two.receive_nothing()


async def test_connection_middlewares_run_in_order_and_can_refuse(sio):
    calls = []

    async def server_wide(socket, auth):
        calls.append(("server", socket.namespace))
        if auth.get("banned"):
            raise ConnectionRefused("banned")
        socket.data["trail"] = ["server"]

    def of_namespace(socket, auth):  # sync middlewares work too
        calls.append(("of", socket.namespace))
        if auth.get("role") != "admin":
            raise ConnectionRefused("admins only", {"role": auth.get("role")})
        socket.data["trail"].append("of")

    async def on_class(socket, auth):
        calls.append(("class", socket.namespace))
        if auth.get("late"):
            raise ConnectionRefused("too late")
        socket.data["trail"].append("class")

    sio.server.use(server_wide)
    sio.server.of("/admin").use(of_namespace)

    @sio.register
    class Admin(Namespace):
        namespace = "/admin"
        middlewares = (on_class,)

        async def on_connect(self, socket, auth):
            await socket.emit("trail", socket.data["trail"])

    sio.register(Chat)

    assert await sio.client("/admin", auth={"banned": True}).connect() == (
        False,
        {"message": "banned"},
    )
    assert calls == [("server", "/admin")]
    calls.clear()
    assert await sio.client("/admin", auth={"role": "user"}).connect() == (
        False,
        {"message": "admins only", "data": {"role": "user"}},
    )
    assert calls == [("server", "/admin"), ("of", "/admin")]
    calls.clear()
    assert await sio.client("/admin", auth={"role": "admin", "late": 1}).connect() == (
        False,
        {"message": "too late"},
    )
    assert calls == [("server", "/admin"), ("of", "/admin"), ("class", "/admin")]

    admin = await sio.connected("/admin", auth={"role": "admin"})
    assert (await admin.receive_event()).args == [["server", "of", "class"]]
    # the server-wide middleware applies to every namespace, the others only to theirs
    calls.clear()
    await sio.connected("/")
    assert calls == [("server", "/")]
    assert await sio.client("/", auth={"banned": True}).connect() == (False, {"message": "banned"})


# -- events and acks ----------------------------------------------------------------------


async def test_events_with_and_without_an_ack(sio):
    @sio.register
    class Events(Namespace):
        namespace = "/"

        async def on_echo(self, socket, *args):
            await socket.emit("echoed", *args)

        async def on_one(self, socket):
            return "one"

        async def on_many(self, socket):
            return 1, "two", [3]

        async def on_a_list(self, socket):
            return [1, 2]

        async def on_nothing(self, socket):
            return None

        @on("name-with-dash")
        async def dashed(self, socket, value):
            return value * 2

    client = await sio.connected()
    await client.emit("echo", "a", {"b": None}, 1.5, True)
    assert tuple(await client.receive_event()) == ("echoed", ["a", {"b": None}, 1.5, True])
    assert await client.emit_with_ack("one") == ["one"]
    assert await client.emit_with_ack("many") == [1, "two", [3]]
    assert await client.emit_with_ack("a_list") == [[1, 2]]
    assert await client.emit_with_ack("nothing") == []
    assert await client.emit_with_ack("name-with-dash", 21) == [42]
    # the method name is not an event name when @on names the event
    with pytest.raises(TimeoutError):
        await client.emit_with_ack("dashed", 1, timeout=0.1)
    # an event nobody handles is not acknowledged, and the connection is fine
    with pytest.raises(TimeoutError):
        await client.emit_with_ack("unknown", timeout=0.1)
    assert await client.emit_with_ack("one") == ["one"]
    assert await client.receive_nothing()


async def test_sync_handlers_run_in_a_worker_thread(sio):
    @sio.register
    class Sync(Namespace):
        namespace = "/"

        def on_connect(self, socket, auth):
            socket.data["connect_thread"] = threading.current_thread() is threading.main_thread()

        def on_where(self, socket):
            return socket.data[
                "connect_thread"
            ], threading.current_thread() is threading.main_thread()

    assert threading.current_thread() is threading.main_thread()
    client = await sio.connected()
    assert await client.emit_with_ack("where") == [False, False]


@pytest.mark.django_db(transaction=True)
async def test_a_sync_handler_can_use_the_orm(sio):
    User = get_user_model()

    @sio.register
    class Orm(Namespace):
        namespace = "/"

        def on_count(self, socket):
            return User.objects.count()

        def on_create(self, socket, username):
            return User.objects.create_user(username).pk

    await User.objects.acreate(username="ada")
    client = await sio.connected()
    assert await client.emit_with_ack("count") == [1]
    [pk] = await client.emit_with_ack("create", "grace")
    assert (await User.objects.aget(pk=pk)).username == "grace"
    assert await client.emit_with_ack("count") == [2]


class WhoAmI(Namespace):
    namespace = "/"

    async def on_connect(self, socket, auth):
        await socket.emit("user", socket.user.username, socket.user.is_authenticated)

    async def on_whoami(self, socket):
        return socket.user.username, socket.user.is_anonymous


@pytest.mark.django_db(transaction=True)
async def test_socket_user_is_the_scope_user(sio):
    sio.register(WhoAmI)
    user = await get_user_model().objects.acreate(username="ada")
    client = await sio.connected(user=user)
    assert (await client.receive_event()).args == ["ada", True]
    assert await client.emit_with_ack("whoami") == ["ada", False]


async def test_socket_user_is_anonymous_without_a_login(sio):
    sio.register(WhoAmI)
    client = await sio.connected()
    assert (await client.receive_event()).args == ["", False]
    assert await client.emit_with_ack("whoami") == ["", True]


@pytest.mark.django_db(transaction=True)
async def test_socket_user_comes_from_the_session_cookie(sio):
    sio.register(WhoAmI)
    user = await get_user_model().objects.acreate(username="grace")
    browser = AsyncClient()
    await browser.aforce_login(user)
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    client = await sio.connected(headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"})
    assert (await client.receive_event()).args == ["grace", True]


@pytest.mark.django_db(transaction=True)
async def test_a_page_let_in_by_cors_star_alone_is_anonymous(sio):
    """F7: "*" without the explicit CORS_CREDENTIALS opt-in ignores the cookies a browser
    sends along (a websocket always carries them) and a user put in the scope."""
    sio.register(WhoAmI)
    user = await get_user_model().objects.acreate(username="grace")
    browser = AsyncClient()
    await browser.aforce_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    foreign = {"Origin": "https://elsewhere.example", "Cookie": cookie}
    star = {**settings.SOCKETIO, "CORS_ALLOWED_ORIGINS": "*"}
    with override_settings(SOCKETIO=star):
        for kwargs in ({}, {"user": user}):
            client = await sio.connected(headers=foreign, **kwargs)
            assert (await client.receive_event()).args == ["", False]
        client = await sio.connected(headers={"Cookie": cookie})  # no Origin: not a page
        assert (await client.receive_event()).args == ["grace", True]
    with override_settings(SOCKETIO={**star, "CORS_CREDENTIALS": True}):  # the opt-in
        client = await sio.connected(headers=foreign)
        assert (await client.receive_event()).args == ["grace", True]


async def test_emits_from_on_connect_arrive_after_connect(sio):
    @sio.register
    class Greeter(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            await socket.emit("first", 1)
            await socket.emit("binary", b"\x00")
            await socket.join("lobby")
            await socket.to("lobby").emit("joined", socket.id)
            await socket.nsp.to("lobby").emit("lobby", socket.id)  # the new socket too

    # The test client treats an EVENT before its namespace's CONNECT as a protocol error,
    # so connect() succeeding with the events queued proves the order on the wire.
    first = await sio.connected()
    assert [tuple(await first.receive_event()) for _ in range(3)] == [
        ("first", [1]),
        ("binary", [b"\x00"]),
        ("lobby", [first.sid]),
    ]
    second = await sio.connected()
    assert tuple(await first.receive_event()) == ("joined", [second.sid])
    assert tuple(await first.receive_event()) == ("lobby", [second.sid])
    assert [tuple(await second.receive_event()) for _ in range(3)] == [
        ("first", [1]),
        ("binary", [b"\x00"]),
        ("lobby", [second.sid]),
    ]
    assert await quiet(first, second)


# -- the server asks for acks -----------------------------------------------------------


class Asker(Namespace):
    namespace = "/"

    def __init__(self) -> None:
        self.called_back: list[list] = []

    async def on_ask(self, socket, *args):
        return await socket.emit_with_ack("question", *args)

    async def on_ask_within(self, socket, seconds):
        try:
            return "reply", await socket.timeout(seconds).emit_with_ack("question")
        except AckTimeoutError as exc:
            return "timeout", str(exc)

    async def on_ask_with_timeout(self, socket, seconds):
        try:
            return await socket.emit_with_ack("question", timeout=seconds)
        except AckTimeoutError:
            return "timed out"

    async def on_ask_callback(self, socket, seconds):
        answered = asyncio.get_running_loop().create_future()

        async def callback(err, *values):
            self.called_back.append([type(err).__name__ if err else None, list(values)])
            answered.set_result(self.called_back[-1])

        if seconds is None:
            await socket.emit(
                "question", callback=lambda *values: answered.set_result(list(values))
            )
        else:
            await socket.timeout(seconds).emit("question", callback=callback)
        return await answered


async def test_socket_emit_with_ack_returns_the_client_answer(sio):
    sio.register(Asker)
    client = await sio.connected()
    # the handler returns what emit_with_ack returned: None (no ack arguments), the one
    # argument, or a tuple of them (several ack arguments)
    for answer, expected in (((), []), (("yes",), ["yes"]), (("a", 2), ["a", 2])):
        asking = asyncio.ensure_future(client.emit_with_ack("ask", "q?", 1))
        question = await client.receive_event()
        assert (question.event, question.args, question.wants_ack) == ("question", ["q?", 1], True)
        await question.ack(*answer)
        assert await asking == expected


async def test_socket_timeout_emit_with_ack_raises_ack_timeout_error(sio):
    sio.register(Asker)
    client = await sio.connected()
    loop = asyncio.get_running_loop()
    started = loop.time()
    asking = asyncio.ensure_future(client.emit_with_ack("ask_within", 0.2))
    question = await client.receive_event()
    assert await asking == ["timeout", "no ack for 'question' within 0.2 s"]
    assert 0.2 <= loop.time() - started < 0.6
    await question.ack("too late")  # ignored
    assert await client.emit_with_ack("ask_with_timeout", 0.1) == ["timed out"]
    await client.receive_event()

    asking = asyncio.ensure_future(client.emit_with_ack("ask_within", 1))
    await (await client.receive_event()).ack("in time")
    assert await asking == ["reply", "in time"]


async def test_socket_timeout_emit_calls_back_node_style(sio):
    sio.register(Asker)
    client = await sio.connected()

    asking = asyncio.ensure_future(client.emit_with_ack("ask_callback", 1))
    await (await client.receive_event()).ack("a", b"\x01")
    assert await asking == [[None, ["a", b"\x01"]]]

    asking = asyncio.ensure_future(client.emit_with_ack("ask_callback", 0.1))
    assert (await client.receive_event()).wants_ack
    assert await asking == [["AckTimeoutError", []]]

    # without timeout(), the callback gets the ack's arguments only
    asking = asyncio.ensure_future(client.emit_with_ack("ask_callback", None))
    await (await client.receive_event()).ack(1, 2)
    assert await asking == [[1, 2]]

    # the client goes away before answering: the callback learns it, instead of never
    asking = asyncio.ensure_future(client.emit_with_ack("ask_callback", 1))
    assert (await client.receive_event()).wants_ack
    await client.close()
    with pytest.raises(Disconnected):
        await asking
    await eventually(lambda: len(sio.handler().called_back) == 3)
    assert sio.handler().called_back[-1] == ["ConnectionError", []]


async def test_binary_both_ways_nested_in_dicts_and_lists(sio):
    @sio.register
    class Binary(Namespace):
        namespace = "/"

        async def on_echo(self, socket, *args):
            await socket.emit("echo", *args)
            return args

        async def on_types(self, socket, data):
            return [type(data["file"]).__name__, type(data["more"][1]["deep"]).__name__]

        async def on_ask(self, socket):
            return await socket.emit_with_ack("send-me-bytes", {"here": b"\x10"})

    client = await sio.connected()
    payload = {"file": b"\x00\x01\x02", "more": [1, {"deep": b"\xff" * 3}, [b"", b"x"]]}
    assert await client.emit_with_ack("echo", payload, b"last") == [payload, b"last"]
    assert tuple(await client.receive_event()) == ("echo", [payload, b"last"])
    assert await client.emit_with_ack("types", payload) == [["bytes", "bytes"]]

    asking = asyncio.ensure_future(client.emit_with_ack("ask"))
    question = await client.receive_event()
    assert question.args == [{"here": b"\x10"}]
    await question.ack([b"a", {"b": b"b"}])
    assert await asking == [[b"a", {"b": b"b"}]]


# -- rooms and broadcasts ---------------------------------------------------------------


async def test_join_and_leave_rooms(sio):
    sio.register(Chat)
    ada = await sio.connected(auth={"name": "ada"})
    bob = await sio.connected(auth={"name": "bob"})
    assert await ada.emit_with_ack("join", "a", "b") == [["a", "b"]]
    assert await bob.emit_with_ack("join", "a") == [["a"]]

    await sio.server.to("a").emit("to-a", 1)
    assert tuple(await ada.receive_event()) == ("to-a", [1])
    assert tuple(await bob.receive_event()) == ("to-a", [1])

    assert await bob.emit_with_ack("leave", "a") == [[]]
    await sio.server.to("a").emit("to-a", 2)
    assert (await ada.receive_event()).args == [2]
    assert await bob.receive_nothing()

    # every socket is in the room named by its own id
    await sio.server.to(bob.sid).emit("private")
    assert (await bob.receive_event()).event == "private"
    assert await ada.receive_nothing()


async def test_socket_to_room_emit_excludes_the_sender(sio):
    sio.register(Chat)
    ada, bob, cy = [await sio.connected(auth={"name": n}) for n in ("ada", "bob", "cy")]
    outsider = await sio.connected(auth={"name": "dee"})
    for client in (ada, bob, cy):
        await client.emit_with_ack("join", "room")
    await ada.emit("say", "room", "hi")
    assert tuple(await bob.receive_event()) == ("said", ["ada", "hi"])
    assert tuple(await cy.receive_event()) == ("said", ["ada", "hi"])
    assert await quiet(ada, outsider)


async def test_to_to_except_reaches_each_selected_socket_exactly_once(sio):
    sio.register(Chat)
    in_a_b, in_a, in_b_c, in_c, nowhere = [await sio.connected() for _ in range(5)]
    await in_a_b.emit_with_ack("join", "a", "b")
    await in_a.emit_with_ack("join", "a")
    await in_b_c.emit_with_ack("join", "b", "c")
    await in_c.emit_with_ack("join", "c")

    await sio.server.to("a").to("b").except_("c").emit("news", "x")
    assert tuple(await in_a_b.receive_event()) == ("news", ["x"])
    assert tuple(await in_a.receive_event()) == ("news", ["x"])
    assert await quiet(in_a_b, in_a, in_b_c, in_c, nowhere)

    # the same selection given as lists, on the namespace
    await sio.server.of("/").to(["a", "b"]).except_(["c"]).emit("news", "y")
    assert (await in_a_b.receive_event()).args == ["y"]
    assert (await in_a.receive_event()).args == ["y"]
    assert await quiet(in_a_b, in_a, in_b_c, in_c, nowhere)

    # except_ alone: everyone not in "c"
    await sio.server.except_("c").emit("news", "z")
    for client in (in_a_b, in_a, nowhere):
        assert (await client.receive_event()).args == ["z"]
    assert await quiet(in_a_b, in_a, in_b_c, in_c, nowhere)


async def test_socket_broadcast_reaches_everyone_else_in_the_namespace_only(sio):
    sio.register(Chat)

    @sio.register
    class Other(Chat):
        namespace = "/other"

    ada, bob, cy = [await sio.connected(auth={"name": n}) for n in ("ada", "bob", "cy")]
    elsewhere = await sio.connected("/other")
    await bob.emit("shout", "hey")
    assert tuple(await ada.receive_event()) == ("shouted", ["bob", "hey"])
    assert tuple(await cy.receive_event()) == ("shouted", ["bob", "hey"])
    assert await quiet(bob, elsewhere)


async def test_server_emit_reaches_its_namespace(sio):
    sio.register(Chat)

    @sio.register
    class Other(Chat):
        namespace = "/other"

    main, other = await sio.connected(), await sio.connected("/other")
    await sio.server.emit("everyone", b"\x01")
    assert tuple(await main.receive_event()) == ("everyone", [b"\x01"])
    await sio.server.of("other").emit("others")
    assert tuple(await other.receive_event()) == ("others", [])
    assert await quiet(main, other)
    with pytest.raises(ValueError, match="reserved"):
        await sio.server.emit("disconnect")


async def test_broadcast_emit_with_ack_gathers_every_answer(sio):
    sio.register(Chat)
    clients = [await sio.connected() for _ in range(3)]
    outsider = await sio.connected("/")
    for client in clients:
        await client.emit_with_ack("join", "poll")

    asking = asyncio.ensure_future(sio.server.to("poll").timeout(1).emit_with_ack("vote", "?"))
    for answer, client in enumerate(clients):
        question = await client.receive_event()
        assert (question.event, question.args) == ("vote", ["?"])
        await question.ack(answer, "extra") if answer == 2 else await question.ack(answer)
    responses = await asking
    assert sorted(responses, key=lambda r: r if isinstance(r, int) else r[0]) == [
        0,
        1,
        (2, "extra"),
    ]
    assert await outsider.receive_nothing()

    # nobody selected: nothing to wait for
    assert await sio.server.to("empty-room").timeout(1).emit_with_ack("vote") == []


async def test_broadcast_emit_with_ack_raises_with_the_partial_responses(sio):
    sio.register(Chat)
    answering = [await sio.connected() for _ in range(2)]
    silent = await sio.connected()
    asking = asyncio.ensure_future(sio.server.of("/").timeout(0.2).emit_with_ack("vote"))
    for answer, client in zip(("x", "y"), answering, strict=True):
        await (await client.receive_event()).ack(answer)
    assert (await silent.receive_event()).wants_ack
    with pytest.raises(AckTimeoutError) as raised:
        await asking
    assert sorted(raised.value.responses) == ["x", "y"]
    assert str(raised.value) == "not every client acknowledged 'vote' within 0.2 s"


async def test_fetch_sockets_and_sockets_join_and_leave(sio):
    sio.register(Chat)
    ada, bob, cy = [await sio.connected(auth={"name": n}) for n in ("ada", "bob", "cy")]
    await ada.emit_with_ack("join", "a")
    await bob.emit_with_ack("join", "a")

    nsp = sio.server.of("/")
    assert sorted(s.id for s in await nsp.fetch_sockets()) == sorted([ada.sid, bob.sid, cy.sid])
    in_a = await nsp.to("a").fetch_sockets()
    assert sorted(s.data["name"] for s in in_a) == ["ada", "bob"]
    assert sorted(s.id for s in await nsp.except_("a").fetch_sockets()) == [cy.sid]

    await nsp.to("a").sockets_join(["b", "c"])
    assert await ada.emit_with_ack("join") == [["a", "b", "c"]]
    await nsp.to("b").emit("to-b")
    assert (await ada.receive_event()).event == "to-b"
    assert (await bob.receive_event()).event == "to-b"
    assert await cy.receive_nothing()

    await nsp.to(ada.sid).sockets_leave(["a", "b"])
    assert await ada.emit_with_ack("join") == [["c"]]
    assert await bob.emit_with_ack("join") == [["a", "b", "c"]]


async def test_disconnect_sockets(sio):
    sio.register(Chat)
    ada, bob, cy = [await sio.connected() for _ in range(3)]
    await ada.emit_with_ack("join", "out")
    await bob.emit_with_ack("join", "out")

    await sio.server.of("/").to("out").disconnect_sockets()
    for client in (ada, bob):
        with pytest.raises(Disconnected) as raised:
            await client.receive_event()
        assert raised.value.reason == "io server disconnect"
        assert client.closed is False  # the connection stays, the namespace is left
    assert sio.handler().reasons == ["server namespace disconnect"] * 2
    assert [s.id for s in await sio.server.of("/").fetch_sockets()] == [cy.sid]
    assert await cy.emit_with_ack("ping") == ["pong"]

    await sio.server.of("/").disconnect_sockets(close=True)
    with pytest.raises(Disconnected) as raised:
        await cy.receive_event()
    assert raised.value.reason == "io server disconnect"
    assert await cy.wait_closed() == 1000


# -- disconnection ------------------------------------------------------------------------


async def test_disconnect_reasons_seen_by_on_disconnect(sio):
    sio.register(Chat)
    reasons = sio.handler().reasons

    leaving = await sio.connected()
    await leaving.disconnect()
    assert reasons == ["client namespace disconnect"]

    kicked = await sio.connected()
    await kicked.emit("kick_me")
    with pytest.raises(Disconnected) as raised:
        await kicked.receive_event()
    assert raised.value.reason == "io server disconnect"
    assert reasons[1:] == ["server namespace disconnect"]
    assert kicked.closed is False

    lost = await sio.connected()
    await lost.close()
    assert reasons[2:] == ["transport close"]
    assert await sio.server.of("/").fetch_sockets() == []


async def test_disconnect_with_close_closes_the_connection(sio):
    sio.register(Chat)
    client = await sio.connected()
    other = await sio.connected()
    await client.emit("kick_me", True)
    with pytest.raises(Disconnected) as raised:
        await client.receive_event()
    assert raised.value.reason == "io server disconnect"  # told first, like Node's server
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["server namespace disconnect"]
    assert await other.emit_with_ack("ping") == ["pong"]


async def test_an_idle_connection_is_closed_after_the_connect_timeout(sio):
    sio.register(Chat)
    sio.server.connect_timeout = 0.2
    loop = asyncio.get_running_loop()
    started = loop.time()
    idle = sio.client()
    await idle.open()
    active = await sio.connected()
    assert await idle.wait_closed(timeout=1) == 1000
    assert 0.2 <= loop.time() - started < 0.6
    await asyncio.sleep(0.1)
    assert active.closed is False
    assert await active.emit_with_ack("ping") == ["pong"]


# -- errors -------------------------------------------------------------------------------


async def test_a_failing_handler_is_logged_not_acked_and_the_connection_lives(sio, caplog):
    @sio.register
    class Fragile(Chat):
        async def on_boom(self, socket):
            raise ValueError("kaboom")

        def on_sync_boom(self, socket):
            raise ValueError("sync kaboom")

    client = await sio.connected()
    with caplog.at_level(logging.ERROR, logger="django_socketio"):
        with pytest.raises(TimeoutError):
            await client.emit_with_ack("boom", timeout=0.2)
        with pytest.raises(TimeoutError):
            await client.emit_with_ack("sync_boom", timeout=0.2)
    messages = [r.getMessage() for r in caplog.records if r.name == "django_socketio"]
    assert messages == [
        "handler for event 'boom' in namespace / failed",
        "handler for event 'sync_boom' in namespace / failed",
    ]
    assert [str(r.exc_info[1]) for r in caplog.records if r.exc_info] == [
        "kaboom",
        "sync kaboom",
    ]
    assert await client.emit_with_ack("ping", 1) == ["pong", 1]
    assert client.connected is True


async def test_a_malformed_packet_closes_only_that_connection(sio):
    sio.register(Chat)
    broken = await sio.connected()
    fine = await sio.connected()
    await broken.send_raw('42["unterminated')
    assert await broken.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]
    assert await fine.emit_with_ack("ping") == ["pong"]
    assert fine.connected is True


async def test_a_client_sending_connect_error_is_closed(sio):
    sio.register(Chat)
    client = await sio.connected()
    other = await sio.connected()
    await client.send_raw('44{"message":"from a client?"}')
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]
    assert await other.emit_with_ack("ping") == ["pong"]


async def test_too_many_attachments_close_the_connection(sio):
    sio.register(Chat)
    client = await sio.connected()
    # MAX_ATTACHMENTS is 10: ten pass, eleven are refused
    assert await client.emit_with_ack("ping", *[b"x"] * 10) == ["pong", *[b"x"] * 10]
    await client.emit("ping", *[b"x"] * 11)
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]


async def test_registering_two_classes_on_one_namespace_fails():
    server = DjangoSocketIOServer()
    register(Chat, server=server)
    register(Chat, server=server)  # the same class again is a no-op

    class Again(Namespace):
        namespace = "/"

    with pytest.raises(AlreadyRegistered, match="namespace '/' is already handled by Chat"):
        register(Again, server=server)

    class Dyn(Namespace):
        namespace = re.compile(r"^/d-\d+$")

    class DynAgain(Namespace):
        namespace = re.compile(r"^/d-\d+$")

    register(Dyn, server=server)
    with pytest.raises(AlreadyRegistered, match="already registered"):
        register(DynAgain, server=server)


# -- per-socket middlewares and listeners ------------------------------------------------


async def test_socket_use_can_drop_an_event(sio):
    handled = []

    @sio.register
    class Filtered(Namespace):
        namespace = "/"

        async def on_connect(self, socket, auth):
            def no_secrets(event, args):
                if event == "secret":
                    raise PermissionError("dropped")

            async def tag(event, args):
                args.append("tagged")

            socket.use(no_secrets)
            socket.use(tag)

        async def on_secret(self, socket, *args):
            handled.append(("secret", args))
            return "leaked"

        async def on_public(self, socket, *args):
            handled.append(("public", args))
            return args

    client = await sio.connected()
    with pytest.raises(TimeoutError):
        await client.emit_with_ack("secret", 1, timeout=0.2)
    assert await client.emit_with_ack("public", 1) == [1, "tagged"]
    assert handled == [("public", (1, "tagged"))]


async def test_on_any_and_on_any_outgoing(sio):
    incoming, outgoing = [], []

    @sio.register
    class Spy(Chat):
        async def on_connect(self, socket, auth):
            await super().on_connect(socket, auth)
            socket.on_any(lambda event, *args: incoming.append((event, args)))

            async def out(event, *args):
                outgoing.append((socket.data["name"], event, args))

            socket.on_any_outgoing(out)
            await socket.emit("welcome", 1)

    ada = await sio.connected(auth={"name": "ada"})
    bob = await sio.connected(auth={"name": "bob"})
    await ada.emit_with_ack("ping", "x")
    await ada.emit("unhandled", 1, 2)
    await ada.emit("shout", "hi")  # a broadcast to bob is also an event emitted to bob
    assert tuple(await bob.receive_event()) == ("welcome", [1])
    assert tuple(await bob.receive_event()) == ("shouted", ["ada", "hi"])
    await eventually(lambda: len(incoming) == 3)
    assert incoming == [("ping", ("x",)), ("unhandled", (1, 2)), ("shout", ("hi",))]
    assert outgoing == [
        ("ada", "welcome", (1,)),
        ("bob", "welcome", (1,)),
        ("bob", "shouted", ("ada", "hi")),
    ]


# -- outgoing middlewares -------------------------------------------------------------


async def test_outgoing_middlewares_rewrite_or_drop_each_sockets_copy(sio):
    """Per-user redaction on a broadcast, a per-socket filter, and emits to one socket."""
    seen = []

    @sio.register
    class Redacting(Chat):
        async def on_connect(self, socket, auth):
            await super().on_connect(socket, auth)
            if socket.data["name"] == "cy":
                socket.use_outgoing(lambda s, packet: packet.event != "said")  # mutes rooms

    def redact(socket, packet):
        seen.append((socket.data["name"], packet.event, packet.broadcast))
        if packet.event == "said" and socket.data["name"] != "ada":
            packet.args = [packet.args[0], "***"]

    sio.server.of("/").use_outgoing(redact)
    ada = await sio.connected(auth={"name": "ada"})
    bob = await sio.connected(auth={"name": "bob"})
    cy = await sio.connected(auth={"name": "cy"})
    for client in (ada, bob, cy):
        await client.emit_with_ack("join", "r")
    await bob.emit("say", "r", "secret")
    assert tuple(await ada.receive_event()) == ("said", ["bob", "secret"])
    await ada.emit("say", "r", "secret")
    assert tuple(await bob.receive_event()) == ("said", ["ada", "***"])
    assert await cy.receive_nothing()
    assert ("cy", "said", True) in seen and ("ada", "said", True) in seen


async def test_an_outgoing_middleware_sees_emits_to_one_socket_and_emit_says_if_sent(sio):
    results = []

    @sio.register
    class Filtered(Chat):
        async def on_connect(self, socket, auth):
            async def only_public(s, packet):
                return not packet.event.startswith("private")

            socket.use_outgoing(only_public)
            results.append(await socket.emit("private-note", 1))
            results.append(await socket.emit("hello", 2))

    client = await sio.connected()
    assert tuple(await client.receive_event()) == ("hello", [2])
    assert results == [False, True]
    assert sio.server.of("/").outgoing_sockets == 1
    await client.close()
    await eventually(lambda: sio.server.of("/").outgoing_sockets == 0)


def test_the_readme_outgoing_middleware_example_redacts_for_non_staff():
    from pathlib import Path
    from types import SimpleNamespace

    from django_socketio.socketio.socket import OutgoingPacket

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "redact" in b)
    server = DjangoSocketIOServer()
    scope: dict = {"io": server}
    exec(block, scope)
    (redact,) = server.of("/chat").outgoing
    packet = OutgoingPacket("profile", [{"name": "ann", "email": "a@example.com"}])
    redact(SimpleNamespace(user=SimpleNamespace(is_staff=False)), packet)
    assert packet.args == [{"name": "ann", "email": None}]
    packet = OutgoingPacket("profile", [{"name": "ann", "email": "a@example.com"}])
    redact(SimpleNamespace(user=SimpleNamespace(is_staff=True)), packet)
    assert packet.args == [{"name": "ann", "email": "a@example.com"}]


async def test_a_binary_packet_whose_attachments_never_come_closes_the_connection(sio):
    """F13: a pending packet is held at most PING_INTERVAL + PING_TIMEOUT."""
    sio.register(Chat)
    client = await sio.connected()  # the test client answers every ping: it stays alive
    await client.send_raw('451-["say",{"_placeholder":true,"num":0}]')
    assert await client.wait_closed() == 1000
    assert sio.handler().reasons == ["parse error"]


async def test_outgoing_middlewares_see_broadcasts_from_other_processes(sio):
    """What the adapter hands `deliver` for another node's broadcast: encodings only."""
    from django_socketio.socketio.rooms import BroadcastOptions

    seen = []

    def upper(socket, packet):
        seen.append((packet.event, packet.args, packet.broadcast))
        packet.args = [arg.upper() for arg in packet.args]

    sio.register(Chat)
    nsp = sio.server.of("/")
    nsp.use_outgoing(upper)
    client = await sio.connected()
    encoded = {"json": sio.server.parser.encode(Packet(PacketType.EVENT, "/", ["news", "hi"]))}
    await nsp.deliver(encoded, BroadcastOptions())
    assert tuple(await client.receive_event()) == ("news", ["HI"])
    assert seen == [("news", ["hi"], True)]
