"""Every message one server process sends another, and what the adapter may call.

[pure] The contract between nodes, in one place (socketioxide's
``remote_packet.rs`` plays this part there). Nodes talk over the channel
layer's node channels and groups; a message is a dict that the layer can
serialise (msgpack in channels-redis: str, bytes, int, float, bool, None,
lists and dicts), whose ``type`` names the receiving method, Channels style.

- `MessageType` is the closed set of messages, each a frozen dataclass here
  with its `encode()` and a `decode()` that checks every field: anything else
  from the layer raises `MessageError` (logged and dropped by the adapter).
- `RequestKind` is the closed set of questions a `Request` may carry, each
  with its payload declared as a `TypedDict` and checked by `check_payload`.
  Commands on a namespace's sockets run in `ServerNamespace.run_local`;
  questions about the process are answered by `SocketIOServer.node_requests`.
- `NamespaceProtocol` and `ServerProtocol` are what the adapter may call on a
  namespace and on the server: nothing else is reached into.

A new kind of message or question is added here first, with its payload.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from types import NoneType
from typing import Any, ClassVar, Literal, Protocol, TypedDict

from .socketio.rooms import BroadcastOptions, RoomIndex

__all__ = [
    "Broadcast",
    "BroadcastAckPayload",
    "Bye",
    "CloseSocketsPayload",
    "EioAbort",
    "EioHandover",
    "EioPoll",
    "EioPush",
    "EioReply",
    "EioUpgrade",
    "Heartbeat",
    "Message",
    "MessageError",
    "MessageType",
    "NamespaceProtocol",
    "Request",
    "RequestKind",
    "Response",
    "RoomsPayload",
    "SelectPayload",
    "ServerProtocol",
    "ServerSideEmitPayload",
    "UpgradeStep",
    "check_payload",
    "decode",
]


class MessageError(ValueError):
    """A message from another node that is not one of ours (or not of this version)."""


class MessageType(StrEnum):
    """The ``type`` of every inter-node message: the receiving method is its name."""

    HEARTBEAT = "sio.heartbeat"  # to the nodes group: "I am alive, reach me on `channel`"
    BYE = "sio.bye"  # to the nodes group: "I am stopping"
    BROADCAST = "sio.broadcast"  # to a room's or namespace's group: encoded frames
    REQUEST = "sio.request"  # to the nodes group: a question every node answers
    RESPONSE = "sio.response"  # to the asking node's channel: one node's answer
    # Long-polling requests for a session another process owns (its tag starts the sid):
    EIO_POLL = "sio.eio_poll"  # to the owner's channel: a GET arrived here
    EIO_PUSH = "sio.eio_push"  # to the owner's channel: a POST body arrived here
    EIO_ABORT = "sio.eio_abort"  # to the owner's channel: the client left that GET
    EIO_REPLY = "sio.eio_reply"  # to the forwarding node's channel: the HTTP answer
    # A websocket upgrade for a session another process owns (forwarding.py):
    EIO_UPGRADE = "sio.eio_upgrade"  # to the owner's channel: claim, move or cancel
    EIO_HANDOVER = "sio.eio_handover"  # to the websocket's node: the owner's answer


class RequestKind(StrEnum):
    """What a `Request` asks. Payloads: `PAYLOADS`."""

    # Commands on the sockets of one namespace that `opts` selects (ServerNamespace.run_local).
    FETCH_SOCKETS = "fetch_sockets"
    SOCKETS_JOIN = "sockets_join"
    SOCKETS_LEAVE = "sockets_leave"
    DISCONNECT_SOCKETS = "disconnect_sockets"
    SERVER_SIDE_EMIT = "server_side_emit"
    # A broadcast whose recipients ack: answered by a count, then by one response per ack.
    BROADCAST_ACK = "broadcast_ack"
    # Questions about the process, whatever the namespace (SocketIOServer.node_requests).
    SERVER_STATS = "server_stats"  # io.cluster_stats(), /metrics
    SERVER_STATUS = "server_status"  # manage.py socketio_status
    SOCKETS = "sockets"  # every connected socket (the admin page, live.cluster_sockets)


NAMESPACE_COMMANDS = frozenset(
    {
        RequestKind.FETCH_SOCKETS,
        RequestKind.SOCKETS_JOIN,
        RequestKind.SOCKETS_LEAVE,
        RequestKind.DISCONNECT_SOCKETS,
        RequestKind.SERVER_SIDE_EMIT,
    }
)
NODE_QUESTIONS = frozenset(
    {RequestKind.SERVER_STATS, RequestKind.SERVER_STATUS, RequestKind.SOCKETS}
)
#: Commands whose answer runs the application's handlers (on_disconnect, server-side
#: events), which may themselves ask the other processes.
RUNS_HANDLERS = frozenset({RequestKind.DISCONNECT_SOCKETS, RequestKind.SERVER_SIDE_EMIT})


# -- request payloads -------------------------------------------------------------------------


class EmptyPayload(TypedDict):
    pass


class SelectPayload(TypedDict):
    opts: dict[str, Any]  # BroadcastOptions.to_dict()


class RoomsPayload(SelectPayload):
    rooms: list[str]


class CloseSocketsPayload(SelectPayload):
    close: bool


class ServerSideEmitPayload(TypedDict):
    event: str
    args: list[Any]


class BroadcastAckPayload(SelectPayload):
    event: str
    args: list[Any]
    timeout: float | None


_NUMBER_OR_NONE = (int, float, type(None))

#: Each kind's payload: its TypedDict and the runtime type of each field.
PAYLOADS: dict[RequestKind, tuple[type, dict[str, type | tuple[type, ...]]]] = {
    RequestKind.FETCH_SOCKETS: (SelectPayload, {"opts": dict}),
    RequestKind.SOCKETS_JOIN: (RoomsPayload, {"opts": dict, "rooms": list}),
    RequestKind.SOCKETS_LEAVE: (RoomsPayload, {"opts": dict, "rooms": list}),
    RequestKind.DISCONNECT_SOCKETS: (CloseSocketsPayload, {"opts": dict, "close": bool}),
    RequestKind.SERVER_SIDE_EMIT: (ServerSideEmitPayload, {"event": str, "args": list}),
    RequestKind.BROADCAST_ACK: (
        BroadcastAckPayload,
        {"opts": dict, "event": str, "args": list, "timeout": _NUMBER_OR_NONE},
    ),
    RequestKind.SERVER_STATS: (EmptyPayload, {}),
    RequestKind.SERVER_STATUS: (EmptyPayload, {}),
    RequestKind.SOCKETS: (EmptyPayload, {}),
}


def check_payload(kind: str, payload: Any) -> RequestKind:
    """The declared kind of a request whose payload has the declared fields; else MessageError.

    Extra fields are allowed (a newer node may send more); missing or mistyped ones are not.
    """
    try:
        known = RequestKind(kind)
    except ValueError:
        raise MessageError(f"unknown request kind {kind!r}") from None
    if not isinstance(payload, dict):
        raise MessageError(f"{known.value}: payload is {type(payload).__name__}, not a dict")
    for name, expected in PAYLOADS[known][1].items():
        if name not in payload:
            raise MessageError(f"{known.value}: payload has no {name!r}")
        if not isinstance(payload[name], expected):
            raise MessageError(f"{known.value}: payload field {name!r} has the wrong type")
    return known


# -- messages ------------------------------------------------------------------------------------


def _get(message: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in message:
        raise MessageError(f"{message.get('type')}: no {name!r}")
    value = message[name]
    if not isinstance(value, kind):
        raise MessageError(f"{message.get('type')}: {name!r} has the wrong type")
    return value


@dataclass(frozen=True, slots=True)
class _Plain:
    """A message whose wire form is its fields as they are, under ``type``.

    `encode` and `decode` are written once here, driven by the dataclass fields:
    a field is a str on the wire unless `WIRE_TYPES` says otherwise, and a field
    with a default may be absent (an older node did not send it).
    """

    type: ClassVar[MessageType]
    WIRE_TYPES: ClassVar[Mapping[str, type | tuple[type, ...]]] = {}

    def encode(self) -> dict[str, Any]:
        return {"type": self.type.value, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def decode(cls, m: Mapping[str, Any]) -> Any:
        values = []
        for f in fields(cls):
            if f.name not in m and f.default is not MISSING:
                values.append(f.default)
            else:
                values.append(_get(m, f.name, cls.WIRE_TYPES.get(f.name, str)))
        return cls(*values)


@dataclass(frozen=True, slots=True)
class Heartbeat(_Plain):
    """A node is alive and receives on `channel`; `hello` asks every node to answer at once."""

    type: ClassVar[MessageType] = MessageType.HEARTBEAT
    node: str
    channel: str
    hello: bool = False
    tag: str = ""  # the prefix of the sids it issues ("": it forwards nothing)
    WIRE_TYPES: ClassVar[Mapping[str, type | tuple[type, ...]]] = {"hello": bool}

    @classmethod
    def decode(cls, m: Mapping[str, Any]) -> Heartbeat:
        # `hello` is read as a truth value, whatever its type, as it always was.
        return super(Heartbeat, cls).decode({**m, "hello": bool(m.get("hello", False))})


@dataclass(frozen=True, slots=True)
class Bye(_Plain):
    """A node stops: forget it now rather than after `NODE_TIMEOUT`."""

    type: ClassVar[MessageType] = MessageType.BYE
    node: str


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Frames encoded once by the sender; each node picks its recipients from `opts`.

    `id` is the same in every room group the broadcast is sent to, so a node in
    several of them delivers it once.
    """

    type: ClassVar[MessageType] = MessageType.BROADCAST
    node: str
    id: str
    nsp: str
    opts: BroadcastOptions
    frames: dict[str, list[str | bytes]]  # parser name -> that parser's encoding

    def encode(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "node": self.node,
            "id": self.id,
            "nsp": self.nsp,
            "opts": self.opts.to_dict(),
            "frames": self.frames,
        }

    @classmethod
    def decode(cls, m: Mapping[str, Any]) -> Broadcast:
        frames = _get(m, "frames", dict)
        for parser, encoded in frames.items():
            if not isinstance(parser, str) or not isinstance(encoded, list):
                raise MessageError("sio.broadcast: frames must map a parser name to a list")
            if not all(isinstance(f, str | bytes) for f in encoded):
                raise MessageError("sio.broadcast: a frame is neither str nor bytes")
        return cls(
            _get(m, "node", str),
            _get(m, "id", str),
            _get(m, "nsp", str),
            BroadcastOptions.from_dict(_get(m, "opts", dict)),
            frames,
        )


