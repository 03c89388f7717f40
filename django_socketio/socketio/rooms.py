"""Room membership and who receives a broadcast.

[pure] `RoomIndex` keeps both directions (room -> socket ids, socket id -> rooms),
like Node's in-memory adapter and socketioxide's `CoreLocalAdapter`.
`BroadcastOptions` is plain data that can cross process boundaries (`to_dict` /
`from_dict`), so every node computes its own recipients from the same options
with `RoomIndex.recipients`, the one place that decides who gets a broadcast.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    #: Deliver on this node only (``local`` flag).
    local: bool = False
    #: May be dropped if a recipient cannot take it right now (``volatile`` flag).
    volatile: bool = False
    compress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "rooms": sorted(self.rooms),
            "except": sorted(self.except_rooms),
            "local": self.local,
            "volatile": self.volatile,
            "compress": self.compress,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BroadcastOptions:
        return cls(
            rooms=frozenset(data.get("rooms", ())),
            except_rooms=frozenset(data.get("except", ())),
            local=bool(data.get("local", False)),
            volatile=bool(data.get("volatile", False)),
            compress=bool(data.get("compress", True)),
        )


class RoomIndex:
    """Rooms of one namespace on one node."""

    __slots__ = ("rooms", "sids")

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}

    def join(self, sid: str, rooms: Iterable[str]) -> list[str]:
        """Add `sid` to `rooms`; returns the rooms that were empty before (first local member)."""
        created = []
        mine = self.sids.setdefault(sid, set())
        for room in rooms:
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                created.append(room)
            members.add(sid)
            mine.add(room)
        return created

    def leave(self, sid: str, rooms: Iterable[str]) -> list[str]:
        """Remove `sid` from `rooms`; returns the rooms now empty (last local member left)."""
        emptied = []
        mine = self.sids.get(sid)
        for room in rooms:
            members = self.rooms.get(room)
            if members is None or sid not in members:
                continue
            members.discard(sid)
            if mine is not None:
                mine.discard(room)
            if not members:
                del self.rooms[room]
                emptied.append(room)
        if mine is not None and not mine:
            del self.sids[sid]  # a socket in no room is not in the index at all
        return emptied

    def rooms_of(self, sid: str) -> set[str]:
        return self.sids.get(sid, set())

    def recipients(self, opts: BroadcastOptions) -> Iterator[str]:
        """Socket ids selected by `opts`, each once: the rooms (or all), minus the except-rooms."""
        excluded: set[str] = set()
        for room in opts.except_rooms:
            excluded.update(self.rooms.get(room, ()))
        if opts.rooms:
            seen: set[str] = set()
            for room in opts.rooms:
                for sid in self.rooms.get(room, ()):
                    if sid not in seen and sid not in excluded:
                        seen.add(sid)
                        yield sid
        else:
            for sid in self.sids:
                if sid not in excluded:
                    yield sid
