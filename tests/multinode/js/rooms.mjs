// The official socket.io-client against several nodes sharing Redis.
//
//   node tests/multinode/js/rooms.mjs '{"urls": [...], "clients": 6, "room": "r"}'
//
// Connects `clients` sockets to namespace /rooms, round-robin over the nodes (websocket),
// joins them all to `room`, then: 20 room broadcasts from client 0 (everyone gets each
// once, in order), a `socket.to(room)` broadcast (everyone but client 0), fetch_sockets
// (every sid), a broadcast with acks (one ack per client). Prints JSON lines; the last
// is {"event": "result", "errors": [...], "sids", "fetched", "acks"}.
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const { urls, room } = config;
const COUNT = config.clients ?? 6;
const MESSAGES = config.messages ?? 20;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const errors = [];
const timer = setTimeout(() => {
  out({ event: "result", errors: ["timed out"], sids: [], fetched: [], acks: [] });
  process.exit(1);
}, 25_000);

function connect(i) {
  const socket = io(`${urls[i % urls.length]}/rooms`, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  socket.got = { b: [], to: [], mark: [] };
  for (const event of Object.keys(socket.got)) {
    socket.on(event, (...args) => socket.got[event].push(args));
  }
  socket.on("ask", (...args) => args.pop()(i)); // the ack callback comes last
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const until = async (predicate, what) => {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const sockets = await Promise.all([...Array(COUNT).keys()].map(connect));
await Promise.all(sockets.map((s) => s.emitWithAck("join", [room])));
const [first] = sockets;
for (let seq = 0; seq < MESSAGES; seq++) {
  await first.emitWithAck("bcast", { to: [room] }, seq);
}
await first.emitWithAck("bcast", { to: [room], from_socket: true, event: "to" }, "not me");
await first.emitWithAck("bcast", { event: "mark" }, "end");
await until(() => sockets.every((s) => s.got.mark.length === 1), "the mark");

const expected = JSON.stringify([...Array(MESSAGES).keys()].map((seq) => [seq]));
sockets.forEach((s, i) => {
  if (JSON.stringify(s.got.b) !== expected) errors.push({ client: i, b: s.got.b });
  const to = JSON.stringify(s.got.to);
  if (to !== (i === 0 ? "[]" : JSON.stringify([["not me"]]))) errors.push({ client: i, to });
});

const fetched = await sockets[COUNT - 1].emitWithAck("fetch", room);
const result = await sockets[1].emitWithAck("bcast_ack", room, 5);
if (result.timeout) errors.push({ bcast_ack: result });

out({
  event: "result",
  errors,
  sids: sockets.map((s) => s.id),
  fetched,
  acks: result.acks,
});
clearTimeout(timer);
sockets.forEach((s) => s.disconnect());
