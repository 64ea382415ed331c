// Browser test of the installer's screen against `kasa serve` started in demo
// mode (no settings file yet): the port scanner finds the terminal and the
// fiscal register (emulator processes on loopback TCP, as a terminal on the
// shop's network and a register behind a serial-to-LAN box would be), the
// form takes what was found, a wrong field is refused with its name, the
// tests run against the devices before saving (the register's own tape shows
// the test page), and the switch to production is confirmed with the list of
// what changes, then written to the settings file. Then the support bundle
// is made from the screen and downloaded: a zip with the settings without
// the password, the devices, the logs and the last operations.
//
//   KASA_BIN=../target/debug/kasa node --test e2e/installer.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, assertAccessible, logInAs, resultsDir, startDevices, startServer, stopServer, uk } from "./harness.mjs";

describe("the installer's screen: scan, set up, test, save", { skip: !process.env.KASA_BIN && "KASA_BIN is not set" }, () => {
  const bin = process.env.KASA_BIN;
  const logLines = [];
  const procs = [];
  let server;
  let baseUrl;
  let browser;
  let dir;
  let terminalAddr;
  let fiscalAddr;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "kasa-e2e-installer-"));
    const devices = await startDevices(bin, dir, logLines, { config: false });
    procs.push(...devices.procs);
    ({ terminalAddr, fiscalAddr } = devices);
    // No settings file yet: demo mode; the screen writes it here.
    ({ child: server, baseUrl } = await startServer(bin, path.join(dir, "data"), logLines, 20, { KASA_CONFIG: path.join(dir, "kasa.json") }));
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server);
    for (const p of procs) await stopServer(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (logLines.length) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, "kasa-serve-installer.log"), logLines.join("\n") + "\n");
    }
  });

  test("the scanner names both devices, a wrong field is refused, the tests pass on the devices, and the switch to production is confirmed and saved", { timeout: 180_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "uk-UA" });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    try {
      await page.goto(baseUrl);
      await logInAs(page, "installer", "3333");
      await page.click("#nav-settings");
      await page.locator('#settings[data-mode="demo"]').waitFor({ timeout: 10_000 });
      await assertAccessible(page, "the installer's screen");

      // The scanner, on the two addresses only.
      await page.fill("#scan-tcp", `${terminalAddr} ${fiscalAddr}`);
      await page.check("#scan-only");
      await page.click("#scan");
      const terminalRow = page.locator(`#ports tr[data-path="tcp://${terminalAddr}"]`);
      const fiscalRow = page.locator(`#ports tr[data-path="tcp://${fiscalAddr}"]`);
      await terminalRow.waitFor({ timeout: 60_000 });
      assert.equal(await terminalRow.getAttribute("data-found"), "terminal");
      assert.ok((await terminalRow.innerText()).includes("privatbank"), await terminalRow.innerText());
      assert.equal(await fiscalRow.getAttribute("data-found"), "fiscal");
      assert.ok((await fiscalRow.innerText()).includes("ua-fp-t260"), await fiscalRow.innerText());
      await assertAccessible(page, "the scan's result");

      // What was found fills the form.
      await terminalRow.locator("button.use").click();
      await fiscalRow.locator("button.use").click();
      assert.equal(await page.locator("#terminal-address").inputValue(), terminalAddr);
      assert.equal(await page.locator("#fiscal-address").inputValue(), fiscalAddr);
      assert.equal(await page.locator("#terminal-protocol").inputValue(), "privatbank");

      // A merchant on the terminal, how card data is printed, the free amount's tax group.
      await page.click("#add-merchant");
      await page.locator("#merchants .merchant-name").fill("ФОП Коваль");
      await page.selectOption("#fiscal-card-mode", "text_lines");
      await page.selectOption("#receipt-tax-group", "Б");

      // A wrong operator number is refused with the field named; nothing is written.
      await page.fill("#fiscal-operator", "99");
      await page.click("#settings-save");
      const wrong = page.locator('#field-errors li[data-field="fiscal.operator"]');
      await wrong.waitFor({ timeout: 10_000 });
      assert.equal(await wrong.getAttribute("data-code"), "operator_invalid");
      assert.ok((await wrong.innerText()).includes(uk["installer.field.operator_invalid"]), await wrong.innerText());
      assert.equal(existsSync(path.join(dir, "kasa.json")), false, "nothing written");
      await page.fill("#fiscal-operator", "1");

      // The tests run on the devices on the screen, before saving.
      for (const kind of ["fiscal_status", "fiscal_test_receipt", "terminal_ping", "terminal_identify"]) {
        await page.click(`#test-${kind}`);
        await page.locator(`.test[data-test="${kind}"][data-ok="true"]`).waitFor({ timeout: 30_000 });
      }
      const tape = readFileSync(path.join(dir, "fiscal-tape.txt"), "utf8");
      assert.ok(tape.includes("НЕФІСКАЛЬНИЙ"), `the register printed the test page:\n${tape.slice(-600)}`);
      assert.ok(!tape.includes("ФІСКАЛЬНИЙ ЧЕК"), "and no fiscal receipt");

      // Save: the switch to production is confirmed with what changes.
      await page.click("#settings-save");
      const confirm = page.locator("#confirm-mode");
      await confirm.waitFor({ timeout: 10_000 });
      const fields = await confirm.locator("li").evaluateAll((lis) => lis.map((l) => l.dataset.field));
      for (const f of ["terminal.protocol", "terminal.endpoint.address", "fiscal.endpoint.address", "fiscal.dialect", "fiscal.dialect_settings.card.mode", "merchants.0.name", "receipt.tax_group"]) {
        assert.ok(fields.includes(f), `${f} is not among the changes: ${fields}`);
      }
      // Not every default that comes with the two new sections.
      assert.ok(!fields.some((f) => f.startsWith("terminal.timeouts") || f === "terminal.client_id"), `defaults listed as changes: ${fields}`);
      await assertAccessible(page, "the confirmation");
      await page.screenshot({ path: path.join(resultsDir, "installer-confirm.png"), fullPage: true });
      await page.click("#confirm-yes");
      await page.locator("#settings-saved").waitFor({ timeout: 10_000 });
      const saved = JSON.parse(readFileSync(path.join(dir, "kasa.json"), "utf8"));
      assert.deepEqual(saved.terminal.endpoint, { kind: "tcp", address: terminalAddr });
      assert.equal(saved.terminal.protocol, "privatbank");
      assert.deepEqual(saved.fiscal.endpoint, { kind: "tcp", address: fiscalAddr });
      assert.equal(saved.fiscal.operator, "1");
      assert.equal(saved.merchants[0].name, "ФОП Коваль");
      assert.equal(saved.merchants[0].index, 1);
      assert.equal(saved.fiscal.dialect_settings.card.mode, "text_lines");
      assert.equal(saved.receipt.tax_group, "Б");
      await page.locator('#settings[data-mode="production"]').waitFor({ timeout: 10_000 });
      await page.screenshot({ path: path.join(resultsDir, "installer-saved.png"), fullPage: true });
      assert.deepEqual(pageErrors, [], "the page threw uncaught errors");
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, "installer-failure.png"), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test("the support bundle is made from the screen and downloaded: a zip of the settings without passwords, the devices and the logs", { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "uk-UA", acceptDownloads: true });
    const page = await context.newPage();
    try {
      await page.goto(baseUrl);
      await logInAs(page, "installer", "3333");
      await page.click("#nav-settings");
      await page.locator("#settings").waitFor({ timeout: 10_000 });
      await page.click("#support-make");
      const link = page.locator("#support-bundle a.download");
      await link.waitFor({ timeout: 20_000 });
      await assertAccessible(page, "the support bundle");
      const [file] = await Promise.all([page.waitForEvent("download"), link.click()]);
      assert.match(file.suggestedFilename(), /^kasa-support-\d{8}-\d{6}\.zip$/);
      const zip = path.join(dir, "support.zip");
      await file.saveAs(zip);
      // Read with Python's zipfile, not with the code that wrote it.
      const entries = JSON.parse(
        execFileSync("python3", ["-c", "import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(json.dumps({n: z.read(n).decode('utf-8') for n in z.namelist()}))", zip], { encoding: "utf8" }),
      );
      const names = Object.keys(entries);
      for (const n of ["kasa-support/info.json", "kasa-support/settings.json", "kasa-support/devices.json", "kasa-support/operations.json"]) {
        assert.ok(names.includes(n), `${n} is not in the bundle: ${names}`);
      }
      assert.ok(names.some((n) => n.startsWith("kasa-support/logs/kasa")), `no log in the bundle: ${names}`);
      const saved = JSON.parse(readFileSync(path.join(dir, "kasa.json"), "utf8"));
      const settings = JSON.parse(entries["kasa-support/settings.json"]);
      assert.equal(settings.fiscal.password, "***", "the register's password is hidden");
      assert.ok(saved.fiscal.password.length > 0 && !entries["kasa-support/settings.json"].includes(`"${saved.fiscal.password}"`), "the password is not in the bundle");
      const devices = JSON.parse(entries["kasa-support/devices.json"]);
      assert.deepEqual(devices.terminal.endpoint, { kind: "tcp", address: terminalAddr });
      assert.equal(devices.fiscal.dialect, "ua-fp-t260");
      await page.screenshot({ path: path.join(resultsDir, "installer-support-bundle.png"), fullPage: true });
    } catch (err) {
      await page.screenshot({ path: path.join(resultsDir, "installer-bundle-failure.png"), fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
