//! Operation kinds: what each one is (its [`OperationSpec`], the validated
//! request kept in the journal), how a request becomes one (the `validate`
//! functions of each kind's file) and its step list ([`plan`]). The steps
//! themselves, and how each is run and recovered, live in
//! [`crate::engine`]; an operation kind only says which steps it needs, in
//! which order, so a new kind is a new plan, never a second copy of the saga
//! or of the recovery code.

mod cash;
mod refund;
mod sale;

use serde::{Deserialize, Serialize};

pub use cash::{validate_cash_move, validate_cash_refund, validate_day_close, validate_x_report};
pub use refund::{refundable, validate_refund, validate_void};
pub use sale::{validate_add_payment, validate_sale};

use fiscal::ReceiptLine;

use crate::api::{CardAction, OperationKind, OperationState, PaymentMethod, PaymentState};
use crate::journal::{Loaded, NewOperation, PaymentRecord, StepState};
use crate::money::round_cash;
use crate::{Error, Result};

/// What an operation is, as kept in the journal (its validated request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperationSpec {
    /// A sale receipt with these lines.
    Sale { lines: Vec<ReceiptLine> },
    /// A card refund and its return receipt.
    Refund {
        lines: Vec<ReceiptLine>,
        original_receipt: Option<u64>,
    },
    /// A void on the terminal and its return receipt.
    Void {
        lines: Vec<ReceiptLine>,
        original_receipt: Option<u64>,
    },
    /// Money back in cash with a return receipt.
    CashRefund {
        lines: Vec<ReceiptLine>,
        original_receipt: Option<u64>,
    },
    /// Cash into the drawer.
    CashIn { amount: i64 },
    /// Cash out of the drawer.
    CashOut { amount: i64 },
    /// The fiscal X report, with the terminal's batch totals of these
    /// merchants (0: all of them).
    XReport {
        #[serde(default)]
        merchants: Vec<u8>,
    },
    /// The day close: each merchant settled, the fiscal Z, the three-way
    /// reconciliation.
    DayClose { merchants: Vec<u8> },
    /// A sale carried over from the walking skeleton's journal.
    Legacy,
}

impl OperationSpec {
    /// The operation kind.
    pub fn kind(&self) -> OperationKind {
        match self {
            OperationSpec::Sale { .. } | OperationSpec::Legacy => OperationKind::Sale,
            OperationSpec::Refund { .. } => OperationKind::Refund,
            OperationSpec::Void { .. } => OperationKind::Void,
            OperationSpec::CashRefund { .. } => OperationKind::CashRefund,
            OperationSpec::CashIn { .. } => OperationKind::CashIn,
            OperationSpec::CashOut { .. } => OperationKind::CashOut,
            OperationSpec::XReport { .. } => OperationKind::XReport,
            OperationSpec::DayClose { .. } => OperationKind::DayClose,
        }
    }

    /// The receipt lines, for the kinds that print a receipt.
    pub fn lines(&self) -> &[ReceiptLine] {
        match self {
            OperationSpec::Sale { lines }
            | OperationSpec::Refund { lines, .. }
            | OperationSpec::Void { lines, .. }
            | OperationSpec::CashRefund { lines, .. } => lines,
            _ => &[],
        }
    }

    /// The receipt this operation prints: a sale or a return receipt.
    pub fn receipt_kind(&self) -> fiscal::ReceiptKind {
        match self {
            OperationSpec::Refund {
                original_receipt, ..
            }
            | OperationSpec::Void {
                original_receipt, ..
            }
            | OperationSpec::CashRefund {
                original_receipt, ..
            } => fiscal::ReceiptKind::Return {
                original: original_receipt.unwrap_or(0),
            },
            _ => fiscal::ReceiptKind::Sale,
        }
    }
}

