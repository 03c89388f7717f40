"""python-socketio 4.x's client (Engine.IO v3, Socket.IO protocol v4) for the e2e tests.

Runs in its own virtualenv (``.venv-sio4``, made by ``scripts/setup``): python-socketio
4.6.1 with python-engineio 3.14.2 cannot live beside the 5.x the rest of the suite uses.

    .venv-sio4/bin/python tests/e2e/sio4_client.py <url> <mode> <scenario> [json]

Prints one JSON line: {"event": "result", ...} or {"event": "error", "error"}. Scenarios:
``events`` (`/` and `/custom`: auth, events, acks both ways), ``binary`` (/ops, both
ways), ``rooms`` ({"room"}: joins /ops `room`, prints "ready", then prints each
``room-message`` it gets until it has ``count`` of them).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import socketio

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}
WAIT = 8.0


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def plain(value):
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class Recorder:
    def __init__(self, sio, namespaces):
        self.sio = sio
        self.events = {}
        self.lock = threading.Condition()
        self.connected = set()
        for nsp in namespaces:
            sio.on("connect", self._connected(nsp), namespace=nsp)

    def _connected(self, nsp):
        def handler():
            with self.lock:
                self.connected.add(nsp)
                self.lock.notify_all()

        return handler

    def record(self, event, nsp, answer=None):
        def handler(*args):
            with self.lock:
                self.events.setdefault((nsp, event), []).append(list(args))
                self.lock.notify_all()
            if answer is not None:
                return answer(*args)
            return None

        self.sio.on(event, handler, namespace=nsp)

    def wait(self, predicate, what):
        with self.lock:
            if not self.lock.wait_for(predicate, WAIT):
                raise TimeoutError(f"timed out waiting for {what}")

    def next(self, event, nsp, count=1):
        self.wait(lambda: len(self.events.get((nsp, event), [])) >= count, f"{nsp} {event}")
        return self.events[(nsp, event)][count - 1]


def connect(url, mode, namespaces, recorder_setup=None):
    sio = socketio.Client(reconnection=False)
    rec = Recorder(sio, namespaces)
    if recorder_setup:
        recorder_setup(rec)
    # The conformance server's /socket.io/ is v4 only (the official suites' setting).
    sio.connect(
        url, transports=TRANSPORTS[mode], namespaces=namespaces, socketio_path="socket.io-v3"
    )
    rec.wait(lambda: set(namespaces) <= rec.connected, "the namespaces")
    if mode == "upgrade":
        deadline = time.monotonic() + WAIT
        while sio.transport() != "websocket":
            if time.monotonic() > deadline:
                raise TimeoutError("no upgrade")
            time.sleep(0.02)
    return sio, rec


def events(url, mode, options):
    namespaces = ["/", "/custom"]

    def setup(rec):
        for nsp in namespaces:
            rec.record("auth", nsp)
            rec.record("message-back", nsp)
            rec.record("emit-with-ack", nsp, answer=lambda *a: ("acked", *a))

    sio, rec = connect(url + "?token=abc", mode, namespaces, setup)
    result = {"transport": sio.transport(), "sid": sio.sid, "namespaces": {}}
    for nsp in namespaces:
        sio.emit("message", (1, "two", {"three": [3, None]}), namespace=nsp)
        seen = {
            "auth": rec.next("auth", nsp),
            "messageBack": rec.next("message-back", nsp),
            "ack": sio.call("message-with-ack", ("a", {"b": [1, 2]}), namespace=nsp, timeout=WAIT),
        }
        sio.emit("emit-with-ack", ("x", {"y": 1}), namespace=nsp)
        seen["asked"] = rec.next("emit-with-ack", nsp, 1)
        seen["acked"] = rec.next("emit-with-ack", nsp, 2)
        result["namespaces"][nsp] = seen
    sio.disconnect()
    return result


def binary(url, mode, options):
    sio, rec = connect(url, mode, ["/ops"], lambda rec: rec.record("bin", "/ops"))
    sent = [{"buf": b"\x01\x02\x03", "nested": [b"\xff\xfe", {"deep": b"\x00" * 300}]}, b"\t"]
    ack = sio.call("binary", tuple(sent), namespace="/ops", timeout=WAIT)
    result = {
        "transport": sio.transport(),
        "ack": plain(ack),
        "bin": plain(rec.next("bin", "/ops")),
    }
    sio.disconnect()
    return result


def rooms(url, mode, options):
    nsp, room, count = options.get("namespace", "/ops"), options["room"], options.get("count", 1)
    event = options.get("event", "room-message")
    sio, rec = connect(url, mode, [nsp], lambda rec: rec.record(event, nsp))
    joined = sio.call("join", options.get("join_args", room), namespace=nsp, timeout=WAIT)
    out({"event": "ready", "joined": joined, "transport": sio.transport()})
    got = [plain(rec.next(event, nsp, i + 1)) for i in range(count)]
    sio.disconnect()
    return {"got": got}


if __name__ == "__main__":
    base, mode, scenario = sys.argv[1:4]
    options = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    try:
        out({"event": "result", **globals()[scenario](base, mode, options)})
    except Exception as exc:
        out({"event": "error", "error": f"{type(exc).__name__}: {exc}"})
    sys.exit(0)
