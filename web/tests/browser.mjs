// Drives the dashboard in headless Chromium (Debian's, through playwright-core) for the e2e
// tests (crates/e2e/tests/dashboard.rs). Usage:
//   node tests/browser.mjs fleet URL CONTAINER_ID SCREENSHOT
//   node tests/browser.mjs login URL READ_TOKEN SCREENSHOT
//   node tests/browser.mjs alerts URL CONTAINER_NAME SCREENSHOT
//   node tests/browser.mjs rules URL ADMIN_TOKEN SCREENSHOT
//   node tests/browser.mjs machine URL MACHINE_ID SCREENSHOT
//   node tests/browser.mjs docs URL PATH SCREENSHOT
// fleet: the fleet view lists the container with a CPU figure and its firing alert marked, the
// connection indicator says live. login: the page asks for a token, refuses a wrong one, takes the right one and shows
// the fleet live, and the token is nowhere the page can read (cookie HttpOnly, no storage, not
// in the URL). alerts: the feed shows the container's alert firing without a reload (prints
// "fired"), then, once the connection was lost and is live again, an alert of the host
// e2e-meanwhile raised while it was away (prints "meanwhile"). rules: adds a rule for the host
// e2e-rule-host (the admin token asked for on the refused write, the API's validation message
// shown beside the clear field), then edits its raise value to 25 (prints "saved"), then
// silences that host and expires the silence. machine:
// the machine page draws its CPU chart from raw samples, live over the tab's one stream (no
// polling), then 24 hours from a rollup tier, then a custom range (refused when from is not
// before to), the last 20 minutes from raw samples (prints the tiers). docs: the API description page at URL+PATH shows the generated
// description's title and operations (prints how many). All save a
// screenshot, print what they saw, exit non-zero when a check fails.
import { launch } from "./chromium.mjs";

