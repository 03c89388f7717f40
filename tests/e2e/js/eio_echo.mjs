// The official engine.io-client against the Engine.IO echo server.
//
//   node tests/e2e/js/eio_echo.mjs <base url> <polling|websocket|upgrade>
//
// Sends text and binary messages (a fixed set, then numbered ones back-to-back;
// in "upgrade" mode also while the transport is being upgraded), waits for every
// echo, waits through a few heartbeats, sends once more, then closes. Prints one
// JSON object per line: {"event": ..., "ms": since start}; the last one is
// {"event": "result", ...}, or {"event": "failed" | "timeout", ...} with a non-zero exit.
import { createHash } from "node:crypto";
import { Socket } from "engine.io-client";

const [url, mode] = process.argv.slice(2);
const TRANSPORTS = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};
if (!url || !TRANSPORTS[mode]) {
  console.error("usage: eio_echo.mjs <url> <polling|websocket|upgrade>");
  process.exit(64);
}

const t0 = Date.now();
const out = (obj) => process.stdout.write(JSON.stringify({ ...obj, ms: Date.now() - t0 }) + "\n");
const sha1 = (data) => createHash("sha1").update(data).digest("hex");

// A message as JSON: short ones verbatim, long ones by length and hash.
function describe(data) {
  if (data === undefined) data = ""; // engine.io-parser gives "4" (empty text) as undefined
  if (typeof data === "string") {
    return data.length > 200 ? { t_len: data.length, t_sha1: sha1(data) } : { t: data };
  }
  const bytes = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  return bytes.length > 200
    ? { b_len: bytes.length, b_sha1: sha1(bytes) }
    : { b: bytes.toString("base64") };
}

const FIXED = [
  "hello",
  "héllo €亜Б 😀",
  "",
  Uint8Array.from([1, 2, 3, 4]),
  Uint8Array.from([0, 255, 0, 128]),
  "x".repeat(100_000),
  Uint8Array.from({ length: 100_000 }, (_, i) => i % 251),
];
const numbered = (i) => (i % 3 === 2 ? Uint8Array.from([i & 255, i >> 8, 0xff]) : `m${i}`);

const socket = new Socket(url, {
  path: "/engine.io/",
  transports: TRANSPORTS[mode],
  upgrade: mode === "upgrade",
});

const sent = [];
const received = [];
const events = [];
let counter = 0;
let upgraded = false;
let waiting = null; // resolve() once every sent message came back

function send(data) {
  sent.push(describe(data));
  socket.send(data);
}

function sendBurst(n) {
  for (let k = 0; k < n; k++) send(numbered(counter++));
}

function allEchoed() {
  return new Promise((resolve) => {
    waiting = () => {
      if (received.length >= sent.length) {
        waiting = null;
        resolve();
      }
    };
    waiting();
  });
}

const timer = setTimeout(() => {
  out({ event: "timeout", sent: sent.length, received: received.length, events });
  process.exit(2);
}, 15_000);

socket.on("message", (data) => {
  received.push(describe(data));
  if (waiting) waiting();
});
socket.on("upgrading", (transport) => {
  events.push("upgrading");
  out({ event: "upgrading", transport: transport.name });
  sendBurst(10); // the polling transport is pausing now
});
socket.on("upgrade", (transport) => {
  upgraded = true;
  events.push("upgrade");
  // How much was sent, and echoed, before the switch: the upgrade happened mid-stream.
  out({ event: "upgrade", transport: transport.name, sent: sent.length, received: received.length });
  sendBurst(10);
});
socket.on("upgradeError", (err) => out({ event: "upgradeError", error: String(err) }));
socket.on("error", (err) => out({ event: "error", error: String(err) }));
let finished = false;
socket.on("close", (reason) => {
  // Once finished, this is our own close(): it may come after the result (close() waits for
  // the write buffer to drain), and the result stays the last line.
  if (finished) return;
  events.push("close");
  out({ event: "close", reason });
  out({ event: "failed", reason, sent: sent.length, received: received.length, events });
  process.exit(3);
});

socket.on("open", async () => {
  events.push("open");
  out({ event: "open", transport: socket.transport.name });
  if (mode === "upgrade") {
    // Keep sending while the upgrade runs: at open, every 5 ms, on upgrading, on upgrade.
    sendBurst(20);
    await new Promise((resolve) => {
      const ticker = setInterval(() => {
        sendBurst(1);
        if (upgraded || counter > 1000) {
          clearInterval(ticker);
          resolve();
        }
      }, 5);
    });
    sendBurst(10);
    await allEchoed();
  }
  for (const data of FIXED) send(data);
  await allEchoed();
  sendBurst(50); // back-to-back
  await allEchoed();

  // Through a few heartbeats (pingInterval 300 ms), then once more.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  send("after heartbeats");
  await allEchoed();

  const transport = socket.transport.name;
  finished = true;
  socket.close();
  clearTimeout(timer);
  out({ event: "result", transport, upgraded, events, sent, received });
  setTimeout(() => process.exit(0), 50);
});
