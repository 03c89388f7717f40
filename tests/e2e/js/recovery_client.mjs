// socket.io-client 4.8 recovering its session after the server drops its transport
// (tests/e2e/test_recovery.py). Usage: recovery_client.mjs <url> <mode> '[{name, scenario}]'
// Scenarios: "recover" (rooms, data, id and the exact missed events), "forged" (a pid
// the server does not know: a fresh session), "later" (reconnect after `waitMs`),
// "proxied" (as "recover", but the client goes through tests/tcp_proxy.py at `proxy`,
// which cuts its connections when `control` (a port) is connected to).
import { connect as tcpConnect } from "node:net";
import { io } from "socket.io-client";
import { TRANSPORTS, ack, once, plain, runScenarios, settled, sleep, until } from "./common.mjs";

const [url, mode, json] = process.argv.slice(2);

function client(base = url) {
  // reconnection off: the test reconnects by hand once the server emitted what it misses
  return io(`${base}/recovery`, { transports: TRANSPORTS[mode], reconnection: false, forceNew: true });
}

// An outage: the proxy cuts every connection it carries and refuses new ones until the
// returned connection is closed (it writes a byte once everything is cut).
const outage = (port) =>
  new Promise((resolve, reject) => {
    const conn = tcpConnect(port, "127.0.0.1");
    conn.once("data", () => resolve(conn));
    conn.on("error", reject);
  });

async function connected(socket) {
  await once(socket, "connect");
  return settled(mode, socket);
}

// Connect, join r1, set data, get one event (an offset), have the control drop it (or,
// through a proxy, have the proxy cut its connections).
async function dropped(control, proxied) {
  const socket = client(proxied?.proxy);
  await connected(socket);
  await ack(socket, "join", "r1");
  await ack(socket, "set", { name: "ada" });
  const events = [];
  socket.onAny((event, ...args) => events.push([event, ...plain(args)]));
  await ack(control, "hello");
  await until(() => events.length === 1, "the first event");
  const before = { id: socket.id, recovered: socket.recovered, pid: Boolean(socket._pid) };
  const closed = once(socket, "disconnect");
  const cut = proxied ? await outage(proxied.control) : await ack(control, "drop", socket.id);
  const [reason] = await closed;
  if (proxied) cut.destroy(); // the proxy lets connections through again
  return { socket, events, before, reason };
}

const scenarios = {
  async recover(options) {
    const control = await connected(client());
    const { socket, events, before, reason } = await dropped(control, options.proxy && options);
    await ack(control, "away", before.id);
    events.length = 0;
    socket.connect();
    await once(socket, "connect");
    const whoami = (await ack(socket, "whoami"))[0];
    await sleep(300); // anything sent twice would arrive now
    const offsets = events.map((e) => e.at(-1));
    const after = { recovered: socket.recovered, id: socket.id };
    socket.disconnect();
    control.disconnect();
    return { before, reason, ...after, whoami, events, offsets };
  },
  async forged() {
    const control = await connected(client());
    const { socket, before } = await dropped(control);
    socket._pid = "forged-pid-0000000000";
    socket.connect();
    await once(socket, "connect");
    const whoami = (await ack(socket, "whoami"))[0];
    const after = { recovered: socket.recovered, sameId: socket.id === before.id };
    socket.disconnect();
    control.disconnect();
    return { before, ...after, whoami };
  },
  async later({ waitMs }) {
    const control = await connected(client());
    const { socket, before } = await dropped(control);
    await sleep(waitMs);
    socket.connect();
    await once(socket, "connect");
    const whoami = (await ack(socket, "whoami"))[0];
    const after = { recovered: socket.recovered, sameId: socket.id === before.id };
    socket.disconnect();
    control.disconnect();
    return { before, ...after, whoami };
  },
};

await runScenarios("recovery_client.mjs", scenarios, mode, json);
