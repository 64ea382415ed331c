import { get } from "svelte/store";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, SALE_STATES, TERMINAL_STATUSES } from "./enums";
import { DEFAULT_LOCALE, LOCALES, dictionaries, interpolate, locale, setLocale, t, translate } from "./i18n";
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

  it("the runtime enum lists match the generated bindings", () => {
    expect([...ERROR_CODES].sort()).toEqual(bindingVariants("ErrorCode"));
    expect([...TERMINAL_STATUSES].sort()).toEqual(bindingVariants("TerminalStatus"));
    expect([...SALE_STATES].sort()).toEqual(bindingVariants("SaleState"));
  });

  const required = [
    ...bindingVariants("ErrorCode").map((c) => `error.${c}`),
    ...bindingVariants("TerminalStatus").map((s) => `status.${s}`),
    ...bindingVariants("SaleState").map((s) => `state.${s}`),
    ...MONEY_ERRORS.map((e) => `validation.${e}`),
    ...LOCALES.map((l) => `lang.${l}`),
    ...LOCALES.map((l) => `lang.${l}.short`),
  ];

  it.each(LOCALES)("%s translates every ErrorCode, TerminalStatus, SaleState and validation error", (code) => {
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
