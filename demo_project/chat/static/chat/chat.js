// The chat demo's client: plain JavaScript on the official socket.io-client (window.io).
// `?transport=polling` forces long-polling, `?transport=websocket` websocket only.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const transport = params.get("transport");
  const options = {};
  if (transport === "polling" || transport === "websocket") options.transports = [transport];

  const statusEl = $("status");
  const setStatus = (state, text) => {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  };
  if (typeof io !== "function") {
    setStatus("error", "no client");
    return;
  }

  const ACK_TIMEOUT = 10000;
  const time = (ts) =>
    new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scrollDown(list) {
    list.scrollTop = list.scrollHeight;
  }

  // A chat line: time, author, text and, for our own messages, a delivery mark.
  function addMessage(list, { author, text, ts, mine }) {
    const li = el("li", mine ? "msg mine" : "msg");
    const when = el("time", "ts", ts ? time(ts) : "");
    li.append(when, el("span", "author", author), el("span", "text", text));
    let tick = null;
    if (mine) {
      tick = el("span", "tick pending", "…");
      tick.title = "sending";
      li.append(tick);
    }
    list.append(li);
    scrollDown(list);
    return {
      li,
      delivered(serverTs, id) {
        when.textContent = time(serverTs);
        li.dataset.id = id;
        tick.className = "tick";
        tick.textContent = "✓";
        tick.title = "delivered " + new Date(serverTs).toLocaleString();
      },
      failed(reason) {
        tick.className = "tick failed";
        tick.textContent = "✗";
        tick.title = reason;
      },
    };
  }

  function addNotice(list, text, ts) {
    const li = el("li", "notice");
    li.append(el("time", "ts", time(ts || Date.now())), el("span", "text", text));
    list.append(li);
    scrollDown(list);
  }

  function showMembers(members) {
    const ul = $("members");
    ul.replaceChildren(...members.map((nick) => el("li", nick === state.nick ? "me" : "", nick)));
  }

  // -- /chat ------------------------------------------------------------------------------

  const chat = io("/chat", options);
  const state = { nick: null, room: null };
  const messages = $("messages");
  const text = $("text");
  const sendButton = $("send-button");

  function showTransport() {
    const engine = chat.io.engine;
    $("transport").textContent = engine && engine.transport ? engine.transport.name : "—";
  }

  chat.on("connect", () => {
    setStatus("connected", "connected");
    showTransport();
    chat.io.engine.once("upgrade", showTransport);
    if (state.room) enter(state.nick, state.room); // back after a reconnection
  });
  chat.on("disconnect", (reason) => setStatus("disconnected", "disconnected: " + reason));
  chat.on("connect_error", (err) => setStatus("error", "error: " + err.message));

  // set-nick, then join: both acknowledged by the server.
  async function enter(nick, room) {
    const named = await chat.timeout(ACK_TIMEOUT).emitWithAck("set-nick", nick);
    if (!named.ok) throw new Error(named.error);
    state.nick = named.nick;
    const joined = await chat.timeout(ACK_TIMEOUT).emitWithAck("join", room);
    if (!joined.ok) throw new Error(joined.error);
    state.room = joined.room;
    $("room-info").textContent =
      `Room “${joined.room}” · ${joined.count} member${joined.count === 1 ? "" : "s"}`;
    $("room-info").dataset.count = joined.count;
    document.body.dataset.room = joined.room;
    showMembers(joined.members);
    text.disabled = sendButton.disabled = false;
    text.placeholder = `Message #${joined.room} as ${state.nick}`;
    text.focus();
  }

  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    enter($("nick").value, $("room").value).catch((err) => addNotice(messages, "⚠ " + err.message));
  });

  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    text.value = "";
    stopTyping();
    const line = addMessage(messages, { author: state.nick, text: value, mine: true });
    chat.timeout(ACK_TIMEOUT).emit("message", value, (err, ack) => {
      if (err) line.failed("no acknowledgement from the server");
      else if (!ack.ok) line.failed(ack.error);
      else line.delivered(ack.ts, ack.id);
    });
  });

  chat.on("message", (msg) => {
    addMessage(messages, { author: msg.nick, text: msg.text, ts: msg.ts });
    typers.delete(msg.nick);
    showTypers();
  });
  chat.on("notice", (notice) => addNotice(messages, notice.text, notice.ts));
  chat.on("members", (update) => {
    if (update.room !== state.room) return;
    showMembers(update.members);
    const n = update.members.length;
    $("room-info").textContent = `Room “${update.room}” · ${n} member${n === 1 ? "" : "s"}`;
    $("room-info").dataset.count = n;
  });

  // Typing: tell the room at most every 2 s while keys are pressed, and stop after 3 s idle.
  let typingSent = 0;
  let idleTimer = null;
  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingSent) chat.emit("stop-typing");
    typingSent = 0;
  }
  text.addEventListener("input", () => {
    if (!state.room) return;
    if (!text.value) return stopTyping();
    if (Date.now() - typingSent > 2000) {
      chat.emit("typing");
      typingSent = Date.now();
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, 3000);
  });

  const typers = new Map(); // nick -> expiry timer
  function showTypers() {
    const names = [...typers.keys()];
    $("typing").textContent = names.length
      ? `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`
      : "";
  }
  chat.on("typing", ({ nick }) => {
    clearTimeout(typers.get(nick));
    typers.set(nick, setTimeout(() => { typers.delete(nick); showTypers(); }, 5000));
    showTypers();
  });
  chat.on("stop-typing", ({ nick }) => {
    clearTimeout(typers.get(nick));
    typers.delete(nick);
    showTypers();
  });

  // -- /private: refused unless logged in (the session cookie rides on the handshake) ---------

  const priv = io("/private", options);
  const privStatus = $("private-status");
  const privMessages = $("private-messages");
  const privText = $("private-text");
  const privSend = $("private-send");
  const panel = $("private-panel");

  priv.on("connect", () => {
    panel.dataset.state = "joined";
    privText.disabled = privSend.disabled = false;
  });
  priv.on("welcome", ({ user, members }) => {
    privStatus.textContent = `Joined as ${user} · members: ${members.join(", ")}`;
  });
  priv.on("members", ({ members }) => {
    privStatus.textContent = privStatus.textContent.replace(/members: .*$/, "members: " + members.join(", "));
  });
  priv.on("connect_error", (err) => {
    panel.dataset.state = "refused";
    const code = err.data && err.data.code ? ` (${err.data.code})` : "";
    privStatus.textContent = `Refused: ${err.message}${code}`;
    privStatus.className = "error";
  });
  priv.on("disconnect", (reason) => {
    panel.dataset.state = "disconnected";
    privStatus.textContent = "Disconnected: " + reason;
    privText.disabled = privSend.disabled = true;
  });
  priv.on("message", (msg) => addMessage(privMessages, { author: msg.user, text: msg.text, ts: msg.ts }));
  priv.on("notice", (notice) => addNotice(privMessages, notice.text, notice.ts));

  $("private-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = privText.value.trim();
    if (!value) return;
    privText.value = "";
    const line = addMessage(privMessages, { author: "me", text: value, mine: true });
    priv.timeout(ACK_TIMEOUT).emit("message", value, (err, ack) => {
      if (err) line.failed("no acknowledgement from the server");
      else if (!ack.ok) line.failed(ack.error);
      else {
        line.li.querySelector(".author").textContent = ack.user;
        line.delivered(ack.ts, ack.id);
      }
    });
  });
})();
