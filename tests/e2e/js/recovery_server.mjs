// The reference: Node's socket.io 4.8 with connectionStateRecovery and the in-memory
// adapter, serving the same /recovery namespace as tests/sioapp/sockets.py (Recovery), so
// that tests/e2e/test_recovery.py runs the same client scenarios against both.
// Prints {"port": N} once it listens; runs until killed. RECOVERY_WINDOW_MS (120000) and
// SKIP_MIDDLEWARES ("1") set connectionStateRecovery's two options.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { out } from "./common.mjs";

const http = createServer();
const io = new Server(http, {
  connectionStateRecovery: {
    maxDisconnectionDuration: Number(process.env.RECOVERY_WINDOW_MS ?? 120000),
    skipMiddlewares: (process.env.SKIP_MIDDLEWARES ?? "1") === "1",
  },
  pingInterval: 300,
  pingTimeout: 10000, // as tests/e2e/clients_settings.py: a loaded machine misses 200 ms
});
const nsp = io.of("/recovery");
const middlewareRuns = new Map(); // socket id -> the `recovered` flag each run saw
nsp.use((socket, next) => {
  middlewareRuns.set(socket.id, [...(middlewareRuns.get(socket.id) ?? []), socket.recovered]);
  next();
});

nsp.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(true);
  });
  socket.on("set", (data, ack) => {
    Object.assign(socket.data, data);
    ack(true);
  });
  socket.on("whoami", (ack) => {
    const rooms = [...socket.rooms].sort();
    const middleware = middlewareRuns.get(socket.id);
    ack({ id: socket.id, rooms, data: socket.data, recovered: socket.recovered, middleware });
  });
  socket.on("hello", (ack) => {
    nsp.emit("hello");
    ack(true);
  });
  socket.on("drop", (sid, ack) => {
    const target = nsp.sockets.get(sid);
    if (target) target.conn.close(); // the transport goes, no DISCONNECT packet
    ack(Boolean(target));
  });
  socket.on("away", (sid, ack) => {
    nsp.emit("all", 1);
    nsp.to("r1").emit("room", 2);
    nsp.to(sid).emit("direct", 3);
    nsp.to("r1").emit("bin", Buffer.from([0, 1]));
    nsp.to("r2").emit("not-for-it", 4);
    nsp.to("r1").volatile.emit("volatile", "v");
    nsp.to("r1").timeout(100).emit("with-ack", 6, () => {});
    ack(true);
  });
});

http.listen(0, "127.0.0.1", () => out({ port: http.address().port }));
