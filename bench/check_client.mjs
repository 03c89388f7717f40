#!/usr/bin/env node
// Checks the load generator's wire-format clients (lib/eio.mjs) against the official
// socket.io-client: against the same server, both must get the same acks and the same
// broadcasts, over websocket and over long-polling.
//
//   node bench/check_client.mjs --url http://127.0.0.1:8000
//
// Prints one JSON line {"ok": true|false, "checks": [...], "failures": [...]}.

import { isDeepStrictEqual } from "node:util";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";
import { SioPollingClient, SioWsClient } from "./lib/eio.mjs";

const { values: opt } = parseArgs({
  options: { url: { type: "string", default: "http://127.0.0.1:8000" } },
});
const url = opt.url;

const timeout = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms).unref());
const within = (promise, what, ms = 10000) => Promise.race([promise, timeout(ms, what)]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Arguments that exercise the JSON encoding: several args, unicode, nesting, numbers.
const ARGS = [
  ["hello"],
  [1, 2.5, -3, true, false, null],
  [{ a: [1, { b: "ünïcødé ✓ 😀" }], c: "quote\" backslash\\ newline\n" }],
  ["x".repeat(5000)],
  [],
];

class Official {
  constructor(transport) {
    this.received = [];
    this.socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
    this.socket.on("b", (...args) => this.received.push(args));
  }
  connect() {
    return new Promise((resolve, reject) => {
      this.socket.on("connect", resolve);
      this.socket.on("connect_error", reject);
    });
  }
  call(event, ...args) {
    return this.socket.timeout(10000).emitWithAck(event, ...args).then((a) => [a]);
  }
  // emitWithAck resolves with the first ack argument only; use a callback for all of them.
  callAll(event, ...args) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(10000).emit(event, ...args, (err, ...ackArgs) => {
        if (err) reject(err);
        else resolve(ackArgs);
      });
    });
  }
  bcast(...args) {
    this.socket.emit("bcast", ...args);
  }
  close() {
    this.socket.close();
  }
}

class Raw {
  constructor(Client) {
    this.received = [];
    this.client = new Client(url, {
      onEvent: (name, args) => {
        if (name === "b") this.received.push(args);
      },
    });
  }
  connect() {
    return this.client.connect();
  }
  callAll(event, ...args) {
    return this.client.call(event, ...args);
  }
  bcast(...args) {
    this.client.emit("bcast", ...args);
  }
  close() {
    this.client.close();
  }
}

const checks = [];
const failures = [];
function expect(name, actual, expected) {
  const ok = isDeepStrictEqual(actual, expected);
  checks.push({ name, ok });
  if (!ok) failures.push({ name, actual, expected });
}

async function pair(transport) {
  const official = new Official(transport);
  const raw = new Raw(transport === "websocket" ? SioWsClient : SioPollingClient);
  await within(Promise.all([official.connect(), raw.connect()]), `${transport} connect`);
  for (const [i, args] of ARGS.entries()) {
    const [a, b] = await within(
      Promise.all([official.callAll("echo", ...args), raw.callAll("echo", ...args)]),
      `${transport} echo ${i}`,
    );
    expect(`${transport}: echo ${i}: official client gets its arguments back`, a, args);
    expect(`${transport}: echo ${i}: raw client gets the same ack`, b, a);
  }
  const joins = await within(
    Promise.all([official.callAll("join"), raw.callAll("join")]),
    `${transport} join`,
  );
  expect(`${transport}: join acks are equal`, joins[1], joins[0]);
  // One broadcast from each: both clients receive both, in order.
  official.bcast({ from: "official", n: 1 }, "second arg");
  await sleep(200);
  raw.bcast({ from: "raw", n: 2 }, ["nested", 3]);
  const want = [
    [{ from: "official", n: 1 }, "second arg"],
    [{ from: "raw", n: 2 }, ["nested", 3]],
  ];
  const deadline = Date.now() + 10000;
  while ((official.received.length < 2 || raw.received.length < 2) && Date.now() < deadline) {
    await sleep(20);
  }
  await sleep(200); // nothing more may arrive
  expect(`${transport}: official client gets both broadcasts`, official.received, want);
  expect(`${transport}: raw client gets the same broadcasts`, raw.received, official.received);
  official.close();
  raw.close();
}

let error = null;
try {
  await pair("websocket");
  await pair("polling");
} catch (err) {
  error = String(err && err.stack ? err.stack : err);
}
const ok = !error && failures.length === 0 && checks.length > 0;
process.stdout.write(JSON.stringify({ ok, error, checks, failures }) + "\n");
process.exit(ok ? 0 : 1);
