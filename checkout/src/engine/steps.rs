//! Each kind of step: what it writes ahead (`prepare`: read-only questions to
//! the devices whose answers recovery needs), its one device call (`run`),
//! and how it is recovered (`recover`: ask the devices what became of that
//! call). Every operation kind is made of these steps; none has its own copy
//! of them.
//!
//! - charge / confirm / reverse: the terminal. Written ahead: the
//!   `PendingOperation` the terminal's lookup matches against. Recovered by
//!   the lookup; "not charged" only when the terminal can show it.
//! - open / pay / close: the fiscal receipt. Written ahead: the register's
//!   last document number before the receipt, and what it had been paid
//!   before a payment. Recovered by reading the register's state: a stray
//!   unpaid receipt is cancelled and printed again, a payment the register
//!   took is not sent twice, and a closed receipt is recognised by reading
//!   it back from the electronic journal (its RRN and the operation's
//!   reference line), never by its number alone when the register can be
//!   read.
//! - drawer / report: cash in or out and the X report, recovered from the
//!   register's counters and document number.

// Outcomes are built once per device call and moved, never copied in a
// loop: their size does not matter, and boxing them would only add noise.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

use std::sync::Arc;

use fiscal::readback::{self, Needle};
use fiscal::{CardOperation, CardSlip, FiscalRegister, Payment, ReceiptKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use terminal::{
    CardOutcome, CardTerminal, CardTransaction, PendingOperation, Recovery, TxnKind, TxnStatus,
};

use crate::api::{CardAction, CardData, Decline, PaymentMethod, PaymentState};
use crate::failpoint;
use crate::journal::{Loaded, NewDocument, PaymentRecord, PaymentUpdate};
use crate::money::round_cash;
use crate::operations::{OperationSpec, Step};

/// The devices the steps drive.
#[derive(Debug, Clone)]
pub struct Devices {
    pub terminal: Arc<dyn CardTerminal>,
    pub fiscal: Arc<dyn FiscalRegister>,
}

/// How a step ended (or what its recovery found).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done: record the result and its effects.
    Done {
        result: Value,
        /// Payments whose state this step settled.
        payment: Vec<(i64, PaymentUpdate)>,
        document: Option<NewDocument>,
    },
    /// Nothing happened on the device: run the step again (a new attempt).
    Retry(String),
    /// The register lost the receipt (power cycle, a cancel by hand): print
    /// it again from the start, with the same data.
    RestartReceipt(String),
    /// Nothing happened on the device, and the step must go another way on
    /// its next attempt; the code is kept on this attempt (a void refused:
    /// the next reversal is a refund by RRN).
    Switch(String),
    /// The device refused or failed definitely. `attention` when a person
    /// must act (paper, cover, a charge whose receipt cannot print).
    Failed {
        code: String,
        message: String,
        payment: Option<(i64, PaymentUpdate)>,
    },
    /// The device cannot be reached or cannot tell yet: the step stays
    /// started and is recovered later.
    Unresolved { code: String, message: String },
}

impl Outcome {
    fn done(result: Value) -> Self {
        Outcome::Done {
            result,
            payment: Vec::new(),
            document: None,
        }
    }

    fn fiscal_failed(e: &fiscal::Error) -> Self {
        if e.is_uncertain() {
            Outcome::Unresolved {
                code: format!("fiscal.{}", e.code()),
                message: e.to_string(),
            }
        } else {
            Outcome::Failed {
                code: format!("fiscal.{}", e.code()),
                message: e.to_string(),
                payment: None,
            }
        }
    }

    fn terminal_unreachable(e: &terminal::Error) -> Self {
        Outcome::Unresolved {
            code: format!("terminal.{}", e.code()),
            message: e.to_string(),
        }
    }
}

/// A step's run result: either an outcome, or "uncertain: recover now".
#[derive(Debug)]
pub enum RunResult {
    Ended(Outcome),
    /// The device call's outcome is unknown (lost reply, time-out): the
    /// step is recovered at once, as after a crash.
    Uncertain,
}

/// What the charge, confirm and reverse steps write ahead: the terminal's
/// pending operation (what its lookup matches against, with the original's
/// RRN for a refund and invoice for a void).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeAhead {
    pub pending: PendingOperation,
}

/// What the receipt step writes ahead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptAhead {
    /// The register's last document number before this receipt.
    pub before: u64,
}

