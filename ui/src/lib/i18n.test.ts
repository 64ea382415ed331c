import { get } from "svelte/store";
import { describe, expect, it } from "vitest";
import { TRANSLATED_ENUMS } from "./enums";
import {
  DEFAULT_LOCALE,
  LOCALES,
  codeTranslation,
  declineTranslation,
  dictionaries,
  interpolate,
  locale,
  setLocale,
  t,
  translate,
  formatsFor,
  minor,
  translatePlural,
} from "./i18n";
import { MONEY_ERRORS } from "./money";

/** The string literals of a generated union type, read from its binding file. */
const bindingSources = import.meta.glob<string>("../bindings/*.ts", { query: "?raw", import: "default", eager: true });

function bindingVariants(name: string): string[] {
  const source = bindingSources[`../bindings/${name}.ts`];
  if (source === undefined) throw new Error(`src/bindings/${name}.ts is missing`);
  const body = source.slice(source.indexOf(`export type ${name}`));
  return [...body.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
}

describe("dictionaries", () => {
  const reference = Object.keys(dictionaries[DEFAULT_LOCALE]).sort();

  it.each(LOCALES)("%s has exactly the same keys as uk", (code) => {
    expect(Object.keys(dictionaries[code]).sort()).toEqual(reference);
  });

  it.each(LOCALES)("%s has no empty translation", (code) => {
    for (const [key, value] of Object.entries(dictionaries[code])) {
      expect(value.trim(), `${code}: ${key}`).not.toBe("");
    }
  });

  it.each(LOCALES)("%s uses the same {placeholders} as uk", (code) => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of reference) {
      expect(names(dictionaries[code][key]), `${code}: ${key}`).toEqual(names(dictionaries.uk[key]));
    }
  });

  it.each(TRANSLATED_ENUMS.map((e) => [e.binding, e] as const))("the runtime list of %s matches its binding file", (_, e) => {
    expect([...e.values].sort()).toEqual(bindingVariants(e.binding));
  });

  const required = [
    // Read from the binding files themselves, not from our own lists.
    ...TRANSLATED_ENUMS.flatMap((e) => bindingVariants(e.binding).map((v) => `${e.prefix}.${v}`)),
    ...MONEY_ERRORS.map((e) => `validation.${e}`),
    ...LOCALES.map((l) => `lang.${l}`),
    ...LOCALES.map((l) => `lang.${l}.short`),
  ];

  it("covers ErrorCode, OperationState, PaymentState, SafeAction and TerminalStatus", () => {
    expect(required).toEqual(expect.arrayContaining(["error.key_reused", "state.awaiting_payment", "payment_state.unknown", "action.retry_lookup", "status.enter_pin"]));
  });

  it.each(LOCALES)("%s translates every value of every generated enum and every validation error", (code) => {
    const missing = required.filter((key) => !(key in dictionaries[code]));
    expect(missing).toEqual([]);
  });

  it("keeps the labels the cashier screen is known by", () => {
    expect(dictionaries.uk["amount.label"]).toBe("Сума, грн");
    expect(dictionaries.uk["pay.card"]).toBe("Оплата карткою");
    expect(dictionaries.uk["header.mode.demo"]).toBe("Демо-режим");
    expect(dictionaries.en["pay.card"]).toBe("Pay by card");
  });
});

// The stable codes the backend sends (problems, device errors, declines,
// blocking conditions), read from the Rust sources so that a new code there
// fails here until it has a text: every string literal in checkout/src that
// looks like one, the codes of the terminal and fiscal crates' errors
// (which checkout prefixes with `terminal.` and `fiscal.`), and the fiscal
// register's health conditions (blocking ones and warnings, `fiscal.` too).
const checkoutSources = import.meta.glob<string>("../../../checkout/src/**/*.rs", {
  query: "?raw",
  import: "default",
  eager: true,
});
const errorSources = import.meta.glob<string>(
  ["../../../terminal/src/error.rs", "../../../fiscal/src/error.rs", "../../../fiscal/src/health.rs"],
  {
    query: "?raw",
    import: "default",
    eager: true,
  },
);

