// Generated from checkout/src/commands.rs by `make bindings`; do not edit.
import type { ActionRequest } from "./ActionRequest";
import type { AddPaymentRequest } from "./AddPaymentRequest";
import type { AppInfo } from "./AppInfo";
import type { AuditVerifyQuery } from "./AuditVerifyQuery";
import type { CashMoveRequest } from "./CashMoveRequest";
import type { CashRefundRequest } from "./CashRefundRequest";
import type { DayList } from "./DayList";
import type { DayQuery } from "./DayQuery";
import type { DayReport } from "./DayReport";
import type { DayStatus } from "./DayStatus";
import type { DaysQuery } from "./DaysQuery";
import type { DeviceHealth } from "./DeviceHealth";
import type { DeviceTestRequest } from "./DeviceTestRequest";
import type { DeviceTestResult } from "./DeviceTestResult";
import type { Empty } from "./Empty";
import type { ExportCancelRequest } from "./ExportCancelRequest";
import type { ExportJob } from "./ExportJob";
import type { ExportQuery } from "./ExportQuery";
import type { ExportRequest } from "./ExportRequest";
import type { ExportSaveRequest } from "./ExportSaveRequest";
import type { ExportSaved } from "./ExportSaved";
import type { FirstManagerRequest } from "./FirstManagerRequest";
import type { KeyQuery } from "./KeyQuery";
import type { KeyRequest } from "./KeyRequest";
import type { LanguageRequest } from "./LanguageRequest";
import type { LoginOptions } from "./LoginOptions";
import type { LoginRequest } from "./LoginRequest";
import type { LogoutRequest } from "./LogoutRequest";
import type { MaybeOperation } from "./MaybeOperation";
import type { OperationDetail } from "./OperationDetail";
import type { OperationList } from "./OperationList";
import type { OperationQuery } from "./OperationQuery";
import type { OperationView } from "./OperationView";
import type { PaymentLookup } from "./PaymentLookup";
import type { QuickItemList } from "./QuickItemList";
import type { ReceiptTape } from "./ReceiptTape";
import type { RefundRequest } from "./RefundRequest";
import type { ResolveRequest } from "./ResolveRequest";
import type { Role } from "./Role";
import type { RrnQuery } from "./RrnQuery";
import type { SaleRequest } from "./SaleRequest";
import type { SaveUserRequest } from "./SaveUserRequest";
import type { ScanPortsQuery } from "./ScanPortsQuery";
import type { ScanReport } from "./ScanReport";
import type { SearchPage } from "./SearchPage";
import type { SearchQuery } from "./SearchQuery";
import type { SessionState } from "./SessionState";
import type { SessionView } from "./SessionView";
import type { SettingsCheck } from "./SettingsCheck";
import type { SettingsSaveRequest } from "./SettingsSaveRequest";
import type { SettingsSaved } from "./SettingsSaved";
import type { SettingsValidateQuery } from "./SettingsValidateQuery";
import type { SettingsView } from "./SettingsView";
import type { SettlementList } from "./SettlementList";
import type { ShiftQuery } from "./ShiftQuery";
import type { ShiftView } from "./ShiftView";
import type { TapeQuery } from "./TapeQuery";
import type { UserList } from "./UserList";
import type { UserView } from "./UserView";
import type { Verification } from "./Verification";
import type { VoidRequest } from "./VoidRequest";