/// What the drawer and report steps write ahead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CountersAhead {
    pub before: u64,
    #[serde(default)]
    pub cash: Option<fiscal::CashTotals>,
}

/// Everything a step needs besides the devices.
#[derive(Debug)]
pub struct StepContext<'a> {
    pub devices: &'a Devices,
    pub loaded: &'a Loaded,
    /// Terminal progress goes here.
    pub progress: terminal::ProgressSink,
}

/// The line every receipt of an operation carries, so a read-back can tell
/// exactly whether a document is this operation's.
pub fn reference(op: i64) -> String {
    format!("Kasa #{op:06}")
}

fn payment(l: &Loaded, id: i64) -> Result<&PaymentRecord, Outcome> {
    l.payment(id).ok_or_else(|| Outcome::Failed {
        code: "internal".into(),
        message: format!("payment {id} is not in operation {}", l.op.id),
        payment: None,
    })
}

fn card_data(tx: &CardTransaction) -> CardData {
    CardData {
        rrn: tx.rrn.trim().to_string(),
        auth_code: tx.auth_code.trim().to_string(),
        masked_pan: crate::mask::mask_pan(&tx.masked_pan),
        card_scheme: tx.card_scheme.clone(),
        terminal_id: tx.terminal_id.clone(),
        merchant_id: tx.merchant_id.clone(),
        invoice: tx.invoice.trim().to_string(),
        batch: tx.batch.clone(),
        response_code: tx.response_code.clone(),
        date_time: tx.date_time.clone(),
        signature_required: tx.signature_required,
    }
}

fn txn_kind(action: CardAction) -> TxnKind {
    match action {
        CardAction::Refund => TxnKind::Refund,
        CardAction::Void => TxnKind::Void,
        _ => TxnKind::Purchase,
    }
}

/// What the pending request knew that a lookup may not report: a receipt
/// printed after a lookup carries the same card data as after a reply.
fn fill_from(mut tx: CardTransaction, ahead: &ChargeAhead) -> CardTransaction {
    tx.fill_from(&ahead.pending);
    if tx.request_id.is_empty() {
        tx.request_id = ahead.pending.request_id.clone();
    }
    tx
}

fn approval(p: &PaymentRecord, tx: &CardTransaction) -> PaymentUpdate {
    // A void answers with the amount voided or none at all; a purchase may be
    // approved in part (never for more than asked).
    let amount = if tx.amount > 0 && tx.amount <= p.requested {
        tx.amount
    } else {
        p.requested
    };
    let card = card_data(tx);
    tracing::info!(operation = p.operation_id, payment = p.id, rrn = %card.rrn, auth_code = %card.auth_code, card = %card.masked_pan, amount, "card payment approved");
    PaymentUpdate::Approved { amount, card }
}

fn outcome_of(p: &PaymentRecord, outcome: CardOutcome, how: &str) -> Outcome {
    let update = match outcome {
        CardOutcome::Approved(tx) => approval(p, &tx),
        CardOutcome::Declined { code, message } => {
            PaymentUpdate::Declined(Decline { code, message })
        }
        CardOutcome::Cancelled => PaymentUpdate::Cancelled(Decline {
            code: "terminal.cancelled".into(),
            message: "cancelled on the terminal".into(),
        }),
    };
    Outcome::Done {
        result: json!({ "how": how }),
        payment: vec![(p.id, update)],
        document: None,
    }
}

// ---- charge ---------------------------------------------------------------

/// The card payment a charge step works on, and the original it refunds.
fn charge_target<'a>(
    l: &'a Loaded,
    id: i64,
    originals: &'a [PaymentRecord],
) -> Result<(&'a PaymentRecord, Option<&'a PaymentRecord>), Outcome> {
    let p = payment(l, id)?;
    let original = p
        .refund_of
        .and_then(|o| originals.iter().find(|r| r.id == o));
    Ok((p, original))
}

/// Write-ahead of a charge: what the terminal's lookup will need.
///
/// A void the terminal refused (the original's batch was settled, by a day
/// close or by the terminal itself) is given back as a refund by its RRN.
pub async fn prepare_charge(
    t: &dyn CardTerminal,
    p: &PaymentRecord,
    original: Option<&PaymentRecord>,
    void_refused: bool,
) -> terminal::Result<ChargeAhead> {
    let by_refund = void_refused && p.card_action == CardAction::Void;
    let kind = if by_refund {
        TxnKind::Refund
    } else {
        txn_kind(p.card_action)
    };
    let mut pending = t.begin(kind, p.requested, p.merchant).await?;
    if let Some(card) = original.and_then(|o| o.card.as_ref()) {
        pending = pending.with_ids(&card.terminal_id, &card.merchant_id);
        match (p.card_action, by_refund) {
            (CardAction::Refund, _) | (CardAction::Void, true) => {
                pending = pending.refund_of(card.rrn.clone())
            }
            (CardAction::Void, false) => pending = pending.voiding(card.invoice.clone()),
            _ => {}
        }
    }
    Ok(ChargeAhead { pending })
}

