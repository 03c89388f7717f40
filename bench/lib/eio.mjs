// Minimal Engine.IO v4 / Socket.IO v5 clients for load generation: the wire format,
// spoken directly, and nothing else. One namespace ("/"), text packets only.
//
//   Engine.IO:  0 open, 1 close, 2 ping, 3 pong, 4 message, 6 noop; polling payloads
//               are packets joined by "\x1e".
//   Socket.IO:  (inside a 4 message) 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK,
//               4 CONNECT_ERROR: "40", "42<id>[...]", "43<id>[...]".
//
// Both clients call `onEvent(name, args)` for server events and run the ack callback
// `cb(args)` registered by `emitWithAck`. A `fast(packet)` option sees each Engine.IO
// packet (a string) first and may consume it (returns true): the load generator matches
// expected packets as strings there instead of parsing JSON.

import http from "node:http";
import WebSocket from "ws";

const SEP = "\x1e";

/** Parse the Socket.IO packet in an Engine.IO message (the text after the "4"). */
export function parseSio(str) {
  const type = str.charCodeAt(0) - 48;
  let i = 1;
  let nsp = "/";
  if (str[i] === "/") {
    const comma = str.indexOf(",", i);
    nsp = comma < 0 ? str.slice(i) : str.slice(i, comma);
    i = comma < 0 ? str.length : comma + 1;
  }
  const start = i;
  while (i < str.length) {
    const c = str.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  const id = i > start ? Number(str.slice(start, i)) : null;
  const data = i < str.length ? JSON.parse(str.slice(i)) : undefined;
  return { type, nsp, id, data };
}

export function encodeEvent(event, args, id = null) {
  return "42" + (id === null ? "" : String(id)) + JSON.stringify([event, ...args]);
}

/** What both transports share: the Socket.IO state of one client. */
class SioBase {
  constructor({ onEvent = null, onClose = null, fast = null, connectTimeout = 30000 } = {}) {
    this.onEvent = onEvent;
    this.fast = fast;
    this.onClose = onClose;
    this.connectTimeout = connectTimeout;
    this.sid = null; // Engine.IO sid
    this.socketId = null; // Socket.IO socket id
    this.acks = new Map();
    this.nextId = 0;
    this.connected = false;
    this.closed = false;
    this._connectResolve = null;
    this._connectReject = null;
    this.errors = 0;
  }

  _waitConnected() {
    return new Promise((resolve, reject) => {
      this._connectResolve = resolve;
      this._connectReject = reject;
      this._connectTimer = setTimeout(
        () => this._fail(new Error("connect timeout")),
        this.connectTimeout,
      );
    });
  }

  _fail(err) {
    if (this._connectReject) {
      clearTimeout(this._connectTimer);
      const reject = this._connectReject;
      this._connectResolve = this._connectReject = null;
      reject(err);
    }
  }

  /** One Engine.IO packet (a string) arrived. */
  _packet(p) {
    if (this.fast !== null && this.fast(p)) return;
    const t = p.charCodeAt(0);
    if (t === 52 /* 4 message */) {
      this._sio(p.slice(1));
    } else if (t === 50 /* 2 ping */) {
      this._write("3");
    } else if (t === 48 /* 0 open */) {
      const open = JSON.parse(p.slice(1));
      this.sid = open.sid;
      this._write("40");
    } else if (t === 49 /* 1 close */) {
      this._closed("server close");
    }
    // 3 pong, 6 noop: nothing to do
  }

  _sio(str) {
    let pkt;
    try {
      pkt = parseSio(str);
    } catch (err) {
      this.errors++;
      return;
    }
    switch (pkt.type) {
      case 2: // EVENT
        if (this.onEvent) this.onEvent(pkt.data[0], pkt.data.slice(1), pkt.id);
        break;
      case 3: {
        // ACK
        const cb = this.acks.get(pkt.id);
        if (cb) {
          this.acks.delete(pkt.id);
          cb(pkt.data);
        } else {
          this.errors++;
        }
        break;
      }
      case 0: // CONNECT
        this.connected = true;
        this.socketId = pkt.data && pkt.data.sid;
        if (this._connectResolve) {
          clearTimeout(this._connectTimer);
          const resolve = this._connectResolve;
          this._connectResolve = this._connectReject = null;
          resolve(this);
        }
        break;
      case 4: // CONNECT_ERROR
        this._fail(new Error("connect_error " + JSON.stringify(pkt.data)));
        break;
      case 1: // DISCONNECT
        this.connected = false;
        break;
      default:
        this.errors++;
    }
  }

  _closed(reason) {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    this._fail(new Error("closed before connect: " + reason));
    if (this.onClose) this.onClose(reason);
  }

  emit(event, ...args) {
    this._write(encodeEvent(event, args));
  }

  /** `cb(args)` runs with the ack's arguments (an array). */
  emitWithAck(event, args, cb) {
    const id = this.nextId++;
    this.acks.set(id, cb);
    this._write(encodeEvent(event, args, id));
    return id;
  }

  ack(id, args) {
    this._write("43" + id + JSON.stringify(args));
  }

  /** Promise form of emitWithAck. */
  call(event, ...args) {
    return new Promise((resolve) => this.emitWithAck(event, args, resolve));
  }
}

export function wsUrl(base, path = "/socket.io/") {
  return base.replace(/^http/, "ws") + path + "?EIO=4&transport=websocket";
}

/** A websocket-only client: `?EIO=4&transport=websocket`, no polling first. */
export class SioWsClient extends SioBase {
  constructor(base, opts = {}) {
    super(opts);
    this.url = wsUrl(base, opts.path);
  }

  connect() {
    const done = this._waitConnected();
    const ws = (this.ws = new WebSocket(this.url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    }));
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this._packet(data.toString());
    });
    ws.on("close", () => this._closed("transport close"));
    ws.on("error", (err) => {
      this.errors++;
      this._fail(err);
    });
    return done;
  }

  _write(str) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(str);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    try {
      this.ws.close();
    } catch {
      /* already gone */
    }
  }

  /** Drop the TCP connection at once (no close handshake). */
  terminate() {
    this.closed = true;
    this.connected = false;
    try {
      this.ws.terminate();
    } catch {
      /* already gone */
    }
  }
}

