// How many polling-first sessions end up on websocket behind a balancer.
//
//   node bench/upgrade_share.mjs '{"url": "http://127.0.0.1:8080", "clients": 60}'
//
// Connects `clients` official clients (transports polling then websocket, the
// default), one after the other, and waits until each has upgraded or has tried
// (the client tries once: a refused websocket leaves it on polling). Prints one
// JSON line: {"event": "result", "websocket": n, "polling": m, "failed": k}.
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const COUNT = config.clients ?? 60;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const counts = { websocket: 0, polling: 0, failed: 0 };
const sockets = [];
const hard = setTimeout(() => {
  out({ event: "result", ...counts, error: "timed out" });
  process.exit(1);
}, 120_000);

function one() {
  return new Promise((resolve) => {
    const socket = io(config.url, { reconnection: false, forceNew: true });
    sockets.push(socket);
    socket.once("connect_error", () => resolve("failed"));
    // The probe starts as soon as the Engine.IO session opens, before Socket.IO connects.
    socket.io.once("open", () => {
      const engine = socket.io.engine;
      engine.once("upgrade", () => resolve("websocket"));
      engine.once("upgradeError", () => resolve("polling"));
    });
  });
}

for (let i = 0; i < COUNT; i++) counts[await one()] += 1;
clearTimeout(hard);
out({ event: "result", ...counts });
for (const socket of sockets) socket.close();
process.exit(0);
