// Echo with binary payloads through the official socket.io-client, with the default
// (JSON) parser or socket.io-msgpack-parser: what bench/parser-cost drives.
//
//   node bench/parser_echo.mjs --url http://127.0.0.1:8000 --parser json|msgpack \
//        [--clients 20] [--duration 5] [--warmup 1] [--payload 1000]
//
// Each client runs a closed loop of emit("echo", {bin: <payload bytes>, n, s}, ack) over
// websocket. Prints {"event":"mark","name":"start"|"end"} around the measured window
// (bench/run.py reads the server's CPU at each) and {"event":"result", acks, ...}.
import { parseArgs } from "node:util";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" },
    parser: { type: "string", default: "json" },
    clients: { type: "string", default: "20" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    payload: { type: "string", default: "1000" },
  },
});
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const extra = opt.parser === "msgpack" ? { parser: msgpackParser } : {};
const payload = Buffer.alloc(Number(opt.payload), 7);
const deadline = setTimeout(() => process.exit(2), (Number(opt.duration) + 60) * 1000);

const sockets = await Promise.all(
  Array.from({ length: Number(opt.clients) }, () => {
    const s = io(opt.url, { transports: ["websocket"], reconnection: false, ...extra });
    return new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    });
  }),
);
let counting = false;
let acks = 0;
let running = true;
const loops = sockets.map(async (s, n) => {
  while (running) {
    const answer = await s.emitWithAck("echo", { bin: payload, n, s: "text" });
    if (answer.bin.length !== payload.length) throw new Error("bad echo");
    if (counting) acks += 1;
  }
});
await sleep(Number(opt.warmup) * 1000);
out({ event: "mark", name: "start" });
counting = true;
const started = performance.now();
await sleep(Number(opt.duration) * 1000);
counting = false;
const seconds = (performance.now() - started) / 1000;
out({ event: "mark", name: "end" });
running = false;
await Promise.all(loops);
sockets.forEach((s) => s.disconnect());
out({ event: "result", acks, seconds, rate: acks / seconds, parser: opt.parser });
clearTimeout(deadline);
process.exit(0);