/// One step of an operation. Its name in the journal is [`Step::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Terminal: the purchase, refund or void of a card payment.
    Charge(i64),
    /// Terminal: confirm an approved payment (terminals that need it).
    Confirm(i64),
    /// Terminal: give back an approved card payment of a cancelled sale.
    Reverse(i64),
    /// Register: the fiscal receipt (open, lines, the operation's
    /// reference, the subtotal check, each payment, close). One journalled
    /// step: its recovery reads the register (what is open, what is paid,
    /// what was printed), so the commands inside it need no write of their
    /// own.
    Receipt,
    /// Register: cash in or out of the drawer.
    Drawer,
    /// Register: the X report.
    Report,
    /// Terminal: the batch totals per merchant (and, at a day close, the
    /// batch's transactions where the protocol lists them). Read-only.
    Survey,
    /// Terminal: the settlement of one merchant.
    Settle(u8),
    /// Register: the Z report, with the audit chain's head printed before it.
    ZReport,
    /// Register: the shift's documents read back; the three-way
    /// reconciliation. Read-only.
    Reconcile,
}

impl Step {
    /// The step's name in the journal: `charge:12`, `open`, `pay:12`...
    pub fn name(&self) -> String {
        match self {
            Step::Charge(p) => format!("charge:{p}"),
            Step::Confirm(p) => format!("confirm:{p}"),
            Step::Reverse(p) => format!("reverse:{p}"),
            Step::Receipt => "receipt".into(),
            Step::Drawer => "drawer".into(),
            Step::Report => "report".into(),
            Step::Survey => "survey".into(),
            Step::Settle(m) => format!("settle:{m}"),
            Step::ZReport => "z".into(),
            Step::Reconcile => "reconcile".into(),
        }
    }

    /// The kind of step, as crash points and progress name it.
    pub fn point(&self) -> &'static str {
        match self {
            Step::Charge(_) => "charge",
            Step::Confirm(_) => "confirm",
            Step::Reverse(_) => "reverse",
            Step::Receipt => "receipt",
            Step::Drawer => "drawer",
            Step::Report => "report",
            Step::Survey => "survey",
            Step::Settle(_) => "settle",
            Step::ZReport => "z",
            Step::Reconcile => "reconcile",
        }
    }

    /// Whether the step prints a fiscal document (it belongs to a shift).
    pub fn prints(&self) -> bool {
        matches!(
            self,
            Step::Receipt | Step::Drawer | Step::Report | Step::ZReport
        )
    }

    /// Whether the step talks to the card terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Step::Charge(_) | Step::Confirm(_) | Step::Reverse(_) | Step::Survey | Step::Settle(_)
        )
    }
}

/// What to do next with an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Run (or recover) this step.
    Run(Step),
    /// Part is paid: wait for the cashier to add a payment or cancel.
    AwaitPayment,
    /// Nothing more to do: end in this state (with why, for a decline).
    Finish(OperationState, Option<(String, String)>),
}

fn done(l: &Loaded, step: &Step) -> bool {
    l.step(&step.name())
        .is_some_and(|s| s.state == StepState::Done)
}

