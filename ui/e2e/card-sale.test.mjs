// Browser end-to-end test: sales through `kasa serve` (demo mode, emulated
// terminal and fiscal register) driven in Debian's Chromium by playwright-core.
// Every wait is for a state of the page or of the server, never a fixed sleep.
//
//   KASA_BIN=../target/debug/kasa npm run e2e
//
// Environment:
//   KASA_BIN   (required) the backend binary; run as
//              KASA_BIN serve --addr 127.0.0.1:0 --data-dir <fresh temp dir>
//              with KASA_DEMO_STEP_MS=20 (a second one with a slow terminal
//              for the reload test, and a third whose demo terminal follows a
//              script, KASA_DEMO_SCRIPT=decline:51,partial,cancel, for the
//              outcomes other than an approval). It must print a line containing
//              http://127.0.0.1:PORT/ (e.g. "Kasa is serving on http://127.0.0.1:PORT/").
//   CHROMIUM   Chromium executable (default /usr/bin/chromium).
//
// Artifacts go to ui/test-results/: card-sale.png, kasa-serve.log, and a
// screenshot of the page for each failed test.
//
// The commands are `POST /api/cmd/<name>` (JSON, money in kopiykas, each
// state-changing request with an idempotency key); events are `GET /api/events`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

import {
  uiDir,
  resultsDir,
  uk,
  en,
  TERMINAL_STATUSES,
  STARTUP_TIMEOUT_MS,
  SALE_PATH,
  SALE_TIMEOUT_MS,
  URL_IN_LINE,
  CHROMIUM_ARGS,
  fill,
  AXE_SOURCE,
  assertAccessible,
  contrastWithWhite,
  CASHIER_PIN,
  logInOnPage,
  sessionCookie,
  postWith,
  startServer,
  stopServer,
  terminalRecords,
} from "./harness.mjs";

const MISSING_BIN =
  "KASA_BIN is not set, so the browser e2e test cannot run. It needs the backend binary: " +
  "build ui/dist (npm run build) and then the backend, and run e.g. `KASA_BIN=../target/debug/kasa npm run e2e` from ui/.";

if (!process.env.KASA_BIN) {
  test("KASA_BIN names the kasa binary", () => {
    assert.fail(MISSING_BIN);
  });
}