/** A long-polling-only client: GET waits for packets, POST sends them (one at a time). */
export class SioPollingClient extends SioBase {
  constructor(base, opts = {}) {
    super(opts);
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.path = (opts.path || "/socket.io/") + "?EIO=4&transport=polling";
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    this._outbox = [];
    this._posting = false;
  }

  _request(method, body) {
    const path = this.sid ? `${this.path}&sid=${encodeURIComponent(this.sid)}` : this.path;
    return new Promise((resolve, reject) => {
      const headers = {};
      if (body !== undefined) {
        headers["content-type"] = "text/plain;charset=UTF-8";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: this.host, port: this.port, method, path, agent: this.agent, headers },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode !== 200) reject(new Error(`${method} ${res.statusCode} ${text}`));
            else resolve(text);
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  async connect() {
    const done = this._waitConnected();
    try {
      const first = await this._request("GET");
      this._payload(first); // "0{...}": sets sid and queues "40"
      this._poll();
    } catch (err) {
      this._fail(err);
    }
    return done;
  }

  _payload(text) {
    if (!text) return;
    for (const p of text.split(SEP)) if (p) this._packet(p);
  }

  async _poll() {
    while (!this.closed) {
      let text;
      try {
        text = await this._request("GET");
      } catch (err) {
        if (!this.closed) {
          this.errors++;
          this._closed("poll error: " + err.message);
        }
        return;
      }
      this._payload(text);
    }
  }

  _write(str) {
    if (this.closed) return;
    this._outbox.push(str);
    if (!this._posting) this._flush();
  }

  async _flush() {
    this._posting = true;
    while (this._outbox.length && !this.closed) {
      const body = this._outbox.join(SEP);
      this._outbox = [];
      try {
        await this._request("POST", body);
      } catch (err) {
        if (!this.closed) {
          this.errors++;
          this._closed("post error: " + err.message);
        }
        break;
      }
    }
    this._posting = false;
  }

  close() {
    if (this.closed) return;
    const sid = this.sid;
    this.closed = true;
    this.connected = false;
    if (sid) {
      // Best effort: tell the server, then drop the sockets.
      const req = http.request({
        host: this.host,
        port: this.port,
        method: "POST",
        path: `${this.path}&sid=${encodeURIComponent(sid)}`,
        agent: this.agent,
        headers: { "content-type": "text/plain;charset=UTF-8", "content-length": 1 },
      });
      req.on("error", () => {});
      req.on("response", (res) => res.resume());
      req.end("1");
    }
    setTimeout(() => this.agent.destroy(), 200).unref();
  }

  terminate() {
    this.closed = true;
    this.agent.destroy();
  }
}