/// The first step of `l` that is not done, in the order its kind runs them.
///
/// `confirm` says whether the terminal needs an explicit confirm after an
/// approval.
pub fn plan(l: &Loaded, confirm: bool) -> Plan {
    let op = &l.op;
    let cards: Vec<&PaymentRecord> = l
        .payments
        .iter()
        .filter(|p| p.method == PaymentMethod::Card)
        .collect();

    // The cashier cancelled: give back what the terminal approved, then stop.
    if op.cancel_requested {
        if let Some(p) = cards.iter().find(|p| p.state == PaymentState::Approved) {
            return Plan::Run(Step::Reverse(p.id));
        }
        return Plan::Finish(OperationState::Cancelled, None);
    }

    // Terminal steps first: every card payment is charged (and confirmed).
    for p in &cards {
        match p.state {
            PaymentState::Pending | PaymentState::Unknown => return Plan::Run(Step::Charge(p.id)),
            PaymentState::Approved if confirm && !done(l, &Step::Confirm(p.id)) => {
                return Plan::Run(Step::Confirm(p.id))
            }
            _ => {}
        }
    }

    match op.spec {
        OperationSpec::CashIn { .. } | OperationSpec::CashOut { .. } => {
            return if done(l, &Step::Drawer) {
                Plan::Finish(OperationState::Done, None)
            } else {
                Plan::Run(Step::Drawer)
            };
        }
        OperationSpec::XReport { .. } => {
            for step in [Step::Survey, Step::Report] {
                if !done(l, &step) {
                    return Plan::Run(step);
                }
            }
            return Plan::Finish(OperationState::Done, None);
        }
        OperationSpec::DayClose { ref merchants } => {
            let steps = std::iter::once(Step::Survey)
                .chain(merchants.iter().map(|m| Step::Settle(*m)))
                .chain([Step::ZReport, Step::Reconcile]);
            for step in steps {
                if !done(l, &step) {
                    return Plan::Run(step);
                }
            }
            return Plan::Finish(OperationState::Done, None);
        }
        OperationSpec::Legacy => return Plan::Finish(op.state, None),
        _ => {}
    }

    // Is the receipt covered?
    let charged: i64 = cards
        .iter()
        .filter(|p| p.state == PaymentState::Approved)
        .map(|p| p.approved)
        .sum();
    let cash: Vec<&PaymentRecord> = l
        .payments
        .iter()
        .filter(|p| p.method == PaymentMethod::Cash)
        .collect();
    let due = op.total - charged;
    if due > 0 {
        let tendered: i64 = cash.iter().filter_map(|p| p.tendered).sum();
        if cash.is_empty() || tendered < round_cash(due) {
            if charged == 0 && cash.is_empty() {
                // Nothing taken: the card was declined or cancelled.
                let last = cards.last();
                let why = last
                    .and_then(|p| p.decline.clone())
                    .map(|d| (d.code, d.message));
                let state = match last.map(|p| p.state) {
                    Some(PaymentState::Cancelled) => OperationState::Cancelled,
                    _ => OperationState::Declined,
                };
                return Plan::Finish(state, why);
            }
            return Plan::AwaitPayment;
        }
    }

    // The fiscal document.
    if !done(l, &Step::Receipt) {
        return Plan::Run(Step::Receipt);
    }
    Plan::Finish(OperationState::Done, None)
}

/// Who asks, and for which operation: what every validation needs.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub journal: &'a crate::journal::Journal,
    pub receipt: &'a crate::settings::ReceiptSettings,
    /// The merchants configured on the terminal.
    pub merchants: &'a [crate::settings::MerchantSettings],
    /// The shop's departments.
    pub departments: &'a [crate::settings::DepartmentSettings],
    pub actor: &'a str,
    /// The fiscal operator of the user who asks (none: the configured one).
    pub operator: Option<u32>,
    pub business_day: String,
    pub at: String,
}

/// The key, checked: 1 to 64 characters of `A-Z a-z 0-9 . _ : -`.
pub fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(
            "the key must be 1 to 64 letters, digits or . _ : -".into(),
        ))
    }
}

/// A stable fingerprint of a request (without its key): FNV-1a over its
/// canonical JSON, so a key reused for another request is noticed across
/// restarts and versions.
pub fn fingerprint<T: Serialize>(kind: &str, request: &T) -> String {
    let mut v = serde_json::to_value(request).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("key");
    }
    let text = format!("{kind}:{v}");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A new operation of `spec` with the common fields filled in.
pub fn new_operation(
    ctx: &Context<'_>,
    key: &str,
    hash: String,
    spec: OperationSpec,
    total: i64,
    original_id: Option<i64>,
    payments: Vec<crate::journal::NewPayment>,
) -> NewOperation {
    NewOperation {
        key: key.to_string(),
        spec,
        request_hash: hash,
        actor: ctx.actor.to_string(),
        merchant: payments.first().map(|p| p.merchant).unwrap_or(0),
        business_day: ctx.business_day.clone(),
        total,
        original_id,
        payments,
        at: ctx.at.clone(),
        operator: ctx.operator,
    }
}

/// Whether a new operation needs the card terminal (and so the whole
/// pre-flight gate).
pub fn needs_card(new: &NewOperation) -> bool {
    new.payments
        .iter()
        .any(|p| p.card_action != CardAction::None)
}
