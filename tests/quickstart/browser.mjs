// Open the README's quick-start page in headless Chromium: node browser.mjs URL
// Prints one JSON object: the page's log lines, its transport, and any page errors.
// playwright-core comes from the repository's node_modules (`npm ci`).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const rootPackage = fileURLToPath(new URL("../../package.json", import.meta.url));
const { chromium } = createRequire(rootPackage)("playwright-core");

const [url] = process.argv.slice(2);
const WAIT = 15_000;
const result = { pageErrors: [], console: [], failedRequests: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (err) => result.pageErrors.push(err.message));
  page.on("console", (msg) => result.console.push(`${msg.type()}: ${msg.text()}`));
  page.on("response", (r) => { if (r.status() >= 400) result.failedRequests.push(`${r.status()} ${r.url()}`); });
  await page.goto(url);
  for (const line of ["connected", "ack: hi", "private: login required"]) {
    await page.locator("#log li", { hasText: line }).first().waitFor();
  }
  // The client starts on long-polling and upgrades to a websocket.
  await page.waitForFunction(() => socket.io.engine.transport.name === "websocket");
  result.transport = await page.evaluate(() => socket.io.engine.transport.name);
  result.log = await page.locator("#log li").allTextContents();
} catch (err) {
  result.error = String(err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
