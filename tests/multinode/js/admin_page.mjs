// The Django admin's "Socket.IO" page as a staff user: node admin_page.mjs BASE_URL
//   SID_ON_NODE0 SID_ON_NODE1 SID_TO_DISCONNECT [SCREENSHOT]
// Prints one JSON object with what the pages showed; test_admin_browser.py asserts it.
import { openPage, run } from "./browser.mjs";

const [base, sidA, sidB, kick, screenshot] = process.argv.slice(2);

await run(async (browser, result) => {
  const page = await openPage(browser, result);
  await page.goto(`${base}/admin/login/?next=/admin/`);
  await page.fill("#id_username", "clerk");
  await page.fill("#id_password", "clerk-pass");
  await Promise.all([page.waitForURL(`${base}/admin/`), page.click("input[type=submit]")]);
  result.steps.push("logged in");
  const section = page.locator("#content-main .app-django_socketio");
  result.section = (await section.locator("caption").textContent()).trim();
  await Promise.all([page.waitForURL(/deployment/), section.locator("a", { hasText: "Live deployment" }).click()]);
  result.steps.push("opened the page");
  result.processes = await page.locator("#processes tbody tr.process").count();
  result.socketIds = await page.locator("#sockets tbody tr.socket").evaluateAll(
    (rows) => rows.map((row) => row.dataset.sid));
  result.rooms = await page.locator("#rooms tbody tr.room").evaluateAll(
    (rows) => rows.map((row) => Array.from(row.cells).slice(0, 3).map((c) => c.textContent.trim())));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // search narrows the list to one socket
  await page.fill("#search input[name=q]", sidB.toLowerCase());
  await Promise.all([page.waitForURL(/q=/), page.click("#search input[type=submit]")]);
  result.searched = await page.locator("#sockets tbody tr.socket").evaluateAll(
    (rows) => rows.map((row) => row.dataset.sid));
  await page.goto(`${base}/admin/django_socketio/deployment/`);

  // disconnect one socket (on the other process)
  const row = page.locator(`#sockets tr.socket[data-sid="${kick}"]`);
  await Promise.all([page.waitForLoadState("load"), row.locator("button.disconnect").click()]);
  await page.waitForSelector(".messagelist .success");
  result.message = (await page.locator(".messagelist .success").textContent()).trim();
  result.steps.push("disconnected");

  // make the first socket join "green", then emit a test event to "green"
  const first = page.locator(`#sockets tr.socket[data-sid="${sidA}"]`);
  await first.locator("input[name=room]").fill("green");
  await Promise.all([page.waitForLoadState("load"), first.locator("button[value=join]").click()]);
  await page.waitForSelector(".messagelist .success");
  result.joinMessage = (await page.locator(".messagelist .success").textContent()).trim();
  const green = page.locator("#rooms tr.room", { hasText: "green" });
  await green.waitFor();
  await green.locator("input[name=args]").fill('["from the admin", 2]');
  await Promise.all([page.waitForLoadState("load"), green.locator("button[value=emit]").click()]);
  await page.waitForSelector(".messagelist .success");
  result.emitMessage = (await page.locator(".messagelist .success").textContent()).trim();
  result.steps.push("joined and emitted");
});
