// Many socket.io-client sockets in one room over several nodes; one of them broadcasts
// numbered messages to the room as fast as the server acknowledges them.
//
//   node tests/multinode/js/load.mjs '{"urls": [...], "clients": 300, "messages": 1000,
//                                     "room": "r", "window": 1}'
//
// `window` is how many `bcast` emits may await their ack at once (1: one at a time).
// Every socket checks that it gets 0, 1, 2, ... exactly once each, in order. Prints one
// JSON line: {"event": "result", "complete", "bad", "samples", "timings", ...}.
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const { urls, room } = config;
const CLIENTS = config.clients ?? 300;
const MESSAGES = config.messages ?? 1000;
const WINDOW = config.window ?? 1;
const CONNECT_BATCH = config.connectBatch ?? 25;
const DEADLINE_MS = config.deadlineMs ?? 90_000;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const now = () => performance.now();
const t0 = now();
const timings = {};
const mark = (name) => (timings[name] = Math.round(now() - t0));

const sockets = [];
let finished = 0;
let onAllDone = null;
const allDone = new Promise((resolve) => (onAllDone = resolve));

function connect(i) {
  const socket = io(`${urls[i % urls.length]}/rooms`, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  socket.index = i;
  socket.next = 0; // the sequence number expected next
  socket.problems = []; // the first few unexpected numbers
  socket.bad = 0;
  socket.on("n", (seq) => {
    if (seq !== socket.next) {
      socket.bad += 1;
      if (socket.problems.length < 5) socket.problems.push({ expected: socket.next, got: seq });
    }
    socket.next = Math.max(socket.next, seq + 1);
    if (seq === MESSAGES - 1 && ++finished === CLIENTS) onAllDone();
  });
  socket.on("disconnect", (reason) => {
    if (socket.next < MESSAGES) socket.problems.push({ disconnected: reason });
  });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`client ${i}: ${err.message}`)));
    // a connection closed before the namespace connects gets neither event
    socket.io.once("close", (reason) => {
      if (!socket.connected) reject(new Error(`client ${i}: closed while connecting (${reason})`));
    });
  });
}

function report(extra) {
  const bad = sockets.filter((s) => s.bad || s.next !== MESSAGES || s.problems.length);
  out({
    event: "result",
    complete: bad.length === 0 && sockets.length === CLIENTS,
    clients: sockets.length,
    bad: bad.length,
    samples: bad.slice(0, 5).map((s) => ({
      client: s.index,
      url: urls[s.index % urls.length],
      next: s.next,
      problems: s.problems,
    })),
    timings,
    ...extra,
  });
}

const timer = setTimeout(() => {
  report({ error: `not done after ${DEADLINE_MS} ms` });
  process.exit(1);
}, DEADLINE_MS);

try {
  for (let i = 0; i < CLIENTS; i += CONNECT_BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(i + CONNECT_BATCH, CLIENTS); j++) batch.push(connect(j));
    await Promise.all(batch);
  }
} catch (err) {
  report({ error: String(err) });
  process.exit(1);
}
mark("connected");
for (let i = 0; i < CLIENTS; i += CONNECT_BATCH) {
  await Promise.all(sockets.slice(i, i + CONNECT_BATCH).map((s) => s.emitWithAck("join", [room])));
}
mark("joined");

const sender = sockets[0];
let sent = 0;
let inFlight = 0;
let senderError = null;
await new Promise((resolve) => {
  const pump = () => {
    while (inFlight < WINDOW && sent < MESSAGES) {
      const seq = sent++;
      inFlight++;
      sender
        .timeout(30_000)
        .emitWithAck("bcast", { to: [room], event: "n" }, seq)
        .then(() => {
          inFlight--;
          if (sent === MESSAGES && inFlight === 0) resolve();
          else pump();
        })
        .catch((err) => {
          senderError = String(err);
          resolve();
        });
    }
  };
  pump();
});
mark("sent");
if (!senderError) await allDone;
mark("delivered");
clearTimeout(timer);
const seconds = (timings.delivered - timings.joined) / 1000;
report({
  senderError,
  messagesPerSecond: Math.round(MESSAGES / seconds),
  deliveriesPerSecond: Math.round((MESSAGES * CLIENTS) / seconds),
});
sockets.forEach((s) => s.disconnect());
process.exit(0);
