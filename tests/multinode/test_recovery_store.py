"""The Redis recovery store and its stream reader, against a private Redis.

No server processes: the store is driven directly, as two or three processes would
drive it, to show the order and exactly-once rules the module doc argues for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid

import pytest
import redis.asyncio as aioredis

from django_socketio.recovery_redis import (
    RedisRecoveryStore,
    StoredSession,
    StreamEntry,
    StreamFeed,
    parse_offset,
)


@pytest.fixture
async def client(redis):
    conn = aioredis.from_url(redis.url)
    yield conn
    await conn.aclose()


@pytest.fixture
def store(client):
    return RedisRecoveryStore(client, prefix="t" + uuid.uuid4().hex[:8], window=60.0)


def test_offsets_are_stream_ids_and_nothing_else():
    assert parse_offset("1718000000000-3") == (1718000000000, 3)
    for forged in ("bar", "1-2-3", "", None, 12, "-1-0", "1-", "9" * 21 + "-0"):
        assert parse_offset(forged) is None


def test_an_entry_reaches_the_rooms_the_broadcast_named_minus_the_excluded():
    def entry(rooms=(), excl=()):
        return StreamEntry("1-0", "/", ["e"], frozenset(rooms), frozenset(excl))

    assert entry().reaches({"sid"})
    assert entry(["r1"]).reaches({"sid", "r1"})
    assert not entry(["r2"]).reaches({"sid", "r1"})
    assert not entry(excl=["r1"]).reaches({"sid", "r1"})
    assert entry(["r1"], ["r3"]).reaches({"sid", "r1"})
    assert entry(["sid"]).reaches({"sid"})  # a socket's own emit


async def test_sessions_are_single_use(store):
    session = StoredSession("s1", "p1", frozenset({"s1", "room"}), {"n": 1, "b": b"\x00"})
    await store.persist("/", session)
    assert await store.take("/other", "p1") is None  # per namespace
    taken = await store.take("/", "p1")
    assert taken is not None and taken.left_at is not None
    assert dataclasses.replace(taken, left_at=None) == session
    assert await store.take("/", "p1") is None


async def test_sessions_expire_after_the_window(client):
    store = RedisRecoveryStore(client, prefix="t" + uuid.uuid4().hex[:8], window=0.05)
    await store.persist("/", StoredSession("s", "p", frozenset(), {}))
    await asyncio.sleep(0.2)
    assert await store.take("/", "p") is None


async def test_data_that_cannot_be_serialised_raises_on_persist(store):
    with pytest.raises(TypeError):
        await store.persist("/", StoredSession("s", "p", frozenset(), {"x": object()}))


async def test_missed_events_are_filtered_ordered_and_bounded_by_upto(store):
    first = await store.append("/", ["hello", 0], frozenset(), frozenset())
    offsets = [
        await store.append("/", ["all", 1], frozenset(), frozenset()),
        await store.append("/", ["room", 2], frozenset({"r1"}), frozenset()),
        await store.append("/", ["other room", 3], frozenset({"r2"}), frozenset()),
        await store.append("/", ["except", 4], frozenset(), frozenset({"r1"})),
        await store.append("/", ["except other", 5], frozenset(), frozenset({"r3"})),
        await store.append("/chat", ["other nsp", 6], frozenset(), frozenset()),
        await store.append("/", ["direct", b"\x01\x02"], frozenset({"sid"}), frozenset()),
    ]
    assert all(parse_offset(a) < parse_offset(b) for a, b in itertools.pairwise(offsets))
    rooms = {"sid", "r1"}
    missed = await store.missed("/", rooms, first, offsets[-1])
    assert missed == [
        ["all", 1, offsets[0]],
        ["room", 2, offsets[1]],
        ["except other", 5, offsets[4]],
        ["direct", b"\x01\x02", offsets[6]],
    ]
    # Up to the reader's position, not beyond; nothing after the last one.
    assert await store.missed("/", rooms, first, offsets[1]) == missed[:2]
    assert await store.missed("/", rooms, offsets[-1], offsets[-1]) == []


async def test_the_stream_is_trimmed_by_size_and_by_age(client):
    clock = [1_000.0]
    store = RedisRecoveryStore(
        client,
        prefix="t" + uuid.uuid4().hex[:8],
        window=10.0,
        max_events=200,
        clock=lambda: clock[0],
    )
    for i in range(2_000):
        await store.append("/", ["e", i], frozenset(), frozenset())
    length = await client.xlen(store.stream)
    assert 200 <= length < 400  # MAXLEN ~: about, in whole macro nodes
    clock[0] = 1e12  # far in the future: every entry is older than the window
    await store.trim()
    assert await client.xlen(store.stream) < 200


async def test_two_readers_deliver_every_entry_in_stream_order_once(store, redis):
    """Publishers on 'two processes' interleave; each reader sees the stream's order."""
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def collector(name):
        async def deliver(entry: StreamEntry) -> None:
            seen[name].append(entry.offset)

        return deliver

    feeds = [StreamFeed(store, collector(n)) for n in seen]
    for feed in feeds:
        await feed.start()
    other = RedisRecoveryStore(aioredis.from_url(redis.url), prefix=store.prefix)  # "process" b

    async def publish(s, tag):
        return [await s.append("/", [tag, i], frozenset(), frozenset()) for i in range(200)]

    written = await asyncio.gather(publish(store, "a"), publish(other, "b"))
    everything = sorted(written[0] + written[1], key=parse_offset)
    for feed in feeds:
        assert await feed.reached(everything[-1])
    assert seen["a"] == seen["b"] == everything
    for feed in feeds:
        await feed.stop()
    await other.close()


