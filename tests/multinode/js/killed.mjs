// The official socket.io-client on polling through a round-robin balancer while the
// process owning some sessions is killed.
//
//   node tests/multinode/js/killed.mjs '{"url": "...", "clients": 6}'
//
// Connects `clients` sockets to /rooms (polling only, reconnection on) and prints
// {"event": "ready", "sids": [...]} (their Engine.IO ids: the first 4 characters name
// the owner). Then reads one JSON line on stdin, {"victims": [indexes]}, sent once the
// owner is killed; waits until each victim has connected a second time, checks that
// every socket answers an echo, waits 1 s more and prints
// {"event": "result", "connects": [...], "reasons": [[...]], "seconds": [...], "echo": [...]}
// where `seconds` is, for each victim, the time from that line to its reconnection.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const COUNT = config.clients ?? 6;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const timer = setTimeout(() => {
  out({ event: "result", error: "timed out", connects: sockets.map((s) => s.connects) });
  process.exit(1);
}, 90_000);

const sockets = [];
function connect() {
  const socket = io(`${config.url}/rooms`, {
    transports: ["polling"],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  socket.connects = 0;
  socket.reasons = [];
  socket.on("connect", () => {
    socket.connects += 1;
    socket.connectedAt = Date.now();
  });
  socket.on("disconnect", (reason) => socket.reasons.push(reason));
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
}

const until = async (predicate, what) => {
  const deadline = Date.now() + 60_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

for (let i = 0; i < COUNT; i++) await connect();
out({ event: "ready", sids: sockets.map((s) => s.io.engine.id) });
const lines = createInterface({ input: process.stdin });
const [line] = await Promise.all([new Promise((r) => lines.once("line", r))]);
const killedAt = Date.now();
const { victims } = JSON.parse(line);
await until(() => victims.every((i) => sockets[i].connects >= 2), "the reconnects");
const seconds = victims.map((i) => (sockets[i].connectedAt - killedAt) / 1000);
const echo = [];
for (const s of sockets) {
  await until(() => s.connected, "a connection");
  echo.push(await s.timeout(10_000).emitWithAck("echo", "again"));
}
await new Promise((r) => setTimeout(r, 1000));
clearTimeout(timer);
out({
  event: "result",
  connects: sockets.map((s) => s.connects),
  reasons: sockets.map((s) => s.reasons),
  seconds,
  echo,
});
for (const s of sockets) s.close();
lines.close();
process.exit(0);
