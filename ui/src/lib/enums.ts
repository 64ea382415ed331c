// Runtime lists of the string enums generated from Rust (src/bindings/).
// Each list is written as a Record over the generated type, so `npm run check`
// fails when the Rust side adds or removes a variant; the unit tests also read
// the binding files themselves and compare.
import type { ErrorCode } from "../bindings/ErrorCode";
import type { SaleState } from "../bindings/SaleState";
import type { TerminalStatus } from "../bindings/TerminalStatus";

const errorCodes: Record<ErrorCode, true> = {
  invalid_amount: true,
  invalid_request: true,
  terminal_error: true,
  fiscal_error: true,
  busy: true,
  storage: true,
  not_found: true,
  internal: true,
};

const terminalStatuses: Record<TerminalStatus, true> = {
  connecting: true,
  waiting_for_card: true,
  card_read: true,
  chip_processing: true,
  enter_pin: true,
  authorising: true,
  printing: true,
  remove_card: true,
  finished: true,
  idle: true,
  waiting_for_cashier: true,
  select_application: true,
  in_progress: true,
  correction: true,
  cancelling: true,
};

const saleStates: Record<SaleState, true> = {
  intent: true,
  terminal_sent: true,
  approved: true,
  fiscal_sent: true,
  done: true,
  declined: true,
  cancelled: true,
  needs_attention: true,
};

export const ERROR_CODES = Object.keys(errorCodes) as ErrorCode[];
export const TERMINAL_STATUSES = Object.keys(terminalStatuses) as TerminalStatus[];
export const SALE_STATES = Object.keys(saleStates) as SaleState[];

/** States after which nothing more happens to a sale without a person acting. */
export const FINAL_STATES: readonly SaleState[] = ["done", "declined", "cancelled", "needs_attention"];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(errorCodes, value);
}