async fn execute(
    t: &dyn CardTerminal,
    ahead: &ChargeAhead,
    progress: terminal::ProgressSink,
) -> terminal::Result<CardOutcome> {
    t.execute(&ahead.pending, progress).await
}

/// Run a charge (purchase, refund or void of a card payment).
pub async fn run_charge(ctx: &StepContext<'_>, id: i64, ahead: &ChargeAhead) -> RunResult {
    let Ok(p) = payment(ctx.loaded, id) else {
        return RunResult::Ended(Outcome::Retry("no such payment".into()));
    };
    let is_void = ahead.pending.kind == TxnKind::Void;
    match execute(ctx.devices.terminal.as_ref(), ahead, ctx.progress.clone()).await {
        // Refused as a void (not in the open batch): give it back by RRN.
        Ok(CardOutcome::Declined { .. }) if is_void => {
            RunResult::Ended(Outcome::Switch(VOID_REFUSED.into()))
        }
        Ok(outcome) => RunResult::Ended(outcome_of(p, outcome, "reply")),
        Err(e) if e.outcome_unknown() => RunResult::Uncertain,
        Err(terminal::Error::Device { .. }) if is_void => {
            RunResult::Ended(Outcome::Switch(VOID_REFUSED.into()))
        }
        // A definite refusal (no host link, no paper, busy...): not charged.
        Err(e) => RunResult::Ended(Outcome::Done {
            result: json!({ "how": "refused" }),
            payment: vec![(
                p.id,
                PaymentUpdate::Declined(Decline {
                    code: format!("terminal.{}", e.code()),
                    message: e.to_string(),
                }),
            )],
            document: None,
        }),
    }
}

/// Recover a charge: look it up on the terminal.
///
/// "Not charged" is concluded only when the terminal's last transaction is
/// not newer than the one before the request (or there is none): a newer
/// transaction that is not ours means the lookup cannot see ours, and the
/// payment is unknown (a person must look).
pub async fn recover_charge(ctx: &StepContext<'_>, id: i64, ahead: &ChargeAhead) -> Outcome {
    let Ok(p) = payment(ctx.loaded, id) else {
        return Outcome::Retry("no such payment".into());
    };
    let t = ctx.devices.terminal.as_ref();
    let found = match t.recover(&ahead.pending).await {
        Ok(r) => r,
        Err(e) => return Outcome::terminal_unreachable(&e),
    };
    match found {
        Recovery::Found(tx) => match tx.status {
            TxnStatus::Approved => {
                let tx = fill_from(tx, ahead);
                Outcome::Done {
                    result: json!({ "how": "lookup" }),
                    payment: vec![(p.id, approval(p, &tx))],
                    document: None,
                }
            }
            TxnStatus::Declined => outcome_of(
                p,
                CardOutcome::Declined {
                    code: tx.response_code.clone(),
                    message: "declined (found by lookup)".into(),
                },
                "lookup",
            ),
            TxnStatus::Reversed | TxnStatus::Cancelled => {
                outcome_of(p, CardOutcome::Cancelled, "lookup")
            }
            TxnStatus::Unknown => Outcome::Failed {
                code: "terminal.outcome_unknown".into(),
                message: "the terminal reports the payment's status as unknown".into(),
                payment: Some((
                    p.id,
                    PaymentUpdate::Unknown(Decline {
                        code: "terminal.outcome_unknown".into(),
                        message: "status unknown".into(),
                    }),
                )),
            },
        },
        Recovery::NotFound { reason } => {
            let last = match t.last_transaction().await {
                Ok(last) => last,
                Err(e) => return Outcome::terminal_unreachable(&e),
            };
            if last.is_some_and(|tx| newer_than_before(&ahead.pending, &tx)) {
                Outcome::Failed {
                    code: "terminal.outcome_unknown".into(),
                    message: format!(
                        "the terminal's last payment is newer and not this one ({reason})"
                    ),
                    payment: Some((
                        p.id,
                        PaymentUpdate::Unknown(Decline {
                            code: "terminal.outcome_unknown".into(),
                            message: reason,
                        }),
                    )),
                }
            } else {
                Outcome::Done {
                    result: json!({ "how": "lookup: not found" }),
                    payment: vec![(
                        p.id,
                        PaymentUpdate::Cancelled(Decline {
                            code: "terminal.not_sent".into(),
                            message: format!("the terminal has no such payment: {reason}"),
                        }),
                    )],
                    document: None,
                }
            }
        }
    }
}

