// Browser tests of the manager's screens against `kasa serve` in production
// mode: the devices are emulator processes (`kasa emulate terminal` for a
// PrivatBank terminal and `kasa emulate fiscal` for the register, on loopback
// TCP), so the test can read their books and tape, and can make them
// disagree with Kasa's journal the way a real shop does: a card charged on
// the terminal itself, not through Kasa.
//
//   KASA_BIN=../target/debug/kasa node --test e2e/manager.test.mjs
//
// Screenshots of each page go to ui/test-results/manager-*.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  CHROMIUM_ARGS,
  SALE_TIMEOUT_MS,
  assertAccessible,
  createFirstManager,
  logInAs,
  resultsDir,
  startDevices,
  startServer,
  stopServer,
  uk,
} from "./harness.mjs";

const MANAGER_PIN = "2580";

describe("the manager's screens in production mode, against emulator processes", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  const bin = process.env.KASA_BIN;
  const logLines = [];
  const procs = [];
  let server;
  let baseUrl;
  let browser;
  let page;
  let dir;
  let terminalAddr;
  let cookie;
  const pageErrors = [];

  const books = () => JSON.parse(readFileSync(path.join(dir, "terminal-books.json"), "utf8"));
  const tape = () => readFileSync(path.join(dir, "fiscal-tape.txt"), "utf8");

  async function call(name, body) {
    const response = await fetch(new URL(`/api/cmd/${name}`, baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    assert.equal(response.status, 200, `${name}: ${JSON.stringify(json)}`);
    return json;
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-manager-"));
    const devices = await startDevices(bin, dir, logLines);
    procs.push(...devices.procs);
    terminalAddr = devices.terminalAddr;
    ({ child: server, baseUrl } = await startServer(bin, path.join(dir, "data"), logLines, 20, { KASA_CONFIG: path.join(dir, "kasa.json") }));
    // The first run: the shop's first manager.
    cookie = await createFirstManager(baseUrl, "Олена", MANAGER_PIN);

    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "uk-UA" });
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server);
    for (const p of procs) await stopServer(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve-manager.log"), logLines.join("\n") + "\n");
    }
  });

  async function step(name, body) {
    try {
      await body();
      assert.deepEqual(pageErrors, [], "the page threw uncaught errors");
      await page.screenshot({ path: path.join(resultsDir, `manager-${name}.png`), fullPage: true });
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, `manager-${name}-failure.png`), fullPage: true }).catch(() => {});
      throw err;
    }
  }

  const sales = [];

  test("the day's page: totals per merchant and payment type, the hour chart, and transactions found as the filter is typed", { timeout: 120_000 }, async () => {
    // A morning of sales through Kasa: three by card, one in cash.
    for (const [i, amount, method] of [
      [1, 4567, "card"],
      [2, 1250, "card"],
      [3, 9900, "card"],
      [4, 3000, "cash"],
    ]) {
      const body = method === "card" ? { key: `m-${i}`, amount } : { key: `m-${i}`, amount, payments: [{ method: "cash", amount }] };
      const op = await call("sale", body);
      assert.equal(op.state, "done", JSON.stringify(op));
      sales.push(op);
    }
    const charged = books().records.filter((r) => r.kind === "purchase" && r.status === "approved");
    assert.deepEqual(charged.map((r) => r.amount), [4567, 1250, 9900], "the terminal's own books");

    await step("day", async () => {
      await page.goto(baseUrl);
      await logInAs(page, "manager", MANAGER_PIN);
      await page.click("#nav-days");
      const day = sales[0].business_day;
      const row = page.locator(`#days tr[data-day="${day}"]`);
      await row.waitFor({ timeout: 10_000 });
      assert.ok((await row.innerText()).includes(uk["mgr.days.open"]));
      await assertAccessible(page, "the list of days");
      await row.locator("a").click();
      await page.locator(`#day-page[data-day="${day}"] #day-totals`).waitFor({ timeout: 10_000 });
      const card = page.locator('#day-totals tr[data-method="card"]');
      assert.equal(await card.getAttribute("data-sales"), String(4567 + 1250 + 9900));
      assert.equal(await page.locator('#day-totals tr[data-method="cash"]').getAttribute("data-sales"), "3000");
      // Sales by hour: a chart (a canvas drawn by Chart.js) and its table.
      await page.locator("#hour-chart canvas").waitFor();
      const drawn = await page.locator("#hour-chart canvas").evaluate((c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) inked++;
        return inked;
      });
      assert.ok(drawn > 500, `the chart drew something (${drawn} pixels)`);
      await page.locator('#merchant-chart[data-bars="1"]').waitFor();
      // The day's transactions, then narrowed by the amount as it is typed.
      await page.locator('#transactions[data-count="4"]').waitFor({ timeout: 10_000 });
      await page.locator("#f-amount").pressSequentially("45,67");
      await page.locator('#transactions[data-count="1"]').waitFor({ timeout: 10_000 });
      const only = page.locator("#transactions tbody tr");
      assert.equal(await only.count(), 1);
      assert.equal(await only.getAttribute("data-rrn"), sales[0].payments[0].card.rrn);
      await assertAccessible(page, "a day's page");
    });
  });

  test("a transaction's page shows its steps and card data, and refunds part of it: the terminal's books show the refund", { timeout: 120_000 }, async () => {
    await step("operation", async () => {
      const sale = sales[0];
      const rrn = sale.payments[0].card.rrn;
      await page.locator(`#transactions tr[data-rrn="${rrn}"] a`).click();
      await page.locator(`#operation-page[data-operation="${sale.id}"]`).waitFor({ timeout: 10_000 });
      assert.equal((await page.getByTestId("op-rrn").first().innerText()).trim(), rrn);
      const steps = await page.locator("#op-steps tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.step));
      assert.ok(steps.length >= 2 && steps.some((s) => s.startsWith("charge")) && steps.includes("receipt"), `the engine's steps are listed: ${steps}`);
      await assertAccessible(page, "an operation's page");

      // The manager's own PIN is asked again: a wrong one refunds nothing.
      await page.fill("#op-refund-amount", "10,00");
      await page.fill("#op-pin", "9999");
      await page.click("#op-refund");
      await page.locator('#op-error[data-error="wrong_pin"]').waitFor({ timeout: 10_000 });
      assert.equal(books().records.filter((r) => r.kind === "refund").length, 0, "a wrong PIN refunds nothing");
      await page.fill("#op-pin", MANAGER_PIN);
      await page.click("#op-refund");
      const refundPage = page.locator('#operation-page[data-kind="refund"][data-state="done"]');
      await refundPage.waitFor({ timeout: SALE_TIMEOUT_MS });
      const refunds = books().records.filter((r) => r.kind === "refund" && r.status === "approved");
      assert.equal(refunds.length, 1, "one refund on the terminal");
      assert.equal(refunds[0].amount, 1000);
      assert.equal(refunds[0].refund_of, rrn);
      assert.ok(tape().includes("ПОВЕРНЕННЯ") || tape().includes("ВИДАТКОВИЙ"), "a return receipt was printed");
    });
  });

  test("the day-close wizard: X, Z, then the reconciliation names the card charged outside Kasa", { timeout: 180_000 }, async () => {
    // The difference: a card charged on the terminal directly (15,00), not through Kasa.
    const direct = spawnSync(bin, ["terminal", "--protocol", "privatbank", "--tcp", terminalAddr, "purchase", "1500"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(direct.status, 0, `a purchase on the terminal directly: ${direct.stdout} ${direct.stderr}`);
    assert.equal(books().records.filter((r) => r.kind === "purchase" && r.status === "approved").length, 4);

    await step("day-close", async () => {
      await page.click("#nav-close");
      await page.locator("#close-day").waitFor({ timeout: 10_000 });
      await assertAccessible(page, "the day-close wizard");
      await page.click("#close-x");
      await page.locator('#close-x-done[data-state="done"]').waitFor({ timeout: SALE_TIMEOUT_MS });
      await page.click("#close-z");
      await page.locator('#close-z-done[data-state="done"]').waitFor({ timeout: 60_000 });
      const recon = page.locator("#reconciliation");
      await recon.waitFor({ timeout: 10_000 });
      assert.ok(Number(await recon.getAttribute("data-differences")) >= 1, "a difference is named");
      const kinds = await page.locator("#reconciliation .difference").evaluateAll((ps) => ps.map((p) => p.dataset.kind));
      assert.ok(kinds.includes("terminal_totals_differ"), `the terminal's totals differ: ${kinds}`);
      const text = await page.locator("#reconciliation").innerText();
      assert.ok(text.includes("15,00"), `the difference is the 15,00 charged outside Kasa:\n${text}`);
      await assertAccessible(page, "the reconciliation");
      // The emulators' own records: the batch settled once, one Z on the tape.
      const settled = books().records.filter((r) => r.kind === "purchase" && r.settled);
      assert.equal(settled.length, 4, "the batch was settled, the direct charge with it");
      const counters = JSON.parse(readFileSync(path.join(dir, "fiscal-state.json"), "utf8")).counters;
      assert.equal(counters.z_count, 1, `one Z report in the register's counters: ${JSON.stringify(counters)}`);
    });
  });

  /** Clicks the download link of the finished export of `kind`; its bytes. */
  async function download(kind) {
    const job = page.locator(`#exports li[data-kind="${kind}"][data-state="done"]`);
    await job.waitFor({ timeout: 60_000 });
    const [file] = await Promise.all([page.waitForEvent("download"), job.locator("a.download").click()]);
    const where = path.join(dir, file.suggestedFilename());
    await file.saveAs(where);
    return { where, bytes: readFileSync(where) };
  }

  test("the closed day's exports: the daily report as PDF with its Cyrillic text and totals, the transactions as CSV for Excel", { timeout: 120_000 }, async () => {
    await step("exports", async () => {
      await page.click("#day-close a[href^='#/day/']");
      await page.locator("#exports #export-recon").waitFor({ timeout: 10_000 });
      await page.click("#export-day");
      const pdf = await download("day_pdf");
      assert.equal(pdf.bytes.subarray(0, 5).toString("latin1"), "%PDF-");
      const text = spawnSync("pdftotext", ["-layout", pdf.where, "-"], { encoding: "utf8" });
      assert.equal(text.status, 0, text.stderr);
      assert.ok(/Денний звіт/.test(text.stdout) && /Сторінка 1/.test(text.stdout), `Cyrillic text can be read from the PDF:\n${text.stdout.slice(0, 400)}`);
      // Card 45,67 + 12,50 + 99,00 less the 10,00 refund; cash 30,00.
      assert.ok(text.stdout.includes("147.17") || text.stdout.includes("147,17"), `the card total:\n${text.stdout}`);

      await page.check("#export-bom");
      await page.click("#export-csv");
      const csv = await download("transactions_csv");
      assert.deepEqual([...csv.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "a byte-order mark for Excel");
      const rows = csv.bytes.subarray(3).toString("utf8").trim().split(/\r?\n/).map(parseCsvLine);
      const amount = rows[0].indexOf("Сума");
      assert.ok(amount >= 0, `the header: ${rows[0]}`);
      const net = rows.slice(1).reduce((sum, r) => sum + Math.round(Number(r[amount]) * 100), 0);
      assert.equal(net, 4567 + 1250 + 9900 + 3000 - 1000, "the amounts sum to the day's net");
      await assertAccessible(page, "the day's exports");
    });
  });
});

/** One CSV line into its fields (quoted fields with "" inside). */
function parseCsvLine(line) {
  const out = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(field);
      field = "";
    } else field += c;
  }
  out.push(field);
  return out;
}