async def test_a_restore_replays_exactly_up_to_the_reader_and_no_further(store):
    """Under a continuous publish, replay + live delivery = every event once."""
    live: list[str] = []
    members: set[str] = set()

    async def deliver(entry: StreamEntry) -> None:
        if members and entry.reaches(members):  # the socket is attached
            live.append(entry.offset)

    feed = StreamFeed(store, deliver)
    await feed.start()
    start = await store.append("/", ["e", -1], frozenset(), frozenset())
    stop = asyncio.Event()

    async def publish():
        written = []
        while not stop.is_set():
            written.append(await store.append("/", ["e", len(written)], frozenset(), frozenset()))
        return written

    publisher = asyncio.ensure_future(publish())
    await asyncio.sleep(0.2)
    assert await feed.reached(start)
    replayed = [event[-1] for event in await feed.replay("/", {"sid"}, start)]
    members.add("sid")  # before the next await, as the server does
    await asyncio.sleep(0.2)
    stop.set()
    written = await publisher
    assert await feed.reached(written[-1])
    got = replayed + live
    assert got == written, (len(got), len(written))
    await feed.stop()


async def test_a_quiet_sessions_position_and_last_sent_are_kept(store):
    """#5282/#4888 across processes: what `StreamFeed.missed` needs comes back."""
    session = StoredSession("s", "p", frozenset({"s"}), None, "17-0", None)
    await store.persist("/", session)
    taken = await store.take("/", "p")
    assert (taken.position, taken.last_sent) == ("17-0", None)


async def test_retains_after_tells_whether_entries_after_a_position_were_trimmed(client):
    store = RedisRecoveryStore(client, prefix="t" + uuid.uuid4().hex[:8], window=60.0, max_events=1)
    assert await store.retains_after("5-0", None)  # an empty stream lost nothing
    offsets = [await store.append("/", ["e", i], frozenset(), frozenset()) for i in range(3)]
    assert await store.retains_after(offsets[0], None)
    await client.xtrim(store.stream, minid=offsets[2], approximate=False)  # drops two
    assert await store.retains_after(offsets[2], None)
    # offsets[1] may have been missed: the stream is full (size trimming may have run)
    assert not await store.retains_after(offsets[0], None)
    store.max_events = 10  # not full: only age trimming ran, which spares what is
    assert await store.retains_after(offsets[0], None)  # newer than a session in its window
    store.max_events = 1
    ms = parse_offset(offsets[2])[0]
    assert await store.retains_after("1-0", (ms + 1) / 1000)  # left after the oldest kept
    assert not await store.retains_after("forged", None)