/// Whether `tx` came after the request `pending` was journalled (or cannot
/// be placed), judged by the terminal's invoice numbers.
fn newer_than_before(pending: &PendingOperation, tx: &CardTransaction) -> bool {
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (
        pending.prior_invoice.as_deref().map(number),
        number(&tx.invoice),
    ) {
        (Some(Some(before)), Some(n)) => n > before,
        (Some(_), _) => tx.invoice.trim() != pending.prior_invoice.as_deref().unwrap_or("").trim(),
        (None, _) => true,
    }
}

// ---- confirm ----------------------------------------------------------------

/// Confirm an approved payment on a terminal that needs it. A terminal
/// that cancelled it already (its confirm time-out passed) did not charge
/// the card.
pub async fn run_confirm(ctx: &StepContext<'_>, id: i64) -> RunResult {
    match ctx.devices.terminal.confirm().await {
        Ok(()) => RunResult::Ended(Outcome::done(json!({}))),
        Err(terminal::Error::ConfirmExpired { .. }) => RunResult::Ended(Outcome::Done {
            result: json!({ "how": "the terminal cancelled it before the confirm" }),
            payment: vec![(id, PaymentUpdate::Reversed)],
            document: None,
        }),
        Err(e) if e.outcome_unknown() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(Outcome::terminal_unreachable(&e)),
    }
}

/// Recover a confirm: look the payment up; confirm it if the terminal still
/// holds it approved, record it given back if the terminal cancelled it.
pub async fn recover_confirm(ctx: &StepContext<'_>, id: i64, ahead: &ChargeAhead) -> Outcome {
    if payment(ctx.loaded, id).is_err() {
        return Outcome::Retry("no such payment".into());
    }
    let reversed = || Outcome::Done {
        result: json!({ "how": "lookup: cancelled by the terminal" }),
        payment: vec![(id, PaymentUpdate::Reversed)],
        document: None,
    };
    match ctx.devices.terminal.recover(&ahead.pending).await {
        Ok(Recovery::Found(tx)) if tx.status == TxnStatus::Approved => {
            match ctx.devices.terminal.confirm().await {
                Ok(()) => Outcome::done(json!({ "how": "lookup" })),
                Err(terminal::Error::ConfirmExpired { .. }) => reversed(),
                Err(e) => Outcome::terminal_unreachable(&e),
            }
        }
        Ok(Recovery::Found(_)) | Ok(Recovery::NotFound { .. }) => reversed(),
        Err(e) => Outcome::terminal_unreachable(&e),
    }
}

// ---- reverse --------------------------------------------------------------

/// The code a refused void leaves on its attempt: the next reversal of the
/// payment is a refund by RRN.
pub const VOID_REFUSED: &str = "terminal.void_refused";

/// Write-ahead of a reversal: a void of the approved payment inside the
/// terminal's batch, or, once a void was refused (the batch was settled), a
/// refund by its RRN. No receipt is printed either way: the sale's own
/// receipt never was.
pub async fn prepare_reverse(
    t: &dyn CardTerminal,
    p: &PaymentRecord,
    by_refund: bool,
) -> terminal::Result<ChargeAhead> {
    let card = p.card.clone().unwrap_or_default();
    let kind = if by_refund {
        TxnKind::Refund
    } else {
        TxnKind::Void
    };
    let pending = t
        .begin(kind, p.approved, p.merchant)
        .await?
        .with_ids(&card.terminal_id, &card.merchant_id);
    let pending = if by_refund {
        pending.refund_of(card.rrn)
    } else {
        pending.voiding(card.invoice)
    };
    Ok(ChargeAhead { pending })
}

