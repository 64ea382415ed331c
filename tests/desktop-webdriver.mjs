// Desktop WebDriver test, the driving half (tests/desktop-webdriver.sh starts
// Xvfb and tauri-driver and exports the app's environment): a card sale of
// 12,34 in the real Kasa window over the W3C WebDriver HTTP API, with Node's
// fetch alone. It logs in by the demo cashier's PIN from the keyboard, types
// the amount and Enter (card payment), waits for the result, reads the RRN and
// fiscal receipt number, saves a screenshot, and checks the money in the demo
// fiscal register's own records in the data dir: its tape (exactly one fiscal
// receipt, with that RRN, number and 12.34 by card) and its counters. Then,
// as the installer, it makes the support bundle and saves it from the window
// (which has no browser download) into KASA_DOWNLOADS_DIR. Every wait polls
// for a state; none sleeps for a result.
//
// Environment (set by desktop-webdriver.sh): WEBDRIVER_URL (tauri-driver),
// KASA_APP (the program WebKitWebDriver starts), KASA_DATA_DIR, KASA_CONFIG,
// SCREENSHOT (where the PNG goes).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** What the test is doing, named in a failure. */
let step = "start";
const need = (name) => process.env[name] || stop(`${name} is not set (run tests/desktop-webdriver.sh)`);
const WEBDRIVER_URL = need("WEBDRIVER_URL");
const KASA_APP = need("KASA_APP");
const DATA_DIR = need("KASA_DATA_DIR");
const CONFIG = need("KASA_CONFIG");
const SCREENSHOT = need("SCREENSHOT");

/** The sale: what the cashier types, and what it is in kopiykas and on the receipt. */
const TYPED_AMOUNT = "12,34";
const AMOUNT_KOPIYKAS = 1234;
const RECEIPT_AMOUNT = "12.34";
/** The UI's Ukrainian texts (the window's language on a fresh data dir). */
const UK = JSON.parse(readFileSync(new URL("../ui/src/locales/uk.json", import.meta.url), "utf8"));
/** The demo mode's training cashier's PIN, shown on the login screen. */
const CASHIER_PIN = "1111";

const ENTER = "\uE007";

const started = Date.now();

function stop(message) {
  console.error(`desktop webdriver: FAILED at "${step}": ${message}`);
  process.exit(1);
}

function say(message) {
  console.log(`desktop webdriver: ${((Date.now() - started) / 1000).toFixed(1)} s  ${message}`);
}

/** A check: fails the test with `message` unless `ok`. */
function expect(ok, message) {
  if (!ok) throw new Error(message);
}

/** One WebDriver command; its `value`, or an error naming the command and WebDriver's error. */
async function wd(method, route, body, timeoutMs = 30_000) {
  let response;
  try {
    response = await fetch(WEBDRIVER_URL + route, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json; charset=utf-8" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`${method} ${route}: no answer from tauri-driver at ${WEBDRIVER_URL} (${err.cause?.code ?? err.message})`);
  }
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${route}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (!response.ok) {
    const v = json.value ?? {};
    const error = new Error(`${method} ${route}: HTTP ${response.status} ${v.error}: ${v.message}`);
    error.webdriver = v.error;
    throw error;
  }
  return json.value;
}

/**
 * Polls `probe` every 100 ms until it returns something truthy, and returns
 * that; fails after `timeoutMs` saying what it waited for and what it saw last.
 */
async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs / 1000} s for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let session;
const exec = (script, ...args) => wd("POST", `${session}/execute/sync`, { script, args });
/** The trimmed text of the first element matching `selector`, or null when there is none. */
const textOf = (selector) =>
  exec("const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;", selector);
const focusedId = () => exec("return document.activeElement ? document.activeElement.id : null;");

/** Types `text` as key presses into whatever has focus, as a keyboard does. */
async function typeKeys(text) {
  const actions = [];
  for (const key of text) actions.push({ type: "keyDown", value: key }, { type: "keyUp", value: key });
  await wd("POST", `${session}/actions`, { actions: [{ type: "key", id: "keyboard", actions }] });
  await wd("DELETE", `${session}/actions`);
}

