"""Which other nodes are alive, and when a question to them is fully answered.

[pure] No layer, no loop, no clock of its own: the adapter passes `now` in
(its clock is injectable too), so liveness and answer counting are tested
without sleeping and without a channel layer.

- `NodeTable`: every other node heard from (its heartbeats carry its channel
  and the tag its sids start with), forgotten after `timeout` seconds of
  silence or at its goodbye.
- `Answers`: a request waits for one answer from each node alive when it was
  asked; a node that dies meanwhile is waited for until it is found gone.
- `AckAnswers`: a broadcast with acks waits for every node's recipient count,
  then for that many acks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Heard:
    """What hearing a heartbeat means for the receiver."""

    joined: bool  # a node not known before (or forgotten since)
    reply: bool  # it said hello: answer on its channel at once, so it knows us now


class NodeTable:
    """The other nodes, by id: their channel and when they were last heard from."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._nodes: dict[str, tuple[str, float]] = {}  # node id -> (channel, last heard)
        self._tags: dict[str, str] = {}  # sid prefix -> node id
        self._tag_of: dict[str, str] = {}  # node id -> sid prefix

    def heard(
        self, node: str, channel: str, now: float, hello: bool = False, tag: str = ""
    ) -> Heard:
        joined = node not in self._nodes
        self._nodes[node] = (channel, now)
        if self._tag_of.get(node) != tag:
            self._drop_tag(node)
            if tag:
                self._tags[tag] = node  # the latest claim of a tag wins
                self._tag_of[node] = tag
        return Heard(joined=joined, reply=hello)

    def _drop_tag(self, node: str) -> None:
        tag = self._tag_of.pop(node, None)
        if tag is not None and self._tags.get(tag) == node:
            del self._tags[tag]

    def owner_of(self, tag: str) -> str | None:
        """The live node whose sids start with `tag` (call `expire` first)."""
        return self._tags.get(tag)

    def any_tagged(self) -> bool:
        """Does a known node issue tagged sids (forward, take sessions over)?"""
        return bool(self._tags)

    def bye(self, node: str) -> bool:
        """Forget a node that said goodbye; True if it was known."""
        self._drop_tag(node)
        return self._nodes.pop(node, None) is not None

    def expire(self, now: float) -> list[str]:
        """Forget the nodes silent for longer than `timeout`; the ones forgotten."""
        horizon = now - self.timeout
        gone = [node for node, (_, seen) in self._nodes.items() if seen < horizon]
        for node in gone:
            del self._nodes[node]
            self._drop_tag(node)
        return gone

    def live(self) -> set[str]:
        """The nodes known (call `expire` first)."""
        return set(self._nodes)

    def last_heard(self, node: str) -> float | None:
        found = self._nodes.get(node)
        return found[1] if found is not None else None

    def channel_of(self, node: str) -> str | None:
        found = self._nodes.get(node)
        return found[0] if found is not None else None

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)


class Answers:
    """One answer per expected node; complete once every expected node answered.

    A node that was not expected (it joined after the question) is still heard:
    its answer counts, it just is not waited for. A second answer from a node
    replaces its first. A node found gone (its goodbye, or silence) is no longer
    waited for: a request does not sit out its timeout for a process that died.
    """

    def __init__(self, expected: set[str]) -> None:
        self.expected = frozenset(expected)
        self.answers: dict[str, Any] = {}

    def answer(self, node: str, result: Any) -> bool:
        """Record `node`'s result; True once the request is complete."""
        self.answers[node] = result
        return self.complete

    def gone(self, node: str) -> bool:
        """`node` stopped: not waited for any more (what it answered still counts)."""
        self.expected -= {node}
        return self.complete

    @property
    def complete(self) -> bool:
        return self.expected <= self.answers.keys()


class AckAnswers:
    """A broadcast with acks: a count of recipients from every node, then as many acks.

    Acks are counted per node, so that a node found gone stops being waited for:
    the acks it still owed are `missing` (its clients went with it, as a local
    recipient that disconnects), and the broadcast ends without its timeout.
    """

    def __init__(self, expected: set[str]) -> None:
        self.expected = frozenset(expected)
        self.counts: dict[str, int] = {}
        self.acked: dict[str, int] = {}
        self.responses: list[Any] = []
        self.missing = 0

    def count(self, node: str, recipients: int) -> bool:
        self.counts[node] = recipients
        return self.complete

    def ack(self, node: str, value: Any) -> bool:
        self.acked[node] = self.acked.get(node, 0) + 1
        self.responses.append(value)
        return self.complete

    def gone(self, node: str) -> bool:
        self.expected -= {node}
        self.missing += max(0, self.counts.pop(node, 0) - self.acked.pop(node, 0))
        return self.complete

    @property
    def complete(self) -> bool:
        acked = self.acked
        return self.expected <= self.counts.keys() and all(
            acked.get(node, 0) >= recipients for node, recipients in self.counts.items()
        )
