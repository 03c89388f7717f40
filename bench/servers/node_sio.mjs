#!/usr/bin/env node
// The reference: Node's socket.io 4.8 on a plain http server, running the bench app.
//
//   node bench/servers/node_sio.mjs --port 8000 [--host 127.0.0.1] [--redis redis://...]
//
// echo: acks its arguments; join: joins room "all" (ack); bcast: broadcasts its
// arguments to room "all" as event "b". With --redis, rooms span processes through
// @socket.io/redis-adapter (the multi-process scenario).

import http from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values: opt } = parseArgs({
  options: {
    port: { type: "string", default: "8000" },
    host: { type: "string", default: "127.0.0.1" },
    redis: { type: "string" },
  },
});

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  serveClient: false,
});

if (opt.redis) {
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const { Redis } = await import("ioredis");
  const pub = new Redis(opt.redis);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub));
}

const ackOf = (args) => (typeof args[args.length - 1] === "function" ? args.pop() : null);

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = ackOf(args);
    if (ack) ack(...args);
  });
  socket.on("join", (...args) => {
    const ack = ackOf(args);
    socket.join("all");
    if (ack) ack();
  });
  socket.on("bcast", (...args) => {
    const ack = ackOf(args);
    io.to("all").emit("b", ...args);
    if (ack) ack();
  });
});

httpServer.listen(Number(opt.port), opt.host, () => {
  process.stdout.write(`node socket.io listening on ${opt.host}:${opt.port}\n`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
