//! Giving card money back: a refund by RRN (full or partial, never more than
//! what is left of the original payment) and a void by the terminal's
//! invoice number (the whole payment, inside the terminal's open batch).
//! Both print a return receipt that carries the refund's own RRN.

use fiscal::{line_total, ReceiptLine};

use crate::api::{
    CardAction, OperationState, PaymentMethod, PaymentState, RefundRequest, VoidRequest,
};
use crate::journal::{Journal, NewOperation, NewPayment, PaymentRecord};
use crate::{Error, Result};

use super::{check_key, fingerprint, new_operation, Context, OperationSpec};

/// What is left to give back of card payment `p`.
pub fn refundable(journal: &Journal, p: &PaymentRecord) -> Result<i64> {
    let given: i64 = journal
        .refunds_of(p.id)?
        .iter()
        .map(|r| {
            if r.state == PaymentState::Approved {
                r.approved
            } else {
                r.requested
            }
        })
        .sum();
    Ok((p.approved - given).max(0))
}

/// Lines for a return receipt of `amount` out of a sale with `lines`: the
/// sale's own lines for the whole amount, otherwise one line per tax group
/// with the amount shared in proportion (largest remainder).
pub fn return_lines(lines: &[ReceiptLine], amount: i64) -> Vec<ReceiptLine> {
    let total: i64 = lines.iter().map(line_total).sum();
    if amount == total || total <= 0 {
        return lines.to_vec();
    }
    let mut groups: Vec<(char, String, i64)> = Vec::new();
    for l in lines {
        match groups.iter_mut().find(|g| g.0 == l.tax_group) {
            Some(g) => g.2 += line_total(l),
            None => groups.push((l.tax_group, l.name.clone(), line_total(l))),
        }
    }
    let mut shares: Vec<(usize, i64, i128)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let exact = i128::from(amount) * i128::from(g.2);
            let share = exact / i128::from(total);
            (
                i,
                i64::try_from(share).unwrap_or(0),
                exact % i128::from(total),
            )
        })
        .collect();
    let mut left = amount - shares.iter().map(|s| s.1).sum::<i64>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].1 += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .filter(|s| s.1 > 0)
        .map(|(i, share, _)| ReceiptLine {
            name: groups[i].1.clone(),
            tax_group: groups[i].0,
            price: share,
            quantity_milli: 1000,
            discount: 0,
        })
        .collect()
}

/// The sale an original card payment belongs to: its lines and receipt number.
fn original_sale(journal: &Journal, p: &PaymentRecord) -> Result<(Vec<ReceiptLine>, Option<u64>)> {
    let l = journal.load(p.operation_id)?;
    if l.op.state != OperationState::Done {
        return Err(Error::NotAllowed(format!(
            "the sale {} is not finished ({})",
            l.op.id,
            l.op.state.as_str()
        )));
    }
    let receipt = journal
        .receipt_number(l.op.id)?
        .and_then(|n| u64::try_from(n).ok());
    Ok((l.op.spec.lines().to_vec(), receipt))
}

fn card_refund(
    ctx: &Context<'_>,
    key: &str,
    hash: String,
    original: &PaymentRecord,
    amount: i64,
    action: CardAction,
) -> Result<NewOperation> {
    let (lines, receipt) = original_sale(ctx.journal, original)?;
    let sale = ctx.journal.load(original.operation_id)?;
    let returned: i64 = ctx
        .journal
        .returns_of(sale.op.id)?
        .iter()
        .map(|o| o.total)
        .sum();
    if amount > sale.op.total - returned {
        return Err(Error::NotAllowed(format!(
            "only {} kopiykas of sale {} are left to give back",
            sale.op.total - returned,
            sale.op.id
        )));
    }
    let sale_lines_total: i64 = lines.iter().map(line_total).sum();
    // The part of the sale this card paid, then the part of that refunded.
    let lines = return_lines(
        &return_lines(&lines, original.approved.min(sale_lines_total)),
        amount,
    );
    let spec = match action {
        CardAction::Void => OperationSpec::Void {
            lines,
            original_receipt: receipt,
        },
        _ => OperationSpec::Refund {
            lines,
            original_receipt: receipt,
        },
    };
    let payment = NewPayment {
        key: format!("{key}#1"),
        method: PaymentMethod::Card,
        card_action: action,
        requested: amount,
        tendered: None,
        refund_of: Some(original.id),
        merchant: original.merchant,
    };
    Ok(new_operation(
        ctx,
        key,
        hash,
        spec,
        amount,
        Some(original.operation_id),
        vec![payment],
    ))
}

