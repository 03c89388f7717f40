// The official socket.io-client against the Socket.IO conformance server (+ tests/sioapp).
//
//   node tests/e2e/js/sio_client.mjs <base url> <polling|websocket|upgrade> '<json runs>'
//
// Runs each run of the JSON list in turn, `{"name", "scenario", "timeout", ...options}` (a
// scenario may run several times under different names), and prints one line per run:
// {"event": "result", "name", ...} or {"event": "error", "name", "error"}. Scenarios:
//   events     {namespaces, auth}  the namespaces over one connection: `auth` event,
//              message / message-with-ack / emit-with-ack; in "upgrade" mode twice, the
//              second time after the upgrade
//   connect    {cases: [{namespace, auth, wait}]}  each on its own connection: connect or
//              connect_error; with `wait`, until an event of that name arrived
//   binary     {empty}  /ops: Buffers nested in objects and arrays, both ways (with
//              `empty`, a zero-length Buffer as well)
//   acks       /ops: a server emit_with_ack answered by us, and one we never answer
//   disconnect {hows}  /ops: both sides' reasons for client / server / engine disconnects
//   rooms      {room}  /ops: three clients, two in `room`; a broadcast from one of them
// In "upgrade" mode the scenarios let the upgrade finish before they close a connection.
// Binary values print as {"$bin": hex}. With SIO_PARSER=msgpack in the environment, every
// connection uses socket.io-msgpack-parser.
import { Manager, io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { TRANSPORTS, ack, once, plain, runScenarios, settled, until } from "./common.mjs";

const [base, mode, json] = process.argv.slice(2);
const PARSER = process.env.SIO_PARSER === "msgpack" ? { parser: msgpackParser } : {};

function connect(namespace, extra = {}, transports = TRANSPORTS[mode]) {
  return io(base + namespace, {
    transports,
    upgrade: transports.length > 1,
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...PARSER,
    ...extra,
  });
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
  });
}