/** The string literals in the body of `fn <name>` of a Rust file (up to its closing brace). */
function literalsOfFn(file: string, name: string): string[] {
  const source = errorSources[`../../../${file}`];
  if (source === undefined) throw new Error(`${file} is missing`);
  const start = source.indexOf(`fn ${name}(`);
  if (start < 0) throw new Error(`${file} has no fn ${name}`);
  const lineStart = source.lastIndexOf("\n", start) + 1;
  const indent = /^\s*/.exec(source.slice(lineStart, start))![0];
  const end = source.indexOf(`\n${indent}}\n`, start);
  const body = source.slice(start, end > start ? end : undefined);
  return [...body.matchAll(/"([a-z_0-9.]+)"/g)].map((m) => m[1]);
}

function backendCodes(): string[] {
  const codes = new Set<string>();
  const files = Object.values(checkoutSources);
  if (files.length < 10) throw new Error(`found only ${files.length} Rust files under checkout/src`);
  for (const [file, source] of Object.entries(checkoutSources)) {
    // The installer's settings checks name fields (`fiscal.operator`), not codes: see below.
    if (file.endsWith("/installer/settings_edit.rs")) continue;
    for (const m of source.matchAll(/"((?:terminal|fiscal|payment|resolved|internal|operation)\.[a-z_0-9.]+)"/g)) {
      codes.add(m[1]);
    }
  }
  const terminal = [...literalsOfFn("terminal/src/error.rs", "code"), ...literalsOfFn("terminal/src/error.rs", "device_code_name")];
  for (const c of terminal.filter((c) => /^[a-z_]+\.[a-z_]+$/.test(c))) codes.add(`terminal.${c}`);
  const fiscal = [...literalsOfFn("fiscal/src/error.rs", "code"), ...literalsOfFn("fiscal/src/health.rs", "assess")];
  for (const c of fiscal.filter((c) => /^[a-z_0-9]+$/.test(c))) codes.add(`fiscal.${c}`);
  // The gate names an unresolved operation by its state (`operation.<state>`).
  for (const state of ["running", "awaiting_payment", "needs_attention"]) codes.add(`operation.${state}`);
  return [...codes].sort();
}

describe("stable codes from the backend", () => {
  const codes = backendCodes();

  it("finds the codes the brief names", () => {
    expect(codes).toEqual(
      expect.arrayContaining([
        "fiscal.paper_out",
        "fiscal.cover_open",
        "fiscal.wrong_password",
        "fiscal.shift_over_24h",
        "fiscal.subtotal_mismatch",
        "fiscal.receipt_open",
        "fiscal.card_data_too_long",
        "fiscal.sam_error",
        "fiscal.journal_full",
        "fiscal.clock_drift",
        "fiscal.modem_lock",
        "fiscal.fiscal_memory_error",
        "fiscal.journal_single_receipts",
        "fiscal.not_fiscalised",
        "fiscal.transport",
        "fiscal.timeout",
        "terminal.outcome_unknown",
        "terminal.not_sent",
        "terminal.cancelled",
        "terminal.reverse_refused",
        "terminal.transport.io",
        "terminal.transport.link_lost",
        "terminal.transport.timeout",
        "terminal.device.no_host_link",
        "terminal.device.busy",
        "terminal.device.confirm_expired",
        "payment.remaining",
        "resolved.by_hand",
        "internal.retries",
      ]),
    );
  });

  it.each(LOCALES)("%s has a text for every one of them", (lang) => {
    const missing = codes.filter((c) => !(`code.${c}` in dictionaries[lang]));
    expect(missing).toEqual([]);
  });

  it("a code the UI does not know gets a generic text that names it", () => {
    expect(codeTranslation("uk", "fiscal.paper_out")).toBe(dictionaries.uk["code.fiscal.paper_out"]);
    const unknown = codeTranslation("en", "terminal.device.something_new");
    expect(unknown).toContain("terminal.device.something_new");
    expect(unknown).toBe(translate("en", "code.unknown", { code: "terminal.device.something_new" }));
  });

  it("translates a bank's decline code whatever its leading zeros, and names one it does not know", () => {
    expect(declineTranslation("uk", "51")).toBe(dictionaries.uk["decline.host.51"]);
    expect(declineTranslation("uk", "0051")).toBe(dictionaries.uk["decline.host.51"]);
    expect(declineTranslation("en", "05")).toBe(dictionaries.en["decline.host.5"]);
    expect(declineTranslation("ru", "77")).toBe(translate("ru", "decline.unknown", { code: "77" }));
    expect(declineTranslation("en", "terminal.not_sent")).toBe(dictionaries.en["code.terminal.not_sent"]);
  });
});

