"""One Engine.IO session as a state machine that is handed the clock.

[pure] No I/O, no asyncio, no Django. The shell (`engine.py`) feeds it packets
with the current time, asks it when its next timer is due, and drains its
outbound queue into whichever transport is writable. That is what lets the
heartbeat and the polling -> websocket upgrade be tested without sleeping.

Heartbeat (v4, server-initiated): a PING is queued every `ping_interval`; if no
PONG arrives within `ping_timeout` after it, the session closes with
``ping timeout``.

Backlog: the session counts the bytes and packets handed to its transport and
remembers that count whenever it sends a PING. PINGs travel behind the data,
and a client answers them in order, so a PONG proves the client has read
everything written before its PING. What was written since the last answered
PING bounds what the client has not read yet, wherever it waits (our queue,
the ASGI server's buffer, the kernel). Daphne's `send` never waits, so this is
the only sound view of a slow reader there. When the unanswered part grows, an
extra PING (a probe) goes out, so a healthy client's answer keeps the count
small; past the limits, the shell applies the configured policy.

Heartbeat (v3, `protocol` 3, client-initiated): the client pings, the session
answers PONG and closes with ``ping timeout`` when no PING came for
`ping_interval` + `ping_timeout`; a heartbeat packet in the wrong direction (a
v3 PONG) is a protocol error, as in the reference server. A v3 client answers
no server PING, so nothing proves what it has read: its backlog counts what was
sent since its last PING (no probes), which bounds what one ping interval can pile up.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from enum import Enum, IntEnum

from ..exceptions import PacketError
from .packets import NOOP, PING, PONG, PONG_PROBE, Packet, PacketType

POLLING = "polling"
WEBSOCKET = "websocket"


class State(Enum):
    OPEN = "open"
    UPGRADING = "upgrading"  # a websocket answered the probe; polls get NOOP until UPGRADE
    CLOSING = "closing"  # closed by the server; the queue still awaits one last poll
    CLOSED = "closed"

    def __repr__(self) -> str:
        return self.name


class Reason:
    """Close reasons, as the reference server names them."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTDOWN = "forced server close"
    SLOW_CONSUMER = "slow consumer"  # the client did not read what was sent (our own name)


class Verdict(IntEnum):
    """What `Session.admit` says about an outgoing message."""

    OK = 0
    PROBE = 1  # taken; call `probe()` once it is queued (the backlog is growing)
    DROPPED = 2  # a volatile message the client cannot take now: not sent
    FULL = 3  # over the backlog limits: not sent; the shell applies the policy