/// Give an approved card payment back (the cashier cancelled the sale).
pub async fn run_reverse(ctx: &StepContext<'_>, id: i64, ahead: &ChargeAhead) -> RunResult {
    let Ok(p) = payment(ctx.loaded, id) else {
        return RunResult::Ended(Outcome::Retry("no such payment".into()));
    };
    let is_void = ahead.pending.kind == TxnKind::Void;
    let refused = |why: String| {
        if is_void {
            // Outside the batch a void is refused: give it back by RRN.
            Outcome::Switch(VOID_REFUSED.into())
        } else {
            Outcome::Failed {
                code: "terminal.reverse_refused".into(),
                message: why,
                payment: None,
            }
        }
    };
    match execute(ctx.devices.terminal.as_ref(), ahead, ctx.progress.clone()).await {
        Ok(CardOutcome::Approved(_)) => RunResult::Ended(Outcome::Done {
            result: json!({ "how": "reply", "by": if is_void { "void" } else { "refund" } }),
            payment: vec![(p.id, PaymentUpdate::Reversed)],
            document: None,
        }),
        Ok(CardOutcome::Declined { code, message }) => {
            RunResult::Ended(refused(format!("{code}: {message}")))
        }
        Ok(CardOutcome::Cancelled) => RunResult::Ended(Outcome::Failed {
            code: "terminal.reverse_refused".into(),
            message: "the reversal was cancelled on the terminal".into(),
            payment: None,
        }),
        Err(e) if e.outcome_unknown() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(refused(e.to_string())),
    }
}

/// Recover a reversal: did the void (or refund) go through?
pub async fn recover_reverse(ctx: &StepContext<'_>, id: i64, ahead: &ChargeAhead) -> Outcome {
    match ctx.devices.terminal.recover(&ahead.pending).await {
        Ok(Recovery::Found(tx)) if tx.status == TxnStatus::Approved => Outcome::Done {
            result: json!({ "how": "lookup" }),
            payment: vec![(id, PaymentUpdate::Reversed)],
            document: None,
        },
        Ok(_) => Outcome::Retry("the void was not carried out".into()),
        Err(e) => Outcome::terminal_unreachable(&e),
    }
}

// ---- the fiscal receipt -------------------------------------------------------

/// Clear what someone else left open on the register: an unpaid receipt is
/// cancelled; a paid one is closed with what it was given (never turned into
/// another payment). Returns the register's last document number after.
async fn clear_stray(f: &dyn FiscalRegister) -> Result<u64, Outcome> {
    let state = f
        .receipt_state()
        .await
        .map_err(|e| Outcome::fiscal_failed(&e))?;
    if state.open {
        if state.paid == 0 {
            f.cancel_receipt()
                .await
                .map_err(|e| Outcome::fiscal_failed(&e))?;
        } else if state.paid >= state.amount {
            f.close_receipt()
                .await
                .map_err(|e| Outcome::fiscal_failed(&e))?;
        } else {
            return Err(Outcome::Failed {
                code: "fiscal.receipt_open".into(),
                message: format!(
                    "a receipt paid {} of {} is open on the register",
                    state.paid, state.amount
                ),
                payment: None,
            });
        }
    }
    f.last_document_number()
        .await
        .map_err(|e| Outcome::fiscal_failed(&e))
}

/// Write-ahead of a receipt: clear a stray receipt, note the last document.
pub async fn prepare_receipt(f: &dyn FiscalRegister) -> Result<ReceiptAhead, Outcome> {
    Ok(ReceiptAhead {
        before: clear_stray(f).await?,
    })
}

/// The register payment for a payment of the operation.
pub fn fiscal_payment(l: &Loaded, p: &PaymentRecord) -> Payment {
    match p.method {
        PaymentMethod::Cash => Payment::Cash {
            amount: p.tendered.unwrap_or(p.requested),
        },
        PaymentMethod::Card => {
            let card = p.card.clone().unwrap_or_default();
            let operation = match (p.card_action, &l.op.spec) {
                (CardAction::Refund | CardAction::Void, _) => CardOperation::Refund,
                _ => CardOperation::Sale,
            };
            Payment::Card {
                amount: p.approved,
                card: CardSlip {
                    rrn: card.rrn,
                    auth_code: card.auth_code,
                    masked_pan: card.masked_pan,
                    terminal_id: card.terminal_id,
                    invoice: card.invoice,
                    merchant_id: card.merchant_id,
                    payment_system: card.card_scheme,
                    operation,
                    signature_required: card.signature_required,
                    commission: None,
                },
            }
        }
    }
}