describe("settings fields the installer's checks name", () => {
  const source = Object.entries(checkoutSources).find(([f]) => f.endsWith("/installer/settings_edit.rs"))?.[1] ?? "";
  const fields = [...new Set([...source.matchAll(/"((?:terminal|fiscal)\.[a-z_.]+)"/g)].map((m) => m[1]))].sort();

  it("are found", () => {
    expect(fields).toEqual(expect.arrayContaining(["fiscal.operator", "terminal.endpoint"]));
  });

  it.each(LOCALES)("%s has a label for each", (lang) => {
    expect(fields.filter((f) => !(`field.${f}` in dictionaries[lang]))).toEqual([]);
  });
});

describe("translate", () => {
  it("interpolates {name} params and leaves unknown ones", () => {
    expect(interpolate("{a} and {b}", { a: 1 })).toBe("1 and {b}");
    expect(translate("uk", "money.amount", { amount: "12,50" })).toBe("12,50 грн");
    expect(translate("en", "money.amount", { amount: "12,50" })).toBe("UAH 12,50");
  });

  it("falls back to the key for an unknown key", () => {
    expect(translate("en", "no.such.key")).toBe("no.such.key");
  });

  it("switches language through the store and remembers it", () => {
    expect(get(locale)).toBe("uk");
    expect(get(t)("pay.card")).toBe("Оплата карткою");
    setLocale("ru");
    expect(get(t)("pay.card")).toBe("Оплата картой");
    expect(localStorage.getItem("kasa.locale")).toBe("ru");
    expect(document.documentElement.lang).toBe("ru");
    setLocale("uk");
  });
});

describe("plural rules", () => {
  it("chooses the form by each language's rules", () => {
    expect(translatePlural("uk", "login.wrong_pin", 1)).toContain("1 спроба");
    expect(translatePlural("uk", "login.wrong_pin", 3)).toContain("3 спроби");
    expect(translatePlural("uk", "login.wrong_pin", 5)).toContain("5 спроб");
    expect(translatePlural("ru", "login.wrong_pin", 21)).toContain("21 попытка");
    expect(translatePlural("ru", "login.wrong_pin", 11)).toContain("11 попыток");
    expect(translatePlural("en", "login.wrong_pin", 1)).toContain("1 try left");
    expect(translatePlural("en", "login.wrong_pin", 4)).toContain("4 tries left");
  });
});

describe("formats for the language (Intl)", () => {
  it("formats amounts from minor units, exactly, the way each language writes them", () => {
    const nbsp = /[\u00a0\u202f ]/;
    expect(formatsFor("uk").money(125000).replace(nbsp, " ")).toBe("1 250,00");
    expect(formatsFor("ru").money(12500000).replace(nbsp, " ")).toBe("125 000,00");
    expect(formatsFor("en").money(125000)).toBe("1,250.00");
    expect(formatsFor("uk").money(-5)).toBe("-0,05");
    // Past 2^53 kopiykas a float would lose the last digit; the decimal string does not.
    expect(formatsFor("en").money(9007199254740993n)).toBe("90,071,992,547,409.93");
  });

  it("formats an amount inside a text for the text's language", () => {
    expect(translate("en", "money.amount", { amount: minor(1250) })).toBe("UAH 12.50");
    expect(translate("uk", "money.amount", { amount: minor(1250) })).toBe("12,50 грн");
  });

  it("formats dates and times per language, and leaves a text that is no time as it is", () => {
    const iso = "2026-11-25T14:05:00Z";
    const uk = formatsFor("uk");
    const en = formatsFor("en");
    expect(uk.date(iso)).toMatch(/^\d\d\.\d\d\.\d{4}$/);
    expect(en.date(iso)).toMatch(/^\d\d\/\d\d\/\d{4}$/);
    expect(uk.time(iso)).toMatch(/^\d\d:\d\d$/);
    expect(uk.time("not a time")).toBe("not a time");
  });
});
