"""RoomIndex and BroadcastOptions: who gets a broadcast, computed without I/O."""

from hypothesis import given
from hypothesis import strategies as st

from django_socketio.socketio.rooms import BroadcastOptions, RoomIndex


def index(members: dict[str, list[str]]) -> RoomIndex:
    rooms = RoomIndex()
    for sid, joined in members.items():
        rooms.join(sid, [sid, *joined])
    return rooms


def test_join_reports_the_rooms_it_created_and_leave_the_rooms_it_emptied():
    rooms = RoomIndex()
    assert rooms.join("a", ["a", "lobby"]) == ["a", "lobby"]
    assert rooms.join("b", ["b", "lobby"]) == ["b"]
    assert rooms.leave("a", ["lobby"]) == []
    assert rooms.leave("b", ["lobby", "never-joined"]) == ["lobby"]
    assert rooms.rooms == {"a": {"a"}, "b": {"b"}}


def test_a_socket_that_left_every_room_is_forgotten():
    rooms = index({"a": ["lobby"]})
    rooms.leave("a", ["a", "lobby"])
    assert rooms.sids == {}
    assert rooms.rooms == {}
    assert list(rooms.recipients(BroadcastOptions())) == []


def test_no_rooms_means_everyone_minus_the_excluded_rooms():
    rooms = index({"a": ["x"], "b": [], "c": ["x"]})
    assert sorted(rooms.recipients(BroadcastOptions())) == ["a", "b", "c"]
    opts = BroadcastOptions(except_rooms=frozenset({"x"}))
    assert sorted(rooms.recipients(opts)) == ["b"]


def test_several_rooms_reach_each_member_once_and_except_wins():
    rooms = index({"a": ["r1", "r2"], "b": ["r2"], "c": ["r1"], "d": []})
    opts = BroadcastOptions(rooms=frozenset({"r1", "r2"}), except_rooms=frozenset({"c"}))
    assert sorted(rooms.recipients(opts)) == ["a", "b"]


def test_options_survive_a_trip_between_nodes():
    opts = BroadcastOptions(
        rooms=frozenset({"r1", "ü"}), except_rooms=frozenset({"s"}), local=True, volatile=True
    )
    assert BroadcastOptions.from_dict(opts.to_dict()) == opts


names = st.sampled_from(["r1", "r2", "r3", "s1", "s2"])


@given(
    st.dictionaries(st.sampled_from("abcdef"), st.lists(names, max_size=4), max_size=6),
    st.frozensets(names, max_size=3),
    st.frozensets(names, max_size=3),
)
def test_recipients_match_the_definition(members, targets, excluded):
    rooms = index(members)
    got = list(rooms.recipients(BroadcastOptions(rooms=targets, except_rooms=excluded)))
    expected = {
        sid
        for sid, joined in members.items()
        if (not targets or targets & set(joined)) and not excluded & set(joined)
    }
    assert len(got) == len(set(got))
    assert set(got) == expected