async def test_taking_a_session_still_live_on_another_process_closes_it_there_first(store, redis):
    """#4880 across processes: 'process a' holds the pid; b's take asks a (through the
    stream) to close it; a persists its session, which b then gets. Nothing is left live."""
    other = RedisRecoveryStore(aioredis.from_url(redis.url), prefix=store.prefix)
    session = StoredSession("s", "p", frozenset({"s", "r"}), {"n": 1}, None, None)
    closed: list[str] = []

    async def process_a(entry: StreamEntry) -> None:
        if entry.kind == "evict" and entry.data[0] == "p":
            closed.append(entry.offset)
            await store.persist("/", session)  # as a lost connection: kept, not live

    at_b: list[StreamEntry] = []

    async def process_b(entry: StreamEntry) -> None:
        at_b.append(entry)

    feed_a, feed_b = StreamFeed(store, process_a), StreamFeed(other, process_b)
    await feed_a.start()
    await feed_b.start()
    await store.hold("/", "p")
    taken = await feed_b.take("/", "p")
    assert len(closed) == 1 and taken is not None
    assert dataclasses.replace(taken, left_at=None) == session
    assert not await other.held("/", "p")
    # b, which asked, restores the pid itself: its own request is not delivered to it
    assert await feed_a.reached(closed[0]) and await feed_b.reached(closed[0])
    assert [e for e in at_b if e.kind == "evict"] == []
    # an eviction entry is no event: never replayed
    assert await feed_b.replay("/", {"s", "r"}, "0-0") == []
    # no live holder and no session: nothing to wait for
    assert await feed_b.take("/", "unknown") is None
    await store.hold("/", "q")
    await store.release("/", "q")
    assert not await store.held("/", "q")
    for feed in (feed_a, feed_b):
        await feed.stop()
    await other.close()


async def test_a_live_socket_s_snapshot_is_what_a_killed_holder_leaves(store, monkeypatch):
    """Nobody closes a live socket whose process was killed: after EVICT_TIMEOUT the
    take gets its last snapshot instead (once), and a persisted session still wins."""
    monkeypatch.setattr("django_socketio.recovery_redis.EVICT_TIMEOUT", 0.2)
    feed = StreamFeed(store, lambda entry: asyncio.sleep(0))
    await feed.start()
    first = StoredSession("s", "p", frozenset({"s"}), {"n": 1}, "1-0", None)
    later = dataclasses.replace(first, rooms=frozenset({"s", "r"}), data={"n": 2})
    await store.hold("/", "p", first)
    await store.hold("/", "p", later)  # the socket joined a room: its newer snapshot
    assert await feed.take("/", "p") == later
    assert not await store.held("/", "p") and await feed.take("/", "p") is None
    # a mark without a snapshot (data that cannot be serialised): nothing to restore
    await store.hold("/", "q", StoredSession("q", "q", frozenset(), {"x": object()}))
    assert await store.held("/", "q") and await feed.take("/", "q") is None
    # a socket that left normally: its persisted session, not its snapshot
    await store.hold("/", "p", first)
    await store.persist("/", later)
    taken = await feed.take("/", "p")
    assert taken is not None and taken.rooms == later.rooms
    await feed.stop()


async def test_take_or_held_reads_the_session_and_the_live_mark_at_once(store):
    """A persist (session stored, live mark dropped, atomically) is seen whole: never
    "no session" and then "not live" across it, which gave a fresh session."""
    session = StoredSession("s", "p", frozenset({"s"}), {})
    await store.hold("/", "p", session)
    assert await store.take_or_held("/", "p") == (None, True)
    await store.persist("/", session)
    taken, live = await store.take_or_held("/", "p")
    assert taken is not None and taken.sid == "s" and live is False
    assert await store.take_or_held("/", "p") == (None, False)
