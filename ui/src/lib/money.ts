// Money helpers. Amounts are integers of minor units (kopiykas) everywhere,
// and travel to the backend as JSON integers; no floating-point arithmetic
// touches a money value.

/** The largest amount a single sale may take: 10 000 000.00 UAH. */
export const MAX_MINOR = 1_000_000_000;

/** Why an amount typed by the cashier was refused (each has a translation `validation.<error>`). */
export type MoneyError = "empty" | "not_a_number" | "not_positive" | "too_many_decimals" | "too_large";

export const MONEY_ERRORS: readonly MoneyError[] = [
  "empty",
  "not_a_number",
  "not_positive",
  "too_many_decimals",
  "too_large",
];

export type ParseResult = { ok: true; minor: number } | { ok: false; error: MoneyError };

// Whole part: plain digits, or digits grouped by threes with a space
// (ordinary, no-break or narrow no-break), as "1 250,00" is written in Ukrainian.
// Then an optional decimal separator (dot or comma) and digits.
const AMOUNT = /^(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d*)(?:[.,](\d*))?$/;
const MINUS = /^[-\u2212\u2013]\s*/;

/**
 * Parses a cashier's input ("12.50", "12,5", " 7 ", "1 250,00") into minor units.
 * Refuses empty input, anything not a plain decimal number (no exponent, no sign
 * other than a minus, which is refused as not positive), zero or less, more than
 * two decimals, and more than MAX_MINOR.
 */
export function parseAmount(input: string): ParseResult {
  let s = input.trim();
  if (s === "") return { ok: false, error: "empty" };

  let negative = false;
  if (MINUS.test(s)) {
    negative = true;
    s = s.replace(MINUS, "");
  }

  const m = AMOUNT.exec(s);
  if (!m) return { ok: false, error: "not_a_number" };
  const whole = m[1].replace(/\D/g, "");
  const fraction = m[2] ?? "";
  if (whole === "" && fraction === "") return { ok: false, error: "not_a_number" };
  if (fraction.length > 2) return { ok: false, error: "too_many_decimals" };
  if (negative) return { ok: false, error: "not_positive" };

  const significant = whole.replace(/^0+/, "");
  // More than 8 whole digits is more than 99 999 999 UAH: too large, and we stop
  // before building a number that could lose precision.
  if (significant.length > 8) return { ok: false, error: "too_large" };

  const minor = Number(significant || "0") * 100 + Number(fraction.padEnd(2, "0"));
  if (minor <= 0) return { ok: false, error: "not_positive" };
  if (minor > MAX_MINOR) return { ok: false, error: "too_large" };
  return { ok: true, minor };
}

export function splitMinor(minor: number | bigint): { sign: string; whole: string; cents: string } {
  const n = typeof minor === "bigint" ? minor : BigInt(Math.trunc(Number(minor)));
  const negative = n < 0n;
  const abs = negative ? -n : n;
  return {
    sign: negative ? "-" : "",
    whole: (abs / 100n).toString(),
    cents: (abs % 100n).toString().padStart(2, "0"),
  };
}

/**
 * Formats minor units the Ukrainian way: 1250 → "12,50", 125000 → "1 250,00"
 * (thousands grouped with a no-break space). Integer math only.
 */
export function formatMinor(minor: number | bigint): string {
  const { sign, whole, cents } = splitMinor(minor);
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
  return `${sign}${grouped},${cents}`;
}

/**
 * The cash due for `minor`, rounded to 10 kopiykas as Ukrainian cash is
 * (1..4 down, 5..9 up): 1247 → 1250, 1244 → 1240. The same rule as
 * `round_cash` in checkout/src/money.rs. Only for a sale not made yet (the
 * cash button asks for it): once there is an operation, what its rest costs
 * in cash is the view's `cash_due`.
 */
export function roundCash(minor: number): number {
  const r = ((minor % 10) + 10) % 10;
  return r >= 5 ? minor - r + 10 : minor - r;
}
