//! Every command the UI can call, declared once: its name, request type,
//! response type, the role it needs and whether it changes state. From this
//! one list come the HTTP routes of `kasa serve` (`POST /api/cmd/<name>`),
//! the Tauri shell's `rpc` command, and the generated TypeScript client in
//! `ui/src/bindings/commands.ts` ([`typescript_client`]). Nothing keeps a
//! second list by hand.
//!
//! Requests are read strictly ([`parse`]): unknown fields are refused, money
//! is an integer of kopiykas, and an amount error is answered as
//! `invalid_amount`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{
    ActionRequest, AddPaymentRequest, AppInfo, CashMoveRequest, CashRefundRequest, DeviceHealth,
    Empty, KeyQuery, KeyRequest, OperationList, OperationQuery, OperationView, PaymentLookup,
    QuickItemList, ReceiptTape, RefundRequest, ResolveRequest, RrnQuery, SaleRequest, TapeQuery,
    VoidRequest,
};
use crate::auth::{
    FirstManagerRequest, LanguageRequest, LoginOptions, LoginRequest, LogoutRequest,
    SaveUserRequest, SessionState, SessionView, UserList, UserView,
};
use crate::engine::NewRequest;
use crate::export::{
    ExportCancelRequest, ExportJob, ExportQuery, ExportRequest, ExportSaveRequest, ExportSaved,
};
use crate::installer::{
    DeviceTestRequest, DeviceTestResult, ScanPortsQuery, ScanReport, SettingsCheck,
    SettingsSaveRequest, SettingsSaved, SettingsValidateQuery, SettingsView,
};
use crate::journal::audit::Verification;
use crate::money::AMOUNT_ERROR;
use crate::queries::{
    AuditVerifyQuery, DayList, DayQuery, DayReport, DayStatus, DaysQuery, OperationDetail,
    SearchPage, SearchQuery, SettlementList, ShiftQuery, ShiftView,
};
use crate::{Checkout, Error, Result};

/// A user's role; each role may also do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Manager,
    Installer,
}

/// Who may call a command: anyone (the login screen's commands), or a
/// logged-in user with at least a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Anyone,
    At(Role),
}

#[allow(non_upper_case_globals)]
mod access {
    //! The names the declaration list uses for [`Access`](super::Access).
    use super::{Access, Role};
    pub const Anyone: Access = Access::Anyone;
    pub const Cashier: Access = Access::At(Role::Cashier);
    pub const Manager: Access = Access::At(Role::Manager);
    /// The installer's: device set-up, the port scanner, the settings.
    pub const Installer: Access = Access::At(Role::Installer);
}

/// What a command did to the caller's session (login starts one, logout
/// ends it); the transport keeps the token (a cookie, the window's state).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SessionChange {
    #[default]
    Keep,
    Start(String),
    End,
}

/// Who is calling: a logged-in user, or nobody.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The name kept in the journal with what they did.
    pub actor: String,
    /// None: nobody is logged in.
    pub role: Option<Role>,
    pub user: Option<i64>,
    /// The fiscal register's operator the user prints as.
    pub operator: Option<u32>,
    /// The session's token.
    pub session: Option<String>,
    change: std::sync::Arc<std::sync::Mutex<SessionChange>>,
}

impl Caller {
    /// Nobody logged in.
    pub fn nobody() -> Self {
        Caller {
            actor: "nobody".into(),
            ..Caller::default()
        }
    }

    /// A logged-in user.
    pub fn user(id: i64, name: &str, role: Role, operator: u32, session: &str) -> Self {
        Caller {
            actor: name.to_string(),
            role: Some(role),
            user: Some(id),
            operator: Some(operator),
            session: Some(session.to_string()),
            change: Default::default(),
        }
    }

    /// A caller inside the process with `role` (tests, tools): no user, no
    /// session, the configured fiscal operator.
    pub fn internal(actor: &str, role: Role) -> Self {
        Caller {
            actor: actor.to_string(),
            role: Some(role),
            ..Caller::default()
        }
    }

    fn set_change(&self, change: SessionChange) {
        *self.change.lock().unwrap_or_else(|p| p.into_inner()) = change;
    }

