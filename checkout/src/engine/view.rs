//! An operation as the UI sees it, computed from the journal: what is paid,
//! what is left, the change, and, when it needs a person, exactly the
//! actions that are safe now.

use crate::api::{
    CardAction, DocumentView, OperationKind, OperationState, OperationView, PaymentMethod,
    PaymentState, PaymentView, Problem, SafeAction,
};
use crate::journal::{Loaded, PaymentRecord};
use crate::money::round_cash;

fn payment_view(p: &PaymentRecord) -> PaymentView {
    PaymentView {
        id: p.id,
        method: p.method,
        card_action: p.card_action,
        state: p.state,
        requested: p.requested,
        approved: p.approved,
        tendered: p.tendered,
        change: p.change,
        partial: p.method == PaymentMethod::Card
            && p.state == PaymentState::Approved
            && p.approved < p.requested,
        card: p.card.clone(),
        decline: p.decline.clone(),
    }
}

/// The safe actions for an operation in `state` with problem `code`.
fn actions(l: &Loaded, state: OperationState, code: &str) -> Vec<SafeAction> {
    let charged = l
        .payments
        .iter()
        .any(|p| p.is_charged() && p.card_action == CardAction::Purchase);
    match state {
        OperationState::AwaitingPayment => vec![SafeAction::Cancel],
        OperationState::NeedsAttention => {
            let mut a = Vec::new();
            if code.starts_with("fiscal.") || code == "internal.retries" {
                a.push(SafeAction::PrintAgain);
            }
            if code.starts_with("terminal.") {
                a.push(SafeAction::RetryLookup);
            }
            if charged && l.op.kind == OperationKind::Sale {
                a.push(SafeAction::Cancel);
            }
            a.push(SafeAction::Resolve);
            a
        }
        _ => Vec::new(),
    }
}

/// Build the view of an operation; `step` is the step running now, if any.
pub fn view(l: &Loaded, step: Option<&str>) -> OperationView {
    let op = &l.op;
    let card: i64 = l
        .payments
        .iter()
        .filter(|p| p.method == PaymentMethod::Card && p.state == PaymentState::Approved)
        .map(|p| p.approved)
        .sum();
    let cash_tendered: i64 = l
        .payments
        .iter()
        .filter(|p| p.method == PaymentMethod::Cash)
        .filter_map(|p| p.tendered)
        .sum();
    let has_cash = l.payments.iter().any(|p| p.method == PaymentMethod::Cash);
    let mut cash_due = 0;
    let (paid, remaining, change) = match op.kind {
        OperationKind::Sale => {
            let due = (op.total - card).max(0);
            let rounded = round_cash(due);
            if has_cash && cash_tendered >= rounded {
                (op.total, 0, cash_tendered - rounded)
            } else {
                let left = (due - cash_tendered).max(0);
                if matches!(
                    op.state,
                    OperationState::Running | OperationState::AwaitingPayment
                ) {
                    cash_due = (rounded - cash_tendered).max(0);
                }
                (op.total - left, left, 0)
            }
        }
        OperationKind::CashIn | OperationKind::CashOut | OperationKind::XReport => {
            let done = op.state == OperationState::Done;
            (if done { op.total } else { 0 }, 0, 0)
        }
        _ => {
            let given: i64 = l
                .payments
                .iter()
                .filter(|p| p.state == PaymentState::Approved)
                .map(|p| p.approved)
                .sum();
            (given, (op.total - given).max(0), 0)
        }
    };
    let problem = match (&op.error_code, op.state) {
        (Some(code), _) => Some(Problem {
            code: code.clone(),
            message: op.error_message.clone().unwrap_or_default(),
            actions: actions(l, op.state, code),
        }),
        (None, OperationState::AwaitingPayment) => Some(Problem {
            code: "payment.remaining".into(),
            message: format!("{remaining} kopiykas are left to pay"),
            actions: actions(l, op.state, ""),
        }),
        _ => None,
    };
    OperationView {
        id: op.id,
        key: op.key.clone(),
        kind: op.kind,
        state: op.state,
        total: op.total,
        paid,
        remaining,
        cash_due,
        change,
        payments: l.payments.iter().map(payment_view).collect(),
        documents: l
            .documents
            .iter()
            .map(|d| DocumentView {
                kind: d.kind.clone(),
                number: d.number,
                amount: d.amount,
                text: d.text.clone(),
            })
            .collect(),
        step: step.map(str::to_string),
        original_id: op.original_id,
        problem,
        business_day: op.business_day.clone(),
        created_at: op.created_at.clone(),
        updated_at: op.updated_at.clone(),
    }
}