describe("card sale in the browser against kasa serve", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  const logLines = [];
  let server;
  let baseUrl;
  let browser;
  let dataDir;

  before(async () => {
    const bin = process.env.KASA_BIN;
    if (!bin) throw new Error(MISSING_BIN);
    if (!existsSync(bin)) throw new Error(`KASA_BIN=${bin} does not exist`);
    const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
    if (!existsSync(executablePath)) {
      throw new Error(`Chromium not found at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
    }
    mkdirSync(resultsDir, { recursive: true });
    dataDir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-"));

    ({ child: server, baseUrl } = await startServer(bin, dataDir, logLines));
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve.log"), logLines.join("\n") + "\n");
    }
  });

  /** A fresh browser context (own localStorage) and page; screenshots the page if `body` fails. */
  async function withPage(name, body) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "uk-UA" });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (err) => pageErrors.push(err));
    try {
      await body(page);
      assert.deepEqual(pageErrors.map(String), [], "the page threw uncaught errors");
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, `${name}-failure.png`), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  }

  /** Opens the cashier screen and waits until it is ready to take a sale. */
  async function openCashier(page, checkAccessible = false) {
    const response = await page.goto(baseUrl);
    assert.equal(response?.status(), 200, `GET ${baseUrl} should serve the UI`);
    await logInOnPage(page, CASHIER_PIN, checkAccessible);
  }

  test("a card sale shows terminal progress, then RRN, auth code, masked PAN and fiscal number", { timeout: 90_000 }, async () => {
    await withPage("card-sale", async (page) => {
      await openCashier(page, true);
      assert.match(await page.locator("header").innerText(), /Kasa/);
      assert.equal((await page.locator("#mode-badge").innerText()).trim(), uk["header.mode.demo"]);
      assert.equal(await page.evaluate(() => document.activeElement?.id), "amount", "the amount field has focus");
      // Events must be flowing before we pay, or progress could be missed.
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await assertAccessible(page, "idle");
      // The focus ring stands out from the white page (WCAG 2.2 asks 3:1; the old yellow ring had 1.6:1).
      const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineColor);
      assert.ok(contrastWithWhite(ring) >= 3, `focus ring ${ring}: contrast ${contrastWithWhite(ring).toFixed(2)} with white`);
      assert.equal(await page.locator("#virtual-tape").getAttribute("aria-live"), null, "the tape is not read line by line");
      assert.equal(await page.locator("#operation").getAttribute("aria-live"), "polite", "results are announced");

      // The sale takes a fraction of a second with KASA_DEMO_STEP_MS=20: record
      // what the progress panel showed as it happens rather than polling for it.
      await page.evaluate(() => {
        const seen = { progress: false, disabled: false, statuses: [] };
        window.__kasaSeen = seen;
        const record = () => {
          const panel = document.getElementById("progress");
          if (panel) {
            seen.progress = true;
            const status = panel.dataset.status;
            if (status && !seen.statuses.includes(status)) seen.statuses.push(status);
          }
          if (document.getElementById("pay-card")?.disabled) seen.disabled = true;
        };
        new MutationObserver(record).observe(document.body, {
          subtree: true,
          childList: true,
          attributes: true,
          characterData: true,
        });
      });

      const saleBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === SALE_PATH) saleBodies.push(JSON.parse(request.postData() ?? "null"));
      });
      await page.fill("#amount", "12.50");
      await page.click("#pay-card");

      const result = page.locator("#result");
      await result.waitFor({ timeout: SALE_TIMEOUT_MS });
      const seen = await page.evaluate(() => window.__kasaSeen);
      assert.ok(seen.progress, "the progress panel (#progress) was shown while paying");
      assert.ok(seen.disabled, "the pay button was disabled while paying");
      const liveStatuses = seen.statuses.filter((s) => TERMINAL_STATUSES.includes(s));
      assert.ok(
        liveStatuses.length > 0,
        `the progress panel showed a terminal status from a "progress" event (saw ${JSON.stringify(seen.statuses)}); ` +
          "are events sent on /api/events while POST /api/cmd/sale runs?",
      );

      assert.equal(saleBodies.length, 1, "one sale request");
      assert.equal(saleBodies[0].amount, 1250, "the amount travels as an integer of kopiykas");
      assert.deepEqual(saleBodies[0].payments, [{ method: "card", amount: 1250 }]);
      assert.match(saleBodies[0].key, /^[A-Za-z0-9._:-]{1,64}$/, "the sale carries an idempotency key");

      assert.equal(await result.getAttribute("data-state"), "done", "the sale is done");
      assert.equal((await page.getByTestId("state").innerText()).trim(), uk["state.done"]);
      const text = async (id) => (await page.getByTestId(id).innerText()).trim();
      assert.match(await text("rrn"), /^\d{12}$/, "RRN is 12 digits");
      assert.match(await text("auth-code"), /^[0-9A-Za-z]{6}$/, "auth code is 6 characters");
      const pan = await text("masked-pan");
      assert.ok(pan.includes("*"), `masked PAN ${pan} is masked`);
      assert.doesNotMatch(pan, /\d{13,}/, "no full card number is shown");
      assert.match(await text("fiscal-number"), /^\d+$/, "a fiscal receipt number is shown");
      assert.ok((await text("amount")).includes("12,50"), "the amount is shown as 12,50");
      assert.ok((await text("money")).includes(fill(uk["money.card_charged"], { amount: "12,50" })), "it says the card was charged");
      assert.equal(await page.locator("#operation").getAttribute("aria-busy"), "false", "nothing is busy any more");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "amount", "focus is back on the amount");
      assert.equal(await page.locator("#pay-card").isEnabled(), true, "the pay button is enabled again");

      // Demo mode shows the receipt the emulated fiscal register printed, with the card data.
      const rrn = await text("rrn");
      const charge = terminalRecords(dataDir).filter((r) => r.rrn === rrn);
      assert.deepEqual(charge.map((r) => [r.kind, r.status, r.amount]), [["purchase", "approved", 1250]], "the terminal's books: charged 12,50 once");
      await page.locator("#virtual-tape pre").filter({ hasText: rrn }).waitFor({ timeout: 10_000 });

      await assertAccessible(page, "result");
      await page.screenshot({ path: path.join(resultsDir, "card-sale.png"), fullPage: true });

      // Print again: a customer's copy of the receipt, not a second fiscal receipt.
      const cookie = await sessionCookie(baseUrl);
      const tapeBefore = (await postWith(baseUrl, cookie, "receipt_tape", JSON.stringify({ last: 1000 }))).json.documents;
      await Promise.all([page.waitForResponse((r) => r.url().endsWith("/api/cmd/customer_copy")), page.click("#customer-copy")]);
      const tapeAfter = (await postWith(baseUrl, cookie, "receipt_tape", JSON.stringify({ last: 1000 }))).json.documents;
      assert.equal(tapeAfter.length, tapeBefore.length + 1, "one more document printed");
      assert.ok(tapeAfter.at(-1).includes(rrn), "the copy carries the sale's RRN");
      assert.equal(await page.locator("#result").getAttribute("data-state"), "done");
    });
  });

  test("a non-number is refused in the browser, with no request to the server", { timeout: 60_000 }, async () => {
    await withPage("invalid-amount", async (page) => {
      const saleBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === SALE_PATH) saleBodies.push(JSON.parse(request.postData() ?? "null"));
      });
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });

      await page.fill("#amount", "abc");
      await page.click("#pay-card");
      const error = page.locator("#amount-error");
      await error.waitFor({ timeout: 5_000 });
      assert.equal((await error.innerText()).trim(), uk["validation.not_a_number"]);
      assert.equal(await page.locator("#amount").getAttribute("aria-invalid"), "true");
      await page.locator("#amount").press("Enter");
      await page.click("#pay-cash");
      assert.equal(await page.locator("#result").count(), 0, "no result is shown");

      // Then a valid amount: requests go out in order, so if "abc" had made
      // one it would be the first. Wait for this sale's result, not for time.
      await page.fill("#amount", "7");
      await page.locator("#amount").press("Enter");
      await page.locator('#result[data-state="done"]').waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.deepEqual(
        saleBodies.map((b) => b.amount),
        [700],
        "the only sale request is the valid one: none was made for \"abc\"",
      );
    });
  });

  /** POSTs a raw JSON body to a command, logged in as the cashier. */
  async function postRaw(name, body) {
    return postWith(baseUrl, await sessionCookie(baseUrl), name, body);
  }

  for (const [what, amount] of [
    ["a negative amount", "-5"],
    ["an exponent (1e3)", "1e3"],
    ["a fraction (12.5)", "12.5"],
    ["a string (\"12.50\")", '"12.50"'],
  ]) {
    test(`the server refuses ${what} with 400 invalid_amount`, { timeout: 30_000 }, async () => {
      // Written by hand: JSON.stringify would turn 1e3 into 1000.
      const body = `{"key":"e2e-bad-${Date.now()}","amount":${amount},"payments":[{"method":"card","amount":1250}]}`;
      const { status, text, json } = await postRaw("sale", body);
      assert.equal(status, 400, `status (body: ${text})`);
      assert.equal(json.code, "invalid_amount", text);
      assert.equal(typeof json.message, "string");
    });
  }

  test("the same key twice is one sale: the second answer is the first operation", { timeout: 60_000 }, async () => {
    const body = JSON.stringify({ key: `e2e-same-${Date.now()}`, items: [], amount: 333, payments: [{ method: "cash", amount: 340 }] });
    const first = await postRaw("sale", body);
    const again = await postRaw("sale", body);
    assert.equal(first.status, 200, first.text);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.id, first.json.id, "the same operation");
    assert.equal(first.json.state, "done", first.text);
    // The same receipt (its text may be read back after the first answer).
    const receipts = (op) => op.documents.map((d) => ({ kind: d.kind, number: d.number, amount: d.amount }));
    assert.deepEqual(receipts(again.json), receipts(first.json), "one receipt, not two");
    assert.equal(first.json.documents.length, 1);
  });

  test("keyboard alone: type the amount, press Enter; the language switcher works", { timeout: 90_000 }, async () => {
    await withPage("keyboard", async (page) => {
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.keyboard.type("7,05");
      await page.keyboard.press("Enter");
      const result = page.locator("#result");
      await result.waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.equal(await result.getAttribute("data-state"), "done");
      assert.ok((await page.getByTestId("amount").innerText()).includes("7,05"));
      assert.equal(await page.evaluate(() => document.activeElement?.id), "amount", "focus is back on the amount");

      await page.click('button[data-locale="en"]');
      assert.ok((await page.locator("#pay-card").innerText()).includes(en["pay.card"]));
      assert.equal((await page.getByTestId("state").innerText()).trim(), en["state.done"]);
      await page.reload();
      await page.locator("#amount").waitFor();
      assert.ok((await page.locator("#pay-card").innerText()).includes(en["pay.card"]), "the language is remembered");
    });
    // Remembered for the user, not only by this browser: a fresh browser
    // profile shows English once the same cashier logs in.
    await withPage("keyboard-language", async (page) => {
      await openCashier(page);
      await page.waitForFunction((text) => document.getElementById("pay-card")?.innerText.includes(text), en["pay.card"], {
        timeout: 10_000,
      });
      // Back to Ukrainian; the choice reaches the server before the next test logs in.
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/api/cmd/set_language"), { timeout: 10_000 }),
        page.click('button[data-locale="uk"]'),
      ]);
    });
  });

  test("cash: the amount rounded to 10 kopiykas as the register rounds it, with its receipt", { timeout: 90_000 }, async () => {
    await withPage("cash-sale", async (page) => {
      const saleBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === SALE_PATH) saleBodies.push(JSON.parse(request.postData() ?? "null"));
      });
      await openCashier(page);
      // Up: 12,47 is 12,50 in cash.
      await page.fill("#amount", "12,47");
      await page.locator("#cash-hint").waitFor();
      assert.equal((await page.locator("#cash-hint").innerText()).trim(), fill(uk["pay.cash.hint"], { amount: "12,50" }));
      await page.click("#pay-cash");
      await page.locator('#result[data-state="done"]').waitFor({ timeout: SALE_TIMEOUT_MS });
      let money = (await page.getByTestId("money").innerText()).trim();
      assert.ok(money.includes(fill(uk["money.cash_taken"], { amount: "12,50", change: "0,00" })), money);
      assert.match((await page.getByTestId("fiscal-number").innerText()).trim(), /^\d+$/);
      assert.equal(await page.getByTestId("rrn").count(), 0, "no card data for cash");

      // Down: 3,33 is 3,30 in cash, less than the total, and the register takes it.
      const first = await page.locator("#result").getAttribute("data-operation");
      await page.fill("#amount", "3,33");
      assert.equal(await page.locator("#result").count(), 0, "the last result goes when the next sale begins");
      assert.equal((await page.locator("#cash-hint").innerText()).trim(), fill(uk["pay.cash.hint"], { amount: "3,30" }));
      await page.click("#pay-cash");
      await page.locator(`#result[data-state="done"]:not([data-operation="${first}"])`).waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.deepEqual(
        saleBodies.map((b) => b.payments),
        [[{ method: "cash", amount: 1250 }], [{ method: "cash", amount: 330 }]],
      );
      assert.ok((await page.getByTestId("amount").innerText()).includes("3,33"));
      money = (await page.getByTestId("money").innerText()).trim();
      assert.ok(money.includes(fill(uk["money.cash_taken"], { amount: "3,30", change: "0,00" })), money);
      const number = (await page.getByTestId("fiscal-number").innerText()).trim();
      assert.match(number, /^\d+$/);
      await page.locator("#virtual-tape pre").filter({ hasText: "3.33" }).waitFor({ timeout: 10_000 });
    });
  });

  /** Waits for the result of an operation other than `previous` (its id), settled; returns the locator. */
  async function nextResult(page, previous) {
    await page.waitForFunction(
      (prev) => {
        const r = document.getElementById("result");
        return r !== null && r.dataset.operation !== prev && r.dataset.state !== "running";
      },
      previous ?? null,
      { timeout: SALE_TIMEOUT_MS },
    );
    return page.locator("#result");
  }

  /** The operation `id` as the server keeps it. */
  async function operationOnServer(id) {
    const { status, json } = await postWith(baseUrl, await sessionCookie(baseUrl), "operation", JSON.stringify({ id: Number(id) }));
    assert.equal(status, 200);
    return json;
  }

  test("card + cash from the keyboard (F3): both payments on one receipt", { timeout: 90_000 }, async () => {
    await withPage("mixed", async (page) => {
      const saleBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === SALE_PATH) saleBodies.push(JSON.parse(request.postData() ?? "null"));
      });
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.keyboard.type("100,00");
      await page.keyboard.press("F3");
      await page.locator("#card-part").waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.id), "card-part", "the card's part has focus");
      await page.keyboard.type("60,00");
      await page.keyboard.press("Enter");
      const result = await nextResult(page, null);
      assert.equal(await result.getAttribute("data-state"), "done");
      assert.deepEqual(saleBodies.map((b) => b.payments), [
        [
          { method: "card", amount: 6000 },
          { method: "cash", amount: 4000 },
        ],
      ]);
      const op = await operationOnServer(await result.getAttribute("data-operation"));
      assert.deepEqual(
        op.payments.map((p) => [p.method, p.approved]),
        [
          ["card", 6000],
          ["cash", 4000],
        ],
        "the server kept a card payment and a cash payment",
      );
      assert.equal(op.documents.filter((d) => d.kind === "sale_receipt").length, 1, "one fiscal receipt");
      const rrn = op.payments[0].card.rrn;
      assert.deepEqual(
        terminalRecords(dataDir).filter((r) => r.rrn === rrn).map((r) => [r.status, r.amount]),
        [["approved", 6000]],
        "the terminal's books: the card's part only",
      );
      const tape = (await postWith(baseUrl, await sessionCookie(baseUrl), "receipt_tape", JSON.stringify({ last: 1000 }))).json.documents;
      assert.equal(tape.filter((d) => d.includes(rrn) && d.includes("ФІСКАЛЬНИЙ ЧЕК")).length, 1, "one fiscal receipt on the register's tape");
      await page.screenshot({ path: path.join(resultsDir, "mixed.png"), fullPage: true });
    });
  });

  test("a refund by RRN above the limit asks for the manager's PIN; a wrong one refunds nothing", { timeout: 120_000 }, async () => {
    await withPage("refund", async (page) => {
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.fill("#amount", "600,00");
      await page.keyboard.press("Enter");
      const sale = await nextResult(page, null);
      assert.equal(await sale.getAttribute("data-state"), "done");
      const saleId = await sale.getAttribute("data-operation");
      const rrn = (await page.getByTestId("rrn").innerText()).trim();

      await page.keyboard.press("F4");
      await page.locator("#rrn").waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.id), "rrn");
      await page.keyboard.type(rrn);
      await page.keyboard.press("Enter");
      await page.locator("#found-payment").waitFor({ timeout: 10_000 });
      assert.ok((await page.getByTestId("found-refundable").innerText()).includes("600,00"));
      // 600,00 is above the 500,00 a cashier may give back alone.
      await page.locator("#approval").waitFor();

      await page.fill("#manager-pin", "0000");
      await page.click("#do-refund");
      await page.locator('#ops-error[data-code="wrong_pin"]').waitFor({ timeout: 10_000 });
      const found = await postWith(baseUrl, await sessionCookie(baseUrl), "find_payment", JSON.stringify({ rrn }));
      assert.equal(found.json.refundable, 60000, "nothing was refunded with a wrong PIN");

      await page.fill("#manager-pin", "2222");
      await page.click("#do-refund");
      const result = await nextResult(page, saleId);
      assert.equal(await result.getAttribute("data-kind"), "refund");
      assert.equal(await result.getAttribute("data-state"), "done");
      const refund = await operationOnServer(await result.getAttribute("data-operation"));
      const refunds = terminalRecords(dataDir).filter((r) => r.kind === "refund" && r.refund_of === rrn);
      assert.deepEqual(refunds.map((r) => [r.status, r.amount]), [["approved", 60000]], "the terminal's books: one refund, after the right PIN only");
      assert.equal(refund.kind, "refund");
      assert.ok(
        refund.documents.some((d) => d.kind === "return_receipt" && d.number !== null),
        `a return receipt was printed: ${JSON.stringify(refund.documents)}`,
      );
      await page.screenshot({ path: path.join(resultsDir, "refund.png"), fullPage: true });
    });
  });

  test("a void asks for the manager's PIN, then voids the payment", { timeout: 120_000 }, async () => {
    await withPage("void", async (page) => {
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.fill("#amount", "15,00");
      await page.keyboard.press("Enter");
      const sale = await nextResult(page, null);
      const saleId = await sale.getAttribute("data-operation");
      const rrn = (await page.getByTestId("rrn").innerText()).trim();
      await page.click("#open-refund");
      await page.fill("#rrn", rrn);
      await page.click("#find-payment");
      await page.locator("#do-void").waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#approval").count(), 0, "15,00 is within the cashier's limit for a refund");
      await page.click("#do-void");
      await page.locator("#approval").waitFor();
      await page.fill("#manager-pin", "2222");
      await page.click("#do-void");
      const result = await nextResult(page, saleId);
      assert.equal(await result.getAttribute("data-kind"), "void");
      assert.equal(await result.getAttribute("data-state"), "done");
      const voided = await operationOnServer(await result.getAttribute("data-operation"));
      assert.equal(voided.state, "done");
      const original = terminalRecords(dataDir).filter((r) => r.kind === "purchase" && r.rrn === rrn);
      assert.equal(original.length, 1);
      assert.equal(original[0].voided, true, "the terminal's books: the purchase is voided");
      await page.screenshot({ path: path.join(resultsDir, "void.png"), fullPage: true });
    });
  });

  test("cash in (F6), cash out (F7) and the X report (F9) from the keyboard", { timeout: 120_000 }, async () => {
    await withPage("cash-moves", async (page) => {
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      let previous = null;
      for (const [key, amount, kind] of [
        ["F6", "100,00", "cash_in"],
        ["F7", "40,00", "cash_out"],
      ]) {
        await page.keyboard.press(key);
        await page.locator("#move-amount").waitFor();
        await page.keyboard.type(amount);
        await page.keyboard.press("Enter");
        const result = await nextResult(page, previous);
        assert.equal(await result.getAttribute("data-kind"), kind);
        assert.equal(await result.getAttribute("data-state"), "done");
        previous = await result.getAttribute("data-operation");
        const op = await operationOnServer(previous);
        assert.equal(op.total, amount === "100,00" ? 10000 : 4000);
        assert.ok(op.documents.some((d) => d.number !== null), `${kind} printed its document`);
      }
      await page.locator("#amount").focus();
      await page.keyboard.press("F9");
      const x = await nextResult(page, previous);
      assert.equal(await x.getAttribute("data-kind"), "x_report");
      assert.equal(await x.getAttribute("data-state"), "done");
    });
  });

  test("a barcode scanner's digits and Enter never start a card payment", { timeout: 60_000 }, async () => {
    await withPage("scanner", async (page) => {
      const saleBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === SALE_PATH) saleBodies.push(request.postData());
      });
      await openCashier(page);
      await page.locator("#amount").focus();
      // A keyboard-wedge scanner: 13 digits at once, then Enter.
      await page.keyboard.type("4820000000017");
      await page.keyboard.press("Enter");
      await page.locator('#amount-error[data-error="scanned"]').waitFor({ timeout: 5_000 });
      assert.equal(saleBodies.length, 0, "no sale request");
      assert.equal(await page.locator("#result").count(), 0);
    });
  });

  test("a sale on the number pad by touch", { timeout: 90_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 1000 }, locale: "uk-UA", hasTouch: true, isMobile: true });
    const page = await context.newPage();
    try {
      await page.goto(baseUrl);
      await page.locator("#login-form").waitFor({ timeout: 10_000 });
      for (const d of CASHIER_PIN) await page.tap(`#login-form [data-key="${d}"]`);
      await page.tap("#login-submit");
      await page.locator("#numpad").waitFor({ timeout: 10_000 });
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      for (const key of ["1", "8", ",", "4", "0"]) await page.tap(`#numpad [data-key="${key}"]`);
      assert.equal(await page.inputValue("#amount"), "18,40");
      await page.tap("#pay-card");
      const result = page.locator('#result[data-state="done"]');
      await result.waitFor({ timeout: SALE_TIMEOUT_MS });
      const money = (await page.getByTestId("money").innerText()).trim();
      assert.ok(money.includes(fill(uk["money.card_charged"], { amount: "18,40" })), money);
      const op = await (async () => {
        const { json } = await postWith(baseUrl, await sessionCookie(baseUrl), "operation", JSON.stringify({ id: Number(await result.getAttribute("data-operation")) }));
        return json;
      })();
      assert.equal(op.payments[0].approved, 1840, "the terminal charged 18,40");
      assert.deepEqual(
        terminalRecords(dataDir).filter((r) => r.rrn === op.payments[0].card.rrn).map((r) => [r.status, r.amount]),
        [["approved", 1840]],
        "the terminal's books: charged 18,40 once",
      );
      await page.screenshot({ path: path.join(resultsDir, "touch.png"), fullPage: true });
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, "touch-failure.png"), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test("a sale of items (price, quantity, tax group, discount) by card: the receipt names them", { timeout: 90_000 }, async () => {
    await withPage("items", async (page) => {
      const saleBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === SALE_PATH) saleBodies.push(JSON.parse(request.postData() ?? "null"));
      });
      await openCashier(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.click("#items summary");
      for (const [name, price, quantity, tax, discount] of [
        ["Хліб житній", "19,99", "1,5", "А", ""],
        ["Молоко", "32,00", "2", "Б", "4,00"],
      ]) {
        await page.fill("#item-name", name);
        await page.fill("#item-price", price);
        await page.fill("#item-quantity", quantity);
        await page.selectOption("#item-tax", tax);
        await page.fill("#item-discount", discount);
        await page.keyboard.press("Enter");
      }
      // 19,99 × 1,5 = 29,985 → 29,99; 32,00 × 2 − 4,00 = 60,00.
      assert.equal((await page.locator("#items-total").innerText()).trim(), "89,99");
      // A frequent item, pressed twice: one line of two (demo mode's "Пакет", 3,00).
      await page.click('#quick-items [data-name="Пакет"]');
      await page.click('#quick-items [data-name="Пакет"]');
      assert.equal((await page.locator("#items-total").innerText()).trim(), "95,99");
      assert.equal(await page.inputValue("#amount"), "95,99");
      await page.click("#pay-card");
      const result = page.locator('#result[data-state="done"]');
      await result.waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.equal(saleBodies.length, 1);
      assert.equal(saleBodies[0].amount, null, "items, not a free amount");
      assert.deepEqual(
        saleBodies[0].items.map((i) => [i.name, i.price, i.quantity_milli, i.tax_group, i.discount]),
        [
          ["Хліб житній", 1999, 1500, "А", null],
          ["Молоко", 3200, 2000, "Б", 400],
          ["Пакет", 300, 2000, "А", null],
        ],
      );
      assert.deepEqual(saleBodies[0].payments, [{ method: "card", amount: 9599 }]);
      const { json: op } = await postWith(
        baseUrl,
        await sessionCookie(baseUrl),
        "operation",
        JSON.stringify({ id: Number(await result.getAttribute("data-operation")) }),
      );
      assert.equal(op.total, 9599);
      const receipt = op.documents.find((d) => d.kind === "sale_receipt");
      await page.locator("#virtual-tape pre").filter({ hasText: "Молоко" }).waitFor({ timeout: 10_000 });
      assert.ok(receipt && receipt.number !== null, "a fiscal receipt");
      assert.deepEqual(
        terminalRecords(dataDir).filter((r) => r.rrn === op.payments[0].card.rrn).map((r) => [r.status, r.amount]),
        [["approved", 9599]],
        "the terminal's books: charged 95,99 once",
      );
      assert.equal(await page.locator("#item-lines").count(), 0, "the lines are cleared for the next sale");
      await page.screenshot({ path: path.join(resultsDir, "items.png"), fullPage: true });
    });
  });
});

