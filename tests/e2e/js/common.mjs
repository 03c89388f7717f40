// What the Socket.IO client scripts (sio_client.mjs, sio_v2_client.mjs, room_member.mjs)
// share, written once: their command line, output, binary printing, waiting helpers and
// the loop that runs a list of scenarios.

// The scripts' <polling|websocket|upgrade> argument.
export const TRANSPORTS = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};

// One JSON line on stdout: what the Python test reads.
export const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// Binary as {"$bin": hex}, through objects and arrays; functions (ack callbacks) dropped.
export const plain = (value) => {
  if (value instanceof ArrayBuffer) value = new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (Array.isArray(value)) return value.filter((v) => typeof v !== "function").map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
};

export const once = (emitter, event) =>
  new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// emit with an ack callback; resolves with every argument of the ack.
export const ack = (socket, event, ...args) =>
  new Promise((resolve) => socket.emit(event, ...args, (...r) => resolve(r)));

export async function until(predicate, what) {
  const deadline = Date.now() + 8000;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// In "upgrade" mode, wait for the switch to websocket, so that what follows runs over it.
export async function settled(mode, socket) {
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await once(socket.io.engine, "upgrade");
  }
  return socket;
}

// Each run of the JSON list `json` in turn, `{"name", "scenario", "timeout", ...options}`:
// one line per run, {"event": "result", "name", ...} or {"event": "error", "name", "error"}.
export async function runScenarios(script, scenarios, mode, json) {
  const runs = JSON.parse(json || "[]");
  if (!TRANSPORTS[mode] || !runs.every((run) => scenarios[run.scenario])) {
    console.error(`usage: ${script} <url> <polling|websocket|upgrade> '[{name, scenario}]'`);
    process.exit(64);
  }
  for (const { name, scenario, timeout = 8000, ...options } of runs) {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms`)), timeout);
    });
    try {
      const result = await Promise.race([scenarios[scenario](options), expired]);
      out({ event: "result", name, ...result });
    } catch (err) {
      out({ event: "error", name, error: String(err?.stack ?? err) });
    } finally {
      clearTimeout(timer);
    }
  }
  process.exit(0);
}
