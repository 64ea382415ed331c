// Runtime lists of the string enums generated from Rust (src/bindings/).
// Each list is written as a Record over the generated type, so `npm run check`
// fails when the Rust side adds or removes a variant; the unit tests also read
// the binding files themselves and compare, and check that every value has a
// translation in every language.
import type { ErrorCode } from "../bindings/ErrorCode";
import type { OperationKind } from "../bindings/OperationKind";
import type { OperationState } from "../bindings/OperationState";
import type { PaymentMethod } from "../bindings/PaymentMethod";
import type { PaymentState } from "../bindings/PaymentState";
import type { Resolution } from "../bindings/Resolution";
import type { SafeAction } from "../bindings/SafeAction";
import type { TerminalStatus } from "../bindings/TerminalStatus";

const errorCodes: Record<ErrorCode, true> = {
  invalid_amount: true,
  invalid_request: true,
  not_allowed: true,
  key_reused: true,
  unresolved: true,
  terminal_error: true,
  fiscal_error: true,
  busy: true,
  storage: true,
  not_found: true,
  unknown_command: true,
  too_large: true,
  login_required: true,
  wrong_pin: true,
  locked_out: true,
  approval_required: true,
  report_font_missing: true,
  export_not_ready: true,
  internal: true,
  invalid_settings: true,
  confirmation_required: true,
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

const operationStates: Record<OperationState, true> = {
  running: true,
  awaiting_payment: true,
  done: true,
  declined: true,
  cancelled: true,
  failed: true,
  needs_attention: true,
};

const paymentStates: Record<PaymentState, true> = {
  pending: true,
  approved: true,
  declined: true,
  cancelled: true,
  reversed: true,
  unknown: true,
};

const safeActions: Record<SafeAction, true> = {
  print_again: true,
  cancel: true,
  retry_lookup: true,
  resolve: true,
};

const operationKinds: Record<OperationKind, true> = {
  sale: true,
  refund: true,
  void: true,
  cash_refund: true,
  cash_in: true,
  cash_out: true,
  x_report: true,
  day_close: true,
};

const paymentMethods: Record<PaymentMethod, true> = { card: true, cash: true };

const resolutions: Record<Resolution, true> = { done: true, cancelled: true };

const keys = <T extends string>(r: Record<T, true>) => Object.keys(r) as T[];

export const ERROR_CODES = keys(errorCodes);
export const TERMINAL_STATUSES = keys(terminalStatuses);
export const OPERATION_STATES = keys(operationStates);
export const PAYMENT_STATES = keys(paymentStates);
export const SAFE_ACTIONS = keys(safeActions);
export const OPERATION_KINDS = keys(operationKinds);
export const PAYMENT_METHODS = keys(paymentMethods);
export const RESOLUTIONS = keys(resolutions);

/**
 * Each generated enum, the binding file it comes from, and the dictionary
 * prefix its values are translated under (`state.done`, `action.cancel`...).
 */
export const TRANSLATED_ENUMS: readonly { binding: string; prefix: string; values: readonly string[] }[] = [
  { binding: "ErrorCode", prefix: "error", values: ERROR_CODES },
  { binding: "TerminalStatus", prefix: "status", values: TERMINAL_STATUSES },
  { binding: "OperationState", prefix: "state", values: OPERATION_STATES },
  { binding: "PaymentState", prefix: "payment_state", values: PAYMENT_STATES },
  { binding: "SafeAction", prefix: "action", values: SAFE_ACTIONS },
  { binding: "OperationKind", prefix: "kind", values: OPERATION_KINDS },
  { binding: "PaymentMethod", prefix: "method", values: PAYMENT_METHODS },
  { binding: "Resolution", prefix: "resolution", values: RESOLUTIONS },
];

const has = (r: object, v: unknown): boolean => typeof v === "string" && Object.prototype.hasOwnProperty.call(r, v);

export function isErrorCode(value: unknown): value is ErrorCode {
  return has(errorCodes, value);
}

export function isOperationState(value: unknown): value is OperationState {
  return has(operationStates, value);
}

export function isTerminalStatus(value: unknown): value is TerminalStatus {
  return has(terminalStatuses, value);
}

/** The engine stopped working on it: final, or waiting for a person (awaiting a payment, needing attention). */
export function isSettled(state: OperationState): boolean {
  return state !== "running";
}

/** Nothing more happens to the operation, by itself or by a person. */
export function isFinal(state: OperationState): boolean {
  return state === "done" || state === "declined" || state === "cancelled" || state === "failed";
}