describe("what the terminal answers, other than an approval, in the browser", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  // The demo terminal's next outcomes, in the order of the tests below; then it approves.
  const SCRIPT = "decline:51,partial,cancel";
  const logLines = [];
  let server;
  let baseUrl;
  let browser;
  let dataDir;
  let context;
  let page;
  const pageErrors = [];

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-script-"));
    ({ child: server, baseUrl } = await startServer(process.env.KASA_BIN, dataDir, logLines, 20, { KASA_DEMO_SCRIPT: SCRIPT }));
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
    // One page for the three sales, as one cashier makes them.
    context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "uk-UA" });
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    const response = await page.goto(baseUrl);
    assert.equal(response?.status(), 200);
    await logInOnPage(page);
    await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stopServer(server);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve-script.log"), logLines.join("\n") + "\n");
    }
  });

  /** Runs `body` on the shared page; screenshots it if `body` fails. */
  async function step(name, body) {
    try {
      await body();
      assert.deepEqual(pageErrors, [], "the page threw uncaught errors");
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, `${name}-failure.png`), fullPage: true }).catch(() => {});
      throw err;
    }
  }

  /** What the emulated register printed so far. */
  async function printed() {
    const { json } = await postWith(baseUrl, await sessionCookie(baseUrl), "receipt_tape", JSON.stringify({ last: 100 }));
    return json.documents;
  }

  /** Types an amount, pays by card, and waits for the result of a new operation. */
  async function payByCard(amount) {
    const before = (await page.locator("#result").count()) ? await page.locator("#result").getAttribute("data-operation") : null;
    if (await page.locator("#new-sale").count()) await page.click("#new-sale");
    await page.fill("#amount", amount);
    await page.click("#pay-card");
    const result = page.locator("#result");
    await page.waitForFunction(
      (prev) => {
        const r = document.getElementById("result");
        return r !== null && r.dataset.operation !== prev && r.dataset.state !== "running";
      },
      before,
      { timeout: SALE_TIMEOUT_MS },
    );
    return result;
  }

  const text = async (id) => (await page.getByTestId(id).innerText()).trim();
  const kopiykas = (shown) => Number(shown.replace(/[^\d,]/g, "").replace(",", ""));
  const formatted = (minor) => `${Math.trunc(minor / 100)},${String(minor % 100).padStart(2, "0")}`;

  test("a decline: translated, the card was not charged, nothing printed", { timeout: 60_000 }, async () => {
    await step("scripted-decline", async () => {
      const result = await payByCard("7,00");
      assert.equal(await result.getAttribute("data-state"), "declined");
      assert.equal(await text("state"), uk["state.declined"]);
      const decline = page.getByTestId("decline");
      assert.equal(await decline.getAttribute("data-code"), "51");
      assert.ok((await decline.innerText()).includes(uk["decline.host.51"]), await decline.innerText());
      assert.equal(await text("money"), uk["money.not_charged"]);
      assert.deepEqual(
        terminalRecords(dataDir).filter((r) => r.amount === 700).map((r) => [r.kind, r.status]),
        [["purchase", "declined"]],
        "the terminal's books: declined, not charged",
      );
      assert.equal(await page.getByTestId("rrn").count(), 0, "no card data for a decline");
      assert.equal(await page.getByTestId("fiscal-number").count(), 0, "no receipt number");
      assert.deepEqual(await printed(), [], "the register printed nothing");
      assert.ok((await page.locator("#virtual-tape").innerText()).includes(uk["tape.empty"]));
      await assertAccessible(page, "declined");
      // The amount stays, to be paid again some other way.
      assert.equal(await page.locator("#amount").inputValue(), "7,00");
    });
  });

  test("a partial approval waits for the rest; the rest in cash finishes it, and the receipt carries the RRN", { timeout: 60_000 }, async () => {
    await step("scripted-partial", async () => {
      const addBodies = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname === "/api/cmd/add_payment") addBodies.push(JSON.parse(request.postData() ?? "null"));
      });
      const result = await payByCard("12,47");
      assert.equal(await result.getAttribute("data-state"), "awaiting_payment");
      const state = await text("state");
      assert.equal(state, uk["state.awaiting_payment"]);
      assert.notEqual(state, uk["state.done"], "never called paid");
      const paid = kopiykas(await text("paid"));
      const remaining = kopiykas(await text("remaining"));
      assert.ok(paid > 0 && remaining > 0 && paid + remaining === 1247, `paid ${paid} + left ${remaining} is the total`);
      assert.equal(
        await text("money"),
        fill(uk["money.partial"], { paid: formatted(paid), total: "12,47", remaining: formatted(remaining) }),
      );
      const rrn = await text("rrn");
      assert.match(rrn, /^\d{12}$/, "the charged part's card data is shown");
      assert.deepEqual(
        terminalRecords(dataDir).filter((r) => r.rrn === rrn).map((r) => [r.status, r.amount]),
        [["approved", paid]],
        "the terminal's books: only the part shown was charged",
      );
      assert.equal(await page.locator("#new-sale").count(), 0, "not finished");
      assert.deepEqual(await printed(), [], "no receipt before the rest is paid");
      // By card the exact rest; in cash the rest rounded to 10 kopiykas (the view's cash_due).
      assert.ok((await page.locator("#rest-card").innerText()).includes(formatted(remaining)));
      const cashDue = Math.round(remaining / 10) * 10;
      assert.ok((await page.locator("#rest-cash").innerText()).includes(formatted(cashDue)), await page.locator("#rest-cash").innerText());
      await page.screenshot({ path: path.join(resultsDir, "partial-approval.png"), fullPage: true });

      await page.click("#rest-cash");
      await page.locator('#result[data-state="done"]').waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.equal(addBodies.length, 1);
      assert.deepEqual(addBodies[0].payment, { method: "cash", amount: cashDue });
      assert.equal(await text("state"), uk["state.done"]);
      const money = await text("money");
      assert.ok(money.includes(fill(uk["money.card_charged"], { amount: formatted(paid) })), money);
      assert.ok(money.includes(fill(uk["money.cash_taken"], { amount: formatted(cashDue), change: "0,00" })), money);
      assert.equal(await text("rrn"), rrn);
      assert.match(await text("fiscal-number"), /^\d+$/);
      const docs = await printed();
      assert.equal(docs.length, 1, "one receipt");
      assert.ok(docs[0].includes(rrn), `the receipt carries the RRN ${rrn}:\n${docs[0]}`);
      await page.locator("#virtual-tape pre").filter({ hasText: rrn }).waitFor({ timeout: 10_000 });
    });
  });

  test("the customer cancels on the terminal: cancelled, the card was not charged, nothing printed", { timeout: 60_000 }, async () => {
    await step("scripted-cancel", async () => {
      const result = await payByCard("5,00");
      assert.equal(await result.getAttribute("data-state"), "cancelled");
      assert.equal(await text("state"), uk["state.cancelled"]);
      const problem = page.getByTestId("problem");
      assert.equal(await problem.getAttribute("data-code"), "terminal.cancelled");
      assert.ok((await problem.innerText()).includes(uk["code.terminal.cancelled"]), await problem.innerText());
      assert.equal(await text("money"), uk["money.not_charged"]);
      assert.equal(
        terminalRecords(dataDir).filter((r) => r.amount === 500 && r.status === "approved").length,
        0,
        "the terminal's books: nothing charged",
      );
      assert.equal(await page.getByTestId("rrn").count(), 0);
      assert.equal((await printed()).length, 1, "no receipt for it");
      assert.equal(await page.locator("#new-sale").count(), 1, "a new sale can start");

      // The script is used up: the next card sale is approved as usual.
      const next = await payByCard("5,00");
      assert.equal(await next.getAttribute("data-state"), "done");
      await page.screenshot({ path: path.join(resultsDir, "scripted-outcomes.png"), fullPage: true });
    });
  });
});