@dataclass(frozen=True, slots=True)
class Request:
    """A question to every node; each answers `reply_to` with `Response`s carrying `req`."""

    type: ClassVar[MessageType] = MessageType.REQUEST
    node: str
    req: str
    kind: RequestKind
    nsp: str
    reply_to: str
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_payload(self.kind, self.payload)

    def encode(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "node": self.node,
            "req": self.req,
            "kind": self.kind.value,
            "nsp": self.nsp,
            "reply_to": self.reply_to,
            "payload": self.payload,
        }

    @classmethod
    def decode(cls, m: Mapping[str, Any]) -> Request:
        payload = _get(m, "payload", dict)
        return cls(
            _get(m, "node", str),
            _get(m, "req", str),
            check_payload(_get(m, "kind", str), payload),
            _get(m, "nsp", str),
            _get(m, "reply_to", str),
            payload,
        )

    def options(self) -> BroadcastOptions:
        """The sockets a namespace command selects."""
        return BroadcastOptions.from_dict(self.payload.get("opts", {}))


ResponsePart = Literal["result", "count", "ack"]


@dataclass(frozen=True, slots=True)
class Response:
    """One node's answer to `req`: a `result`; or, for BROADCAST_ACK, a `count` then `ack`s."""

    type: ClassVar[MessageType] = MessageType.RESPONSE
    node: str
    req: str
    part: ResponsePart
    value: Any = None

    def __post_init__(self) -> None:
        if self.part not in ("result", "count", "ack"):
            raise MessageError(f"sio.response: unknown part {self.part!r}")
        if self.part == "count" and (type(self.value) is not int or self.value < 0):
            raise MessageError("sio.response: count is not a non-negative int")

    def encode(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "node": self.node,
            "req": self.req,
            "data": {self.part: self.value},
        }

    @classmethod
    def decode(cls, m: Mapping[str, Any]) -> Response:
        data = _get(m, "data", dict)
        if len(data) != 1:
            raise MessageError("sio.response: data must hold exactly one part")
        ((part, value),) = data.items()
        return cls(_get(m, "node", str), _get(m, "req", str), part, value)


