// socket.io-client 4.8 with connectionStateRecovery, reconnecting to a different
// process each time (tests/multinode/test_recovery.py).
//
//   node tests/multinode/js/recovery.mjs '{"urls": [n0, n1, n2], "scenario": "hops",
//                                          "transports": ["websocket"]}'
//
// "hops": the socket starts on n0; each hop, the control client on its current process
// drops its transport (a lost connection), the other processes emit what it misses
// (the `away` handler on each: room, namespace-wide, to its id, binary, plus what it
// must not get) and a plain Django view emits with emit_sync; then it reconnects to the
// next process. "forged": after the drop, a pid no process knows.
// Prints one JSON line: {"event": "result", ...} or {"event": "error", "error"}.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const { urls } = config;
const transports = config.transports ?? ["websocket"];
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...a) => resolve(a)));
const ack = (socket, event, ...args) =>
  new Promise((resolve) => socket.emit(event, ...args, (...r) => resolve(r)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const plain = (v) =>
  v instanceof ArrayBuffer || ArrayBuffer.isView(v)
    ? { $bin: Buffer.from(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength).toString("hex") }
    : v;

async function until(predicate, what, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function open(url, options = {}) {
  const socket = io(`${url}/recovery`, { transports, reconnection: false, forceNew: true, ...options });
  await once(socket, "connect");
  return socket;
}

async function post(url, body) {
  const res = await fetch(`${url}/emit/`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${url}/emit/: ${res.status}`);
}

// Drop `socket` (on urls[at]) from the server side; the others and a view emit meanwhile.
async function dropAndMiss(socket, controls, at, hop) {
  const id = socket.id;
  const closed = once(socket, "disconnect");
  if (!(await ack(controls[at], "drop", id))[0]) throw new Error(`${id} is not on ${at}`);
  const [reason] = await closed;
  for (let i = 0; i < urls.length; i++) {
    if (i !== at) await ack(controls[i], "away", id);
  }
  await post(urls[at], { namespace: "/recovery", to: ["r1"], event: "view", args: [hop] });
  return reason;
}

const scenarios = {
  async hops() {
    const controls = await Promise.all(urls.map((url) => open(url)));
    const socket = await open(urls[0], { connectionStateRecovery: {} });
    await ack(socket, "join", "r1");
    await ack(socket, "set", { name: "ada" });
    const events = [];
    socket.onAny((event, ...args) => events.push([event, ...args.map(plain)]));
    await ack(controls[1], "hello"); // an io.emit from another process: an offset
    await until(() => events.length === 1, "the first event");
    const first = { id: socket.id, events: events.splice(0) };
    const hops = [];
    for (let hop = 1; hop < urls.length; hop++) {
      const at = hop - 1;
      const reason = await dropAndMiss(socket, controls, at, hop);
      socket.io.uri = urls[hop]; // the next process
      socket.connect();
      await once(socket, "connect");
      const whoami = (await ack(socket, "whoami"))[0];
      hops.push({ reason, id: socket.id, recovered: socket.recovered, whoami, events: events.splice(0) });
    }
    await ack(controls[0], "hello"); // live again: once, from a third process
    await until(() => events.length === 1, "a live event after the hops");
    await sleep(300); // anything delivered twice would arrive now
    const live = events.splice(0);
    socket.disconnect();
    controls.forEach((c) => c.disconnect());
    return { first, hops, live };
  },
  async halfopen() {
    // The old socket stays connected on n0 (as a half-open connection looks to its
    // server) while the client comes back on n1 with its pid and offset.
    const controls = await Promise.all(urls.map((url) => open(url)));
    const old = await open(urls[0], { connectionStateRecovery: {} });
    await ack(old, "join", "r1");
    await ack(old, "set", { name: "ada" });
    const oldEvents = [];
    old.onAny((event) => oldEvents.push(event));
    await ack(controls[2], "hello");
    await until(() => oldEvents.length === 1, "the first event");
    const oldId = old.id;
    const oldClosed = once(old, "disconnect");
    const again = io(`${urls[1]}/recovery`, {
      transports,
      reconnection: false,
      forceNew: true,
      auth: { pid: old._pid, offset: old._lastOffset },
    });
    const events = [];
    again.onAny((event, ...args) => events.push([event, ...args.map(plain)]));
    await once(again, "connect");
    const [oldReason] = await oldClosed; // closed by n0 before `again` got CONNECT
    const whoami = (await ack(again, "whoami"))[0];
    await ack(controls[2], "hello");
    await post(urls[0], { namespace: "/recovery", to: [oldId], event: "view", args: [0] });
    await until(() => events.length === 2, "what n2 and a view on n0 sent after the takeover");
    await sleep(300); // a second socket with that id would get a copy now
    const result = { oldId, oldReason, oldEvents, newId: again.id, whoami, events };
    again.disconnect();
    controls.forEach((c) => c.disconnect());
    return result;
  },
  // Drop on n0 after one event (or none: `quiet`), wait `waitMs`, have n1 send
  // `count` io.emit while away, reconnect to n2.
  async away({ count = 1, waitMs = 0, quiet = false }) {
    const controls = await Promise.all(urls.map((url) => open(url)));
    const socket = await open(urls[0], { connectionStateRecovery: {} });
    await ack(socket, "join", "r1");
    await ack(socket, "set", { name: "ada" });
    const events = [];
    socket.onAny((event) => events.push(event));
    if (!quiet) {
      await ack(controls[1], "hello");
      await until(() => events.length === 1, "the first event");
    }
    await sleep(waitMs); // deliberate: past the window, or past the last event's age
    const id = socket.id;
    const closed = once(socket, "disconnect");
    await ack(controls[0], "drop", id);
    await closed;
    events.length = 0;
    for (let i = 0; i < count; i++) await ack(controls[1], "hello");
    socket.io.uri = urls[2];
    socket.connect();
    await once(socket, "connect");
    const whoami = (await ack(socket, "whoami"))[0];
    await sleep(300);
    const result = { sameId: socket.id === id, recovered: socket.recovered, whoami, missed: events.length };
    socket.disconnect();
    controls.forEach((c) => c.disconnect());
    return result;
  },
  async later({ waitMs }) {
    const controls = await Promise.all(urls.map((url) => open(url)));
    const socket = await open(urls[0], { connectionStateRecovery: {} });
    await ack(socket, "set", { name: "ada" });
    const events = [];
    socket.onAny((event) => events.push(event));
    await ack(controls[1], "hello");
    await until(() => events.length === 1, "the first event");
    const id = socket.id;
    const closed = once(socket, "disconnect");
    await ack(controls[0], "drop", id);
    await closed;
    await sleep(waitMs);
    socket.io.uri = urls[1];
    socket.connect();
    await once(socket, "connect");
    const whoami = (await ack(socket, "whoami"))[0];
    const result = { sameId: socket.id === id, recovered: socket.recovered, whoami };
    socket.disconnect();
    controls.forEach((c) => c.disconnect());
    return result;
  },
  // The socket on n0 (data set, then r1 joined) got one event (none: `quiet`); prints
  // {"event": "ready"}
  // and waits for a line on stdin, sent once n0 was SIGKILLed; then n1 and a view on
  // n1 emit what it misses, and it reconnects to n2.
  async killed({ quiet = false }) {
    const controls = await Promise.all(urls.slice(1).map((url) => open(url)));
    const socket = await open(urls[0], { connectionStateRecovery: {} });
    await ack(socket, "set", { name: "ada" });
    await ack(socket, "join", "r1");
    const events = [];
    socket.onAny((event, ...args) => events.push([event, ...args.map(plain)]));
    if (!quiet) {
      await ack(controls[0], "hello");
      await until(() => events.length === 1, "the first event");
    }
    const id = socket.id;
    const closed = once(socket, "disconnect");
    out({ event: "ready" });
    await once(createInterface({ input: process.stdin }), "line");
    const [reason] = await closed;
    events.length = 0;
    await ack(controls[0], "away", id);
    await post(urls[1], { namespace: "/recovery", to: ["r1"], event: "view", args: [1] });
    socket.io.uri = urls[2];
    const began = Date.now();
    socket.connect();
    await once(socket, "connect");
    const seconds = (Date.now() - began) / 1000;
    const whoami = (await ack(socket, "whoami"))[0];
    await sleep(300); // anything delivered twice would arrive now
    const result = { reason, id, sameId: socket.id === id, recovered: socket.recovered, whoami };
    Object.assign(result, { seconds, events: events.splice(0) });
    socket.disconnect();
    controls.forEach((c) => c.disconnect());
    return result;
  },
  async forged() {
    const controls = await Promise.all(urls.map((url) => open(url)));
    const socket = await open(urls[0], { connectionStateRecovery: {} });
    await ack(socket, "set", { name: "ada" });
    const events = [];
    socket.onAny((event, ...args) => events.push(event));
    await ack(controls[1], "hello");
    await until(() => events.length === 1, "the first event");
    const id = socket.id;
    await dropAndMiss(socket, controls, 0, 0);
    socket._pid = "forged-pid-0000000000";
    socket.io.uri = urls[1];
    socket.connect();
    await once(socket, "connect");
    const whoami = (await ack(socket, "whoami"))[0];
    const result = { sameId: socket.id === id, recovered: socket.recovered, whoami };
    socket.disconnect();
    controls.forEach((c) => c.disconnect());
    return result;
  },
};

const timer = setTimeout(() => {
  out({ event: "error", error: "timed out" });
  process.exit(1);
}, 80_000);
try {
  out({ event: "result", ...(await scenarios[config.scenario](config)) });
} catch (err) {
  out({ event: "error", error: String(err?.stack ?? err) });
}
clearTimeout(timer);
process.exit(0);
