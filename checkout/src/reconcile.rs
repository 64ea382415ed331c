//! The three-way day reconciliation: what the journal says, what the card
//! terminal's batch holds and what the fiscal register printed must agree,
//! by payment type and merchant, or every difference is named: a card
//! payment with no receipt, a receipt with no payment, an amount that
//! differs, totals that differ.
//!
//! A pure function over what the day close gathered ([`Inputs`]): the
//! shift's operations from the journal, the terminal's survey (batch totals
//! per merchant and, where the protocol can list them, its transactions),
//! the settlements, and the register's documents read back from its
//! electronic journal (receipts and the Z report).

use std::collections::{HashMap, HashSet};

use fiscal::readback::{summarize, summarize_report, DocumentKind};
use serde::{Deserialize, Serialize};
use terminal::{BatchTotals, CardTransaction, TxnKind, TxnStatus};
use ts_rs::TS;

use crate::api::{CardAction, OperationKind, OperationState, PaymentMethod, PaymentState};
use crate::journal::Loaded;

/// Counts and sums of one side, minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Amounts {
    pub sales_count: u32,
    #[ts(type = "number")]
    pub sales: i64,
    pub returns_count: u32,
    #[ts(type = "number")]
    pub returns: i64,
}

impl Amounts {
    fn sale(&mut self, a: i64) {
        self.sales_count += 1;
        self.sales += a;
    }
    fn ret(&mut self, a: i64) {
        self.returns_count += 1;
        self.returns += a;
    }

    /// The terminal's batch totals as sales (purchases, voided ones
    /// included) and returns (refunds and voids).
    pub fn of_batch(t: &BatchTotals) -> Amounts {
        Amounts {
            sales_count: t.debit_count + t.cancelled_count,
            sales: t.debit_amount + t.cancelled_amount,
            returns_count: t.credit_count + t.cancelled_count,
            returns: t.credit_amount + t.cancelled_amount,
        }
    }
}

/// One line of the report: a merchant (none: the register as a whole) and
/// a payment type, on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReconRow {
    pub merchant: Option<u8>,
    pub method: PaymentMethod,
    pub journal: Amounts,
    /// The terminal's figures (card only; none where the protocol reports
    /// no totals).
    pub terminal: Option<Amounts>,
    /// What the register printed.
    pub fiscal: Option<Amounts>,
}

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The terminal charged a card and no receipt (no journal operation)
    /// has it.
    CardPaymentWithoutReceipt,
    /// The register printed a receipt no operation of the journal paid.
    ReceiptWithoutPayment,
    /// A receipt's amount differs from its operation's.
    AmountDiffers,
    /// A receipt the journal recorded is not in the register's journal.
    ReceiptMissing,
    /// The terminal's totals for a merchant differ from the journal's.
    TerminalTotalsDiffer,
    /// The register's day totals for a payment type differ from the journal's.
    FiscalTotalsDiffer,
    /// The terminal reports no totals (its protocol has none): only its
    /// last transaction could be checked.
    TerminalTotalsUnavailable,
    /// The settlement could not run; it runs later.
    SettlementPending,
}

/// One difference, with what identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Difference {
    pub kind: DifferenceKind,
    pub merchant: Option<u8>,
    #[ts(type = "number | null")]
    pub operation: Option<i64>,
    /// The register's document number.
    #[ts(type = "number | null")]
    pub receipt: Option<i64>,
    pub rrn: Option<String>,
    /// The journal's amount.
    #[ts(type = "number | null")]
    pub expected: Option<i64>,
    /// The other side's amount.
    #[ts(type = "number | null")]
    pub found: Option<i64>,
    pub detail: String,
}

/// The reconciliation of one shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Reconciliation {
    #[ts(type = "number")]
    pub shift: i64,
    pub business_day: String,
    pub rows: Vec<ReconRow>,
    pub differences: Vec<Difference>,
    /// What could not be checked, which is not a disagreement: a protocol
    /// that reports no batch totals, a settlement still pending.
    #[serde(default)]
    pub unchecked: Vec<Difference>,
}