async function exchange(socket) {
  const back = once(socket, "message-back");
  socket.emit("message", 1, "two", { three: [3, null, true] });
  const messageBack = await back;
  const ackArgs = await ack(socket, "message-with-ack", "a", { b: [1, 2] }, 3.5);
  // The server emits "emit-with-ack" with an ack id, then again with what we acked.
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

// In "upgrade" mode the namespace connects once the upgrade is done: a client whose only
// namespace is refused closes its engine at once, which would cut the upgrade short.
async function connectCase({ namespace, auth, wait }) {
  const manager = new Manager(base, {
    transports: TRANSPORTS[mode],
    reconnection: false,
    timeout: 5000,
    ...PARSER,
  });
  if (mode === "upgrade") {
    await once(manager, "open");
    if (manager.engine.transport.name !== "websocket") await once(manager.engine, "upgrade");
  }
  const socket = manager.socket(namespace, { auth });
  const events = [];
  socket.onAny((...args) => events.push(plain(args)));
  const outcome = await new Promise((resolve) => {
    socket.once("connect", () => resolve({ connected: true, id: socket.id }));
    socket.once("connect_error", (err) =>
      resolve({ connected: false, error: { message: err.message, data: err.data ?? null } }),
    );
  });
  if (outcome.connected && wait) await until(() => events.some(([name]) => name === wait), wait);
  socket.disconnect();
  return { namespace, transport: manager.engine?.transport?.name, ...outcome, events };
}

// How each side saw a disconnect; `how`: client (socket.disconnect()), server (the
// server's socket.disconnect()) or engine (the client's engine closes under the socket).
async function disconnectCase(how) {
  const socket = await settled(mode, await connected(connect("/ops")));
  const id = socket.id;
  const gone = once(socket, "disconnect");
  if (how === "client") socket.disconnect();
  else if (how === "server") socket.emit("kick");
  else if (how === "engine") socket.io.engine.close();
  else throw new Error(`unknown way to disconnect: ${how}`);
  const [clientReason] = await gone;
  return { how, id, clientReason };
}

const scenarios = {
  // Every namespace over one connection (multiplexed), each with its own auth.
  async events({ namespaces = ["/"], auth = {} }) {
    const manager = new Manager(base, {
      transports: TRANSPORTS[mode],
      upgrade: mode === "upgrade",
      reconnection: false,
      timeout: 5000,
      ...PARSER,
    });
    let upgraded = false;
    manager.on("open", () => manager.engine.once("upgrade", () => (upgraded = true)));
    const result = { transports: [], namespaces: {} };
    const sockets = namespaces.map((nsp) => manager.socket(nsp, { auth: { ...auth, nsp } }));
    const auths = sockets.map((socket) => once(socket, "auth"));
    await Promise.all(sockets.map(connected));
    for (const [i, socket] of sockets.entries()) {
      result.namespaces[namespaces[i]] = { id: socket.id, auth: await auths[i], rounds: [] };
    }
    const round = async () => {
      result.transports.push(manager.engine.transport.name);
      for (const [i, socket] of sockets.entries()) {
        result.namespaces[namespaces[i]].rounds.push(await exchange(socket));
      }
    };
    await round();
    if (mode === "upgrade") {
      if (!upgraded) await once(manager.engine, "upgrade");
      await round(); // once more over the websocket
    }
    result.upgraded = upgraded;
    result.sameConnection = new Set(sockets.map((s) => s.io.engine.id)).size === 1;
    if (sockets.length > 1) {
      // The last namespace leaves and comes back; the connection and the others carry on.
      const [first, last] = [sockets[0], sockets.at(-1)];
      const { id, io: { engine } } = last;
      last.disconnect();
      result.afterLeave = await exchange(first);
      const auth = once(last, "auth");
      last.connect();
      await connected(last);
      result.rejoined = {
        auth: await auth,
        newId: last.id !== id,
        sameConnection: last.io.engine === engine && engine.readyState === "open",
        round: await exchange(last),
      };
    }
    sockets.forEach((s) => s.disconnect());
    return result;
  },

  // Each case on its own connection, all at once: connect, or connect_error.
  async connect({ cases }) {
    return { cases: await Promise.all(cases.map(connectCase)) };
  },

  async binary({ empty = false }) {
    const socket = await settled(mode, await connected(connect("/ops")));
    const bin = once(socket, "bin");
    const nested = [Uint8Array.from([255, 254]), { deep: Buffer.from([0]) }];
    if (empty) nested.push(Buffer.alloc(0));
    const sent = [{ buf: Buffer.from([1, 2, 3]), nested, n: 1 }, Buffer.from([9]), "text"];
    const ackArgs = await ack(socket, "binary", ...sent);
    const transport = socket.io.engine.transport.name;
    const result = { ack: plain(ackArgs), bin: plain(await bin), transport };
    socket.disconnect();
    return result;
  },

  async acks() {
    const socket = await settled(mode, await connected(connect("/ops")));
    const questions = [];
    socket.on("question", (...args) => {
      const callback = args.pop();
      questions.push(args);
      callback("answer", ...args);
    });
    socket.on("no-answer", () => {}); // heard, never acknowledged
    const ask = await ack(socket, "ask", 1, { q: "?" });
    const askTimeout = await ack(socket, "ask-timeout");
    socket.disconnect();
    return { ask, askTimeout, questions };
  },

  async disconnect({ hows = ["client", "server", "engine"] }) {
    const cases = await Promise.all(hows.map(disconnectCase));
    // Ask the server, over another connection, what reasons its on_disconnect got.
    const observer = await connected(connect("/ops", {}, ["websocket"]));
    await until(async () => {
      const [reasons] = await ack(observer, "last-reasons");
      for (const c of cases) {
        c.serverReasons = reasons.filter((e) => e.id === c.id).map((e) => e.reason);
      }
      return cases.every((c) => c.serverReasons.length > 0);
    }, "the server's disconnect reasons");
    observer.disconnect();
    return { cases };
  },

  async rooms({ room }) {
    const [a, b, c] = await Promise.all(
      [0, 1, 2].map(async () => settled(mode, await connected(connect("/ops")))),
    );
    const got = new Map([a, b, c].map((s) => [s, []]));
    for (const s of [a, b, c]) s.on("room-message", (...args) => got.get(s).push(args));
    const joined = [await ack(a, "join", room), await ack(b, "join", room)];
    const sent = await ack(a, "to-room", room, "hello", { n: 1 });
    await until(() => got.get(b).length > 0, "the room message");
    // Round trips after the broadcast: anything meant for a or c would have come first.
    await ack(a, "join", room);
    await ack(c, "join", `${room}-other`);
    [a, b, c].forEach((s) => s.disconnect());
    return { room, joined, sent, a: got.get(a), b: got.get(b), c: got.get(c) };
  },
};

await runScenarios("sio_client.mjs", scenarios, mode, json);
