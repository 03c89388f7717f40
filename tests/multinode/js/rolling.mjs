// Many socket.io-client 4.8 clients with connectionStateRecovery, behind a round-robin
// balancer, while the test restarts every server process in turn
// (tests/multinode/test_rolling_restart.py).
//
//   node tests/multinode/js/rolling.mjs '{"url": BALANCER, "clients": 300, "rooms": 10,
//                                         "rate": 50}'
//
// Connects `clients` websocket clients to /recovery, each joins room r<i % rooms>, then
// prints {"event": "ready"} and has a plain Django view (POST /emit/, emit_sync, on each
// of `emitUrls` in turn) emit "tick" <seq> to room r<seq % rooms>, `rate` times a second, until a
// line arrives on stdin. Then it waits until every client has every tick its room was
// sent (or 20 s) and prints {"event": "result", ...}: the ticks sent, the reconnections
// that recovered and those that got a fresh session, and every client whose ticks are
// missing, repeated, not its room's, or in another order than its room's first client's.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const config = JSON.parse(process.argv[2] ?? "{}");
const { url } = config;
const COUNT = config.clients ?? 300;
const ROOMS = config.rooms ?? 10;
const RATE = config.rate ?? 50;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const watchdog = setTimeout(() => {
  out({ event: "error", error: "rolling.mjs ran for 240 s" });
  process.exit(1);
}, 240_000);

const seen = {}; // what the clients went through, counted
const count = (what) => (seen[what] = (seen[what] ?? 0) + 1);

function connect(i) {
  const socket = io(`${url}/recovery`, {
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    randomizationFactor: 0.5,
  });
  const state = { socket, room: `r${i % ROOMS}`, ticks: [], connects: 0, recovered: 0, fresh: 0 };
  socket.on("tick", (seq) => state.ticks.push(seq)); // the offset comes last: ignored
  socket.on("disconnect", (reason) => count(`disconnect: ${reason}`));
  socket.on("connect_error", (err) => count(`connect_error: ${err.message}`));
  socket.io.on("reconnect_error", (err) => count(`reconnect_error: ${err.message}`));
  socket.on("connect", () => {
    state.connects += 1;
    if (state.connects === 1) return;
    if (socket.recovered) state.recovered += 1;
    else {
      state.fresh += 1; // a fresh session is not in its room any more: join again
      socket.emit("join", state.room);
    }
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", async () => {
      await socket.timeout(20_000).emitWithAck("join", state.room);
      resolve(state);
    });
    socket.once("connect_error", reject);
  });
}

// The view answers 200 once the tick is in the recovery stream; anything else (a process
// stopping, the balancer's 502) leaves it unknown: sent or not, a client may have it.
// Straight to the processes in turn, not through the balancer: nginx would send a POST
// whose process closed the connection mid-way to the next one, and a tick the first had
// stored would be stored twice.
const emitUrls = config.emitUrls ?? [url];
async function emit(seq) {
  try {
    const res = await fetch(`${emitUrls[seq % emitUrls.length]}/emit/`, {
      method: "POST",
      body: JSON.stringify({ namespace: "/recovery", to: [`r${seq % ROOMS}`], event: "tick", args: [seq] }),
      signal: AbortSignal.timeout(10_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

try {
  const clients = [];
  for (let i = 0; i < COUNT; i += 25) {
    const batch = [...Array(Math.min(25, COUNT - i)).keys()].map((k) => connect(i + k));
    clients.push(...(await Promise.all(batch)));
  }
  out({ event: "ready" });

  let stopping = false;
  createInterface({ input: process.stdin }).once("line", () => (stopping = true));
  const sent = []; // seqs the view confirmed
  const unsure = new Set(); // seqs whose POST failed
  const posts = [];
  const start = Date.now();
  for (let seq = 0; !stopping; seq++) {
    posts.push(emit(seq).then((ok) => (ok ? sent.push(seq) : unsure.add(seq))));
    const due = start + ((seq + 1) * 1000) / RATE;
    await sleep(Math.max(0, due - Date.now()));
  }
  await Promise.all(posts);
  sent.sort((a, b) => a - b);
  const stoppedAt = Date.now();

  const expected = (state) => sent.filter((seq) => `r${seq % ROOMS}` === state.room);
  const deadline = Date.now() + 20_000;
  const lacking = (s) => {
    const got = new Set(s.ticks);
    return expected(s).filter((q) => !got.has(q));
  };
  while (Date.now() < deadline && clients.some((s) => lacking(s).length)) {
    await sleep(100);
  }
  await sleep(500); // anything sent twice would arrive now
  // Concurrent POSTs to different processes are stored in whichever order their XADDs
  // came, not by seq: that stream order is the one order, so every client of a room must
  // have the very same list of ticks, each once.
  const problems = [];
  const firstOf = {}; // room -> the first client's ticks
  clients.forEach((s, i) => {
    const want = expected(s);
    const missing = lacking(s);
    const wanted = new Set(want);
    const foreign = s.ticks.filter((q) => `r${q % ROOMS}` !== s.room || !(wanted.has(q) || unsure.has(q)));
    const repeated = s.ticks.length - new Set(s.ticks).size;
    const first = (firstOf[s.room] ??= s.ticks);
    const sameOrder = first.length === s.ticks.length && first.every((q, k) => s.ticks[k] === q);
    if (missing.length || foreign.length || repeated || !sameOrder) {
      const at = s.ticks.findIndex((q, k) => first[k] !== q);
      problems.push({
        client: i,
        missing: missing.slice(0, 10),
        foreign: foreign.slice(0, 10),
        repeated,
        differs: at < 0 ? null : { at, mine: s.ticks.slice(at, at + 5), first: first.slice(at, at + 5) },
      });
    }
  });
  const sum = (key) => clients.reduce((n, s) => n + s[key], 0);
  out({
    event: "result",
    sent: sent.length,
    unsure: unsure.size,
    clients: clients.length,
    reconnections: sum("connects") - clients.length,
    recovered: sum("recovered"),
    fresh: sum("fresh"),
    neverReconnected: clients.filter((s) => s.connects === 1).length,
    problems: problems.slice(0, 20),
    problemCount: problems.length,
    waitedMs: Date.now() - stoppedAt,
    seen,
    connected: clients.filter((s) => s.socket.connected).length,
  });
  clients.forEach((s) => s.socket.disconnect());
} catch (err) {
  out({ event: "error", error: String(err?.stack ?? err) });
}
clearTimeout(watchdog);
process.exit(0);