impl Reconciliation {
    /// No difference at all.
    pub fn clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The terminal as the day close found it, per merchant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TerminalSurvey {
    pub merchants: Vec<MerchantBatch>,
    /// The batch's transactions, where the protocol can list them (a lookup
    /// by invoice); else the terminal's last transaction.
    pub transactions: Vec<CardTransaction>,
    /// Whether `transactions` is the whole batch.
    pub complete: bool,
}

/// One merchant's batch on the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MerchantBatch {
    pub merchant: u8,
    pub totals: Option<BatchTotals>,
    /// Why there are no totals (a stable code), if there are none.
    pub error: Option<String>,
}

/// What the reconciliation works on.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub shift: i64,
    pub business_day: String,
    /// The shift's operations, as read from the journal.
    pub operations: &'a [Loaded],
    pub survey: &'a TerminalSurvey,
    /// Merchants whose settlement is pending.
    pub pending_settlements: &'a [u8],
    /// The register's documents of the shift, read back: (number, lines).
    pub documents: &'a [(i64, Vec<String>)],
    /// Which merchant each operation reference belongs to is in the
    /// operations; this maps a receipt's reference line to an operation id.
    pub reference_of: fn(&[String]) -> Option<i64>,
}

fn push(
    rows: &mut HashMap<(Option<u8>, PaymentMethod), ReconRow>,
    merchant: Option<u8>,
    method: PaymentMethod,
) -> &mut ReconRow {
    rows.entry((merchant, method)).or_insert(ReconRow {
        merchant,
        method,
        journal: Amounts::default(),
        terminal: None,
        fiscal: None,
    })
}