    fn take_change(&self) -> SessionChange {
        std::mem::take(&mut *self.change.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether the caller may run a command that needs `access`.
    pub fn may(&self, access: Access) -> Result<()> {
        match (access, self.role) {
            (Access::Anyone, _) => Ok(()),
            (Access::At(_), None) => Err(Error::LoginRequired),
            (Access::At(need), Some(have)) if have >= need => Ok(()),
            (Access::At(need), Some(_)) => Err(Error::NotAllowed(format!(
                "this needs the {} role",
                crate::auth::role_name(need)
            ))),
        }
    }
}

/// A command's answer and what it did to the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub value: serde_json::Value,
    pub session: SessionChange,
}

/// An operation, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MaybeOperation {
    pub operation: Option<OperationView>,
}

/// One declared command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub name: &'static str,
    pub access: Access,
    /// Changes state (needs a key; never a GET).
    pub mutating: bool,
    pub request: String,
    pub response: String,
    pub doc: &'static str,
}

/// Read a request body strictly.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        match text.find(AMOUNT_ERROR) {
            Some(i) => Error::InvalidAmount(text[i + AMOUNT_ERROR.len()..].trim().to_string()),
            None => Error::InvalidRequest(text),
        }
    })
}

macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident($req:ty) -> $resp:ty, $access:ident, $mutating:literal;
    )*) => {
        /// Every command, in declaration order.
        pub fn commands() -> Vec<CommandSpec> {
            vec![$(CommandSpec {
                name: stringify!($name),
                access: access::$access,
                mutating: $mutating,
                request: <$req as TS>::name(),
                response: <$resp as TS>::name(),
                doc: concat!($($doc),*),
            }),*]
        }

        /// Run command `name` with a JSON `body` for `caller`: the role is
        /// checked before the body is read.
        pub async fn dispatch(
            c: &Checkout,
            caller: &Caller,
            name: &str,
            body: &[u8],
        ) -> Result<Reply> {
            let value = match name {
                $(stringify!($name) => {
                    caller.may(access::$access)?;
                    let req: $req = parse(body)?;
                    let resp: $resp = handlers::$name(c, caller, req).await?;
                    serde_json::to_value(resp).map_err(|e| Error::Internal(e.to_string()))?
                })*
                other => return Err(Error::UnknownCommand(other.chars().take(64).collect())),
            };
            Ok(Reply { value, session: caller.take_change() })
        }

        /// The request and response types of every command, for the
        /// TypeScript bindings.
        pub fn command_types() -> Vec<(String, String)> {
            fn one<T: TS + 'static>() -> (String, String) {
                (T::name(), T::export_to_string().unwrap_or_default())
            }
            vec![$(one::<$req>(), one::<$resp>()),*]
        }
    };
}