/** The PNG's width, height and number of distinct colours (ImageMagick, as the smoke test uses). */
function pngFacts(file) {
  const png = readFileSync(file);
  expect(png.length > 24 && png.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])), `${file} is not a PNG`);
  const colours = Number(execFileSync("convert", [file, "-format", "%k", "info:"], { encoding: "utf8" }).trim());
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), colours };
}

/** The documents on the demo register's tape file, oldest first (a line of dashes ends each). */
function tapeDocuments() {
  const file = path.join(DATA_DIR, "fiscal-tape.txt");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split(/^-{20,}$/m)
    .map((d) => d.trim())
    .filter(Boolean);
}

async function sale() {
  step = "tauri-driver is up";
  await until("tauri-driver and WebKitWebDriver to answer GET /status with ready", 30_000, async () => {
    const status = await wd("GET", "/status", undefined, 2_000);
    return status?.ready;
  });

  step = "open the Kasa window (new session)";
  const args = ["--data-dir", DATA_DIR, "--config", CONFIG, "desktop"];
  const created = await wd(
    "POST",
    "/session",
    { capabilities: { alwaysMatch: { "tauri:options": { application: KASA_APP, args } } } },
    90_000,
  );
  session = `/session/${created.sessionId}`;
  say(`window open (session ${created.sessionId}, ${created.capabilities?.browserName ?? "?"} ${created.capabilities?.browserVersion ?? ""})`);

  step = "the login screen";
  await until("the login form with the training cashier's PIN", 60_000, () =>
    exec('return !!document.querySelector("#login-form") && !!document.querySelector(\'#training-pins code[data-role="cashier"]\');'),
  );
  const shownPin = await textOf('#training-pins code[data-role="cashier"]');
  expect(shownPin === CASHIER_PIN, `the login screen shows the training cashier's PIN as "${shownPin}", expected ${CASHIER_PIN}`);
  await until("the PIN field (#pin) to have focus", 5_000, async () => (await focusedId()) === "pin");
  const badge = await textOf("#mode-badge");
  expect(badge === UK["header.mode.demo"], `the mode badge says "${badge}", not "${UK["header.mode.demo"]}" (demo mode)`);

  step = "log in as the cashier (PIN, Enter)";
  await typeKeys(CASHIER_PIN + ENTER);
  await until("the cashier screen (#amount) after the PIN", 15_000, () => exec('return !!document.querySelector("#amount");'));
  await until("the amount field to have focus", 5_000, async () => (await focusedId()) === "amount");
  await until("the UI's event stream to be open", 15_000, () => exec('return !!document.querySelector(\'.app[data-events="open"]\');'));
  say("logged in as the cashier");

  step = `type ${TYPED_AMOUNT}, Enter (card)`;
  await typeKeys(TYPED_AMOUNT);
  const typed = await exec('return document.querySelector("#amount").value;');
  expect(typed === TYPED_AMOUNT, `the amount field holds "${typed}" after typing ${TYPED_AMOUNT}`);
  expect(await exec('return !!document.querySelector("#pay-card") && !document.querySelector("#pay-card").disabled;'), "no enabled #pay-card button");
  await typeKeys(ENTER);

  step = "the sale's result";
  const state = await until('#result[data-state="done"] (or any other final state)', 30_000, () =>
    exec('const r = document.querySelector("#result"); return r && r.dataset.state !== "running" ? r.dataset.state : null;'),
  );
  if (state !== "done") throw new Error(`the sale ended "${state}", not done: ${await textOf("#result")}`);
  const rrn = await textOf('[data-testid="rrn"]');
  const fiscalNumber = await textOf('[data-testid="fiscal-number"]');
  const amountShown = await textOf('[data-testid="amount"]');
  const pan = await textOf('[data-testid="masked-pan"]');
  expect(/^\d{12}$/.test(rrn ?? ""), `the RRN shown is "${rrn}", not 12 digits`);
  expect(/^\d+$/.test(fiscalNumber ?? ""), `the fiscal receipt number shown is "${fiscalNumber}"`);
  expect((amountShown ?? "").includes(TYPED_AMOUNT), `the result shows the amount "${amountShown}", not ${TYPED_AMOUNT}`);
  expect(pan?.includes("*") && !/\d{13,}/.test(pan), `the card number shown, "${pan}", is not masked`);
  say(`sale done: RRN ${rrn}, fiscal receipt №${fiscalNumber}, ${amountShown}, card ${pan}`);

  step = "screenshot";
  // The demo register's receipt appears on the screen's virtual tape.
  await until(`the receipt with RRN ${rrn} on the virtual tape`, 10_000, () =>
    exec('return [...document.querySelectorAll("#virtual-tape pre")].some((p) => p.textContent.includes(arguments[0]));', rrn),
  );
  // The result sits below the keypad in a 1100x760 window: bring it into view.
  await exec('document.querySelector("#result").scrollIntoView({ block: "start" });');
  await until("the result panel to be in view", 5_000, () =>
    exec('const r = document.querySelector("#result").getBoundingClientRect(); return r.top > -2 && r.top < window.innerHeight / 2;'),
  );
  const png = await wd("GET", `${session}/screenshot`);
  writeFileSync(SCREENSHOT, Buffer.from(png, "base64"));
  const shot = pngFacts(SCREENSHOT);
  expect(shot.width >= 700 && shot.height >= 500, `the screenshot is ${shot.width}x${shot.height}, smaller than the window`);
  expect(shot.colours >= 16, `the screenshot has only ${shot.colours} colours: blank`);
  say(`screenshot ${SCREENSHOT} (${shot.width}x${shot.height}, ${shot.colours} colours)`);

  step = "the fiscal register's tape";
  const receipts = await until(`a fiscal receipt with RRN ${rrn} in ${DATA_DIR}/fiscal-tape.txt`, 10_000, () => {
    const fiscal = tapeDocuments().filter((d) => d.includes("ФІСКАЛЬНИЙ ЧЕК"));
    return fiscal.some((d) => d.includes(`RRN: ${rrn}`)) && fiscal;
  });
  expect(receipts.length === 1, `the tape holds ${receipts.length} fiscal receipts, expected exactly 1:\n${receipts.join("\n---\n")}`);
  const [receipt] = receipts;
  const money = (label) => new RegExp(`^${label}\\s+${RECEIPT_AMOUNT.replace(".", "\\.")}$`, "m");
  for (const [what, re] of [
    [`the total (ПІДСУМОК) ${RECEIPT_AMOUNT}`, money("ПІДСУМОК")],
    [`the card payment (КАРТКА) ${RECEIPT_AMOUNT}`, money("КАРТКА")],
    [`the card slip's amount (СУМА) ${RECEIPT_AMOUNT}`, money("СУМА")],
    [`the RRN ${rrn} shown in the window`, new RegExp(`^RRN: ${rrn}$`, "m")],
    [`the receipt number №${fiscalNumber} shown in the window`, new RegExp(`^ЧЕК №${fiscalNumber}\\s`, "m")],
  ]) {
    expect(re.test(receipt), `the fiscal receipt on the tape lacks ${what}:\n${receipt}`);
  }
  const withRrn = tapeDocuments().filter((d) => d.includes(rrn)).length;
  expect(withRrn === 1, `${withRrn} documents on the tape carry RRN ${rrn}, expected 1`);

  step = "the fiscal register's counters";
  const counters = JSON.parse(readFileSync(path.join(DATA_DIR, "fiscal-emulator.json"), "utf8")).counters;
  expect(counters.fiscal_receipts === 1, `the register counted ${counters.fiscal_receipts} fiscal receipts, expected 1`);
  // day_paid: by payment form, cash first, then card.
  expect(
    JSON.stringify(counters.day_paid) === JSON.stringify([0, AMOUNT_KOPIYKAS]),
    `the register's day takings by form are ${JSON.stringify(counters.day_paid)}, expected [0 cash, ${AMOUNT_KOPIYKAS} card]`,
  );
  say(`tape: one fiscal receipt №${fiscalNumber}, ${RECEIPT_AMOUNT} by card, RRN ${rrn}; counters: 1 receipt, ${AMOUNT_KOPIYKAS} by card`);
}