const [check, url, arg, screenshot] = process.argv.slice(2);
const browser = await launch();
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  page.on("pageerror", (e) => {
    console.error(`page error: ${e.message}`);
    failed = true;
  });
  await page.goto(url);
  if (check === "fleet") {
    const machine = arg;
    const row = page.locator(`.row[data-machine="${machine}"]`);
    await row.waitFor({ timeout: 20000 });
    // a CPU figure (not the "–" of a value not yet known)
    await page.waitForFunction(
      (id) => /\d+\.\d %/.test(document.querySelector(`.row[data-machine="${id}"] .c-cpu`)?.textContent ?? ""),
      machine,
      { timeout: 20000 },
    );
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20000 });
    // its firing alert marked on the row (from the live stream)
    await row.locator(".alert-mark").waitFor({ timeout: 20000 });
    console.log(`marked: ${await row.locator(".alert-mark").textContent()}`);
    console.log(`row: ${(await row.textContent()).replace(/\s+/g, " ")}`);
    console.log(`cpu: ${await row.locator(".c-cpu").textContent()}`);
    console.log(`status: ${await row.locator(".c-status").textContent()}`);
  } else if (check === "login") {
    const token = arg;
    await page.locator("#login").waitFor({ timeout: 20000 });
    console.log("login: asked");
    await page.fill('#login input[name="token"]', "not-the-token");
    await page.click('#login button[type="submit"]');
    await page.locator("#login-error").waitFor({ timeout: 10000 });
    console.log(`wrong token: ${await page.locator("#login-error").textContent()}`);
    await page.fill('#login input[name="token"]', token);
    await page.click('#login button[type="submit"]');
    await page.locator(".fleet .toolbar").waitFor({ timeout: 20000 });
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20000 });
    console.log("right token: fleet live");
    const seen = await page.evaluate(() => ({
      cookie: document.cookie,
      local: JSON.stringify(localStorage),
      session: JSON.stringify(sessionStorage),
      href: location.href,
    }));
    for (const [where, text] of Object.entries(seen)) {
      if (text.includes(token)) throw new Error(`the token is readable in ${where}: ${text}`);
    }
    const cookies = await page.context().cookies();
    const cookie = cookies.find((c) => c.name === "token");
    if (!cookie || !cookie.httpOnly || cookie.sameSite !== "Strict") {
      throw new Error(`expected an HttpOnly SameSite=Strict cookie, got ${JSON.stringify(cookies)}`);
    }
    console.log("token: only in the HttpOnly cookie");
  } else if (check === "alerts") {
    const name = arg;
    const firing = (machine) =>
      page.waitForFunction(
        (m) =>
          [...document.querySelectorAll("#feed tr.alert.state-firing .machine")].some((td) => td.textContent.includes(m)),
        machine,
        { timeout: 60000, polling: 100 },
      );
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20000 });
    await firing(name);
    console.log("fired");
    await page.waitForFunction(() => document.querySelector("#connection")?.dataset.state !== "live", null, {
      timeout: 60000,
      polling: 50,
    });
    console.log(`connection: ${await page.locator("#connection").getAttribute("data-state")}`);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 60000 });
    console.log("connection: live again");
    await firing("e2e-meanwhile");
    console.log("meanwhile");
  } else if (check === "rules") {
    const admin = arg;
    await page.locator("#rules tbody tr").first().waitFor({ timeout: 20000 });
    const form = page.locator('.editor[data-rule="new"]');
    await form.locator('select[name="metric"]').selectOption("host.cpu_percent");
    await form.locator('select[name="scope"]').selectOption("machine");
    await form.locator('input[name="scope_id"]').fill("e2e-rule-host");
    await form.locator('input[name="raise"]').fill("30");
    await form.locator('input[name="clear"]').fill("200");
    await form.locator("button.save").click();
    await page.locator("#admin-token").waitFor({ timeout: 10000 });
    console.log("admin token: asked");
    await page.fill("#admin-token input", admin);
    await page.click('#admin-token button[type="submit"]');
    const message = form.locator('.field-error[data-field="clear"]');
    await message.waitFor({ timeout: 10000 });
    console.log(`validation at clear: ${await message.textContent()}`);
    await form.locator('input[name="clear"]').fill("20");
    await form.locator("button.save").click();
    const row = page.locator('#rules tr[data-scope="machine"][data-metric="host.cpu_percent"]');
    await row.waitFor({ timeout: 10000 });
    console.log(`added: ${(await row.textContent()).replace(/\s+/g, " ")}`);
    await row.locator("button.edit").click();
    const edit = page.locator('.editor:not([data-rule="new"])');
    await edit.locator('input[name="raise"]').fill("25");
    await edit.locator("button.save").click();
    await page.waitForFunction(
      () => document.querySelector('#rules tr[data-scope="machine"]')?.textContent?.includes("above 25 / 20"),
      null,
      { timeout: 10000 },
    );
    console.log("saved");
    // a silence of the host: created (the admin token is kept for the session), listed, expired
    await page.fill('input[name="silence_machine"]', "e2e-rule-host");
    await page.fill('input[name="silence_comment"]', "maintenance");
    await page.click("#silence");
    const silence = page.locator('#silences tr[data-machine="e2e-rule-host"]');
    await silence.waitFor({ timeout: 10000 });
    console.log(`silenced: ${(await silence.textContent()).replace(/\s+/g, " ")}`);
    console.log(`silence id: ${await silence.getAttribute("data-silence")}`);
    await silence.locator("button.expire").click();
    await silence.waitFor({ state: "detached", timeout: 10000 });
    console.log("silence expired");
  } else if (check === "machine") {
    const machine = arg;
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${url}#/machine/${encodeURIComponent(machine)}`);
    await page.reload(); // the machine page loaded as such, not as a hash change of the fleet's
    await page.locator(`.machine[data-machine="${machine}"]`).waitFor({ timeout: 20000 }).catch(async (e) => {
      throw new Error(`no machine page: ${(await page.locator("body").textContent()).slice(0, 300)}: ${e.message}`);
    });
    const points = () =>
      page
        .waitForFunction(() => Number(document.querySelector('.chart[data-title="CPU"]')?.dataset.points ?? 0) > 0, null, {
          timeout: 20000,
        })
        .catch(async (e) => {
          const tier = await page.locator("#tier").textContent().catch(() => "");
          const error = await page.locator(".machine .error").textContent().catch(() => "");
          throw new Error(`no CPU points (${tier}; ${error}): ${e.message}`);
        });
    await points();
    console.log(`15m: ${await page.locator("#tier").textContent()}`);
    const first = Number(await page.locator('.chart[data-title="CPU"]').getAttribute("data-points"));
    const loaded = requests.length;
    // live: more points arrive without a reload
    await page.waitForFunction(
      (n) => Number(document.querySelector('.chart[data-title="CPU"]')?.dataset.points ?? 0) > n,
      first,
      { timeout: 20000 },
    );
    // the new points came over the tab's one stream, not from polling the samples
    const polls = requests.slice(loaded).filter((u) => u.includes("/samples")).length;
    const streams = requests.filter((u) => u.includes("/api/v1/alerts/stream")).map((u) => new URL(u).search);
    console.log(`15m: live, ${polls} sample requests since, streams ${JSON.stringify(streams)}`);
    if (polls > 0) throw new Error(`the live chart polled the samples ${polls} times`);
    if (!streams.some((q) => new URLSearchParams(q).get("samples") === machine)) {
      throw new Error(`no stream with samples=${machine}: ${streams}`);
    }
    await page.click('button[data-range="24h"]');
    await page.waitForFunction(() => /minute tier/.test(document.querySelector("#tier")?.textContent ?? ""), null, {
      timeout: 20000,
    });
    await points();
    console.log(`24h: ${await page.locator("#tier").textContent()}`);
    console.log(`drawn: ${await page.locator("#drawn").getAttribute("data-ms")} ms`);
    // a custom range: refused when from is not before to, then the last 20 minutes in 2 s buckets
    const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const now = Date.now();
    await page.fill('#custom-range input[name="from"]', local(now));
    await page.fill('#custom-range input[name="to"]', local(now - 3600_000));
    await page.click('button[data-range="custom"]');
    console.log(`custom refused: ${await page.locator("#custom-range .field-error").textContent()}`);
    await page.fill('#custom-range input[name="from"]', local(now - 20 * 60_000));
    await page.fill('#custom-range input[name="to"]', local(now + 2 * 60_000));
    await page.click('button[data-range="custom"]');
    await page
      .waitForFunction(() => /raw tier, [1-9]\d* points$/.test(document.querySelector("#tier")?.textContent ?? ""), null, {
        timeout: 20000,
      })
      .catch(async (e) => {
        const error = await page.locator(".machine .error").textContent().catch(() => "");
        throw new Error(`custom range: ${await page.locator("#tier").textContent()} ${error}: ${e.message}`);
      });
    await points();
    console.log(`custom: ${await page.locator("#tier").textContent()}`);
  } else if (check === "docs") {
    await page.goto(`${url.replace(/\/$/, "")}${arg}`);
    await page.locator(".information-container .title").waitFor({ timeout: 20000 });
    await page.waitForFunction(() => document.querySelectorAll(".opblock").length > 0, null, { timeout: 20000 });
    console.log(`title: ${(await page.locator(".information-container .title").textContent()).trim()}`);
    console.log(`operations: ${await page.locator(".opblock").count()}`);
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
