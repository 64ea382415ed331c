import { describe, expect, it } from "vitest";
import { cardPayment, cashPayment, operation } from "../test-fixtures";
import { dictionaries, translate } from "./i18n";
import { cardOf, cashToTake, charged, declineOf, moneyLines, newKey, receiptNumber } from "./operations";

const keys = (op: ReturnType<typeof operation>) => moneyLines(op).map((l) => l.key);
const text = (op: ReturnType<typeof operation>) => moneyLines(op).map((l) => translate("en", l.key, l.params));

describe("newKey", () => {
  it("makes a different key each time, of the characters the backend accepts", () => {
    const a = newKey();
    const b = newKey();
    expect(a).not.toBe(b);
    for (const k of [a, b]) expect(k).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
  });
});

describe("cashToTake", () => {
  it("is the amount rounded to 10 kopiykas as the register rounds cash (1..4 down, 5..9 up)", () => {
    expect(cashToTake(1250)).toBe(1250);
    expect(cashToTake(1247)).toBe(1250);
    expect(cashToTake(1245)).toBe(1250);
    expect(cashToTake(1244)).toBe(1240);
    expect(cashToTake(1243)).toBe(1240);
    expect(cashToTake(333)).toBe(330);
    expect(cashToTake(7)).toBe(10);
    expect(cashToTake(3)).toBe(0);
  });
});

describe("reading an operation", () => {
  it("finds the card data, the charge and the receipt number", () => {
    const op = operation();
    expect(cardOf(op)?.rrn).toBe("412345678901");
    expect(charged(op)).toBe(1250);
    expect(receiptNumber(op)).toBe(345);
  });

  it("has no receipt number before the receipt is printed", () => {
    expect(receiptNumber(operation({ documents: [] }))).toBeNull();
  });

  it("finds the decline of a declined card", () => {
    const op = operation({
      state: "declined",
      payments: [cardPayment({ state: "declined", approved: 0, card: null, decline: { code: "51", message: "Insufficient funds" } })],
    });
    expect(declineOf(op)).toEqual({ code: "51", message: "Insufficient funds" });
    expect(charged(op)).toBe(0);
  });
});

describe("what happened to the money", () => {
  it("done by card: charged, and the receipt's number", () => {
    expect(text(operation())).toEqual(["The card was charged UAH 12.50.", "Fiscal receipt no. 345 is printed."]);
  });

  it("done in cash: taken, and the change", () => {
    const op = operation({ payments: [cashPayment({ tendered: 1300 })], change: 50 });
    expect(text(op)).toEqual(["Cash taken: UAH 13.00; change UAH 0.50.", "Fiscal receipt no. 345 is printed."]);
  });

  it("declined: the card was not charged", () => {
    const op = operation({ state: "declined", payments: [cardPayment({ state: "declined", approved: 0 })], documents: [] });
    expect(keys(op)).toEqual(["money.not_charged"]);
  });

  it("a partial approval says what was approved and what is left, never paid", () => {
    const op = operation({
      state: "awaiting_payment",
      total: 1250,
      paid: 1000,
      remaining: 250,
      payments: [cardPayment({ requested: 1250, approved: 1000, partial: true })],
      documents: [],
    });
    expect(text(op)).toEqual(["Only UAH 10.00 of UAH 12.50 was charged to the card. UAH 2.50 is left to pay."]);
  });

  it("cancelled after a charge: the money went back to the card", () => {
    const op = operation({ state: "cancelled", payments: [cardPayment({ state: "reversed" })], documents: [] });
    expect(text(op)).toEqual(["The UAH 12.50 charged was returned to the card."]);
  });

  it("failed: nothing charged, nothing printed", () => {
    expect(keys(operation({ state: "failed", payments: [cardPayment({ state: "cancelled", approved: 0 })], documents: [] }))).toEqual([
      "money.failed",
    ]);
  });

  it("needs attention with the card charged and no receipt: charged, print again", () => {
    const op = operation({
      state: "needs_attention",
      documents: [],
      problem: { code: "fiscal.paper_out", message: "paper out", actions: ["print_again", "cancel", "resolve"] },
    });
    expect(keys(op)).toEqual(["money.charged_no_receipt"]);
  });

  it("while the receipt is printed again: charged; the receipt will be printed", () => {
    const op = operation({ state: "running", step: "receipt", documents: [] });
    expect(keys(op)).toEqual(["money.charged_receipt_pending"]);
  });

  it("an unknown card outcome is never called charged or not charged", () => {
    const op = operation({
      state: "needs_attention",
      payments: [cardPayment({ state: "unknown", approved: 0, card: null })],
      documents: [],
      problem: { code: "terminal.outcome_unknown", message: "", actions: ["retry_lookup", "resolve"] },
    });
    expect(text(op)).toEqual([
      "It is not known whether the card was charged UAH 12.50. Do not take the payment again until this is settled.",
    ]);
  });

  it("a terminal that does not answer yet: not known", () => {
    const op = operation({
      state: "running",
      step: "charge",
      payments: [cardPayment({ state: "pending", approved: 0, card: null })],
      documents: [],
      problem: { code: "terminal.transport.io", message: "", actions: [] },
    });
    expect(keys(op)).toEqual(["money.terminal_unknown"]);
  });

  it("every line it can give has a text in every language", () => {
    const all = Object.keys(dictionaries.uk).filter((k) => k.startsWith("money."));
    for (const lang of ["ru", "en"] as const) {
      expect(all.filter((k) => !(k in dictionaries[lang]))).toEqual([]);
    }
  });
});

describe("what the other operations did to the money", () => {
  it("a refund says how much went back to the card and which return receipt was printed", () => {
    const op = operation({ kind: "refund", total: 60000, documents: [{ kind: "return_receipt", number: 77, amount: 60000, text: null }] });
    expect(text(op)).toEqual(["UAH 600.00 was returned to the card.", "Document no. 77 is printed."]);
  });

  it("a declined refund or void returned nothing", () => {
    for (const kind of ["refund", "void"] as const) {
      expect(keys(operation({ kind, state: "declined", documents: [] }))).toEqual(["money.nothing_returned"]);
    }
  });

  it("cash in, cash out and the X report say what moved and what was printed", () => {
    expect(text(operation({ kind: "cash_in", total: 10000, payments: [], documents: [] }))).toEqual([
      "UAH 100.00 was put into the drawer.",
    ]);
    expect(keys(operation({ kind: "cash_out", total: 4000, payments: [], documents: [] }))).toEqual(["money.cash_out_done"]);
    expect(keys(operation({ kind: "x_report", total: 0, payments: [], documents: [] }))).toEqual(["money.x_report_done"]);
  });
});
