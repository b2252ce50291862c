// Drives the dashboard in headless Chromium (Debian's, through playwright-core) for the e2e
// tests (crates/e2e/tests/dashboard.rs). Usage:
//   node tests/browser.mjs fleet URL CONTAINER_ID SCREENSHOT
// fleet: the fleet view lists the container with a CPU figure, the connection indicator says
// live; saves a screenshot. Prints what it saw; exits non-zero when a check fails.
import { chromium } from "playwright-core";

const [check, url, machine, screenshot] = process.argv.slice(2);
const executablePath = process.env.SRMON_CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  page.on("pageerror", (e) => {
    console.error(`page error: ${e.message}`);
    failed = true;
  });
  await page.goto(url);
  if (check === "fleet") {
    const row = page.locator(`.row[data-machine="${machine}"]`);
    await row.waitFor({ timeout: 20000 });
    // a CPU figure (not the "–" of a value not yet known)
    await page.waitForFunction(
      (id) => /\d+\.\d %/.test(document.querySelector(`.row[data-machine="${id}"] .c-cpu`)?.textContent ?? ""),
      machine,
      { timeout: 20000 },
    );
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20000 });
    console.log(`row: ${(await row.textContent()).replace(/\s+/g, " ")}`);
    console.log(`cpu: ${await row.locator(".c-cpu").textContent()}`);
    console.log(`status: ${await row.locator(".c-status").textContent()}`);
  } else {
    throw new Error(`unknown check ${check}`);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
} catch (e) {
  console.error(`failed: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