/** Every command: its request and response types. */
export interface Commands {
  /** Version and mode of the running Kasa. */
  info: { request: Empty; response: AppInfo };
  /** Who the login screen offers, demo mode's training PINs, and whether this is the first run (no user yet). */
  login_options: { request: Empty; response: LoginOptions };
  /** Log in by PIN; wrong PINs in a row lock the user out for a while. */
  login: { request: LoginRequest; response: SessionView };
  /** End the session. */
  logout: { request: LogoutRequest; response: SessionState };
  /** The session, if any. */
  whoami: { request: Empty; response: SessionState };
  /** The first run: create the first manager and log in. */
  first_manager: { request: FirstManagerRequest; response: SessionView };
  /** Remember the logged-in user's language. */
  set_language: { request: LanguageRequest; response: SessionState };
  /** Every user. */
  users: { request: Empty; response: UserList };
  /** Create or change a user (name, role, fiscal operator, PIN, active). */
  save_user: { request: SaveUserRequest; response: UserView };
  /** A sale: items or a free amount, by card, cash or both. */
  sale: { request: SaleRequest; response: OperationView };
  /** Pay the rest of a sale after a partial approval or a decline. */
  add_payment: { request: AddPaymentRequest; response: OperationView };
  /** Cancel: stop a card step waiting for the customer, or give back the card payments of a sale awaiting payment or attention. */
  cancel: { request: ActionRequest; response: OperationView };
  /** The card payment with an RRN, its sale and what is left to give back. */
  find_payment: { request: RrnQuery; response: PaymentLookup };
  /** A card refund by RRN, full or partial (a cashier's above the limit needs a manager's PIN). */
  refund: { request: RefundRequest; response: OperationView };
  /** A void by invoice inside the terminal's open batch (a cashier's needs a manager's PIN). */
  void: { request: VoidRequest; response: OperationView };
  /** Money back in cash for a sale (a cashier's above the limit needs a manager's PIN). */
  cash_refund: { request: CashRefundRequest; response: OperationView };
  /** Cash into the drawer. */
  cash_in: { request: CashMoveRequest; response: OperationView };
  /** Cash out of the drawer. */
  cash_out: { request: CashMoveRequest; response: OperationView };
  /** The fiscal X report. */
  x_report: { request: KeyRequest; response: OperationView };
  /** Print the receipt of an operation that needs attention again, with the same data. */
  print_again: { request: ActionRequest; response: OperationView };
  /** Ask the terminal again about a payment it could not account for. */
  retry_lookup: { request: ActionRequest; response: OperationView };
  /** A customer's copy of a finished receipt (non-fiscal). */
  customer_copy: { request: ActionRequest; response: OperationView };
  /** Close an operation that needs attention by hand, with a reason (a cashier's needs a manager's PIN). */
  resolve: { request: ResolveRequest; response: OperationView };
  /** One operation. */
  operation: { request: OperationQuery; response: OperationView };
  /** What became of a request key. */
  by_key: { request: KeyQuery; response: MaybeOperation };
  /** The newest unfinished operation (a reloaded screen follows it). */
  current: { request: Empty; response: MaybeOperation };
  /** The unfinished operations. */
  unresolved: { request: Empty; response: OperationList };
  /** The shop's frequent items for the cashier screen. */
  quick_items: { request: Empty; response: QuickItemList };
  /** Demo mode's virtual receipt tape. */
  receipt_tape: { request: TapeQuery; response: ReceiptTape };
  /** What blocks card payments now, and what to fix soon. */
  device_health: { request: Empty; response: DeviceHealth };
  /** Where the shop's day stands: its business day, the open shift and how near its 24 hours, what is unresolved, settlements pending. */
  day_status: { request: Empty; response: DayStatus };
  /** The day close: each merchant settled, the fiscal Z, the three-way reconciliation. Refused while an operation is unresolved. */
  day_close: { request: KeyRequest; response: OperationView };
  /** Run the settlements a day close left pending. */
  settle_pending: { request: KeyRequest; response: SettlementList };
  /** The business days, newest first. */
  days: { request: DaysQuery; response: DayList };
  /** One business day: totals per merchant and payment type, batches, hours, shifts with their settlements and reconciliation. */
  day_report: { request: DayQuery; response: DayReport };
  /** One fiscal shift. */
  shift_report: { request: ShiftQuery; response: ShiftView };
  /** Search the transactions, a page at a time, with totals. */
  search: { request: SearchQuery; response: SearchPage };
  /** One operation with its steps, history, documents and audit rows. */
  operation_detail: { request: OperationQuery; response: OperationDetail };
  /** Check the audit chain (against the head printed on the last Z). */
  audit_verify: { request: AuditVerifyQuery; response: Verification };
  /** Which device answers on which serial port (with its USB identity) or TCP address: the fiscal register and its dialect, the terminal and its protocol. Sends nothing that moves money or prints. */
  scan_ports: { request: ScanPortsQuery; response: ScanReport };
  /** A test button: fiscal status, a non-fiscal test receipt, terminal ping or identify, the terminal's host check; on the running devices or on a candidate configuration. */
  device_test: { request: DeviceTestRequest; response: DeviceTestResult };
  /** The settings, every password blanked (and named when set). */
  settings_view: { request: Empty; response: SettingsView };
  /** The field errors of candidate settings (codes and field paths). */
  settings_validate: { request: SettingsValidateQuery; response: SettingsCheck };
  /** Save settings: checked, a switch between demo and production only when confirmed, written atomically, audited; says what changed and whether Kasa must restart. */
  settings_save: { request: SettingsSaveRequest; response: SettingsSaved };
  /** Start an export: the daily, batch or reconciliation report as PDF, or transactions as CSV; it runs on, fetch it at `GET /api/exports/{id}`. */
  export_start: { request: ExportRequest; response: ExportJob };
  /** Where an export stands: its rows so far, its file once done. */
  export_status: { request: ExportQuery; response: ExportJob };
  /** Stop an export; it leaves no file. */
  export_cancel: { request: ExportCancelRequest; response: ExportJob };
  /** Save a finished export in this computer's downloads folder (the desktop window's download). */
  export_save: { request: ExportSaveRequest; response: ExportSaved };
  /** The support bundle for the installer to send: a zip of the settings without secrets, the logs, the devices and the last operations (cards masked); fetched and saved like an export. */
  support_bundle: { request: KeyRequest; response: ExportJob };
}