/// The payments that go on the receipt, in order: approved card payments
/// and cash.
pub fn receipt_payments(l: &Loaded) -> Vec<&PaymentRecord> {
    l.payments
        .iter()
        .filter(|p| match p.method {
            PaymentMethod::Card => p.state == PaymentState::Approved,
            PaymentMethod::Cash => true,
        })
        .collect()
}

fn cash_taken(p: &PaymentRecord, change: i64) -> Option<(i64, PaymentUpdate)> {
    (p.method == PaymentMethod::Cash && p.state == PaymentState::Pending).then(|| {
        let tendered = p.tendered.unwrap_or(p.requested);
        (
            p.id,
            PaymentUpdate::CashTaken {
                amount: tendered - change,
                change,
            },
        )
    })
}

fn document_kind(spec: &OperationSpec) -> &'static str {
    match spec.receipt_kind() {
        ReceiptKind::Sale => "sale_receipt",
        ReceiptKind::Return { .. } => "return_receipt",
    }
}

/// What a document of this operation must carry: its reference line, and
/// the RRN and auth code of each card payment.
fn needles(l: &Loaded) -> Vec<Needle> {
    let payments: Vec<Payment> = l
        .payments
        .iter()
        .filter(|p| p.is_charged())
        .map(|p| fiscal_payment(l, p))
        .collect();
    readback::needles_for(&payments, Some(&reference(l.op.id)))
}

/// Whether a read-back document is this operation's, exactly: every needle
/// found as a whole token.
fn is_ours(l: &Loaded, lines: &[String]) -> bool {
    readback::find(lines, &needles(l)).verified()
}

/// What a read-back found missing of what the receipt had to carry.
pub fn missing(l: &Loaded, lines: &[String]) -> Vec<String> {
    readback::find(lines, &needles(l))
        .missing
        .iter()
        .map(|n| format!("{}:{}", n.kind(), n.value()))
        .collect()
}

/// The receipt printed as document `number`: done, with the change the
/// register gave on the cash payments. The text is read back afterwards
/// ([`read_back`]), once the sale is reported done.
fn printed(
    l: &Loaded,
    number: u64,
    payments: Vec<(i64, PaymentUpdate)>,
    text: Option<Vec<String>>,
    how: &str,
) -> Outcome {
    Outcome::Done {
        result: json!({ "how": how, "number": number }),
        payment: payments,
        document: Some(NewDocument {
            kind: document_kind(&l.op.spec),
            number: i64::try_from(number).ok(),
            amount: l.op.total,
            text: text.map(|t| t.join("\n")),
        }),
    }
}

/// Read document `number` back from the register's electronic journal.
pub async fn read_back(f: &dyn FiscalRegister, number: u64) -> Option<Vec<String>> {
    f.read_document(number).await.ok().filter(|l| !l.is_empty())
}

/// Pay `payments` on the open receipt and close it; the cash payments'
/// change as the register gave it.
async fn pay_and_close(
    ctx: &StepContext<'_>,
    payments: &[&PaymentRecord],
) -> fiscal::Result<(u64, Vec<(i64, PaymentUpdate)>)> {
    let f = ctx.devices.fiscal.as_ref();
    let mut updates = Vec::new();
    for p in payments {
        let r = f.pay(&fiscal_payment(ctx.loaded, p)).await?;
        updates.extend(cash_taken(p, r.change));
        failpoint::hit("receipt:paid").await;
    }
    let number = f.close_receipt().await?;
    Ok((number, updates))
}

/// Print the receipt: open it, its lines and the operation's reference,
/// check the register's subtotal against ours before any payment, pay each
/// payment, close.
pub async fn run_receipt(ctx: &StepContext<'_>) -> RunResult {
    let f = ctx.devices.fiscal.as_ref();
    let l = ctx.loaded;
    let op = &l.op;
    let opened: fiscal::Result<Option<i64>> = async {
        f.open_receipt_as(op.spec.receipt_kind(), op.operator)
            .await?;
        for line in op.spec.lines() {
            f.add_line(line).await?;
        }
        f.print_text(&reference(op.id)).await?;
        let sub = f.subtotal().await?;
        Ok((sub.amount != op.total).then_some(sub.amount))
    }
    .await;
    match opened {
        Ok(None) => {}
        Ok(Some(theirs)) => {
            // Never pay a wrong sum: cancel and say so.
            let _ = f.cancel_receipt().await;
            return RunResult::Ended(Outcome::Failed {
                code: "fiscal.subtotal_mismatch".into(),
                message: format!(
                    "the register's subtotal {theirs} is not the receipt's total {}",
                    op.total
                ),
                payment: None,
            });
        }
        Err(e) if e.is_uncertain() => return RunResult::Uncertain,
        Err(e) => return RunResult::Ended(Outcome::fiscal_failed(&e)),
    }
    failpoint::hit("receipt:opened").await;
    match pay_and_close(ctx, &receipt_payments(l)).await {
        Ok((number, updates)) => RunResult::Ended(printed(l, number, updates, None, "reply")),
        Err(e) if e.is_uncertain() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(Outcome::fiscal_failed(&e)),
    }
}