/// Reconcile a shift three ways.
pub fn reconcile(i: &Inputs<'_>) -> Reconciliation {
    let mut rows: HashMap<(Option<u8>, PaymentMethod), ReconRow> = HashMap::new();
    let mut diffs = Vec::new();
    let done: Vec<&Loaded> = i
        .operations
        .iter()
        .filter(|l| l.op.state == OperationState::Done)
        .collect();

    // The journal, per merchant and payment type; the register as a whole.
    let mut journal_register: HashMap<PaymentMethod, Amounts> = HashMap::new();
    let mut journal_rrns: HashSet<String> = HashSet::new();
    for l in &done {
        let returns = matches!(
            l.op.kind,
            OperationKind::Refund | OperationKind::Void | OperationKind::CashRefund
        );
        if !matches!(l.op.kind, OperationKind::Sale) && !returns {
            continue;
        }
        for p in l
            .payments
            .iter()
            .filter(|p| p.state == PaymentState::Approved)
        {
            if let Some(c) = &p.card {
                journal_rrns.insert(c.rrn.clone());
            }
            let row = push(&mut rows, Some(p.merchant), p.method);
            let reg = journal_register.entry(p.method).or_default();
            if returns {
                row.journal.ret(p.approved);
                reg.ret(p.approved);
            } else {
                row.journal.sale(p.approved);
                reg.sale(p.approved);
            }
        }
    }

    // The terminal: totals per merchant against the journal's card lines.
    let mut unavailable = false;
    for b in &i.survey.merchants {
        match &b.totals {
            Some(t) => {
                let theirs = Amounts::of_batch(t);
                let merchants: Vec<Option<u8>> = if b.merchant == 0 {
                    // "All merchants": the journal's card lines together.
                    rows.keys()
                        .filter(|(_, m)| *m == PaymentMethod::Card)
                        .map(|(m, _)| *m)
                        .collect()
                } else {
                    vec![Some(b.merchant)]
                };
                let ours = merchants.iter().fold(Amounts::default(), |mut acc, m| {
                    if let Some(r) = rows.get(&(*m, PaymentMethod::Card)) {
                        acc.sales += r.journal.sales;
                        acc.sales_count += r.journal.sales_count;
                        acc.returns += r.journal.returns;
                        acc.returns_count += r.journal.returns_count;
                    }
                    acc
                });
                let key = if b.merchant == 0 {
                    None
                } else {
                    Some(b.merchant)
                };
                push(&mut rows, key, PaymentMethod::Card).terminal = Some(theirs);
                if theirs.sales != ours.sales || theirs.returns != ours.returns {
                    diffs.push(Difference {
                        kind: DifferenceKind::TerminalTotalsDiffer,
                        merchant: Some(b.merchant),
                        operation: None,
                        receipt: None,
                        rrn: None,
                        expected: Some(ours.sales - ours.returns),
                        found: Some(theirs.sales - theirs.returns),
                        detail: format!(
                            "card sales {} (journal {}), returns {} (journal {})",
                            theirs.sales, ours.sales, theirs.returns, ours.returns
                        ),
                    });
                }
            }
            None => unavailable = true,
        }
    }
    let mut unchecked = Vec::new();
    if unavailable {
        unchecked.push(Difference {
            kind: DifferenceKind::TerminalTotalsUnavailable,
            merchant: None,
            operation: None,
            receipt: None,
            rrn: None,
            expected: None,
            found: None,
            detail: "the terminal reports no batch totals".into(),
        });
    }
    // Transactions the terminal holds and the journal does not.
    for tx in &i.survey.transactions {
        if tx.status != TxnStatus::Approved || tx.rrn.is_empty() || journal_rrns.contains(&tx.rrn) {
            continue;
        }
        let kind = match tx.kind {
            TxnKind::Purchase => DifferenceKind::CardPaymentWithoutReceipt,
            _ => DifferenceKind::AmountDiffers,
        };
        diffs.push(Difference {
            kind,
            merchant: None,
            operation: None,
            receipt: None,
            rrn: Some(tx.rrn.clone()),
            expected: None,
            found: Some(tx.amount),
            detail: format!(
                "the terminal's {:?} invoice {} is not in the journal",
                tx.kind, tx.invoice
            ),
        });
    }
    for m in i.pending_settlements {
        unchecked.push(Difference {
            kind: DifferenceKind::SettlementPending,
            merchant: Some(*m),
            operation: None,
            receipt: None,
            rrn: None,
            expected: None,
            found: None,
            detail: "the settlement could not run; it runs when the terminal answers".into(),
        });
    }

    // The register: each receipt against its operation.
    let by_op: HashMap<i64, &&Loaded> = done.iter().map(|l| (l.op.id, l)).collect();
    let mut seen_receipts: HashSet<i64> = HashSet::new();
    let mut fiscal_register: HashMap<PaymentMethod, Amounts> = HashMap::new();
    let mut z = None;
    for (number, lines) in i.documents {
        let s = summarize(lines);
        match s.kind {
            DocumentKind::ZReport => z = summarize_report(lines),
            DocumentKind::Sale | DocumentKind::Return => {
                let returns = s.kind == DocumentKind::Return;
                let op = (i.reference_of)(lines).and_then(|id| by_op.get(&id));
                let merchant = op.map(|l| l.op.merchant);
                for (method, amount) in
                    [(PaymentMethod::Card, s.card), (PaymentMethod::Cash, s.cash)]
                {
                    if amount == 0 {
                        continue;
                    }
                    let row = push(&mut rows, merchant, method);
                    let f = row.fiscal.get_or_insert_with(Amounts::default);
                    let reg = fiscal_register.entry(method).or_default();
                    if returns {
                        f.ret(amount);
                        reg.ret(amount);
                    } else {
                        f.sale(amount);
                        reg.sale(amount);
                    }
                }
                match op {
                    None => diffs.push(Difference {
                        kind: DifferenceKind::ReceiptWithoutPayment,
                        merchant: None,
                        operation: None,
                        receipt: Some(*number),
                        rrn: None,
                        expected: None,
                        found: s.total,
                        detail: "the register printed a receipt no operation of the journal paid"
                            .into(),
                    }),
                    Some(l) => {
                        seen_receipts.insert(l.op.id);
                        if s.total != Some(l.op.total) {
                            diffs.push(Difference {
                                kind: DifferenceKind::AmountDiffers,
                                merchant: Some(l.op.merchant),
                                operation: Some(l.op.id),
                                receipt: Some(*number),
                                rrn: None,
                                expected: Some(l.op.total),
                                found: s.total,
                                detail: "the receipt's sum differs from the operation's".into(),
                            });
                        }
                        let card: i64 = l
                            .payments
                            .iter()
                            .filter(|p| p.is_charged())
                            .map(|p| p.approved)
                            .sum();
                        if s.card != card {
                            diffs.push(Difference {
                                kind: DifferenceKind::AmountDiffers,
                                merchant: Some(l.op.merchant),
                                operation: Some(l.op.id),
                                receipt: Some(*number),
                                rrn: l
                                    .payments
                                    .iter()
                                    .find_map(|p| p.card.as_ref().map(|c| c.rrn.clone())),
                                expected: Some(card),
                                found: Some(s.card),
                                detail: "the receipt's card payment differs from the terminal's"
                                    .into(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // Operations whose receipt the register does not hold.
    for l in &done {
        if !matches!(
            l.op.kind,
            OperationKind::Sale
                | OperationKind::Refund
                | OperationKind::Void
                | OperationKind::CashRefund
        ) || seen_receipts.contains(&l.op.id)
        {
            continue;
        }
        let card = l.payments.iter().find(|p| {
            p.method == PaymentMethod::Card
                && p.state == PaymentState::Approved
                && p.card_action == CardAction::Purchase
        });
        diffs.push(Difference {
            kind: if card.is_some() {
                DifferenceKind::CardPaymentWithoutReceipt
            } else {
                DifferenceKind::ReceiptMissing
            },
            merchant: Some(l.op.merchant),
            operation: Some(l.op.id),
            receipt: l.documents.iter().find_map(|d| d.number),
            rrn: card.and_then(|p| p.card.as_ref().map(|c| c.rrn.clone())),
            expected: Some(l.op.total),
            found: None,
            detail: "the register's journal does not hold this operation's receipt".into(),
        });
    }
    // The register's own day totals against the journal's.
    if let Some(z) = z {
        for (method, sales, returns) in [
            (PaymentMethod::Card, z.card_sales, z.card_returns),
            (PaymentMethod::Cash, z.cash_sales, z.cash_returns),
        ] {
            let ours = journal_register.get(&method).copied().unwrap_or_default();
            let row = push(&mut rows, None, method);
            row.journal = ours;
            row.fiscal = Some(Amounts {
                sales_count: 0,
                sales,
                returns_count: 0,
                returns,
            });
            if ours.sales != sales || ours.returns != returns {
                diffs.push(Difference {
                    kind: DifferenceKind::FiscalTotalsDiffer,
                    merchant: None,
                    operation: None,
                    receipt: None,
                    rrn: None,
                    expected: Some(ours.sales - ours.returns),
                    found: Some(sales - returns),
                    detail: format!(
                        "{method:?}: the register's Z says sales {sales}, returns {returns}; the journal {}, {}",
                        ours.sales, ours.returns
                    ),
                });
            }
        }
    }
    let mut rows: Vec<ReconRow> = rows.into_values().collect();
    rows.sort_by_key(|r| {
        (
            r.merchant.map(i32::from).unwrap_or(-1),
            r.method == PaymentMethod::Cash,
        )
    });
    Reconciliation {
        shift: i.shift,
        business_day: i.business_day.clone(),
        rows,
        differences: diffs,
        unchecked,
    }
}
