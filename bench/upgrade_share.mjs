// How many polling-first sessions end up on websocket behind a balancer, and how long
// a connection takes.
//
//   node bench/upgrade_share.mjs '{"url": "http://127.0.0.1:8080", "clients": 60,
//                                 "transports": ["polling", "websocket"], "at_once": false}'
//
// Connects `clients` official clients (by default with the default transports:
// polling, then the upgrade), one after the other (or all at once with `at_once`),
// and waits until each has upgraded or has tried (the client tries once: a refused
// websocket leaves it on polling); a polling-only client counts as "polling" once
// connected. Prints one JSON line: {"event": "result", "websocket": n, "polling": m,
// "failed": k, "connect_ms": {"p50": .., "p90": .., "max": ..}}, where connect_ms is
// from io() to Socket.IO's "connect".
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const COUNT = config.clients ?? 60;
const transports = config.transports ?? ["polling", "websocket"];
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const counts = { websocket: 0, polling: 0, failed: 0 };
const sockets = [];
const connectMs = [];
const hard = setTimeout(() => {
  out({ event: "result", ...counts, error: "timed out" });
  process.exit(1);
}, 120_000);

function one() {
  return new Promise((resolve) => {
    const began = performance.now();
    const socket = io(config.url, { reconnection: false, forceNew: true, transports });
    sockets.push(socket);
    let connected = false;
    let outcome = null;
    const settle = () => connected && outcome !== null && resolve(outcome);
    socket.once("connect", () => {
      connected = true;
      connectMs.push(performance.now() - began);
      if (!transports.includes("websocket")) outcome = "polling";
      settle();
    });
    socket.once("connect_error", () => resolve("failed"));
    // The probe starts as soon as the Engine.IO session opens, before Socket.IO connects.
    socket.io.once("open", () => {
      const engine = socket.io.engine;
      engine.once("upgrade", () => ((outcome = "websocket"), settle()));
      engine.once("upgradeError", () => ((outcome = "polling"), settle()));
    });
  });
}

if (config.at_once) {
  for (const outcome of await Promise.all([...Array(COUNT)].map(one))) counts[outcome] += 1;
} else {
  for (let i = 0; i < COUNT; i++) counts[await one()] += 1;
}
clearTimeout(hard);
connectMs.sort((a, b) => a - b);
const at = (q) => Math.round(connectMs[Math.min(connectMs.length - 1, Math.floor(q * connectMs.length))]);
const connect_ms = connectMs.length ? { p50: at(0.5), p90: at(0.9), max: at(1) } : null;
out({ event: "result", ...counts, connect_ms });
for (const socket of sockets) socket.close();
process.exit(0);
