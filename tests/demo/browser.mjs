// Drive the chat demo in headless Chromium: node browser.mjs BASE_URL [SCREENSHOT.png]
// Prints one JSON object with what the pages showed; tests/demo/test_browser.py asserts it.
// playwright-core comes from demo_project/node_modules (`npm ci --prefix demo_project`).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const demoPackage = fileURLToPath(new URL("../../demo_project/package.json", import.meta.url));
const { chromium } = createRequire(demoPackage)("playwright-core");

const [base, screenshot] = process.argv.slice(2);
if (!base) {
  console.error("usage: node browser.mjs BASE_URL [SCREENSHOT.png]");
  process.exit(2);
}
const WAIT = 10_000;
const ROOM = "e2e-room";

const result = { steps: [], pageErrors: [], console: [] };
const started = Date.now();
const step = (name) => result.steps.push(`${name} (${Date.now() - started} ms)`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function openPage(name, path) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (err) => result.pageErrors.push(`${name}: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") {
      result.console.push(`${name} ${msg.type()}: ${msg.text()}`);
    }
  });
  await page.goto(base + path);
  return page;
}

const text = (page, selector) => page.locator(selector).first().textContent();

async function join(page, nick, expectedCount) {
  await page.fill("#nick", nick);
  await page.fill("#room", ROOM);
  await page.click("#join-button");
  await page.waitForSelector(`#room-info[data-count="${expectedCount}"]`);
  return Number(await page.getAttribute("#room-info", "data-count"));
}

// The last message from someone else in `list`, once it has `text`.
async function received(page, list, body) {
  const line = page.locator(`${list} li.msg:not(.mine)`, { hasText: body }).last();
  await line.waitFor();
  return { author: await line.locator(".author").textContent(), text: await line.locator(".text").textContent() };
}

// The delivery mark of our own message `body`, once acknowledged.
async function tick(page, list, body) {
  const line = page.locator(`${list} li.msg.mine`, { hasText: body }).last();
  await line.locator(".tick:not(.pending)").waitFor();
  return {
    tick: await line.locator(".tick").textContent(),
    author: await line.locator(".author").textContent(),
    id: await line.getAttribute("data-id"),
  };
}

try {
  // Two anonymous visitors: A with the default transports, B on long-polling only.
  const a = await openPage("A", "/");
  const b = await openPage("B", "/?transport=polling");
  for (const page of [a, b]) await page.waitForSelector('#status[data-state="connected"]');
  step("connected");

  result.aJoinCount = await join(a, "alice", 1);
  result.bJoinCount = await join(b, "bob", 2);
  await a.waitForSelector('#room-info[data-count="2"]');
  result.aMembers = await a.locator("#members li").allTextContents();
  result.aSawJoinNotice = await a.locator("#messages li.notice", { hasText: "bob joined" }).count();
  step("joined");

  // Typing on A shows on B, and clears once A sends.
  await a.locator("#text").pressSequentially("hello from ali", { delay: 20 });
  await b.waitForFunction(() => document.getElementById("typing").textContent.includes("typing"));
  result.bTyping = await text(b, "#typing");
  await a.locator("#text").pressSequentially("ce");
  await a.click("#send-button");
  result.bReceived = await received(b, "#messages", "hello from alice");
  result.aTick = await tick(a, "#messages", "hello from alice");
  await b.waitForFunction(() => document.getElementById("typing").textContent === "");
  result.bTypingCleared = true;
  step("A -> B");

  // B (long-polling) types and replies.
  await b.locator("#text").pressSequentially("hi from bob", { delay: 20 });
  await a.waitForFunction(() => document.getElementById("typing").textContent.includes("typing"));
  result.aTyping = await text(a, "#typing");
  await b.click("#send-button");
  result.aReceived = await received(a, "#messages", "hi from bob");
  result.bTick = await tick(b, "#messages", "hi from bob");
  step("B -> A");

  // The transports really used: B never upgrades; A normally ends on websocket.
  await a.waitForFunction(() => document.getElementById("transport").textContent === "websocket", null, { timeout: 5000 }).catch(() => {});
  result.aTransport = await text(a, "#transport");
  result.bTransport = await text(b, "#transport");

  // Anonymous: /private refuses the connection.
  await a.waitForSelector('#private-panel[data-state="refused"]');
  result.privateAnonymous = {
    state: await a.getAttribute("#private-panel", "data-state"),
    status: await text(a, "#private-status"),
    loginLink: await a.getAttribute("#private-login", "href"),
  };
  step("private refused");

  if (screenshot) await a.screenshot({ path: screenshot, fullPage: true });

  // C logs in as demo/demo and is let into /private.
  const c = await openPage("C", "/login/?next=/");
  await c.fill("#id_username", "demo");
  await c.fill("#id_password", "demo");
  await Promise.all([c.waitForURL(base + "/"), c.click("#login-button")]);
  await c.waitForSelector('#private-panel[data-state="joined"]');
  await c.waitForFunction(() => document.getElementById("private-status").textContent.startsWith("Joined"));
  result.privateLoggedIn = {
    state: await c.getAttribute("#private-panel", "data-state"),
    status: await text(c, "#private-status"),
    account: await text(c, "#account-name"),
  };
  await c.fill("#private-text", "members only");
  await c.click("#private-send");
  result.privateTick = await tick(c, "#private-messages", "members only");
  step("private joined");

  // A leaves: B is told, and the room is down to one.
  await a.context().close();
  await b.waitForSelector('#room-info[data-count="1"]');
  result.bSawLeaveNotice = await b.locator("#messages li.notice", { hasText: "alice left" }).count();
  result.bMembersAfterLeave = await b.locator("#members li").allTextContents();
  step("A left");
} catch (err) {
  result.error = String(err && err.stack ? err.stack : err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
