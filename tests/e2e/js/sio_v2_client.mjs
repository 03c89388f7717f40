// The official socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4) against the
// conformance server (+ tests/sioapp), which allows v3 clients (ALLOW_EIO3).
//
//   node tests/e2e/js/sio_v2_client.mjs <base url> <polling|websocket|upgrade> '<json runs>'
//
// Like sio_client.mjs: one line per run, {"event": "result", "name", ...} or
// {"event": "error", "name", "error"}. Scenarios:
//   events   `/` (connected without a CONNECT packet) and `/custom?token=abc` (the query
//            is the auth) over one connection: auth, message, acks both ways, ids
//   binary   /ops: Buffers nested in objects and arrays, both ways
//   refused  /refuse and /nope: the v4 error packet (`error` event with err.data or the message)
//   rooms    {room} /ops: three clients, two in `room`; a broadcast from one of them
//   heartbeat  stays connected over several ping intervals (the client pings)
//   disallowed {path}  a path whose server refuses v3 clients: no connection
// Binary values print as {"$bin": hex}.
import io from "socket.io-client-v2";
import { TRANSPORTS, ack, once, plain, runScenarios, settled, until } from "./common.mjs";

const [base, mode, json] = process.argv.slice(2);

function connect(namespace, extra = {}) {
  return io(base + namespace, {
    path: "/socket.io-v3", // the conformance server's /socket.io/ is v4 only
    transports: TRANSPORTS[mode],
    upgrade: mode === "upgrade",
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...extra,
  });
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once("connect", () => resolve(socket));
    socket.once("error", (err) => reject(new Error(`error: ${JSON.stringify(err)}`)));
    socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err}`)));
  });
}

async function exchange(socket) {
  const back = once(socket, "message-back");
  socket.emit("message", 1, "two", { three: [3, null, true] });
  const messageBack = await back;
  const ackArgs = await ack(socket, "message-with-ack", "a", { b: [1, 2] }, 3.5);
  const first = new Promise((resolve) => {
    socket.once("emit-with-ack", (...args) => {
      const callback = args.pop();
      callback("acked", ...args);
      resolve(args);
    });
  });
  const firstArgs = await (socket.emit("emit-with-ack", "x", { y: 1 }), first);
  const second = await once(socket, "emit-with-ack");
  return { messageBack, ackArgs, emitWithAck: { first: firstArgs, second } };
}

const scenarios = {
  async events() {
    // The `auth` event of `/` comes right after the implicit connection: listen first.
    const root = connect("/", { autoConnect: false });
    const rootAuth = once(root, "auth");
    root.open();
    await connected(root);
    const custom = root.io.socket("/custom", { query: { token: "abc" } });
    const customAuth = once(custom, "auth");
    custom.open();
    await connected(custom);
    await settled(mode, root);
    const result = {
      transport: root.io.engine.transport.name,
      ids: { root: root.id, custom: custom.id, engine: root.io.engine.id },
      auth: { root: await rootAuth, custom: await customAuth },
      rounds: { root: await exchange(root), custom: await exchange(custom) },
    };
    root.io.disconnect();
    return result;
  },

  async binary() {
    const socket = await settled(mode, await connected(connect("/ops")));
    const bin = once(socket, "bin");
    const nested = [Uint8Array.from([255, 254]), { deep: Buffer.from([0]) }];
    const sent = [{ buf: Buffer.from([1, 2, 3]), nested, n: 1 }, Buffer.from([9]), "text"];
    const ackArgs = await ack(socket, "binary", ...sent);
    const result = { ack: plain(ackArgs), bin: plain(await bin), transport: socket.io.engine.transport.name };
    socket.io.disconnect();
    return result;
  },

  async refused() {
    const outcomes = {};
    for (const nsp of ["/refuse", "/nope"]) {
      const socket = connect(nsp);
      outcomes[nsp] = await new Promise((resolve) => {
        socket.once("connect", () => resolve({ connected: true }));
        socket.once("error", (err) => resolve({ connected: false, error: err }));
      });
      socket.io.disconnect();
    }
    return { outcomes };
  },

  async rooms({ room }) {
    const [a, b, c] = await Promise.all(
      [0, 1, 2].map(async () => settled(mode, await connected(connect("/ops")))),
    );
    const got = new Map([a, b, c].map((s) => [s, []]));
    for (const s of [a, b, c]) s.on("room-message", (...args) => got.get(s).push(args));
    const joined = [await ack(a, "join", room), await ack(b, "join", room)];
    const sent = await ack(a, "to-room", room, "hello", { n: 1, bin: Buffer.from([7]) });
    await until(() => got.get(b).length > 0, "the room message");
    await ack(a, "join", room);
    await ack(c, "join", `${room}-other`);
    [a, b, c].forEach((s) => s.io.disconnect());
    return { room, joined, sent, a: plain(got.get(a)), b: plain(got.get(b)), c: plain(got.get(c)) };
  },

  async heartbeat() {
    const socket = await settled(mode, await connected(connect("/ops")));
    let pongs = 0;
    socket.io.engine.on("pong", () => (pongs += 1));
    // Three of its pings answered (every 300 ms on an idle machine): waiting for them, not
    // for a fixed time, holds on a loaded one too.
    await until(() => pongs >= 3, "three pongs");
    const [answer] = await ack(socket, "join", "still-here");
    const result = { pongs, connected: socket.connected, answer };
    socket.io.disconnect();
    return result;
  },

  async disallowed({ path }) {
    const socket = connect("/", { path });
    const outcome = await new Promise((resolve) => {
      socket.once("connect", () => resolve({ connected: true }));
      socket.once("connect_error", (err) => resolve({ connected: false, error: String(err) }));
    });
    socket.io.disconnect();
    return outcome;
  },
};

await runScenarios("sio_v2_client.mjs", scenarios, mode, json);