describe("a reloaded page follows the sale that is running", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  const logLines = [];
  let server;
  let baseUrl;
  let browser;
  let dataDir;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-slow-"));
    // A slow terminal (600 ms a status, some 5 s a sale): the sale is still running after the reload.
    ({ child: server, baseUrl } = await startServer(process.env.KASA_BIN, dataDir, logLines, 600));
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve-slow.log"), logLines.join("\n") + "\n");
    }
  });

  test("reload in the middle of a card sale: progress again, then the result", { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "uk-UA" });
    const page = await context.newPage();
    try {
      await page.goto(baseUrl);
      await logInOnPage(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.fill("#amount", "21.00");
      await page.click("#pay-card");
      // The operation is known (its first event came) and the terminal is at work.
      const progress = page.locator("#progress");
      await page.locator('#progress [data-testid="operation-id"]').waitFor({ timeout: SALE_TIMEOUT_MS });
      await assertAccessible(page, "waiting for the card");
      const before = await progress.getAttribute("data-status");
      assert.ok(before, "a terminal status was shown");

      await page.reload();
      // The new page asks `current` and follows the same operation.
      await page.locator("#progress").waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#pay-card").isDisabled(), true, "no second sale while it runs");
      const result = page.locator("#result");
      await result.waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.equal(await result.getAttribute("data-state"), "done");
      assert.ok((await page.getByTestId("amount").innerText()).includes("21,00"));
      const rrn = (await page.getByTestId("rrn").innerText()).trim();
      assert.match(rrn, /^\d{12}$/);
      assert.match((await page.getByTestId("fiscal-number").innerText()).trim(), /^\d+$/);
      // Charged once in the terminal's books, however many pages watched it.
      assert.deepEqual(
        terminalRecords(dataDir).filter((r) => r.kind === "purchase" && r.amount === 2100).map((r) => [r.status, r.rrn]),
        [["approved", rrn]],
        "the terminal's books: one charge of 21,00",
      );

      // One sale, not two: the server has nothing unfinished and one operation for it.
      const { json: current } = await postWith(baseUrl, await sessionCookie(baseUrl), "current", "{}");
      assert.equal(current.operation, null, "nothing left running");
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, "reload-failure.png"), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });


  test("the cashier cancels while the terminal waits for the card: not charged, nothing printed", { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "uk-UA" });
    const page = await context.newPage();
    try {
      await page.goto(baseUrl);
      await logInOnPage(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.fill("#amount", "33,00");
      await page.keyboard.press("Enter");
      await page.locator("#cancel-terminal").waitFor({ timeout: SALE_TIMEOUT_MS });
      // Esc is the documented key for it.
      await page.keyboard.press("Escape");
      const result = page.locator("#result");
      await page.waitForFunction(() => {
        const r = document.getElementById("result");
        return r !== null && r.dataset.state !== "running";
      }, null, { timeout: SALE_TIMEOUT_MS });
      assert.equal(await result.getAttribute("data-state"), "cancelled");
      assert.equal((await page.getByTestId("money").innerText()).trim(), uk["money.not_charged"]);
      const { json: op } = await postWith(
        baseUrl,
        await sessionCookie(baseUrl),
        "operation",
        JSON.stringify({ id: Number(await result.getAttribute("data-operation")) }),
      );
      assert.equal(op.state, "cancelled");
      assert.ok(op.payments.every((p) => p.approved === 0), `nothing charged: ${JSON.stringify(op.payments)}`);
      assert.equal(
        terminalRecords(dataDir).filter((r) => r.amount === 3300 && r.status === "approved").length,
        0,
        "the terminal's books: nothing charged",
      );
      assert.equal(op.documents.filter((d) => d.number !== null).length, 0, "no receipt");
      await page.screenshot({ path: path.join(resultsDir, "cashier-cancel.png"), fullPage: true });
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, "cashier-cancel-failure.png"), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});

