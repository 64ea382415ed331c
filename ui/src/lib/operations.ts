// What the UI reads out of an operation (the backend's OperationView): the
// card data, the fiscal receipt, and above all what happened to the money,
// as dictionary keys with their parameters. No transport, no components.
import type { CardData } from "../bindings/CardData";
import type { OperationView } from "../bindings/OperationView";
import type { PaymentView } from "../bindings/PaymentView";
import type { Params } from "./i18n";
import { roundCash } from "./money";
import { minor } from "./i18n";

/** A client idempotency key: 1 to 64 of `A-Z a-z 0-9 . _ : -` (a UUID). */
export function newKey(): string {
  const c = globalThis.crypto;
  // randomUUID needs a secure context; `kasa serve` on another address over plain HTTP is not one.
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The cash to ask for a new sale of `minor`: the amount rounded to 10
 * kopiykas (1..4 down, 5..9 up), as the register rounds a cash total:
 * 12,43 is paid with 12,40, 12,47 with 12,50, and no change is due. For the
 * rest of an operation, its view says it (`cash_due`).
 */
export function cashToTake(minor: number): number {
  return roundCash(minor);
}

/** The last element (Array.prototype.at is ES2022; the desktop web view targets ES2021). */
const last = <T>(list: T[]): T | undefined => list[list.length - 1];

const isCard = (p: PaymentView) => p.method === "card" && p.card_action === "purchase";

/** Card payments approved (charged), in kopiykas. */
export function charged(op: OperationView): number {
  return op.payments.filter((p) => isCard(p) && p.state === "approved").reduce((sum, p) => sum + p.approved, 0);
}

/** Card payments charged and then given back on the terminal, in kopiykas. */
export function reversed(op: OperationView): number {
  return op.payments.filter((p) => isCard(p) && p.state === "reversed").reduce((sum, p) => sum + p.approved, 0);
}

/** Cash taken (handed over by the customer), in kopiykas. */
export function cashTaken(op: OperationView): number {
  return op.payments
    .filter((p) => p.method === "cash" && p.state === "approved")
    .reduce((sum, p) => sum + (p.tendered ?? p.approved), 0);
}

/** The card data to show: the newest approved card payment's (or a reversed one's). */
export function cardOf(op: OperationView): CardData | null {
  const withCard = op.payments.filter((p) => p.card !== null && p.method === "card");
  const approved = withCard.filter((p) => p.state === "approved");
  return (last(approved) ?? last(withCard))?.card ?? null;
}

/** The last card decline (code and message), if a card payment was declined or cancelled. */
export function declineOf(op: OperationView): { code: string; message: string } | null {
  const declined = op.payments.filter((p) => p.method === "card" && p.decline !== null);
  return last(declined)?.decline ?? null;
}

/** The number of the fiscal receipt printed for the operation, if there is one. */
export function receiptNumber(op: OperationView): number | null {
  const kinds = op.kind === "sale" ? ["sale_receipt"] : ["return_receipt", op.kind];
  const doc = last(op.documents.filter((d) => kinds.includes(d.kind) && d.number !== null));
  return doc?.number ?? null;
}

export type Line = { key: string; params?: Params };

/** An amount the translation formats for its language. */
const money = (value: number) => minor(value);

/**
 * What happened to the money, in plain words, as dictionary keys: every
 * result panel says it ("the card was not charged", "charged; the receipt
 * will be printed again").
 */
export function moneyLines(op: OperationView): Line[] {
  const card = charged(op);
  const back = reversed(op);
  const cash = cashTaken(op);
  // A card payment the terminal cannot account for; a person is asked, so one
  // still "pending" there was never confirmed either way.
  const unknown = op.payments.filter(
    (p) => isCard(p) && (p.state === "unknown" || (op.state === "needs_attention" && p.state === "pending")),
  );
  const receipt = receiptNumber(op);
  const code = op.problem?.code ?? "";
  const lines: Line[] = [];

  if (op.kind !== "sale") {
    const amount = { amount: money(op.total) };
    const printed = receipt !== null ? [{ key: "money.document_printed", params: { number: receipt } }] : [];
    if (op.state === "done") {
      switch (op.kind) {
        case "refund":
        case "void":
          return [{ key: `money.${op.kind}_done`, params: amount }, ...printed];
        case "cash_refund":
        case "cash_in":
        case "cash_out":
          return [{ key: `money.${op.kind}_done`, params: amount }, ...printed];
        case "x_report":
          return [{ key: "money.x_report_done" }, ...printed];
        default:
          return [{ key: "money.other.done" }];
      }
    }
    if ((op.kind === "refund" || op.kind === "void") && (op.state === "declined" || op.state === "cancelled" || op.state === "failed")) {
      return [{ key: "money.nothing_returned" }];
    }
    // Say what the journal says.
    lines.push({ key: "money.other.not_done" });
    return lines;
  }

  switch (op.state) {
    case "done":
      if (card > 0) lines.push({ key: "money.card_charged", params: { amount: money(card) } });
      if (cash > 0) lines.push({ key: "money.cash_taken", params: { amount: money(cash), change: money(op.change) } });
      lines.push(receipt !== null ? { key: "money.receipt_printed", params: { number: receipt } } : { key: "money.receipt_done" });
      break;
    case "declined":
      lines.push({ key: "money.not_charged" });
      break;
    case "cancelled":
      if (back > 0) lines.push({ key: "money.returned", params: { amount: money(back) } });
      else if (card > 0) lines.push({ key: "money.card_charged_cancelled", params: { amount: money(card) } });
      else lines.push({ key: "money.not_charged" });
      break;
    case "failed":
      lines.push({ key: "money.failed" });
      break;
    case "awaiting_payment":
      lines.push({
        key: "money.partial",
        params: { paid: money(op.paid), total: money(op.total), remaining: money(op.remaining) },
      });
      break;
    case "needs_attention":
    case "running":
      if (unknown.length > 0) {
        const amount = unknown.reduce((sum, p) => sum + p.requested, 0);
        lines.push({ key: "money.unknown", params: { amount: money(amount) } });
      } else if (card > 0 && receipt === null) {
        lines.push({
          key: op.state === "running" ? "money.charged_receipt_pending" : "money.charged_no_receipt",
          params: { amount: money(card) },
        });
      } else if (card > 0) {
        lines.push({ key: "money.card_charged", params: { amount: money(card) } });
      } else if (op.state === "running" && code.startsWith("terminal.")) {
        // The terminal has not answered yet: the charge may be on its way.
        lines.push({ key: "money.terminal_unknown" });
      } else if (op.state === "running") {
        lines.push({ key: "money.in_progress" });
      } else {
        lines.push({ key: "money.not_charged" });
      }
      if (cash > 0) lines.push({ key: "money.cash_taken", params: { amount: money(cash), change: money(op.change) } });
      break;
  }
  return lines;
}