@dataclass(frozen=True, slots=True)
class EioPoll(_Plain):
    """A long-polling GET for the owner's session `sid`: answer with an `EioReply`."""

    type: ClassVar[MessageType] = MessageType.EIO_POLL
    node: str
    req: str
    sid: str
    reply_to: str


@dataclass(frozen=True, slots=True)
class EioPush(_Plain):
    """A POST body for the owner's session `sid`; None when it was over maxPayload.

    maxPayload is enforced where the request arrived: at most that many bytes cross.
    """

    type: ClassVar[MessageType] = MessageType.EIO_PUSH
    node: str
    req: str
    sid: str
    reply_to: str
    body: bytes | None
    WIRE_TYPES: ClassVar[Mapping[str, type | tuple[type, ...]]] = {"body": (bytes, NoneType)}


@dataclass(frozen=True, slots=True)
class EioAbort(_Plain):
    """The client of the forwarded GET `req` went away: as a lost local GET."""

    type: ClassVar[MessageType] = MessageType.EIO_ABORT
    node: str
    req: str


@dataclass(frozen=True, slots=True)
class EioReply(_Plain):
    """The owner's HTTP answer to a forwarded request: written out as it is, CORS added."""

    type: ClassVar[MessageType] = MessageType.EIO_REPLY
    node: str
    req: str
    status: int
    content_type: bytes
    body: bytes
    WIRE_TYPES: ClassVar[Mapping[str, type | tuple[type, ...]]] = {
        "status": int,
        "content_type": bytes,
        "body": bytes,
    }

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise MessageError("sio.eio_reply: not an HTTP status")