describe("needs attention: the register runs out of paper, then kasa is killed", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  // The demo register runs out of paper at the first line of the next receipt.
  const PAPER_OUT = JSON.stringify({ paper_out_at_line: 1 });
  const logLines = [];
  let server;
  let baseUrl;
  let browser;
  let dataDir;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-attention-"));
    ({ child: server, baseUrl } = await startServer(process.env.KASA_BIN, dataDir, logLines, 20, {
      KASA_DEMO_FISCAL_FAULTS: PAPER_OUT,
    }));
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve-attention.log"), logLines.join("\n") + "\n");
    }
  });

  test("the banner outlives a killed kasa and a reload, offers exactly the engine's safe actions, blocks card sales, and print again ends it on one receipt", { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "uk-UA" });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    const api = async (name, body) => (await postWith(baseUrl, await sessionCookie(baseUrl), name, JSON.stringify(body))).json;
    const receiptsWith = async (rrn) =>
      (await api("receipt_tape", { last: 100 })).documents.filter((d) => d.includes(rrn) && /ФІСКАЛЬНИЙ ЧЕК/.test(d)).length;
    try {
      await page.goto(baseUrl);
      await logInOnPage(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      await page.fill("#amount", "45,67");
      await page.keyboard.press("Enter");
      const result = page.locator('#result[data-state="needs_attention"]');
      await result.waitFor({ timeout: SALE_TIMEOUT_MS });
      const id = Number(await result.getAttribute("data-operation"));
      assert.equal(await page.getByTestId("problem").getAttribute("data-code"), "fiscal.paper_out");
      const rrn = (await page.getByTestId("rrn").innerText()).trim();
      assert.match(rrn, /^\d{12}$/, "the charged card's data is shown");
      await page.locator("#attention-banner").waitFor();

      // The money: one sentence on screen; the card charged in the terminal's
      // own books, and no fiscal receipt carries it yet.
      assert.equal(
        (await page.getByTestId("money").innerText()).trim(),
        fill(uk["money.charged_no_receipt"], { amount: "45,67" }),
      );
      const charges = () =>
        JSON.parse(readFileSync(path.join(dataDir, "demo-terminal-books.json"), "utf8")).records.filter(
          (r) => r.kind === "purchase" && r.status === "approved",
        );
      assert.deepEqual(charges().map((r) => [r.amount, r.rrn]), [[4567, rrn]], "charged once, in the terminal's books");
      const charged = await api("operation", { id });
      assert.equal(charged.state, "needs_attention");
      assert.equal(charged.payments[0].approved, 4567);
      assert.equal(await receiptsWith(rrn), 0, "no fiscal receipt before the paper is back");

      // kasa dies; it comes back (with paper loaded: no fault this time).
      server.kill("SIGKILL");
      await new Promise((resolve) => server.once("exit", resolve));
      ({ child: server, baseUrl } = await startServer(process.env.KASA_BIN, dataDir, logLines, 20));

      // The page, reloaded against the new process, still shows the banner.
      await page.goto(baseUrl);
      await logInOnPage(page);
      await page.locator('.app[data-events="open"]').waitFor({ timeout: 10_000 });
      const banner = page.locator("#attention-banner");
      await banner.waitFor({ timeout: 10_000 });
      assert.equal(await banner.getAttribute("data-count"), "1");
      assert.equal(await banner.locator(".attention-show").getAttribute("data-operation"), String(id));
      assert.ok((await banner.innerText()).includes(uk["attention.no_card"]));

      // Exactly the engine's safe actions, and the manual close.
      const op = await api("operation", { id });
      assert.equal(op.state, "needs_attention", "still waiting for a person after the restart");
      await banner.locator(".attention-show").click();
      await page.locator(`#result[data-operation="${id}"]`).waitFor();
      const shown = await page.locator('#result [id^="action-"]').evaluateAll((els) => els.map((e) => e.id.slice("action-".length)));
      const offered = [...op.problem.actions];
      assert.ok(offered.includes("print_again"), `the engine offers print again: ${offered}`);
      assert.deepEqual([...shown].sort(), [...offered].sort(), "the buttons are the engine's safe actions");
      await assertAccessible(page, "needs attention");
      await page.screenshot({ path: path.join(resultsDir, "needs-attention.png"), fullPage: true });

      // No new card sale while it is unresolved: Enter on a new amount
      // brings this operation back instead, and the server refuses one too.
      if (await page.locator("#new-sale").count()) await page.click("#new-sale");
      await page.fill("#amount", "1,00");
      await page.keyboard.press("Enter");
      await page.locator(`#result[data-operation="${id}"]`).waitFor();
      const refused = await postWith(baseUrl, await sessionCookie(baseUrl), "sale", JSON.stringify({ key: "e2e-blocked", amount: 100 }));
      assert.equal(refused.json.code, "unresolved", refused.text);

      // Print again: one fiscal receipt with the RRN, and the banner goes.
      await page.click("#action-print_again");
      await page.locator(`#result[data-operation="${id}"][data-state="done"]`).waitFor({ timeout: SALE_TIMEOUT_MS });
      assert.match((await page.getByTestId("fiscal-number").innerText()).trim(), /^\d+$/);
      await page.locator("#attention-banner").waitFor({ state: "detached", timeout: 10_000 });
      assert.equal(await receiptsWith(rrn), 1, "exactly one fiscal receipt carries the charge");
      const money = (await page.getByTestId("money").innerText()).trim();
      assert.ok(money.includes(fill(uk["money.card_charged"], { amount: "45,67" })), money);
      assert.deepEqual(charges().map((r) => [r.amount, r.rrn]), [[4567, rrn]], "still one charge in the terminal's books");
      const done = await api("operation", { id });
      assert.equal(done.state, "done");
      assert.equal(done.payments[0].approved, 4567, "charged once, not again");
      await assertAccessible(page, "resolved");
      assert.deepEqual(pageErrors, [], "the page threw uncaught errors");
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, "needs-attention-failure.png"), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