/// A refund by RRN, validated.
pub fn validate_refund(ctx: &Context<'_>, req: &RefundRequest) -> Result<NewOperation> {
    check_key(&req.key)?;
    let rrn = req.rrn.trim();
    if rrn.is_empty() || rrn.len() > 24 || !rrn.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidRequest(
            "the RRN is 1 to 24 letters and digits".into(),
        ));
    }
    let original = ctx
        .journal
        .payment_by_rrn(rrn)?
        .ok_or_else(|| Error::NotFound(format!("no card payment with RRN {rrn}")))?;
    let left = refundable(ctx.journal, &original)?;
    if left == 0 {
        return Err(Error::NotAllowed(format!(
            "the payment with RRN {rrn} has been given back in full"
        )));
    }
    let amount = match req.amount {
        Some(a) => a.positive()?,
        None => left,
    };
    if amount > left {
        return Err(Error::NotAllowed(format!(
            "only {left} kopiykas of the payment with RRN {rrn} are left to refund"
        )));
    }
    let hash = fingerprint("refund", req);
    card_refund(ctx, &req.key, hash, &original, amount, CardAction::Refund)
}

/// A void by invoice number, validated: the whole payment, never one
/// already partly refunded.
pub fn validate_void(ctx: &Context<'_>, req: &VoidRequest) -> Result<NewOperation> {
    check_key(&req.key)?;
    let invoice = req.invoice.trim();
    if invoice.is_empty() || invoice.len() > 20 || !invoice.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidRequest(
            "the invoice number is 1 to 20 digits".into(),
        ));
    }
    let original = ctx
        .journal
        .payment_by_invoice(invoice)?
        .ok_or_else(|| Error::NotFound(format!("no card payment with invoice {invoice}")))?;
    if refundable(ctx.journal, &original)? != original.approved {
        return Err(Error::NotAllowed(format!(
            "the payment with invoice {invoice} was already refunded: refund the rest by RRN"
        )));
    }
    let hash = fingerprint("void", req);
    card_refund(
        ctx,
        &req.key,
        hash,
        &original,
        original.approved,
        CardAction::Void,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, tax: char, price: i64) -> ReceiptLine {
        ReceiptLine {
            name: name.into(),
            tax_group: tax,
            price,
            quantity_milli: 1000,
            discount: 0,
        }
    }

    #[test]
    fn a_partial_return_is_shared_by_tax_group() {
        let lines = vec![
            l("Хліб", 'А', 300),
            l("Молоко", 'А', 400),
            l("Вино", 'Б', 300),
        ];
        assert_eq!(
            return_lines(&lines, 1000),
            lines,
            "the whole sale: its own lines"
        );
        let part = return_lines(&lines, 500);
        assert_eq!(part.iter().map(line_total).sum::<i64>(), 500);
        assert_eq!(part.len(), 2);
        assert_eq!((part[0].tax_group, part[0].price), ('А', 350));
        assert_eq!((part[1].tax_group, part[1].price), ('Б', 150));
        let odd = return_lines(&[l("a", 'А', 1), l("b", 'Б', 1), l("c", 'В', 1)], 2);
        assert_eq!(odd.iter().map(line_total).sum::<i64>(), 2);
    }
}