describe("among 1,000,000 operations: a transaction found by its last four digits and refunded with the manager's PIN", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  const bin = process.env.KASA_BIN;
  const logLines = [];
  const procs = [];
  let server;
  let baseUrl;
  let browser;
  let dir;
  let cookie;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-1m-"));
    mkdirSync(path.join(dir, "data"));
    // A year of a busy shop: 1,000,000 operations (the audit log kept short).
    // KASA_E2E_JOURNAL_1M names one made earlier by the same command, to copy.
    const journal = path.join(dir, "data", "journal.sqlite");
    if (process.env.KASA_E2E_JOURNAL_1M) {
      copyFileSync(process.env.KASA_E2E_JOURNAL_1M, journal);
    } else {
      const gen = spawnSync(bin, ["journal", "generate", "--out", journal, "--audit-rows", "1000"], {
        encoding: "utf8",
        timeout: 20 * 60_000,
      });
      assert.equal(gen.status, 0, `kasa journal generate: ${gen.stdout} ${gen.stderr}`);
      assert.match(gen.stdout, /1000000 operations/);
    }
    procs.push(...(await startDevices(bin, dir, logLines)).procs);
    ({ child: server, baseUrl } = await startServer(bin, path.join(dir, "data"), logLines, 20, { KASA_CONFIG: path.join(dir, "kasa.json") }));
    cookie = await createFirstManager(baseUrl, "Олена", MANAGER_PIN);
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  }, { timeout: 25 * 60_000 });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server);
    for (const p of procs) await stopServer(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve-1m.log"), logLines.join("\n") + "\n");
    }
  });

  test("last four digits and the amount, typed, find it; the refund is in the terminal's books", { timeout: 300_000 }, async () => {
    // The target: an approved card sale from the generated year, chosen over the API.
    const response = await fetch(new URL("/api/cmd/search", baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ method: "card", state: "approved", kind: "sale", limit: 200 }),
    });
    const found = await response.json();
    assert.equal(response.status, 200, JSON.stringify(found));
    assert.ok(found.totals.count > 500_000, `the journal holds the generated year: ${found.totals.count}`);
    const target = found.rows[137];
    const last4 = target.masked_pan.slice(-4);
    const amount = `${Math.trunc(target.approved / 100)},${String(target.approved % 100).padStart(2, "0")}`;

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "uk-UA" });
    const page = await context.newPage();
    try {
      await page.goto(baseUrl);
      await logInAs(page, "manager", MANAGER_PIN);
      // A month by day, drawn from the generated year.
      await page.click("#nav-days");
      await page.locator('#month-chart[data-bars="31"] canvas').waitFor({ timeout: 30_000 });
      assert.ok((await page.locator("#days tbody tr").count()) >= 31, "the days are listed");
      await page.screenshot({ path: path.join(resultsDir, "manager-1m-days.png"), fullPage: true });
      await page.click("#nav-transactions");
      await page.locator("#transactions[data-count]").waitFor({ timeout: 30_000 });
      await page.locator("#f-last4").pressSequentially(last4);
      await page.waitForFunction(
        (n) => {
          const el = document.getElementById("transactions");
          return el?.dataset.busy === "false" && Number(el.dataset.count) > 0 && Number(el.dataset.count) < n;
        },
        1000,
        { timeout: 30_000 },
      );
      const byLast4 = Number(await page.locator("#transactions").getAttribute("data-count"));
      assert.ok((await page.locator("#transactions tbody tr").count()) > 0, "rows are shown");
      await page.locator("#f-amount").pressSequentially(amount);
      // The amount narrows what the last four digits found.
      await page.waitForFunction(
        (n) => {
          const el = document.getElementById("transactions");
          return el?.dataset.busy === "false" && Number(el.dataset.count) > 0 && Number(el.dataset.count) < n;
        },
        byLast4,
        { timeout: 30_000 },
      );
      const narrowed = Number(await page.locator("#transactions").getAttribute("data-count"));
      const row = page.locator(`#transactions tr[data-rrn="${target.rrn}"]`);
      await row.waitFor({ timeout: 30_000 });
      assert.equal(await page.locator("#transactions tbody tr").count(), narrowed, `last4 ${last4}: ${byLast4}; with the amount ${amount}: ${narrowed}`);
      for (const pan of await page.locator("#transactions tbody tr td.mono:nth-child(7)").allInnerTexts()) {
        assert.ok(pan.endsWith(last4), `every row found ends in ${last4}: ${pan}`);
      }
      await page.screenshot({ path: path.join(resultsDir, "manager-1m-search.png"), fullPage: true });

      await row.locator("a").click();
      await page.locator(`#operation-page[data-operation="${target.operation}"]`).waitFor({ timeout: 30_000 });
      await page.fill("#op-pin", MANAGER_PIN);
      await page.click("#op-refund");
      await page.locator('#operation-page[data-kind="refund"][data-state="done"]').waitFor({ timeout: SALE_TIMEOUT_MS });
      const books = JSON.parse(readFileSync(path.join(dir, "terminal-books.json"), "utf8"));
      const refunds = books.records.filter((r) => r.kind === "refund" && r.status === "approved");
      assert.equal(refunds.length, 1, "one refund on the terminal");
      assert.equal(refunds[0].refund_of, target.rrn);
      assert.equal(refunds[0].amount, target.approved, "all of it given back");
      await page.screenshot({ path: path.join(resultsDir, "manager-1m-refund.png"), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