commands! {
    /// Version and mode of the running Kasa.
    info(Empty) -> AppInfo, Anyone, false;
    /// Who the login screen offers, demo mode's training PINs, and whether
    /// this is the first run (no user yet).
    login_options(Empty) -> LoginOptions, Anyone, false;
    /// Log in by PIN; wrong PINs in a row lock the user out for a while.
    login(LoginRequest) -> SessionView, Anyone, true;
    /// End the session.
    logout(LogoutRequest) -> SessionState, Anyone, true;
    /// The session, if any.
    whoami(Empty) -> SessionState, Anyone, false;
    /// The first run: create the first manager and log in.
    first_manager(FirstManagerRequest) -> SessionView, Anyone, true;
    /// Remember the logged-in user's language.
    set_language(LanguageRequest) -> SessionState, Cashier, true;
    /// Every user.
    users(Empty) -> UserList, Manager, false;
    /// Create or change a user (name, role, fiscal operator, PIN, active).
    save_user(SaveUserRequest) -> UserView, Manager, true;
    /// A sale: items or a free amount, by card, cash or both.
    sale(SaleRequest) -> OperationView, Cashier, true;
    /// Pay the rest of a sale after a partial approval or a decline.
    add_payment(AddPaymentRequest) -> OperationView, Cashier, true;
    /// Cancel: stop a card step waiting for the customer, or give back the
    /// card payments of a sale awaiting payment or attention.
    cancel(ActionRequest) -> OperationView, Cashier, true;
    /// The card payment with an RRN, its sale and what is left to give back.
    find_payment(RrnQuery) -> PaymentLookup, Cashier, false;
    /// A card refund by RRN, full or partial (a cashier's above the limit
    /// needs a manager's PIN).
    refund(RefundRequest) -> OperationView, Cashier, true;
    /// A void by invoice inside the terminal's open batch (a cashier's
    /// needs a manager's PIN).
    void(VoidRequest) -> OperationView, Cashier, true;
    /// Money back in cash for a sale (a cashier's above the limit needs a
    /// manager's PIN).
    cash_refund(CashRefundRequest) -> OperationView, Cashier, true;
    /// Cash into the drawer.
    cash_in(CashMoveRequest) -> OperationView, Cashier, true;
    /// Cash out of the drawer.
    cash_out(CashMoveRequest) -> OperationView, Cashier, true;
    /// The fiscal X report.
    x_report(KeyRequest) -> OperationView, Cashier, true;
    /// Print the receipt of an operation that needs attention again, with the same data.
    print_again(ActionRequest) -> OperationView, Cashier, true;
    /// Ask the terminal again about a payment it could not account for.
    retry_lookup(ActionRequest) -> OperationView, Cashier, true;
    /// A customer's copy of a finished receipt (non-fiscal).
    customer_copy(ActionRequest) -> OperationView, Cashier, true;
    /// Close an operation that needs attention by hand, with a reason (a
    /// cashier's needs a manager's PIN).
    resolve(ResolveRequest) -> OperationView, Cashier, true;
    /// One operation.
    operation(OperationQuery) -> OperationView, Cashier, false;
    /// What became of a request key.
    by_key(KeyQuery) -> MaybeOperation, Cashier, false;
    /// The newest unfinished operation (a reloaded screen follows it).
    current(Empty) -> MaybeOperation, Cashier, false;
    /// The unfinished operations.
    unresolved(Empty) -> OperationList, Cashier, false;
    /// The shop's frequent items for the cashier screen.
    quick_items(Empty) -> QuickItemList, Cashier, false;
    /// Demo mode's virtual receipt tape.
    receipt_tape(TapeQuery) -> ReceiptTape, Cashier, false;
    /// What blocks card payments now, and what to fix soon.
    device_health(Empty) -> DeviceHealth, Cashier, false;
    /// Where the shop's day stands: its business day, the open shift and
    /// how near its 24 hours, what is unresolved, settlements pending.
    day_status(Empty) -> DayStatus, Cashier, false;
    /// The day close: each merchant settled, the fiscal Z, the three-way
    /// reconciliation. Refused while an operation is unresolved.
    day_close(KeyRequest) -> OperationView, Manager, true;
    /// Run the settlements a day close left pending.
    settle_pending(KeyRequest) -> SettlementList, Manager, true;
    /// The business days, newest first.
    days(DaysQuery) -> DayList, Manager, false;
    /// One business day: totals per merchant and payment type, batches,
    /// hours, shifts with their settlements and reconciliation.
    day_report(DayQuery) -> DayReport, Manager, false;
    /// One fiscal shift.
    shift_report(ShiftQuery) -> ShiftView, Manager, false;
    /// Search the transactions, a page at a time, with totals.
    search(SearchQuery) -> SearchPage, Manager, false;
    /// One operation with its steps, history, documents and audit rows.
    operation_detail(OperationQuery) -> OperationDetail, Manager, false;
    /// Check the audit chain (against the head printed on the last Z).
    audit_verify(AuditVerifyQuery) -> Verification, Manager, false;
    /// Which device answers on which serial port (with its USB identity)
    /// or TCP address: the fiscal register and its dialect, the terminal
    /// and its protocol. Sends nothing that moves money or prints.
    scan_ports(ScanPortsQuery) -> ScanReport, Installer, false;
    /// A test button: fiscal status, a non-fiscal test receipt, terminal
    /// ping or identify, the terminal's host check; on the running devices
    /// or on a candidate configuration.
    device_test(DeviceTestRequest) -> DeviceTestResult, Installer, true;
    /// The settings, every password blanked (and named when set).
    settings_view(Empty) -> SettingsView, Installer, false;
    /// The field errors of candidate settings (codes and field paths).
    settings_validate(SettingsValidateQuery) -> SettingsCheck, Installer, false;
    /// Save settings: checked, a switch between demo and production only
    /// when confirmed, written atomically, audited; says what changed and
    /// whether Kasa must restart.
    settings_save(SettingsSaveRequest) -> SettingsSaved, Installer, true;
    /// Start an export: the daily, batch or reconciliation report as PDF,
    /// or transactions as CSV; it runs on, fetch it at `GET /api/exports/{id}`.
    export_start(ExportRequest) -> ExportJob, Manager, true;
    /// Where an export stands: its rows so far, its file once done.
    export_status(ExportQuery) -> ExportJob, Manager, false;
    /// Stop an export; it leaves no file.
    export_cancel(ExportCancelRequest) -> ExportJob, Manager, true;
    /// Save a finished export in this computer's downloads folder (the
    /// desktop window's download).
    export_save(ExportSaveRequest) -> ExportSaved, Manager, true;
    /// The support bundle for the installer to send: a zip of the settings
    /// without secrets, the logs, the devices and the last operations
    /// (cards masked); fetched and saved like an export.
    support_bundle(KeyRequest) -> ExportJob, Installer, true;
}