/// Recover a receipt from what the register holds:
/// - open and unpaid: cancelled, and printed again from the start;
/// - open and (partly) paid: the payments it lacks are paid (never another
///   kind of payment), then it is closed;
/// - closed: the register's documents since the receipt began are read back
///   to find this operation's (its reference line and RRNs); found, it is
///   done; not found, the register lost it and it is printed again.
pub async fn recover_receipt(ctx: &StepContext<'_>, ahead: &ReceiptAhead) -> Outcome {
    let f = ctx.devices.fiscal.as_ref();
    let l = ctx.loaded;
    let state = match f.receipt_state().await {
        Ok(s) => s,
        Err(e) => return Outcome::fiscal_failed(&e),
    };
    if state.open && state.paid == 0 {
        return match f.cancel_receipt().await {
            Ok(()) => Outcome::Retry("the unpaid receipt was cancelled".into()),
            Err(e) => Outcome::fiscal_failed(&e),
        };
    }
    if state.open {
        // The register took the payments whose running sum it holds; a
        // register counts at most the receipt's sum (cash change).
        let payments = receipt_payments(l);
        let mut sum = 0;
        let mut taken = Vec::new();
        let mut rest = Vec::new();
        for p in payments {
            let amount = fiscal_payment(l, p).amount();
            if state.paid >= state.amount || sum + amount <= state.paid {
                taken.push(p);
            } else {
                rest.push(p);
            }
            sum += amount;
        }
        let mut updates: Vec<(i64, PaymentUpdate)> = Vec::new();
        let mut before = 0;
        for p in &taken {
            let tendered = fiscal_payment(l, p).amount();
            let due = round_cash(state.amount - before);
            updates.extend(cash_taken(p, (tendered - due).max(0)));
            before += tendered;
        }
        return match pay_and_close(ctx, &rest).await {
            Ok((number, more)) => {
                updates.extend(more);
                printed(l, number, updates, None, "register state")
            }
            Err(e) => Outcome::fiscal_failed(&e),
        };
    }
    let last = match f.last_document_number().await {
        Ok(n) => n,
        Err(e) => return Outcome::fiscal_failed(&e),
    };
    if last <= ahead.before {
        return Outcome::Retry("the register printed nothing since the receipt began".into());
    }
    // Newest first: the receipt is normally the last document.
    for n in (ahead.before + 1..=last).rev().take(8) {
        match f.read_document(n).await {
            Ok(lines) if is_ours(l, &lines) => {
                let updates = receipt_payments(l)
                    .into_iter()
                    .filter_map(|p| cash_taken(p, 0))
                    .map(|(id, u)| match u {
                        // The change the register gave is printed on the
                        // receipt; what counts here is that the cash was taken.
                        PaymentUpdate::CashTaken { .. } => {
                            let p = l.payment(id).cloned();
                            let tendered = p.and_then(|p| p.tendered).unwrap_or(0);
                            let cash_due = round_cash(
                                l.op.total
                                    - l.payments
                                        .iter()
                                        .filter(|q| q.is_charged())
                                        .map(|q| q.approved)
                                        .sum::<i64>(),
                            );
                            let change = (tendered - cash_due).max(0);
                            (
                                id,
                                PaymentUpdate::CashTaken {
                                    amount: tendered - change,
                                    change,
                                },
                            )
                        }
                        other => (id, other),
                    })
                    .collect();
                return printed(l, n, updates, Some(lines), "read back");
            }
            Ok(_) => continue,
            // The register cannot be read back: judge by the number alone.
            Err(fiscal::Error::InvalidRequest(_)) if last == ahead.before + 1 => {
                return printed(l, last, Vec::new(), None, "document number")
            }
            Err(e) if e.is_uncertain() => return Outcome::fiscal_failed(&e),
            Err(_) => continue,
        }
    }
    Outcome::Retry("no document since the receipt began is this operation's".into())
}

