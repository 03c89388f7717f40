#!/usr/bin/env node
// Load generator for bench/run.py: Socket.IO clients speaking the wire format over `ws`
// and plain HTTP long-polling, much cheaper than the servers they drive.
//
//   node bench/loadgen.mjs --scenario echo --url http://127.0.0.1:8000 [--url ...] \
//        [--clients 50] [--duration 10] [--warmup 2] [--payload 100] ...
//
// Writes JSON lines to stdout: {"event":"mark","name":"start"|"end"|...} at the edges of
// the measured window (the runner reads the server's CPU there), then one
// {"event":"result",...}. Progress and errors go to stderr. Every phase is bounded in
// time, and the whole run by --deadline seconds: it always stops by itself.
//
// Scenarios:
//   echo     --clients websocket clients, each in a closed emit-with-ack loop ("echo");
//            with --pace R, each emits R times a second instead (open loop: a latency is
//            counted from when the emit was due, so a server that falls behind shows it)
//   polling  the same over HTTP long-polling only
//   fanout   --clients receivers join room "all" (through "join"); one more client emits
//            "bcast" --rate times a second; the server broadcasts "b" to the room
//   connect  --clients websocket connections (--concurrency at a time), held idle
//            --hold seconds, then closed
// Several --url: clients are dealt round-robin over them; the fan-out sender uses the first.

import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { SioPollingClient, SioWsClient } from "./lib/eio.mjs";

