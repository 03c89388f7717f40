// The official Admin UI (@socket.io/admin-ui's ui/dist, served by the test project at
// /socket-admin/) in headless Chromium: node admin_ui.mjs NODE0_URL NODE1_URL [SCREENSHOT]
// Two socket.io-client sockets in /rooms, one per process (the second in room "blue");
// log in with the UI's form; read the sockets and rooms views; disconnect the second
// socket from the UI. Prints one JSON object; test_admin_ui.py asserts it.
import { io } from "socket.io-client";
import { WAIT, openPage, run } from "./browser.mjs";

const [base0, base1, screenshot] = process.argv.slice(2);

function connect(url) {
  return new Promise((resolve, reject) => {
    const socket = io(url + "/rooms", { transports: ["websocket"], reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

await run(async (browser, result) => {
  const a = await connect(base0);
  const b = await connect(base1);
  const reasons = [];
  b.on("disconnect", (reason) => reasons.push(reason));
  result.steps.push("clients connected");
  await b.timeout(WAIT).emitWithAck("join", ["blue"]);
  result.sids = [a.id, b.id];
  result.steps.push("joined blue");

  const page = await openPage(browser, result);
  await page.goto(`${base0}/socket-admin/`);
  result.steps.push("page loaded");
  await page.getByLabel("Server URL").fill(base0);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("admin-ui-test");
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByLabel("Server URL").waitFor({ state: "hidden" });
  result.steps.push("logged in");
  result.sessionId = await page.evaluate(() => localStorage.getItem("session_id"));

  // the sockets view, namespace /rooms: a socket of each process
  await page.evaluate(() => { location.hash = "#/sockets/"; });
  const selectNamespace = async (name) => {
    await page.locator("main .v-select").first().click();  // the other is the language
    await page.locator(".menuable__content__active .v-list-item", { hasText: name }).first().click();
  };
  await selectNamespace("/rooms");
  for (const id of result.sids) {
    await page.locator("tbody tr", { hasText: id }).first().waitFor();
  }
  result.socketsShown = await page.locator("tbody tr").allTextContents();
  result.steps.push("sockets view");

  // the rooms view: "blue"
  await page.evaluate(() => { location.hash = "#/rooms/"; });
  await page.locator("tbody tr", { hasText: "blue" }).first().waitFor();
  result.roomsShown = await page.locator("tbody tr").allTextContents();
  result.steps.push("rooms view");

  // the servers view: both processes
  await page.evaluate(() => { location.hash = "#/servers/"; });
  await page.waitForFunction(() => document.querySelectorAll("tbody tr").length >= 2);
  result.serversShown = await page.locator("tbody tr").allTextContents();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // disconnect the socket on the other process from the sockets view
  await page.evaluate(() => { location.hash = "#/sockets/"; });
  const sidB = b.id;
  await page.locator("tbody tr", { hasText: sidB }).first().locator("button").click();
  const deadline = Date.now() + WAIT;
  while (!reasons.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  result.reasons = reasons;
  // the row's click also opened the socket's page, which now says "disconnected"
  await page.evaluate(() => { location.hash = "#/sockets/"; });
  await page.waitForFunction(
    (id) => ![...document.querySelectorAll("tbody tr")].some((row) => row.textContent.includes(id)),
    sidB,
  );
  result.steps.push("disconnected");
  a.close();
}, 150_000);
