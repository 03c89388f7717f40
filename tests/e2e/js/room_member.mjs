// One member of a room, for the tests where clients of every kind share a room.
//
//   node tests/e2e/js/room_member.mjs <url> <v2|json|msgpack> <polling|websocket|upgrade> '<json>'
//
// json: {"namespace", "join": [args of the join event], "event", "count"}. Connects with
// socket.io-client 2.x (v2: Engine.IO v3), or 4.8 with the default (json) or the
// MessagePack parser (msgpack); joins; prints {"event": "ready"}; prints
// {"event": "result", "got": [...]} once `count` `event`s have arrived. Binary as {"$bin": hex}.
import ioV2 from "socket.io-client-v2";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { TRANSPORTS, out, plain } from "./common.mjs";

const [url, kind, mode, json] = process.argv.slice(2);
const { namespace, join, event, count = 1 } = JSON.parse(json);
const transports = TRANSPORTS[mode];

const options = { transports, upgrade: mode === "upgrade", reconnection: false, forceNew: true, timeout: 8000 };
const socket =
  kind === "v2"
    ? ioV2(url + namespace, { ...options, path: "/socket.io-v3" }) // /socket.io/ is v4 only
    : io(url + namespace, kind === "msgpack" ? { ...options, parser: msgpackParser } : options);
const timer = setTimeout(() => {
  out({ event: "error", error: `timed out: ${JSON.stringify(got)}` });
  process.exit(1);
}, 20000);
const got = [];
socket.on(event, (...args) => {
  got.push(plain(args));
  if (got.length >= count) {
    out({ event: "result", got, transport: (socket.io.engine.transport || {}).name });
    clearTimeout(timer);
    socket.io.disconnect?.() ?? socket.disconnect();
    process.exit(0);
  }
});
socket.on("connect_error", (err) => out({ event: "error", error: String(err) }));
socket.on("connect", () => {
  const joined = () => {
    socket.emit("join", ...join, (answer) => out({ event: "ready", joined: answer }));
  };
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    socket.io.engine.once("upgrade", joined);
  } else {
    joined();
  }
});
