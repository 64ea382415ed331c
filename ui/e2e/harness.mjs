// What the browser tests share: the kasa serve they drive (started on a
// fresh data directory, its output kept), Debian's Chromium's flags, login by
// PIN on the page or over HTTP, axe-core checks, and the dictionaries the
// screens are checked against.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const resultsDir = path.join(uiDir, "test-results");
export const uk = JSON.parse(readFileSync(path.join(uiDir, "src/locales/uk.json"), "utf8"));
export const en = JSON.parse(readFileSync(path.join(uiDir, "src/locales/en.json"), "utf8"));
export const TERMINAL_STATUSES = [
  "connecting",
  "waiting_for_card",
  "card_read",
  "chip_processing",
  "enter_pin",
  "authorising",
  "printing",
  "remove_card",
  "finished",
];

export const STARTUP_TIMEOUT_MS = 60_000;
export const SALE_PATH = "/api/cmd/sale";
export const SALE_TIMEOUT_MS = 30_000;
export const URL_IN_LINE = /http:\/\/127\.0\.0\.1:(\d+)\//;
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

/** A dictionary text with its {placeholders} filled, as the UI shows it. */
export function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export const AXE_SOURCE = readFileSync(path.join(uiDir, "node_modules/axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core on the page for WCAG 2.x levels A and AA; fails with the
 * rules broken and where.
 */
export async function assertAccessible(page, state) {
  // Evaluated through the browser's debugging protocol: the page's CSP
  // (rightly) refuses an inline script.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(violations, [], `axe-core: violations of level A or AA on the cashier screen, ${state}`);
}

/** The contrast ratio of a CSS `rgb(r, g, b)` colour with white (WCAG's relative luminance). */
export function contrastWithWhite(css) {
  const [r, g, b] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
  const lin = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return 1.05 / (l + 0.05);
}

/** The demo mode's training cashier's PIN (shown on the login screen). */
export const CASHIER_PIN = "1111";

/**
 * Logs in on the page's login screen from the keyboard alone (the PIN field
 * has focus, the first user is chosen: the cashier), then waits for the
 * cashier screen.
 */
export async function logInOnPage(page, pin = CASHIER_PIN, checkAccessible = false) {
  await page.locator("#login-form").waitFor({ timeout: 10_000 });
  await page.locator('#training-pins code[data-role="cashier"]').waitFor();
  if (checkAccessible) await assertAccessible(page, "login");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "pin", "the PIN field has focus");
  await page.keyboard.type(pin);
  await page.keyboard.press("Enter");
  await page.locator("#amount").waitFor({ timeout: 10_000 });
}

/** Logs in over HTTP as the training user with `role`; returns the session cookie. */
export async function sessionCookie(baseUrl, role = "cashier") {
  const post = (name, body) =>
    fetch(new URL(`/api/cmd/${name}`, baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const options = await (await post("login_options", {})).json();
  const user = options.training.find((u) => u.role === role);
  const response = await post("login", { user: user.user, pin: user.pin });
  assert.equal(response.status, 200, `login as ${role}`);
  return (response.headers.get("set-cookie") ?? "").split(";")[0];
}

/** POSTs JSON text to a command with a session cookie: status, text and parsed JSON. */
export async function postWith(baseUrl, cookie, name, body) {
  const response = await fetch(new URL(`/api/cmd/${name}`, baseUrl), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", cookie },
    body,
  });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text) };
}