class UpgradeStep(StrEnum):
    """The steps of a session moving to the process its upgrade websocket reached."""

    CLAIM = "claim"  # the client probes the websocket: may it take the session over?
    MOVE = "move"  # the client upgraded on it: hand the session over
    CANCEL = "cancel"  # the websocket failed before the upgrade: keep the session


@dataclass(frozen=True, slots=True)
class EioUpgrade(_Plain):
    """A step of the takeover of the owner's session `sid` by `node` (`Engine.lend`).

    CLAIM and MOVE are answered with an `EioHandover`; CANCEL is not answered.
    """

    type: ClassVar[MessageType] = MessageType.EIO_UPGRADE
    node: str
    req: str
    sid: str
    reply_to: str
    step: str

    def __post_init__(self) -> None:
        if self.step not in UpgradeStep.__members__.values():
            raise MessageError(f"sio.eio_upgrade: unknown step {self.step!r}")


@dataclass(frozen=True, slots=True)
class EioHandover(_Plain):
    """The owner's answer to a CLAIM (`ok`) or a MOVE (`ok` and the messages the client
    sent that the application has not seen, in order)."""

    type: ClassVar[MessageType] = MessageType.EIO_HANDOVER
    node: str
    req: str
    ok: bool
    messages: list[str | bytes] = field(default_factory=list)
    WIRE_TYPES: ClassVar[Mapping[str, type | tuple[type, ...]]] = {"ok": bool, "messages": list}

    def __post_init__(self) -> None:
        if not all(isinstance(m, str | bytes) for m in self.messages):
            raise MessageError("sio.eio_handover: a message is neither str nor bytes")


Message = (
    Heartbeat
    | Bye
    | Broadcast
    | Request
    | Response
    | EioPoll
    | EioPush
    | EioAbort
    | EioReply
    | EioUpgrade
    | EioHandover
)

MESSAGES: dict[str, type[Message]] = {
    cls.type.value: cls
    for cls in (
        Heartbeat,
        Bye,
        Broadcast,
        Request,
        Response,
        EioPoll,
        EioPush,
        EioAbort,
        EioReply,
        EioUpgrade,
        EioHandover,
    )
}


def decode(message: Mapping[str, Any]) -> Message:
    """The typed message a layer delivered; MessageError if it is not one of ours."""
    cls = MESSAGES.get(message.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise MessageError(f"unknown message type {message.get('type')!r}")
    return cls.decode(message)


# -- what the adapter may call -------------------------------------------------------------------


class NamespaceProtocol(Protocol):
    """What the adapter reads and calls on a namespace (`ServerNamespace`), and nothing more."""

    @property
    def name(self) -> str: ...

    @property
    def rooms(self) -> RoomIndex: ...

    def select(self, opts: BroadcastOptions) -> list[Any]:
        """The local sockets `opts` selects."""
        ...

    async def deliver(self, outgoing: dict[str, list[str | bytes]], opts: BroadcastOptions) -> None:
        """Write a remote broadcast's frames to the local sockets `opts` selects."""
        ...

    async def run_local(self, kind: str, opts: BroadcastOptions, payload: dict[str, Any]) -> Any:
        """This node's part of a namespace command (a kind in NAMESPACE_COMMANDS)."""
        ...

    async def local_broadcast_with_ack(
        self,
        event: str,
        args: tuple[Any, ...],
        opts: BroadcastOptions,
        timeout: float | None,
        on_ack: Callable[[Any], Any] | None = None,
    ) -> tuple[list[Any], bool]:
        """Emit to each local recipient, calling `on_ack` with each ack as it arrives."""
        ...


class ServerProtocol(Protocol):
    """What the adapter reads and calls on the server (`SocketIOServer`)."""

    @property
    def namespaces(self) -> Mapping[str, Any]:  # name -> NamespaceProtocol
        ...

    @property
    def node_requests(self) -> Mapping[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        """Answers to the NODE_QUESTIONS this process can answer."""
        ...

    @property
    def engine(self) -> Any:  # the Engine.IO engine (forwarded polling requests)
        ...

    def spawn(self, coro: Awaitable[Any]) -> None: ...

    async def start(self) -> None: ...
