//! Cash operations: cash in and cash out of the drawer, the X report, and
//! money given back in cash for a sale (with a return receipt).

use fiscal::line_total;

use crate::api::{
    CardAction, CashMoveRequest, CashRefundRequest, KeyRequest, OperationKind, OperationState,
    PaymentMethod,
};
use crate::journal::{NewOperation, NewPayment};
use crate::{Error, Result};

use super::refund::return_lines;
use super::{check_key, fingerprint, new_operation, Context, OperationSpec};

/// Cash in (`kind` = [`OperationKind::CashIn`]) or out, validated.
pub fn validate_cash_move(
    ctx: &Context<'_>,
    kind: OperationKind,
    req: &CashMoveRequest,
) -> Result<NewOperation> {
    check_key(&req.key)?;
    let amount = req.amount.positive()?;
    let (spec, name) = match kind {
        OperationKind::CashIn => (OperationSpec::CashIn { amount }, "cash_in"),
        OperationKind::CashOut => (OperationSpec::CashOut { amount }, "cash_out"),
        other => {
            return Err(Error::Internal(format!(
                "{} is not a cash move",
                other.as_str()
            )))
        }
    };
    let hash = fingerprint(name, req);
    Ok(new_operation(
        ctx,
        &req.key,
        hash,
        spec,
        amount,
        None,
        Vec::new(),
    ))
}

/// The merchants to report or settle: the configured ones, else the
/// terminal's default (0: all merchants).
fn merchants(ctx: &Context<'_>) -> Vec<u8> {
    let mut m: Vec<u8> = ctx.merchants.iter().map(|m| m.index).collect();
    m.sort_unstable();
    m.dedup();
    if m.is_empty() {
        m.push(0);
    }
    m
}

/// The X report, validated.
pub fn validate_x_report(ctx: &Context<'_>, req: &KeyRequest) -> Result<NewOperation> {
    check_key(&req.key)?;
    let hash = fingerprint("x_report", req);
    Ok(new_operation(
        ctx,
        &req.key,
        hash,
        OperationSpec::XReport {
            merchants: merchants(ctx),
        },
        0,
        None,
        Vec::new(),
    ))
}

/// The day close, validated.
pub fn validate_day_close(ctx: &Context<'_>, req: &KeyRequest) -> Result<NewOperation> {
    check_key(&req.key)?;
    let hash = fingerprint("day_close", req);
    Ok(new_operation(
        ctx,
        &req.key,
        hash,
        OperationSpec::DayClose {
            merchants: merchants(ctx),
        },
        0,
        None,
        Vec::new(),
    ))
}

/// Money back in cash for a finished sale (by operation id or receipt
/// number), never more than what is left of the sale after earlier returns.
pub fn validate_cash_refund(ctx: &Context<'_>, req: &CashRefundRequest) -> Result<NewOperation> {
    check_key(&req.key)?;
    let op_id = match (req.operation, req.receipt_number) {
        (Some(id), None) => id,
        (None, Some(n)) => ctx
            .journal
            .operation_by_receipt(n)?
            .ok_or_else(|| Error::NotFound(format!("no sale with receipt number {n}")))?,
        _ => {
            return Err(Error::InvalidRequest(
                "name the sale by its operation or its receipt number".into(),
            ))
        }
    };
    let sale = ctx.journal.load(op_id)?;
    if sale.op.kind != OperationKind::Sale || sale.op.state != OperationState::Done {
        return Err(Error::NotAllowed(format!(
            "operation {op_id} is not a finished sale"
        )));
    }
    let returned: i64 = ctx.journal.returns_of(op_id)?.iter().map(|o| o.total).sum();
    let left = sale.op.total - returned;
    let amount = match req.amount {
        Some(a) => a.positive()?,
        None => left,
    };
    if amount <= 0 || amount > left {
        return Err(Error::NotAllowed(format!(
            "only {left} kopiykas of sale {op_id} are left to give back"
        )));
    }
    let lines = return_lines(sale.op.spec.lines(), amount);
    debug_assert_eq!(lines.iter().map(line_total).sum::<i64>(), amount);
    let receipt = ctx
        .journal
        .receipt_number(op_id)?
        .and_then(|n| u64::try_from(n).ok());
    let payment = NewPayment {
        key: format!("{}#1", req.key),
        method: PaymentMethod::Cash,
        card_action: CardAction::None,
        requested: amount,
        tendered: Some(amount),
        refund_of: None,
        merchant: sale.op.merchant,
    };
    let hash = fingerprint("cash_refund", req);
    Ok(new_operation(
        ctx,
        &req.key,
        hash,
        OperationSpec::CashRefund {
            lines,
            original_receipt: receipt,
        },
        amount,
        Some(op_id),
        vec![payment],
    ))
}
