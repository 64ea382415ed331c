// Operation views as the backend sends them, for the unit tests.
import type { CardData } from "./bindings/CardData";
import type { OperationView } from "./bindings/OperationView";
import type { PaymentView } from "./bindings/PaymentView";

export const CARD: CardData = {
  rrn: "412345678901",
  auth_code: "123456",
  masked_pan: "411111******1111",
  card_scheme: "VISA",
  terminal_id: "T1",
  merchant_id: "M1",
  invoice: "000007",
  batch: "000001",
  response_code: "00",
  date_time: "2026-11-22T10:00:00",
  signature_required: false,
};

export function cardPayment(over: Partial<PaymentView> = {}): PaymentView {
  return {
    id: 1,
    method: "card",
    card_action: "purchase",
    state: "approved",
    requested: 1250,
    approved: 1250,
    tendered: null,
    change: null,
    partial: false,
    card: CARD,
    decline: null,
    ...over,
  };
}

export function cashPayment(over: Partial<PaymentView> = {}): PaymentView {
  return {
    id: 2,
    method: "cash",
    card_action: "none",
    state: "approved",
    requested: 1250,
    approved: 1250,
    tendered: 1250,
    change: 0,
    partial: false,
    card: null,
    decline: null,
    ...over,
  };
}

let clock = 0;

/** A sale; each call is a little newer than the one before (updated_at). */
export function operation(over: Partial<OperationView> = {}): OperationView {
  clock += 1;
  const at = new Date(Date.UTC(2026, 10, 22, 10, 0, 0) + clock * 10).toISOString();
  return {
    id: 12,
    key: "key-12",
    kind: "sale",
    state: "done",
    total: 1250,
    paid: 1250,
    remaining: 0,
    cash_due: 0,
    change: 0,
    payments: [cardPayment()],
    documents: [{ kind: "sale_receipt", number: 345, amount: 1250, text: null }],
    step: null,
    original_id: null,
    problem: null,
    business_day: "2026-11-22",
    created_at: "2026-11-22T10:00:00Z",
    updated_at: at,
    ...over,
  };
}