/// The command handlers, one per declared command, each a line or two over
/// the engine or the users.
mod handlers {
    use super::*;

    fn now(c: &Checkout) -> chrono::DateTime<chrono::Utc> {
        c.engine.clock().now()
    }

    pub async fn info(c: &Checkout, _: &Caller, _: Empty) -> Result<AppInfo> {
        Ok(c.info())
    }
    pub async fn login_options(c: &Checkout, _: &Caller, _: Empty) -> Result<LoginOptions> {
        c.auth.options(c.engine.journal())
    }
    pub async fn login(c: &Checkout, who: &Caller, r: LoginRequest) -> Result<SessionView> {
        let (view, token) = c.auth.login(c.engine.journal(), now(c), &r).await?;
        who.set_change(SessionChange::Start(token));
        Ok(view)
    }
    pub async fn logout(c: &Checkout, who: &Caller, _: LogoutRequest) -> Result<SessionState> {
        c.auth.logout(c.engine.journal(), now(c), who)?;
        who.set_change(SessionChange::End);
        Ok(SessionState { session: None })
    }
    pub async fn whoami(c: &Checkout, who: &Caller, _: Empty) -> Result<SessionState> {
        c.auth.whoami(c.engine.journal(), who)
    }
    pub async fn first_manager(
        c: &Checkout,
        who: &Caller,
        r: FirstManagerRequest,
    ) -> Result<SessionView> {
        let (view, token) = c.auth.first_manager(c.engine.journal(), now(c), &r).await?;
        who.set_change(SessionChange::Start(token));
        Ok(view)
    }
    pub async fn set_language(
        c: &Checkout,
        who: &Caller,
        r: LanguageRequest,
    ) -> Result<SessionState> {
        c.auth
            .set_language(c.engine.journal(), now(c), who, &r.language)
    }
    pub async fn users(c: &Checkout, _: &Caller, _: Empty) -> Result<UserList> {
        c.auth.users(c.engine.journal())
    }
    pub async fn save_user(c: &Checkout, who: &Caller, r: SaveUserRequest) -> Result<UserView> {
        c.auth.save_user(c.engine.journal(), now(c), who, &r).await
    }
    pub async fn sale(c: &Checkout, who: &Caller, r: SaleRequest) -> Result<OperationView> {
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::Sale(r))
            .await
    }
    pub async fn add_payment(
        c: &Checkout,
        who: &Caller,
        r: AddPaymentRequest,
    ) -> Result<OperationView> {
        c.engine.add_payment(&who.actor, r).await
    }
    pub async fn cancel(c: &Checkout, who: &Caller, r: ActionRequest) -> Result<OperationView> {
        c.engine.cancel(&who.actor, r).await
    }
    pub async fn quick_items(c: &Checkout, _: &Caller, _: Empty) -> Result<QuickItemList> {
        Ok(QuickItemList {
            items: c.quick_items().to_vec(),
        })
    }
    pub async fn find_payment(c: &Checkout, _: &Caller, r: RrnQuery) -> Result<PaymentLookup> {
        c.find_payment(&r.rrn)
    }
    pub async fn refund(c: &Checkout, who: &Caller, mut r: RefundRequest) -> Result<OperationView> {
        let approval = r.approval.take();
        let amount = match r.amount {
            Some(a) => a.0,
            None => c.find_payment(&r.rrn).map(|p| p.refundable).unwrap_or(0),
        };
        let needed = amount > c.auth.rules().refund_approval_above;
        let what = serde_json::json!({ "command": "refund", "rrn": r.rrn, "amount": amount });
        c.approve_new(who, &r.key, approval.as_ref(), needed, what)
            .await?;
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::Refund(r))
            .await
    }
    pub async fn void(c: &Checkout, who: &Caller, mut r: VoidRequest) -> Result<OperationView> {
        let approval = r.approval.take();
        let what = serde_json::json!({ "command": "void", "invoice": r.invoice });
        c.approve_new(who, &r.key, approval.as_ref(), true, what)
            .await?;
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::Void(r))
            .await
    }
    pub async fn cash_refund(
        c: &Checkout,
        who: &Caller,
        mut r: CashRefundRequest,
    ) -> Result<OperationView> {
        let approval = r.approval.take();
        let amount = r.amount.map(|a| a.0).unwrap_or(i64::MAX);
        let needed = amount > c.auth.rules().refund_approval_above;
        let what = serde_json::json!({
            "command": "cash_refund", "operation": r.operation,
            "receipt_number": r.receipt_number, "amount": r.amount.map(|a| a.0)
        });
        c.approve_new(who, &r.key, approval.as_ref(), needed, what)
            .await?;
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::CashRefund(r))
            .await
    }
    pub async fn cash_in(c: &Checkout, who: &Caller, r: CashMoveRequest) -> Result<OperationView> {
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::CashIn(r))
            .await
    }
    pub async fn cash_out(c: &Checkout, who: &Caller, r: CashMoveRequest) -> Result<OperationView> {
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::CashOut(r))
            .await
    }
    pub async fn x_report(c: &Checkout, who: &Caller, r: KeyRequest) -> Result<OperationView> {
        c.engine
            .submit_as(&who.actor, who.operator, NewRequest::XReport(r))
            .await
    }
    pub async fn print_again(
        c: &Checkout,
        who: &Caller,
        r: ActionRequest,
    ) -> Result<OperationView> {
        c.engine.print_again(&who.actor, r).await
    }
    pub async fn retry_lookup(
        c: &Checkout,
        who: &Caller,
        r: ActionRequest,
    ) -> Result<OperationView> {
        c.engine.retry_lookup(&who.actor, r).await
    }
    pub async fn customer_copy(
        c: &Checkout,
        who: &Caller,
        r: ActionRequest,
    ) -> Result<OperationView> {
        c.engine.customer_copy(&who.actor, r).await
    }
    pub async fn resolve(
        c: &Checkout,
        who: &Caller,
        mut r: ResolveRequest,
    ) -> Result<OperationView> {
        let approval = r.approval.take();
        let what = serde_json::json!({
            "command": "resolve", "operation": r.operation, "resolution": r.resolution
        });
        let done_before = c.engine.journal().action_by_key(&r.key)?.is_some();
        if !done_before {
            c.auth
                .approve(
                    c.engine.journal(),
                    now(c),
                    who,
                    approval.as_ref(),
                    true,
                    what,
                )
                .await?;
        }
        c.engine.resolve(&who.actor, r).await
    }
    pub async fn operation(c: &Checkout, _: &Caller, r: OperationQuery) -> Result<OperationView> {
        c.engine.operation(r.id)
    }
    pub async fn by_key(c: &Checkout, _: &Caller, r: KeyQuery) -> Result<MaybeOperation> {
        Ok(MaybeOperation {
            operation: c.engine.by_key(&r.key)?,
        })
    }
    pub async fn current(c: &Checkout, _: &Caller, _: Empty) -> Result<MaybeOperation> {
        Ok(MaybeOperation {
            operation: c.engine.current()?,
        })
    }
    pub async fn unresolved(c: &Checkout, _: &Caller, _: Empty) -> Result<OperationList> {
        Ok(OperationList {
            operations: c.engine.unresolved()?,
        })
    }
    pub async fn receipt_tape(c: &Checkout, _: &Caller, r: TapeQuery) -> Result<ReceiptTape> {
        Ok(c.receipt_tape(r.last.unwrap_or(5).min(100) as usize))
    }
    pub async fn device_health(c: &Checkout, _: &Caller, _: Empty) -> Result<DeviceHealth> {
        Ok(c.engine.health().await)
    }
    pub async fn day_status(c: &Checkout, _: &Caller, _: Empty) -> Result<DayStatus> {
        c.engine.day_status()
    }
    pub async fn day_close(c: &Checkout, who: &Caller, r: KeyRequest) -> Result<OperationView> {
        c.engine.submit(&who.actor, NewRequest::DayClose(r)).await
    }
    pub async fn settle_pending(
        c: &Checkout,
        who: &Caller,
        _: KeyRequest,
    ) -> Result<SettlementList> {
        Ok(SettlementList {
            settlements: c.engine.settle_pending(&who.actor).await?,
        })
    }
    pub async fn days(c: &Checkout, _: &Caller, r: DaysQuery) -> Result<DayList> {
        c.engine.days(&r)
    }
    pub async fn day_report(c: &Checkout, _: &Caller, r: DayQuery) -> Result<DayReport> {
        c.engine.day_report(&r.business_day)
    }
    pub async fn shift_report(c: &Checkout, _: &Caller, r: ShiftQuery) -> Result<ShiftView> {
        c.engine.journal().shift_view(r.shift)
    }
    pub async fn search(c: &Checkout, _: &Caller, r: SearchQuery) -> Result<SearchPage> {
        c.engine.journal().search(&r)
    }
    pub async fn operation_detail(
        c: &Checkout,
        _: &Caller,
        r: OperationQuery,
    ) -> Result<OperationDetail> {
        c.engine.operation_detail(r.id)
    }
    pub async fn export_start(c: &Checkout, _: &Caller, r: ExportRequest) -> Result<ExportJob> {
        c.exports.start(&c.engine, r)
    }
    pub async fn export_status(c: &Checkout, _: &Caller, r: ExportQuery) -> Result<ExportJob> {
        c.exports.status(&r.id)
    }
    pub async fn export_cancel(
        c: &Checkout,
        _: &Caller,
        r: ExportCancelRequest,
    ) -> Result<ExportJob> {
        c.exports.cancel(&r.id)
    }
    pub async fn export_save(
        c: &Checkout,
        _: &Caller,
        r: ExportSaveRequest,
    ) -> Result<ExportSaved> {
        c.exports.save_to(&r.id, &c.downloads_dir())
    }
    pub async fn support_bundle(c: &Checkout, _: &Caller, r: KeyRequest) -> Result<ExportJob> {
        c.exports
            .support_bundle(&c.engine, &r.key, &c.support_input())
    }
    pub async fn audit_verify(
        c: &Checkout,
        _: &Caller,
        r: AuditVerifyQuery,
    ) -> Result<Verification> {
        c.engine.audit_verify(r.head.as_deref())
    }
    pub async fn scan_ports(c: &Checkout, _: &Caller, r: ScanPortsQuery) -> Result<ScanReport> {
        let settings = match c.settings_path() {
            Some(p) => crate::settings::Settings::load(p)?,
            None => crate::settings::Settings::default(),
        };
        let mut report = crate::installer::scan::scan(&r, &settings.installer.extra_ports).await;
        crate::installer::scan::mark_configured(&mut report, &settings);
        Ok(report)
    }
    pub async fn device_test(
        c: &Checkout,
        _: &Caller,
        r: DeviceTestRequest,
    ) -> Result<DeviceTestResult> {
        crate::installer::device_test::run(c, &r).await
    }
    pub async fn settings_view(c: &Checkout, _: &Caller, _: Empty) -> Result<SettingsView> {
        crate::installer::settings_edit::view(c.require_settings_path()?)
    }
    pub async fn settings_validate(
        c: &Checkout,
        _: &Caller,
        r: SettingsValidateQuery,
    ) -> Result<SettingsCheck> {
        crate::installer::settings_edit::validate(c.require_settings_path()?, &r.settings)
    }
    pub async fn settings_save(
        c: &Checkout,
        who: &Caller,
        r: SettingsSaveRequest,
    ) -> Result<SettingsSaved> {
        let path = c.require_settings_path()?;
        let _one_at_a_time = c.settings_guard().await;
        crate::installer::settings_edit::save(
            c.engine.journal(),
            &who.actor,
            path,
            &r,
            &now(c).to_rfc3339(),
        )
    }
}

