import { describe, expect, it } from "vitest";
import { MAX_MINOR, formatMinor, parseAmount, roundCash } from "./money";

const ok = (minor: number) => ({ ok: true, minor });
const err = (error: string) => ({ ok: false, error });

describe("parseAmount", () => {
  it.each([
    ["12.50", 1250],
    ["12,5", 1250],
    [" 7 ", 700],
    ["7", 700],
    ["0.01", 1],
    ["0,1", 10],
    [",5", 50],
    ["12.", 1200],
    ["007.10", 710],
    ["1 250,00", 125000],
    ["1\u00a0250,75", 125075],
    ["10 000 000", MAX_MINOR],
    ["10000000.00", MAX_MINOR],
  ])("accepts %j as %d kopiykas", (input, minor) => {
    expect(parseAmount(input)).toEqual(ok(minor));
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["abc", "not_a_number"],
    ["12a", "not_a_number"],
    ["1e3", "not_a_number"],
    ["0x10", "not_a_number"],
    ["+5", "not_a_number"],
    [".", "not_a_number"],
    ["1.2.3", "not_a_number"],
    ["12,50 грн", "not_a_number"],
    ["1 25", "not_a_number"],
    ["Infinity", "not_a_number"],
    ["NaN", "not_a_number"],
    ["-5", "not_positive"],
    ["\u22125", "not_positive"],
    ["0", "not_positive"],
    ["0,00", "not_positive"],
    ["-0", "not_positive"],
    ["1.234", "too_many_decimals"],
    ["0,001", "too_many_decimals"],
    ["10000000.01", "too_large"],
    ["10 000 001", "too_large"],
    ["99999999999999999999999", "too_large"],
    ["1".padEnd(400, "0"), "too_large"],
  ])("refuses %j as %s", (input, error) => {
    expect(parseAmount(input)).toEqual(err(error));
  });
});

describe("formatMinor", () => {
  it.each([
    [1250, "12,50"],
    [0, "0,00"],
    [1, "0,01"],
    [10, "0,10"],
    [100, "1,00"],
    [99999, "999,99"],
    [125000, "1\u00a0250,00"],
    [MAX_MINOR, "10\u00a0000\u00a0000,00"],
    [-1250, "-12,50"],
    [123456789012345n, "1\u00a0234\u00a0567\u00a0890\u00a0123,45"],
  ])("formats %d as %j", (minor, text) => {
    expect(formatMinor(minor)).toBe(text);
  });

  it("round-trips through parseAmount", () => {
    for (const minor of [1, 9, 10, 99, 100, 101, 1250, 123456, MAX_MINOR]) {
      expect(parseAmount(formatMinor(minor))).toEqual(ok(minor));
    }
  });
});

describe("roundCash", () => {
  it.each([
    [1250, 1250],
    [1244, 1240],
    [1245, 1250],
    [1249, 1250],
    [1, 0],
    [5, 10],
    [MAX_MINOR, MAX_MINOR],
  ])("rounds %d kopiykas of cash to %d", (minor, rounded) => {
    expect(roundCash(minor)).toBe(rounded);
  });
});

describe("parseAmount gives integers only", () => {
  it.each(["12.50", "12,5", "0.29", "1 250,07", "10000000.00", "0,57"])("%j is a safe integer", (input) => {
    const r = parseAmount(input);
    expect(r.ok).toBe(true);
    if (r.ok) expect(Number.isSafeInteger(r.minor)).toBe(true);
    // What goes on the wire: a plain JSON integer, never a fraction or an exponent.
    if (r.ok) expect(JSON.stringify({ amount: r.minor })).toMatch(/^\{"amount":\d+\}$/);
  });
});
