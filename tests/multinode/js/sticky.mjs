// The official socket.io-client through a round-robin balancer with no affinity.
//
//   node tests/multinode/js/sticky.mjs '{"url": "...", "clients": 4, "messages": 100,
//                                       "room": "r", "transports": ["polling"]}'
//
// Every request of a polling session may land on any process. Connects `clients`
// sockets to /rooms, joins `room` (an ack from the server), then: `messages` room
// broadcasts from client 0 (everyone gets each exactly once, in order), a broadcast
// with acks from the server (one ack per client), binary both ways (an echo acked with
// the bytes, a broadcast carrying bytes). Prints one JSON line:
// {"event": "result", "errors": [...], "transports": [...], "acks": [...]}.
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const { url, room } = config;
const COUNT = config.clients ?? 4;
const MESSAGES = config.messages ?? 100;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const errors = [];
const timer = setTimeout(() => {
  out({ event: "result", errors: ["timed out", ...errors], transports: [], acks: [] });
  process.exit(1);
}, 90_000);

function connect(i) {
  const socket = io(`${url}/rooms`, {
    transports: config.transports ?? ["polling", "websocket"],
    reconnection: false,
    forceNew: true,
  });
  socket.got = { b: [], bin: [], mark: [] };
  for (const event of Object.keys(socket.got)) {
    socket.on(event, (...args) => socket.got[event].push(args));
  }
  socket.disconnects = [];
  socket.on("disconnect", (reason) => socket.disconnects.push(reason));
  socket.on("ask", (...args) => args.at(-1)(i)); // the ack callback comes last
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const until = async (predicate, what) => {
  const deadline = Date.now() + 30_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

try {
  const sockets = await Promise.all([...Array(COUNT).keys()].map(connect));
  for (const s of sockets) {
    const rooms = await s.emitWithAck("join", [room]);
    if (JSON.stringify(rooms) !== JSON.stringify([room])) errors.push({ join: rooms });
  }
  const [first] = sockets;
  for (let seq = 0; seq < MESSAGES; seq++) {
    await first.emitWithAck("bcast", { to: [room] }, seq);
  }
  // binary both ways: bytes up, bytes back in the ack, bytes in a broadcast
  const echoed = await first.emitWithAck("echo", Uint8Array.from([1, 2, 255]));
  if (JSON.stringify(Array.from(new Uint8Array(echoed[0]))) !== "[1,2,255]") {
    errors.push({ echo: String(echoed) });
  }
  await first.emitWithAck("bcast", { to: [room], event: "bin" }, Uint8Array.from([7, 0, 7]));
  await first.emitWithAck("bcast", { event: "mark" }, "end");
  await until(() => sockets.every((s) => s.got.mark.length === 1 && s.got.bin.length === 1), "mark");

  const expected = JSON.stringify([...Array(MESSAGES).keys()].map((seq) => [seq]));
  sockets.forEach((s, i) => {
    if (JSON.stringify(s.got.b) !== expected) errors.push({ client: i, b: s.got.b.slice(0, 20) });
    const bin = Array.from(new Uint8Array(s.got.bin[0][0]));
    if (JSON.stringify(bin) !== "[7,0,7]") errors.push({ client: i, bin });
    if (s.disconnects.length) errors.push({ client: i, disconnects: s.disconnects });
  });
  const result = await sockets[1].emitWithAck("bcast_ack", room, 10);
  if (result.timeout) errors.push({ bcast_ack: result });
  out({
    event: "result",
    errors,
    transports: sockets.map((s) => s.io.engine.transport.name),
    acks: (result.acks ?? []).sort(),
  });
  sockets.forEach((s) => s.disconnect());
} catch (err) {
  out({ event: "result", errors: [String(err), ...errors], transports: [], acks: [] });
}
clearTimeout(timer);