DISCONNECT = "disconnect"
DROP = "drop"
BACKLOG_POLICIES = (DISCONNECT, DROP)
MAX_PROBES = 4  # unanswered PINGs (heartbeat and probes) that carry a backlog mark
_OK, _PROBE, _DROPPED, _FULL = Verdict.OK, Verdict.PROBE, Verdict.DROPPED, Verdict.FULL


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What a session needs to know; seconds for times, like Django."""

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload: int = 1_000_000
    transports: tuple[str, ...] = (POLLING, WEBSOCKET)
    allow_eio3: bool = False  # accept Engine.IO v3 clients (Socket.IO 1.x/2.x)
    connections_per_minute: int | None = None  # new sessions per client address; None: off
    client_address_header: str | None = None  # the proxy header naming the client address
    max_backlog_bytes: int = 8 * 1024 * 1024  # sent and not yet read (text: characters)
    max_backlog_packets: int = 10_000
    backlog_policy: str = DISCONNECT  # or DROP: refuse the message, keep the session
    max_payload_packets: int = 1_000  # packets per polling POST; 0: no limit
    upgrade_timeout: float = 10.0  # seconds for a probing websocket to finish the upgrade
    takeover_window: float = 0.3  # seconds a polling session may be taken over (see Engine)
    volatile_latest: bool = False  # keep the newest volatile message a client cannot take yet


_NEVER = float("inf")  # v3 sessions send no probes: nothing would answer them


def _encoded_size(packet: Packet) -> int:
    """Bytes of `packet` in a polling payload (type, data; binary as base64), at least."""
    data = packet.data
    if data is None:
        return 1
    if type(data) is bytes:
        return 2 + (len(data) + 2) // 3 * 4  # "b" + type + base64
    n = len(data)
    return 1 + (n if data.isascii() else len(data.encode("utf-8", "surrogatepass")))


class Session:
    """The state of one Engine.IO session, whatever carries its bytes."""

    __slots__ = (
        "_acked",
        "_limits",
        "_marks",
        "_ping_due",
        "_pong_due",
        "_sent_bytes",
        "_sent_packets",
        "b64",
        "config",
        "protocol",
        "queue",
        "reason",
        "sid",
        "state",
        "transport",
    )

    def __init__(
        self,
        sid: str,
        transport: str,
        config: EngineConfig,
        now: float,
        protocol: int = 4,
        b64: bool = False,
    ) -> None:
        self.sid = sid
        self.transport = transport
        self.config = config
        self.state = State.OPEN
        self.queue: deque[Packet] = deque()
        self.reason: str | None = None
        #: The Engine.IO protocol revision, 4 or 3; it decides the codec and the heartbeat.
        self.protocol = protocol
        #: v3 only: the client wants binary packets as base64 text (``b64=1``).
        self.b64 = b64
        self._ping_due: float | None = None
        self._pong_due: float | None = None
        if protocol == 3:
            self._pong_due = now + config.ping_interval + config.ping_timeout
        else:
            self._ping_due = now + config.ping_interval
        self._sent_bytes = 0  # handed to the transport, ever
        self._sent_packets = 0
        self._acked = (0, 0)  # the part of what was sent the client has surely read
        self._marks: deque[tuple[int, int]] = deque()  # what was sent at each unanswered PING
        self._set_limits()

    # -- opening -------------------------------------------------------------

    def open_packet(self) -> Packet:
        c = self.config
        upgrades = [WEBSOCKET] if self.transport == POLLING and WEBSOCKET in c.transports else []
        handshake = {
            "sid": self.sid,
            "upgrades": upgrades,
            "pingInterval": round(c.ping_interval * 1000),
            "pingTimeout": round(c.ping_timeout * 1000),
            "maxPayload": c.max_payload,
        }
        return Packet(PacketType.OPEN, json.dumps(handshake, separators=(",", ":")))

    # -- sending -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED or self.state is State.CLOSING

    def send(self, packet: Packet) -> bool:
        """Queue a packet; False if the session no longer takes packets."""
        if self.state is State.CLOSED or self.state is State.CLOSING:
            return False
        self.queue.append(packet)
        return True

    # -- the backlog -----------------------------------------------------------

    def backlog(self) -> tuple[int, int]:
        """Bytes and packets sent that the client has not confirmed reading."""
        acked = self._acked
        return self._sent_bytes - acked[0], self._sent_packets - acked[1]

    def admit(self, nbytes: int, npackets: int = 1, volatile: bool = False) -> Verdict:
        """Count a message about to be written; refuse it past the limits.

        A volatile message is refused already at half the limits, so that it goes
        first when a client falls behind and never fills its backlog. On every
        message sent, so the limits are kept as absolute counts (`_limits`).
        """
        sent_bytes = self._sent_bytes + nbytes
        sent_packets = self._sent_packets + npackets
        full_bytes, full_packets, half_bytes, half_packets, probe_bytes, probe_packets = (
            self._limits
        )
        if sent_bytes > full_bytes or sent_packets > full_packets:
            return _DROPPED if volatile else _FULL
        if volatile and (sent_bytes > half_bytes or sent_packets > half_packets):
            return _DROPPED
        self._sent_bytes = sent_bytes
        self._sent_packets = sent_packets
        if sent_bytes > probe_bytes or sent_packets > probe_packets:
            return _PROBE if len(self._marks) < MAX_PROBES else _OK
        return _OK

    def probe(self) -> None:
        """Queue a PING after what was admitted: its PONG confirms the backlog read."""
        if not self.closed and len(self._marks) < MAX_PROBES:
            self._mark()
            self.queue.append(PING)

    def _mark(self) -> None:
        self._marks.append((self._sent_bytes, self._sent_packets))
        self._set_limits()

    def _set_limits(self) -> None:
        """The counts of `_sent` at which the limits, half of them and the next probe fall."""
        c = self.config
        acked_bytes, acked_packets = self._acked
        base_bytes, base_packets = self._marks[-1] if self._marks else self._acked
        self._limits = (
            acked_bytes + c.max_backlog_bytes,
            acked_packets + c.max_backlog_packets,
            acked_bytes + c.max_backlog_bytes // 2,
            acked_packets + c.max_backlog_packets // 2,
            base_bytes + c.max_backlog_bytes // 4 if self.protocol == 4 else _NEVER,
            base_packets + c.max_backlog_packets // 4 if self.protocol == 4 else _NEVER,
        )

    def take(self) -> list[Packet]:
        """Everything queued, in order, for the transport that is writable now."""
        packets = list(self.queue)
        self.queue.clear()
        return packets

    def take_payload(self) -> list[Packet]:
        """What one polling answer carries: queued packets, in order, up to the limits.

        At most `max_payload` bytes (as each packet is encoded, before the payload's
        separators) and `max_payload_packets` packets, but always one packet: the
        rest waits for the next GET, which a client sends as soon as it has this
        answer. So one answer is bounded like a POST the client may send us.
        """
        queue = self.queue
        c = self.config
        count = len(queue)
        if c.max_payload_packets and count > c.max_payload_packets:
            count = c.max_payload_packets
        room = c.max_payload
        packets = []
        for _ in range(count):
            size = _encoded_size(queue[0])
            if packets and size > room:
                break
            room -= size
            packets.append(queue.popleft())
        return packets

    def poll_answer(self) -> list[Packet] | None:
        """What a GET gets right now, or None if it has to wait."""
        if self.state is State.UPGRADING or self.transport != POLLING:
            return [NOOP]
        if self.state is State.CLOSED:
            return [NOOP] if self.reason == Reason.TRANSPORT_CLOSE else [Packet(PacketType.CLOSE)]
        if self.state is State.CLOSING:
            packets = self.take_payload()
            if not self.queue:  # the CLOSE goes with the last of them
                packets.append(Packet(PacketType.CLOSE))
                self._finish(self.reason or Reason.FORCED_CLOSE)
            return packets
        if self.queue:
            return self.take_payload()
        return None

    # -- receiving -----------------------------------------------------------

    def receive(self, packet: Packet, now: float, via: str) -> Packet | None:
        """Apply one packet from the client.

        `via` names the transport it came through. Returns a MESSAGE packet to hand
        to the application, or None. Raises `PacketError` for a packet that has no
        place in the current state (the shell closes the session with ``parse error``).
        """
        ptype = packet.type
        if self.state is State.CLOSED:
            return None
        if via != self.transport:
            return self._receive_upgrade(packet)
        if ptype is PacketType.MESSAGE:
            return packet
        if self.protocol == 3:
            if ptype is PacketType.PING:
                if self.state is not State.CLOSING:  # CLOSING: the deadline of the last poll
                    c = self.config
                    self._pong_due = now + c.ping_interval + c.ping_timeout
                    self._acked = (self._sent_bytes, self._sent_packets)
                    self._set_limits()
                self.send(PONG)
                return None
            if ptype is PacketType.PONG:
                raise PacketError("invalid heartbeat direction: a PONG from an Engine.IO v3 client")
        if ptype is PacketType.PONG:
            if self.state is State.CLOSING:
                return None  # _pong_due is now the deadline for the last poll
            self._pong_due = None
            self._ping_due = now + self.config.ping_interval
            if self._marks:  # answers come in order: the oldest PING is answered
                self._acked = self._marks.popleft()
                self._set_limits()
            return None
        if ptype is PacketType.CLOSE:
            self._finish(Reason.TRANSPORT_CLOSE)
            return None
        if ptype is PacketType.PING:
            # v4 clients do not ping, but answering costs nothing and helps old tools.
            self.send(Packet(PacketType.PONG, packet.data))
            return None
        if ptype is PacketType.NOOP:
            return None
        raise PacketError(f"unexpected {ptype.name} packet in state {self.state!r} on {via}")

    # -- upgrade -------------------------------------------------------------

    def can_upgrade(self) -> bool:
        return (
            self.state is State.OPEN
            and self.transport == POLLING
            and WEBSOCKET in self.config.transports
        )

    def _receive_upgrade(self, packet: Packet) -> Packet | None:
        """Packets from the websocket that is probing a polling session."""
        ptype = packet.type
        if ptype is PacketType.PING and packet.data == "probe" and self.state is State.OPEN:
            self.state = State.UPGRADING
            return PONG_PROBE
        if ptype is PacketType.UPGRADE and self.state is State.UPGRADING:
            self.state = State.OPEN
            self.transport = WEBSOCKET
            return None
        raise PacketError(f"unexpected {ptype.name} packet from the probing websocket")

    def lend(self) -> bool:
        """A websocket on another process probes this session: as a local probe (polls NOOP)."""
        if not self.can_upgrade():
            return False
        self.state = State.UPGRADING
        return True

    def abort_upgrade(self) -> None:
        """The probing websocket went away before UPGRADE: stay on polling."""
        if self.state is State.UPGRADING:
            self.state = State.OPEN

    # -- timers --------------------------------------------------------------

    def next_timer(self) -> float | None:
        if self.closed:
            return self._pong_due if self.state is State.CLOSING else None
        return self._pong_due if self._pong_due is not None else self._ping_due

    def handle_timer(self, now: float) -> bool:
        """Fire what is due at `now`. True if a PING was queued (the shell flushes)."""
        if self._pong_due is not None and now >= self._pong_due:
            self._finish(Reason.PING_TIMEOUT if self.state is not State.CLOSING else self.reason)
            return False
        if self._ping_due is not None and now >= self._ping_due and not self.closed:
            self._ping_due = None
            self._pong_due = now + self.config.ping_timeout
            self._mark()  # every PING carries a mark: PONGs pop them in order
            self.queue.append(PING)
            return True
        return False

    # -- closing -------------------------------------------------------------

    def close(self, reason: str, now: float, flush: bool) -> None:
        """Close from the server side.

        With `flush`, a polling session waits (at most `ping_timeout`) for the GETs
        that deliver what is queued (one, unless it is over one answer's limits),
        the last followed by a CLOSE packet.
        """
        if self.closed:
            return
        if flush and self.transport == POLLING:
            self.state = State.CLOSING
            self.reason = reason
            self._ping_due = None
            self._pong_due = now + self.config.ping_timeout
            return
        self._finish(reason)

    def fail(self, reason: str) -> None:
        """Close at once, without a farewell packet (errors, timeouts, lost transports).

        What is still queued will never be sent: it is dropped now.
        """
        self._finish(reason)
        self.queue.clear()

    def _finish(self, reason: str | None) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.reason = reason
        self._ping_due = self._pong_due = None
