"""The in-memory recovery store (`socketio/recovery.py`), without I/O: a fake clock, no sleep."""

from __future__ import annotations

import pytest

from django_socketio.recovery_redis import RedisRecoveryStore
from django_socketio.socketio.recovery import (
    MemoryRecoveryStore,
    RecoveryStore,
    StoredSession,
    restore_request,
)

NONE: frozenset[str] = frozenset()


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryRecoveryStore:
    return MemoryRecoveryStore(window=120.0, max_events=5, clock=clock)


def session(store: MemoryRecoveryStore, rooms=("s1",), last_sent=None) -> StoredSession:
    return StoredSession("s1", "p1", frozenset(rooms), {"k": 1}, store.position, last_sent)


def test_both_stores_satisfy_the_protocol(store):
    assert isinstance(store, RecoveryStore)
    assert isinstance(RedisRecoveryStore(client=None), RecoveryStore)


def test_offsets_are_unique_and_name_their_log(store):
    offsets = [store.log("/", ["e", n], NONE, NONE) for n in range(3)]
    assert len(set(offsets)) == 3 and store.position == offsets[-1]
    other = MemoryRecoveryStore()
    assert other.log("/", ["e"], NONE, NONE).split(".")[0] != offsets[0].split(".")[0]


def test_missed_events_are_those_after_the_offset_that_reach_the_rooms(store):
    start = store.log("/", ["start"], NONE, NONE)
    away = session(store, rooms=("s1", "r1", "r3"))
    store.log("/", ["all"], NONE, NONE)
    store.log("/", ["to-r1"], frozenset({"r1"}), NONE)
    store.log("/", ["to-r2"], frozenset({"r2"}), NONE)
    store.log("/", ["except-r3"], NONE, frozenset({"r3"}))
    store.log("/other", ["other-namespace"], NONE, NONE)
    missed = store.missed("/", away, start)
    assert [data[:-1] for data in missed] == [["all"], ["to-r1"]]
    assert all(isinstance(data[-1], str) for data in missed)


def test_an_unknown_or_foreign_offset_cannot_be_replayed(store):
    store.log("/", ["e"], NONE, NONE)
    away = session(store, last_sent="elsewhere.1")
    for offset in ("nope", f"{store.epoch}.99", f"{store.epoch}.x", "abcd.1", f"{store.epoch}.0"):
        assert store.missed("/", away, offset) is None


def test_the_log_is_bounded_by_size_and_by_age(store, clock):
    offsets = [store.log("/", ["e", n], NONE, NONE) for n in range(8)]
    assert len(store) == 5 and store.evicted_early == 3
    away = session(store)
    assert store.missed("/", away, offsets[1]) is None  # evicted: not all can be given
    assert [d[1] for d in store.missed("/", away, offsets[2])] == [3, 4, 5, 6, 7]
    clock.now += 121
    store.log("/", ["new"], NONE, NONE)
    assert len(store) == 1


def test_a_client_without_an_offset_recovers_if_it_was_sent_nothing(store):
    store.log("/", ["before"], NONE, NONE)
    away = session(store)  # last_sent None: nothing was sent to it
    store.log("/", ["after"], NONE, NONE)
    assert [d[:-1] for d in store.missed("/", away, None)] == [["after"]]
    sent_something = session(store, last_sent=store.position)
    assert store.missed("/", sent_something, None) is None  # it lost that one


def test_an_aged_out_offset_still_recovers_when_it_was_the_last_sent(store, clock):
    last = store.log("/", ["old"], NONE, NONE)
    clock.now += 300
    away = session(store, last_sent=last)
    store.log("/", ["after"], NONE, NONE)  # trims "old"
    assert [d[:-1] for d in store.missed("/", away, last)] == [["after"]]


async def test_sessions_are_single_use_and_expire(store, clock):
    kept = session(store)
    await store.persist("/", kept)
    assert await store.take("/other", "p1") is None
    assert await store.take("/", "p1") == kept
    assert await store.take("/", "p1") is None
    await store.persist("/", kept)
    clock.now += 120
    assert store.sessions == 0 and await store.take("/", "p1") is None


def test_restore_request_reads_pid_and_offset():
    assert restore_request({"pid": "p", "offset": "o", "token": 1}) == ("p", "o")
    assert restore_request({"pid": "p"}) == ("p", None)
    assert restore_request({"pid": "p", "offset": 3}) == ("p", None)
    for auth in (None, "x", {}, {"pid": 1}, {"pid": ""}, {"pid": "p" * 101}):
        assert restore_request(auth) is None
