// Run an official protocol suite with its browser runner (test-suite/index.html,
// unmodified) in headless Chromium, against the server on localhost:3000.
//
//     node scripts/conformance_browser.mjs path/to/test-suite
//
// The page is served as http://localhost:3000/__suite__/index.html (same origin as the
// server, as when a developer opens it next to a local server), and the CDN scripts it
// names (mocha, chai, chai-string) come from the suite's own node_modules: the machine
// has no CDN access. Prints mocha's summary lines ("N passing", "M failing", one
// "  k) title" per failure) for scripts/conformance to read.
//
// Why a browser: in Node the suites use ws 8.5, which emits every frame of one read
// synchronously, and their waitFor() adds a `once` listener after each message, so two
// frames that arrive together lose the second (Node's socket.io fails the same way).
// A browser dispatches each WebSocket message as its own task.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const suite = path.resolve(process.argv[2]);
const origin = "http://localhost:3000";
const cdn = {
  "mocha.js": "mocha/mocha.js",
  "mocha.css": "mocha/mocha.css",
  "chai.js": "chai/chai.js",
  "chai-string.js": "chai-string/chai-string.js",
};
const types = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html" };

async function fulfil(route, file) {
  const body = await readFile(file);
  await route.fulfill({ status: 200, body, contentType: types[path.extname(file)] });
}

// Chromium's local network access checks would block a page's websocket to localhost.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-features=LocalNetworkAccessChecks"],
});
try {
  const page = await browser.newPage();
  if (process.env.SUITE_DEBUG) {
    page.on("console", (m) => console.error("console:", m.text()));
    page.on("pageerror", (e) => console.error("pageerror:", e.message));
    page.on("requestfailed", (r) => console.error("failed:", r.url()));
  }
  await page.route(/^https:\/\/unpkg\.com\//, (route) => {
    const name = new URL(route.request().url()).pathname.split("/").pop();
    return cdn[name]
      ? fulfil(route, path.join(suite, "node_modules", cdn[name]))
      : route.abort();
  });
  await page.route(`${origin}/__suite__/**`, (route) => {
    const name = new URL(route.request().url()).pathname.replace("/__suite__/", "");
    return fulfil(route, path.join(suite, name));
  });
  // The page calls mocha.run() from a classic script, before its module test-suite.js
  // (deferred) has declared a test: wrap run() as mocha is defined, to start it once
  // the page has loaded and to learn when it ends.
  await page.addInitScript(() => {
    let real;
    Object.defineProperty(globalThis, "mocha", {
      configurable: true,
      get: () => real,
      set(value) {
        if (real === value) return; // mocha.js assigns the global twice
        real = value;
        const run = value.run.bind(value);
        value.run = (fn) =>
          addEventListener("load", () =>
            run((failures) => {
              globalThis.__suiteDone = true;
              if (fn) fn(failures);
            }),
          );
      },
    });
  });
  await page.goto(`${origin}/__suite__/index.html`);
  await page.waitForFunction(() => globalThis.__suiteDone === true, null, {
    timeout: Number(process.env.SUITE_TIMEOUT_MS ?? 240_000),
  });
  const result = await page.evaluate(() => ({
    passes: document.querySelectorAll("#mocha-report .test.pass").length,
    failures: [...document.querySelectorAll("#mocha-report .test.fail")].map((el) => {
      const title = el.querySelector("h2").firstChild.textContent.trim();
      const error = el.querySelector(".error")?.textContent.split("\n")[0] ?? "";
      return `${title}: ${error}`;
    }),
  }));
  console.log(`  ${result.passes} passing`);
  console.log(`  ${result.failures.length} failing`);
  result.failures.forEach((title, i) => console.log(`  ${i + 1}) ${title}`));
} finally {
  await browser.close();
}