const { values: opt } = parseArgs({
  options: {
    scenario: { type: "string", default: "echo" },
    url: { type: "string", multiple: true, default: ["http://127.0.0.1:8000"] },
    clients: { type: "string" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    payload: { type: "string", default: "100" },
    rate: { type: "string", default: "10" },
    pace: { type: "string", default: "0" },
    concurrency: { type: "string", default: "50" },
    hold: { type: "string", default: "2" },
    drain: { type: "string", default: "15" },
    stall: { type: "string", default: "3" },
    deadline: { type: "string", default: "600" },
  },
});

const DEFAULT_CLIENTS = { echo: 50, polling: 20, fanout: 1000, connect: 5000 };
const scenario = opt.scenario;
const urls = opt.url;
const N = Number(opt.clients ?? DEFAULT_CLIENTS[scenario] ?? 10);
const DURATION = Number(opt.duration) * 1000;
const WARMUP = Number(opt.warmup) * 1000;
const PAYLOAD = Number(opt.payload);
const RATE = Number(opt.rate);
const PACE = Number(opt.pace); // echo/polling: emits a second per client; 0: closed loop
const CONCURRENCY = Number(opt.concurrency);
const HOLD = Number(opt.hold) * 1000;
const DRAIN = Number(opt.drain) * 1000;
const STALL = Number(opt.stall) * 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const log = (...a) => process.stderr.write(`[loadgen ${scenario}] ${a.join(" ")}\n`);
const mark = (name, extra = {}) => out({ event: "mark", name, t: now(), ...extra });

const hardStop = setTimeout(
  () => {
    out({ event: "result", scenario, error: `deadline of ${opt.deadline} s reached` });
    process.exit(2);
  },
  Number(opt.deadline) * 1000,
);
hardStop.unref();

function percentiles(samples) {
  if (!samples.length) return { n: 0, p50_ms: null, p99_ms: null, max_ms: null, mean_ms: null };
  const a = Float64Array.from(samples).sort();
  const pick = (q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];
  let sum = 0;
  for (const x of a) sum += x;
  const r = (x) => Math.round(x * 1000) / 1000;
  return {
    n: a.length,
    p50_ms: r(pick(0.5)),
    p90_ms: r(pick(0.9)),
    p99_ms: r(pick(0.99)),
    max_ms: r(a[a.length - 1]),
    mean_ms: r(sum / a.length),
  };
}

/** Connect `n` clients, `concurrency` handshakes at a time. */
async function connectMany(n, make, concurrency, after = null) {
  const clients = [];
  const latencies = [];
  let failed = 0;
  let firstError = null;
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const c = make(i);
      const t0 = now();
      try {
        await c.connect();
        if (after) await after(c);
        latencies.push(now() - t0);
        clients.push(c);
      } catch (err) {
        failed++;
        firstError ??= String(err && err.message ? err.message : err);
        c.terminate();
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  if (failed) log(`${failed} of ${n} connections failed; first: ${firstError}`);
  return { clients, latencies, failed, firstError };
}

const urlFor = (i) => urls[i % urls.length];
const pad = (size) => "x".repeat(Math.max(0, size));

async function closeAll(clients) {
  for (const c of clients) c.close();
  await sleep(300);
  for (const c of clients) c.terminate?.();
}

// ---------------------------------------------------------------------------------------
// echo / polling: closed loops of emit-with-ack

async function echo(Client) {
  // ["echo",{"c":12,"n":345,"p":"xxx..."}] is about PAYLOAD bytes on the wire. One emit
  // in flight per client; its ack is matched as a string (fast path: the server wrote
  // the same JSON) or else parsed and compared.
  const filler = pad(PAYLOAD - 40);
  let measuring = false;
  let stopping = false;
  let acks = 0;
  let mismatched = 0;
  let parsed = 0;
  let outstanding = 0;
  const latencies = [];

  function done(st) {
    outstanding--;
    const dt = now() - st.t0;
    if (measuring) {
      acks++;
      latencies.push(dt);
    }
    if (PACE > 0) {
      st.due += 1000 / PACE;
      const wait = st.due - now();
      if (wait > 0) {
        setTimeout(() => send(st), wait);
        return;
      }
    }
    send(st);
  }
  function send(st) {
    const c = st.c;
    if (stopping || c.closed) return;
    const id = c.nextId++;
    const arg = '{"c":' + st.ci + ',"n":' + id + ',"p":"' + filler + '"}';
    st.expect = "43" + id + "[" + arg + "]";
    st.id = id;
    st.t0 = PACE > 0 ? st.due : now();
    outstanding++;
    c.acks.set(id, (args) => {
      st.expect = null;
      parsed++;
      const a = args && args[0];
      if (!a || a.c !== st.ci || a.n !== id || a.p !== filler || args.length !== 1) mismatched++;
      done(st);
    });
    c._write("42" + id + '["echo",' + arg + "]");
  }
  const make = (i) => {
    const st = { ci: i, c: null, expect: null, id: -1, t0: 0 };
    st.c = new Client(urlFor(i), {
      fast: (p) => {
        if (p !== st.expect) return false;
        st.c.acks.delete(st.id);
        st.expect = null;
        done(st);
        return true;
      },
    });
    st.c.st = st;
    return st.c;
  };
  const { clients, failed, firstError } = await connectMany(N, make, Math.min(CONCURRENCY, N));
  if (!clients.length) return { error: `no client connected: ${firstError}`, connect_failed: failed };
  for (const c of clients) {
    if (PACE > 0) {
      // spread the clients over the first period, so they do not emit in step
      c.st.due = now() + (Math.random() * 1000) / PACE;
      setTimeout(() => send(c.st), c.st.due - now());
    } else send(c.st);
  }
  await sleep(WARMUP);
  mark("start");
  measuring = true;
  const t0 = now();
  await sleep(DURATION);
  measuring = false;
  const elapsed = now() - t0;
  mark("end");
  stopping = true;
  // The last round of acks: every emit must be answered (nothing lost).
  const until = now() + Math.min(DRAIN, 10000);
  while (outstanding > 0 && now() < until) await sleep(20);
  const errors = clients.reduce((s, c) => s + c.errors, 0);
  await closeAll(clients);
  return {
    work: acks,
    unit: "acks",
    elapsed_s: elapsed / 1000,
    rate: acks / (elapsed / 1000),
    pace: PACE,
    latency: percentiles(latencies),
    lost: outstanding,
    mismatched,
    acks_parsed: parsed, // not byte-identical to what was sent, so parsed and compared
    errors,
    clients: clients.length,
    connect_failed: failed,
  };
}

// ---------------------------------------------------------------------------------------
// fanout: one sender, N receivers in room "all"

async function fanout() {
  // Per-broadcast bookkeeping, indexed by sequence number (measured ones only).
  const total = Math.max(1, Math.round((RATE * DURATION) / 1000));
  const warmupCount = Math.round((RATE * WARMUP) / 1000);
  const sentAt = new Float64Array(total);
  const lastAt = new Float64Array(total);
  const counts = new Uint32Array(total);
  const deliveryLat = [];
  let received = 0;
  let warmReceived = 0;
  let unexpected = 0;

  const record = (s, t) => {
    if (s < 0 || s >= total) {
      unexpected++;
      return;
    }
    counts[s]++;
    lastAt[s] = t;
    received++;
    deliveryLat.push(t - sentAt[s]);
  };
  // 42["b",{"s":<seq>,"t":<sent at>,"p":"..."}] read without JSON.parse.
  const PREFIX = '42["b",{"s":';
  const fast = (p) => {
    if (!p.startsWith(PREFIX)) return false;
    let i = PREFIX.length;
    let seq = 0;
    let digits = 0;
    for (let ch = p.charCodeAt(i); ch >= 48 && ch <= 57; ch = p.charCodeAt(++i)) {
      seq = seq * 10 + ch - 48;
      digits++;
    }
    if (!digits || !p.startsWith(',"t":', i)) return false; // warm-up ones: the slow path
    record(seq, now());
    return true;
  };
  const onEvent = (name, args) => {
    if (name !== "b") {
      unexpected++;
      return;
    }
    const t = now();
    const m = args[0];
    if (!m || typeof m.s !== "number") {
      unexpected++;
      return;
    }
    if (m.w) {
      warmReceived++;
      return;
    }
    record(m.s, t);
  };
  const joined = (c) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("join: no ack")), 30000);
      c.emitWithAck("join", [], () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const { clients, failed, firstError } = await connectMany(
    N,
    (i) => new SioWsClient(urlFor(i), { onEvent, fast }),
    CONCURRENCY,
    joined,
  );
  if (!clients.length) return { error: `no receiver connected: ${firstError}`, connect_failed: failed };
  const R = clients.length;
  const sender = new SioWsClient(urls[0], { onEvent: () => unexpected++ });
  await sender.connect();
  log(`${R} receivers joined; sending`);
  const filler = pad(PAYLOAD - 50);

  async function send(count, warm) {
    const period = 1000 / RATE;
    const start = now();
    for (let k = 0; k < count; k++) {
      const due = start + k * period;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      const t = now();
      if (!warm) sentAt[k] = t;
      sender.emit("bcast", warm ? { s: k, w: 1, t, p: filler } : { s: k, t, p: filler });
    }
  }

  // Warm-up broadcasts (not measured); wait for them to arrive.
  if (warmupCount > 0) {
    await send(warmupCount, true);
    const until = now() + DRAIN;
    while (warmReceived < warmupCount * R && now() < until) await sleep(10);
  }
  mark("start");
  const t0 = now();
  await send(total, false);
  const sendElapsed = now() - t0;
  const expected = total * R;
  // Wait for the stragglers: until all arrived, nothing arrived for STALL ms (the rest is
  // lost), or DRAIN ms passed while they still trickle in (the rest is late: the server
  // could not keep up with the offered rate).
  const until = now() + DRAIN;
  let progressAt = now();
  let seen = received;
  let stalled = false;
  while (received < expected && now() < until) {
    await sleep(5);
    if (received !== seen) {
      seen = received;
      progressAt = now();
    } else if (now() - progressAt > STALL) {
      stalled = true;
      break;
    }
  }
  const missing = expected - received;
  let last = t0;
  for (let k = 0; k < total; k++) if (lastAt[k] > last) last = lastAt[k];
  const elapsed = Math.max(last, t0 + sendElapsed) - t0;
  mark("end");
  const sendToLast = [];
  let incomplete = 0;
  for (let k = 0; k < total; k++) {
    if (counts[k] === R) sendToLast.push(lastAt[k] - sentAt[k]);
    else incomplete++;
  }
  const errors = clients.reduce((s, c) => s + c.errors, 0) + sender.errors;
  const dropped = clients.filter((c) => c.closed).length;
  sender.close();
  await closeAll(clients);
  return {
    work: received,
    unit: "deliveries",
    elapsed_s: elapsed / 1000,
    rate: received / (elapsed / 1000),
    broadcasts: total,
    broadcast_rate: total / (sendElapsed / 1000),
    receivers: R,
    expected,
    lost: stalled ? missing : 0, // never arrived
    late: stalled ? 0 : missing, // still arriving when the drain time ran out
    saturated: missing > 0 || received / (elapsed / 1000) < 0.9 * RATE * R,
    incomplete_broadcasts: incomplete,
    latency: percentiles(sendToLast), // send -> last receiver got it
    delivery_latency: percentiles(deliveryLat), // send -> each receiver
    unexpected,
    errors,
    receivers_closed: dropped,
    connect_failed: failed,
  };
}

// ---------------------------------------------------------------------------------------
// connect: connections per second, then idle memory

async function connect() {
  // Warm the server up (lazy imports, first allocations) before the baseline.
  const warm = await connectMany(
    Math.min(20, N),
    (i) => new SioWsClient(urlFor(i)),
    CONCURRENCY,
  );
  await closeAll(warm.clients);
  await sleep(500);
  mark("start");
  const t0 = now();
  const { clients, latencies, failed, firstError } = await connectMany(
    N,
    (i) => new SioWsClient(urlFor(i)),
    CONCURRENCY,
  );
  const elapsed = now() - t0;
  mark("connected");
  await sleep(HOLD);
  const alive = clients.filter((c) => !c.closed).length;
  mark("idle", { alive });
  const errors = clients.reduce((s, c) => s + c.errors, 0);
  await closeAll(clients);
  return {
    work: clients.length,
    unit: "connects",
    elapsed_s: elapsed / 1000,
    rate: clients.length / (elapsed / 1000),
    latency: percentiles(latencies),
    lost: N - alive, // failed to connect, or dropped while idle
    connect_failed: failed,
    first_error: firstError,
    alive,
    errors,
  };
}

// ---------------------------------------------------------------------------------------

const scenarios = {
  echo: () => echo(SioWsClient),
  polling: () => echo(SioPollingClient),
  fanout,
  connect,
};

if (!scenarios[scenario]) {
  log(`unknown scenario ${scenario}`);
  process.exit(64);
}

const started = now();
let result;
try {
  result = await scenarios[scenario]();
} catch (err) {
  result = { error: String(err && err.stack ? err.stack : err) };
}
const cpu = process.cpuUsage();
out({
  event: "result",
  scenario,
  clients_requested: N,
  ...result,
  loadgen_cpu_s: (cpu.user + cpu.system) / 1e6,
  loadgen_wall_s: (now() - started) / 1000,
});
process.exit(result.error ? 1 : 0);