/// The generated TypeScript client: the command map (request and response
/// types, role, whether it changes state) and one typed function per
/// command over a transport-agnostic `call`.
pub fn typescript_client() -> String {
    let cmds = commands();
    let mut types: Vec<String> = cmds
        .iter()
        .flat_map(|c| [c.request.clone(), c.response.clone()])
        .collect();
    types.push("Role".into());
    types.sort();
    types.dedup();
    let mut out = String::from(
        "// Generated from checkout/src/commands.rs by `make bindings`; do not edit.\n",
    );
    for t in &types {
        out.push_str(&format!("import type {{ {t} }} from \"./{t}\";\n"));
    }
    out.push_str(
        "\n/** Every command: its request and response types. */\nexport interface Commands {\n",
    );
    for c in &cmds {
        out.push_str(&format!(
            "  /** {} */\n  {}: {{ request: {}; response: {} }};\n",
            c.doc.trim(),
            c.name,
            c.request,
            c.response
        ));
    }
    out.push_str("}\n\nexport type CommandName = keyof Commands;\n\n");
    out.push_str(
        "/** The role each command needs (null: anyone), and whether it changes state. */\n",
    );
    out.push_str(
        "export const COMMANDS: { readonly [K in CommandName]: { role: Role | null; mutating: boolean } } = {\n",
    );
    for c in &cmds {
        let role = match c.access {
            Access::Anyone => "null".to_string(),
            Access::At(r) => format!("\"{}\"", crate::auth::role_name(r)),
        };
        out.push_str(&format!(
            "  {}: {{ role: {role}, mutating: {} }},\n",
            c.name, c.mutating
        ));
    }
    out.push_str("};\n\n");
    out.push_str("/** How a command reaches the backend (Tauri or HTTP). */\n");
    out.push_str("export type Call = <K extends CommandName>(name: K, request: Commands[K][\"request\"]) => Promise<Commands[K][\"response\"]>;\n\n");
    out.push_str("/** One typed function per command. */\nexport function client(call: Call) {\n  return {\n");
    for c in &cmds {
        out.push_str(&format!(
            "    {}: (request: {}): Promise<{}> => call(\"{}\", request),\n",
            c.name, c.request, c.response, c.name
        ));
    }
    out.push_str("  };\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_declared_once_and_mutations_carry_a_key() {
        let cmds = commands();
        let mut names: Vec<_> = cmds.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cmds.len(), "a command is declared twice");
        for c in cmds.iter().filter(|c| c.mutating) {
            assert!(
                c.request.ends_with("Request"),
                "{} changes state: its request type must carry the key",
                c.name
            );
        }
    }

    #[test]
    fn requests_are_strict() {
        let e = parse::<SaleRequest>(br#"{"key":"k","amount":1e3}"#).unwrap_err();
        assert!(matches!(e, Error::InvalidAmount(_)), "{e}");
        let e = parse::<SaleRequest>(br#"{"key":"k","amount":12.5}"#).unwrap_err();
        assert!(matches!(e, Error::InvalidAmount(_)), "{e}");
        let e = parse::<SaleRequest>(br#"{"key":"k","amount":"12.50"}"#).unwrap_err();
        assert!(matches!(e, Error::InvalidAmount(_)), "{e}");
        let e = parse::<SaleRequest>(br#"{"key":"k","amount":100,"tip":5}"#).unwrap_err();
        assert!(
            matches!(e, Error::InvalidRequest(_)),
            "unknown fields are refused: {e}"
        );
        let e = parse::<SaleRequest>(b"not json").unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
        let ok = parse::<SaleRequest>(br#"{"key":"k","amount":1250}"#).unwrap();
        assert_eq!(ok.amount, Some(crate::money::Money(1250)));
        assert_eq!(parse::<Empty>(b"").unwrap(), Empty {});
    }
}
