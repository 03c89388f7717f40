// Headless Chromium for the operator pages (playwright-core from the root node_modules).
import { chromium } from "playwright-core";

export const WAIT = 15_000;

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// A page whose requests leave 127.0.0.1 never (fonts and icons of the Admin UI's page
// come from CDNs: refused, the page works without them).
export async function openPage(browser, result) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (err) => result.pageErrors.push(err.message));
  return page;
}

export async function run(main, deadline = 90_000) {
  const result = { steps: [], pageErrors: [] };
  // Never hang: print what was reached and stop.
  const timer = setTimeout(() => {
    result.error = `deadline of ${deadline} ms reached after steps ${result.steps}`;
    console.log(JSON.stringify(result));
    process.exit(1);
  }, deadline);
  const steps = result.steps;
  result.steps = new Proxy(steps, {
    get(target, key) {
      if (key === "push") return (...items) => { console.error("step:", ...items); return target.push(...items); };
      return target[key];
    },
  });
  const browser = await launch();
  try {
    await main(browser, result);
  } catch (err) {
    result.error = String(err && err.stack || err);
    // what the page showed, for the failure message
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        result.failedPage = { url: page.url(), text: (await page.locator("#content").innerText()).slice(0, 3000) };
      }
    }
  } finally {
    await browser.close();
  }
  clearTimeout(timer);
  result.steps = steps;
  console.log(JSON.stringify(result));
}