/** Starts `kasa serve` and resolves once it prints the address it listens on. */
export function startServer(bin, dataDir, logLines, stepMs = 20, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir], {
      env: { ...process.env, KASA_DEMO_STEP_MS: String(stepMs), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let settled = false;
    const fail = (message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${message}\n--- kasa serve output ---\n${logLines.slice(-80).join("\n")}`));
    };
    const timer = setTimeout(
      () => fail(`kasa serve printed no http://127.0.0.1:PORT/ line within ${STARTUP_TIMEOUT_MS / 1000} s`),
      STARTUP_TIMEOUT_MS,
    );
    // Keep reading both streams for the whole run, so the server never blocks on a full pipe.
    for (const [name, stream] of [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        logLines.push(`[${name}] ${line}`);
        const m = name === "stdout" && URL_IN_LINE.exec(line);
        if (m && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve({ child, baseUrl: `http://127.0.0.1:${m[1]}/` });
        }
      });
    }
    child.on("error", (err) => fail(`cannot start ${bin}: ${err.message}`));
    child.on("exit", (code, signal) => fail(`kasa serve exited early (code ${code}, signal ${signal})`));
  });
}

export async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Logs in on the page as the user with `role` (the first one listed) and
 * `pin`, from the login screen; waits for the screen after it.
 */
export async function logInAs(page, role, pin) {
  await page.locator("#login-form").waitFor({ timeout: 10_000 });
  await page.locator(`input[name="user"][data-role="${role}"]`).first().check();
  await page.locator("#pin").fill(pin);
  await page.keyboard.press("Enter");
  await page.locator(role === "cashier" ? "#amount" : "#nav-days").waitFor({ timeout: 10_000 });
}

/**
 * Starts a device emulator process (`kasa emulate terminal|fiscal ...`) and
 * resolves with the process and the address it prints first.
 */
export function startEmulator(bin, args, logLines) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["emulate", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(new Error(`kasa emulate ${args.join(" ")} printed no address\n${logLines.slice(-20).join("\n")}`));
    }, STARTUP_TIMEOUT_MS);
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      logLines.push(`[${args[0]}] ${line}`);
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, address: line.trim() });
      }
    });
    readline.createInterface({ input: child.stderr }).on("line", (line) => logLines.push(`[${args[0]} err] ${line}`));
    child.on("exit", (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`kasa emulate ${args.join(" ")} exited (${code})\n${logLines.slice(-20).join("\n")}`));
    });
  });
}

/** The demo terminal's own books (every transaction it made), from its data directory. */
export function terminalRecords(dataDir) {
  return JSON.parse(readFileSync(path.join(dataDir, "demo-terminal-books.json"), "utf8")).records;
}

/**
 * The shop's devices as emulator processes in `dir`: a PrivatBank terminal
 * (books in terminal-books.json) and a fiscal register (fiscal-state.json,
 * fiscal-tape.txt), both on loopback TCP. With `config`, also the settings
 * file `dir/kasa.json` that points Kasa at them (production mode).
 */
export async function startDevices(bin, dir, logLines, { config = true } = {}) {
  const terminal = await startEmulator(
    bin,
    ["terminal", "--protocol", "privatbank", "--tcp", "127.0.0.1:0", "--step-delay-ms", "2", "--state", path.join(dir, "terminal-books.json")],
    logLines,
  );
  const fiscal = await startEmulator(
    bin,
    ["fiscal", "--tcp", "127.0.0.1:0", "--state", path.join(dir, "fiscal-state.json"), "--tape", path.join(dir, "fiscal-tape.txt")],
    logLines,
  );
  if (config) {
    writeFileSync(
      path.join(dir, "kasa.json"),
      JSON.stringify({
        terminal: {
          protocol: "privatbank",
          endpoint: { kind: "tcp", address: terminal.address },
          timeouts: { after_handshake_ms: 0, poll_ms: 10, operation_ms: 20000 },
        },
        fiscal: { endpoint: { kind: "tcp", address: fiscal.address } },
      }),
    );
  }
  return { procs: [terminal.child, fiscal.child], terminalAddr: terminal.address, fiscalAddr: fiscal.address };
}

/** The first run of a production Kasa: its first manager; returns the session cookie. */
export async function createFirstManager(baseUrl, name, pin) {
  const response = await fetch(new URL("/api/cmd/first_manager", baseUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, pin }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (response.headers.get("set-cookie") ?? "").split(";")[0];
}