/** The demo mode's training installer's PIN. */
const INSTALLER_PIN = "3333";

/**
 * The desktop window has no browser download: an export is saved in the
 * downloads folder instead. Log out, log in as the installer, make the
 * support bundle on the installer's screen and save it; the zip must be in
 * KASA_DOWNLOADS_DIR, readable by Python's zipfile, with the settings and
 * the last operations (the sale above, its card masked).
 */
async function saveSupportBundle() {
  const downloads = need("KASA_DOWNLOADS_DIR");
  step = "log out and in as the installer";
  await exec('document.querySelector("#logout").click();');
  await until("the login form again", 10_000, () =>
    exec('return !!document.querySelector(\'#login-form input[name="user"][data-role="installer"]\');'),
  );
  await exec('document.querySelector(\'#login-form input[name="user"][data-role="installer"]\').click(); document.querySelector("#pin").focus();');
  await typeKeys(INSTALLER_PIN + ENTER);
  await until("the manager's navigation (#nav-settings)", 15_000, () => exec('return !!document.querySelector("#nav-settings");'));
  step = "the support bundle on the installer's screen";
  await exec('document.querySelector("#nav-settings").click();');
  await until("the support bundle button", 15_000, () => exec('return !!document.querySelector("#support-make");'));
  await exec('document.querySelector("#support-make").click();');
  await until("the bundle's save button (no download link in the window)", 20_000, () =>
    exec('return !!document.querySelector("#support-bundle button[data-save]") && !document.querySelector("#support-bundle a.download");'),
  );
  await exec('document.querySelector("#support-bundle button[data-save]").click();');
  const savedPath = await until("the saved file's path", 20_000, () =>
    exec('const s = document.querySelector("#support-bundle [data-saved]"); return s ? s.dataset.saved : null;'),
  );
  expect(path.dirname(savedPath) === downloads, `the bundle was saved to ${savedPath}, not in ${downloads}`);
  expect(existsSync(savedPath), `${savedPath} does not exist`);
  const entries = JSON.parse(
    execFileSync(
      "python3",
      ["-c", "import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(json.dumps({n: z.read(n).decode('utf-8') for n in z.namelist()}))", savedPath],
      { encoding: "utf8" },
    ),
  );
  const ops = JSON.parse(entries["kasa-support/operations.json"] ?? "[]");
  const sale = ops.find((o) => o.kind === "sale" && o.total === AMOUNT_KOPIYKAS);
  expect(sale, `the bundle's operations.json lacks the ${AMOUNT_KOPIYKAS} sale: ${JSON.stringify(ops).slice(0, 400)}`);
  const card = sale.payments.find((p) => p.method === "card");
  expect(/^\d{6}\*+\d{4}$/.test(card?.masked_pan ?? ""), `the bundle's card is not masked: ${card?.masked_pan}`);
  expect("kasa-support/settings.json" in entries, `no settings in the bundle: ${Object.keys(entries)}`);
  say(`support bundle saved from the window: ${savedPath} (${Object.keys(entries).length} files, the sale with card ${card.masked_pan})`);
}

try {
  await sale();
  await saveSupportBundle();
} catch (err) {
  if (session) {
    const failure = SCREENSHOT.replace(/\.png$/, "-failure.png");
    await wd("GET", `${session}/screenshot`)
      .then((png) => writeFileSync(failure, Buffer.from(png, "base64")))
      .then(() => console.error(`desktop webdriver: the window at the failure: ${failure}`))
      .catch(() => {});
  }
  await (session ? wd("DELETE", session).catch(() => {}) : null);
  stop(err.message);
}
step = "close the window (end the session)";
await wd("DELETE", session).catch((err) => stop(err.message));
say("passed");