// ---- drawer and report ---------------------------------------------------------

/// Write-ahead of a cash move or a report: the document number and counters.
pub async fn prepare_counters(f: &dyn FiscalRegister) -> Result<CountersAhead, Outcome> {
    let before = clear_stray(f).await?;
    let cash = f.cash_totals().await.ok();
    Ok(CountersAhead { before, cash })
}

fn cash_amount(l: &Loaded) -> i64 {
    match l.op.spec {
        OperationSpec::CashIn { amount } => amount,
        OperationSpec::CashOut { amount } => -amount,
        _ => 0,
    }
}

async fn document(f: &dyn FiscalRegister, l: &Loaded, kind: &'static str, how: &str) -> Outcome {
    let number = f.last_document_number().await.ok();
    let text = match number {
        Some(n) => read_back(f, n).await,
        None => None,
    };
    Outcome::Done {
        result: json!({ "how": how, "number": number }),
        payment: Vec::new(),
        document: Some(NewDocument {
            kind,
            number: number.and_then(|n| i64::try_from(n).ok()),
            amount: l.op.total,
            text: text.map(|t| t.join("\n")),
        }),
    }
}

fn drawer_kind(l: &Loaded) -> &'static str {
    if cash_amount(l) >= 0 {
        "cash_in"
    } else {
        "cash_out"
    }
}

/// Put cash in or take it out.
pub async fn run_drawer(ctx: &StepContext<'_>) -> RunResult {
    let f = ctx.devices.fiscal.as_ref();
    match f.cash_in_out(cash_amount(ctx.loaded)).await {
        Ok(_) => RunResult::Ended(document(f, ctx.loaded, drawer_kind(ctx.loaded), "reply").await),
        Err(e) if e.is_uncertain() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(Outcome::fiscal_failed(&e)),
    }
}

/// Recover a cash move: did the register's counters move?
pub async fn recover_drawer(ctx: &StepContext<'_>, ahead: &CountersAhead) -> Outcome {
    let f = ctx.devices.fiscal.as_ref();
    let amount = cash_amount(ctx.loaded);
    let moved = match (ahead.cash, f.cash_totals().await) {
        (Some(before), Ok(now)) => {
            if amount >= 0 {
                now.cash_in >= before.cash_in + amount
            } else {
                now.cash_out >= before.cash_out - amount
            }
        }
        (_, Err(e)) if e.is_uncertain() => return Outcome::fiscal_failed(&e),
        _ => match f.last_document_number().await {
            Ok(n) => n > ahead.before,
            Err(e) => return Outcome::fiscal_failed(&e),
        },
    };
    if moved {
        document(f, ctx.loaded, drawer_kind(ctx.loaded), "counters").await
    } else {
        Outcome::Retry("the register's cash counters did not move".into())
    }
}

/// Print the X report.
pub async fn run_report(ctx: &StepContext<'_>) -> RunResult {
    let f = ctx.devices.fiscal.as_ref();
    match f.x_report().await {
        Ok(_) => RunResult::Ended(document(f, ctx.loaded, "x_report", "reply").await),
        Err(e) if e.is_uncertain() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(Outcome::fiscal_failed(&e)),
    }
}

/// Recover an X report: printed if the document number moved.
pub async fn recover_report(ctx: &StepContext<'_>, ahead: &CountersAhead) -> Outcome {
    let f = ctx.devices.fiscal.as_ref();
    match f.last_document_number().await {
        Ok(n) if n > ahead.before => document(f, ctx.loaded, "x_report", "document number").await,
        Ok(_) => Outcome::Retry("no report was printed".into()),
        Err(e) => Outcome::fiscal_failed(&e),
    }
}

/// The payments a charge step may refer to as originals (refunds, voids).
pub fn originals(journal: &crate::journal::Journal, l: &Loaded) -> Vec<PaymentRecord> {
    l.payments
        .iter()
        .filter_map(|p| p.refund_of)
        .filter_map(|id| journal.payment(id).ok().flatten())
        .collect()
}

/// The charge target of a step, for the runner.
pub fn target<'a>(
    l: &'a Loaded,
    step: &Step,
    originals: &'a [PaymentRecord],
) -> Option<(&'a PaymentRecord, Option<&'a PaymentRecord>)> {
    match step {
        Step::Charge(id) | Step::Confirm(id) | Step::Reverse(id) => {
            charge_target(l, *id, originals).ok()
        }
        _ => None,
    }
}