export type CommandName = keyof Commands;

/** The role each command needs (null: anyone), and whether it changes state. */
export const COMMANDS: { readonly [K in CommandName]: { role: Role | null; mutating: boolean } } = {
  info: { role: null, mutating: false },
  login_options: { role: null, mutating: false },
  login: { role: null, mutating: true },
  logout: { role: null, mutating: true },
  whoami: { role: null, mutating: false },
  first_manager: { role: null, mutating: true },
  set_language: { role: "cashier", mutating: true },
  users: { role: "manager", mutating: false },
  save_user: { role: "manager", mutating: true },
  sale: { role: "cashier", mutating: true },
  add_payment: { role: "cashier", mutating: true },
  cancel: { role: "cashier", mutating: true },
  find_payment: { role: "cashier", mutating: false },
  refund: { role: "cashier", mutating: true },
  void: { role: "cashier", mutating: true },
  cash_refund: { role: "cashier", mutating: true },
  cash_in: { role: "cashier", mutating: true },
  cash_out: { role: "cashier", mutating: true },
  x_report: { role: "cashier", mutating: true },
  print_again: { role: "cashier", mutating: true },
  retry_lookup: { role: "cashier", mutating: true },
  customer_copy: { role: "cashier", mutating: true },
  resolve: { role: "cashier", mutating: true },
  operation: { role: "cashier", mutating: false },
  by_key: { role: "cashier", mutating: false },
  current: { role: "cashier", mutating: false },
  unresolved: { role: "cashier", mutating: false },
  quick_items: { role: "cashier", mutating: false },
  receipt_tape: { role: "cashier", mutating: false },
  device_health: { role: "cashier", mutating: false },
  day_status: { role: "cashier", mutating: false },
  day_close: { role: "manager", mutating: true },
  settle_pending: { role: "manager", mutating: true },
  days: { role: "manager", mutating: false },
  day_report: { role: "manager", mutating: false },
  shift_report: { role: "manager", mutating: false },
  search: { role: "manager", mutating: false },
  operation_detail: { role: "manager", mutating: false },
  audit_verify: { role: "manager", mutating: false },
  scan_ports: { role: "installer", mutating: false },
  device_test: { role: "installer", mutating: true },
  settings_view: { role: "installer", mutating: false },
  settings_validate: { role: "installer", mutating: false },
  settings_save: { role: "installer", mutating: true },
  export_start: { role: "manager", mutating: true },
  export_status: { role: "manager", mutating: false },
  export_cancel: { role: "manager", mutating: true },
  export_save: { role: "manager", mutating: true },
  support_bundle: { role: "installer", mutating: true },
};

/** How a command reaches the backend (Tauri or HTTP). */
export type Call = <K extends CommandName>(name: K, request: Commands[K]["request"]) => Promise<Commands[K]["response"]>;

/** One typed function per command. */
export function client(call: Call) {
  return {
    info: (request: Empty): Promise<AppInfo> => call("info", request),
    login_options: (request: Empty): Promise<LoginOptions> => call("login_options", request),
    login: (request: LoginRequest): Promise<SessionView> => call("login", request),
    logout: (request: LogoutRequest): Promise<SessionState> => call("logout", request),
    whoami: (request: Empty): Promise<SessionState> => call("whoami", request),
    first_manager: (request: FirstManagerRequest): Promise<SessionView> => call("first_manager", request),
    set_language: (request: LanguageRequest): Promise<SessionState> => call("set_language", request),
    users: (request: Empty): Promise<UserList> => call("users", request),
    save_user: (request: SaveUserRequest): Promise<UserView> => call("save_user", request),
    sale: (request: SaleRequest): Promise<OperationView> => call("sale", request),
    add_payment: (request: AddPaymentRequest): Promise<OperationView> => call("add_payment", request),
    cancel: (request: ActionRequest): Promise<OperationView> => call("cancel", request),
    find_payment: (request: RrnQuery): Promise<PaymentLookup> => call("find_payment", request),
    refund: (request: RefundRequest): Promise<OperationView> => call("refund", request),
    void: (request: VoidRequest): Promise<OperationView> => call("void", request),
    cash_refund: (request: CashRefundRequest): Promise<OperationView> => call("cash_refund", request),
    cash_in: (request: CashMoveRequest): Promise<OperationView> => call("cash_in", request),
    cash_out: (request: CashMoveRequest): Promise<OperationView> => call("cash_out", request),
    x_report: (request: KeyRequest): Promise<OperationView> => call("x_report", request),
    print_again: (request: ActionRequest): Promise<OperationView> => call("print_again", request),
    retry_lookup: (request: ActionRequest): Promise<OperationView> => call("retry_lookup", request),
    customer_copy: (request: ActionRequest): Promise<OperationView> => call("customer_copy", request),
    resolve: (request: ResolveRequest): Promise<OperationView> => call("resolve", request),
    operation: (request: OperationQuery): Promise<OperationView> => call("operation", request),
    by_key: (request: KeyQuery): Promise<MaybeOperation> => call("by_key", request),
    current: (request: Empty): Promise<MaybeOperation> => call("current", request),
    unresolved: (request: Empty): Promise<OperationList> => call("unresolved", request),
    quick_items: (request: Empty): Promise<QuickItemList> => call("quick_items", request),
    receipt_tape: (request: TapeQuery): Promise<ReceiptTape> => call("receipt_tape", request),
    device_health: (request: Empty): Promise<DeviceHealth> => call("device_health", request),
    day_status: (request: Empty): Promise<DayStatus> => call("day_status", request),
    day_close: (request: KeyRequest): Promise<OperationView> => call("day_close", request),
    settle_pending: (request: KeyRequest): Promise<SettlementList> => call("settle_pending", request),
    days: (request: DaysQuery): Promise<DayList> => call("days", request),
    day_report: (request: DayQuery): Promise<DayReport> => call("day_report", request),
    shift_report: (request: ShiftQuery): Promise<ShiftView> => call("shift_report", request),
    search: (request: SearchQuery): Promise<SearchPage> => call("search", request),
    operation_detail: (request: OperationQuery): Promise<OperationDetail> => call("operation_detail", request),
    audit_verify: (request: AuditVerifyQuery): Promise<Verification> => call("audit_verify", request),
    scan_ports: (request: ScanPortsQuery): Promise<ScanReport> => call("scan_ports", request),
    device_test: (request: DeviceTestRequest): Promise<DeviceTestResult> => call("device_test", request),
    settings_view: (request: Empty): Promise<SettingsView> => call("settings_view", request),
    settings_validate: (request: SettingsValidateQuery): Promise<SettingsCheck> => call("settings_validate", request),
    settings_save: (request: SettingsSaveRequest): Promise<SettingsSaved> => call("settings_save", request),
    export_start: (request: ExportRequest): Promise<ExportJob> => call("export_start", request),
    export_status: (request: ExportQuery): Promise<ExportJob> => call("export_status", request),
    export_cancel: (request: ExportCancelRequest): Promise<ExportJob> => call("export_cancel", request),
    export_save: (request: ExportSaveRequest): Promise<ExportSaved> => call("export_save", request),
    support_bundle: (request: KeyRequest): Promise<ExportJob> => call("support_bundle", request),
  };
}
