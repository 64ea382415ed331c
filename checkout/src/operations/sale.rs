//! A sale: items (name, price, quantity, tax group, discount) or a free
//! amount, paid by card, in cash, or both on one receipt; and paying the
//! rest of a sale after a partial approval.

use fiscal::{line_total, ReceiptLine};

use crate::api::{
    AddPaymentRequest, CardAction, ItemRequest, PaymentMethod, SaleRequest, TenderRequest,
};
use crate::journal::{Loaded, NewOperation, NewPayment};
use crate::money::{round_cash, MAX_AMOUNT};
use crate::{Error, Result};

use super::{check_key, fingerprint, new_operation, Context, OperationSpec};

/// The most lines one receipt may have.
pub const MAX_ITEMS: usize = 200;
/// The most card payments one sale may start with.
pub const MAX_CARD_PAYMENTS: usize = 4;
/// The longest item name.
pub const MAX_NAME: usize = 72;

/// A name, cleaned: trimmed, inner whitespace collapsed, control
/// characters refused.
pub fn clean_text(what: &str, s: &str, max: usize) -> Result<String> {
    if s.chars().any(|c| c.is_control()) {
        return Err(Error::InvalidRequest(format!(
            "{what} has a control character"
        )));
    }
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        return Err(Error::InvalidRequest(format!("{what} is empty")));
    }
    if t.chars().count() > max {
        return Err(Error::InvalidRequest(format!(
            "{what} is longer than {max} characters"
        )));
    }
    Ok(t)
}

/// A tax group letter: `А`..`Д`, or Latin `A`..`E`, as one character.
pub fn tax_group(s: &str) -> Result<char> {
    let mut it = s.trim().chars();
    match (it.next(), it.next()) {
        (Some(c @ ('А'..='Д' | 'A'..='E' | 'a'..='e' | 'а'..='д')), None) => {
            Ok(c.to_uppercase().next().unwrap_or(c))
        }
        _ => Err(Error::InvalidRequest(format!(
            "tax group {s:?} is not one of А, Б, В, Г, Д"
        ))),
    }
}

fn line(item: &ItemRequest, default_tax: char) -> Result<ReceiptLine> {
    let name = clean_text("an item name", &item.name, MAX_NAME)?;
    let price = item.price.positive()?;
    let quantity_milli = item.quantity_milli.unwrap_or(1000);
    if !(1..=1_000_000_000).contains(&quantity_milli) {
        return Err(Error::InvalidRequest(format!(
            "{name}: the quantity must be from 0.001 to 1000000"
        )));
    }
    let tax_group = match &item.tax_group {
        Some(t) => tax_group(t)?,
        None => default_tax,
    };
    let discount = match item.discount {
        Some(d) => d.non_negative()?,
        None => 0,
    };
    let line = ReceiptLine {
        name,
        tax_group,
        price,
        quantity_milli,
        discount,
    };
    let gross = line_total(&ReceiptLine {
        discount: 0,
        ..line.clone()
    });
    if gross > MAX_AMOUNT {
        return Err(Error::InvalidAmount(format!(
            "{}: the line is more than the largest amount",
            line.name
        )));
    }
    if discount >= gross {
        return Err(Error::InvalidAmount(format!(
            "{}: the discount must be less than the line",
            line.name
        )));
    }
    Ok(line)
}

/// How the tenders of a request cover `total`, checked.
fn tenders(
    key: &str,
    tenders: &[TenderRequest],
    total: i64,
    merchant: u8,
) -> Result<Vec<NewPayment>> {
    let mut out = Vec::new();
    let (mut card, mut cash) = (0i64, 0i64);
    for (i, t) in tenders.iter().enumerate() {
        let (method, action, amount) = match t {
            TenderRequest::Card(crate::api::TenderAmount { amount }) => (
                PaymentMethod::Card,
                CardAction::Purchase,
                amount.positive()?,
            ),
            TenderRequest::Cash(crate::api::TenderAmount { amount }) => {
                (PaymentMethod::Cash, CardAction::None, amount.positive()?)
            }
        };
        match method {
            PaymentMethod::Card => card += amount,
            PaymentMethod::Cash => cash += amount,
        }
        out.push(NewPayment {
            key: format!("{key}#{}", i + 1),
            method,
            card_action: action,
            requested: amount,
            tendered: (method == PaymentMethod::Cash).then_some(amount),
            refund_of: None,
            merchant,
        });
    }
    let cards = out
        .iter()
        .filter(|p| p.method == PaymentMethod::Card)
        .count();
    if cards > MAX_CARD_PAYMENTS {
        return Err(Error::InvalidRequest(format!(
            "at most {MAX_CARD_PAYMENTS} card payments"
        )));
    }
    if out
        .iter()
        .filter(|p| p.method == PaymentMethod::Cash)
        .count()
        > 1
    {
        return Err(Error::InvalidRequest("one cash payment per request".into()));
    }
    if card > total {
        return Err(Error::InvalidAmount(
            "the card payments are more than the total: card payments give no change".into(),
        ));
    }
    let rest = total - card;
    if rest > 0 && cash == 0 {
        return Err(Error::InvalidAmount(
            "the payments do not cover the total".into(),
        ));
    }
    if rest > 0 && cash < round_cash(rest) {
        return Err(Error::InvalidAmount(format!(
            "the cash handed over is less than the {} kopiykas due",
            round_cash(rest)
        )));
    }
    if rest == 0 && cash > 0 {
        return Err(Error::InvalidAmount(
            "the cards pay the whole total: there is nothing to pay in cash".into(),
        ));
    }
    Ok(out)
}

/// The merchant a sale is for: the one asked for, its items' departments'
/// (all the same), else the first configured; refused when it is not
/// configured or its fiscal register is not the one Kasa drives.
fn choose_merchant(ctx: &Context<'_>, req: &SaleRequest) -> Result<u8> {
    let mut chosen = req.merchant;
    for item in &req.items {
        let Some(d) = item.department else { continue };
        let dept = ctx
            .departments
            .iter()
            .find(|x| x.id == d)
            .ok_or_else(|| Error::InvalidRequest(format!("no department {d}")))?;
        match chosen {
            Some(m) if m != dept.merchant => {
                return Err(Error::InvalidRequest(format!(
                "department {d} sells for merchant {}, not {m}: one receipt is for one merchant",
                dept.merchant
            )))
            }
            _ => chosen = Some(dept.merchant),
        }
    }
    let merchant = chosen.unwrap_or_else(|| ctx.merchants.first().map_or(0, |m| m.index));
    if ctx.merchants.is_empty() {
        return if merchant == 0 {
            Ok(0)
        } else {
            Err(Error::InvalidRequest(format!(
                "merchant {merchant} is not configured"
            )))
        };
    }
    let m = ctx
        .merchants
        .iter()
        .find(|m| m.index == merchant)
        .ok_or_else(|| Error::InvalidRequest(format!("merchant {merchant} is not configured")))?;
    if !m.register.is_empty() && m.register != crate::settings::MAIN_REGISTER {
        return Err(Error::NotAllowed(format!(
            "merchant {merchant} prints on register {:?}, which is not configured",
            m.register
        )));
    }
    Ok(merchant)
}

/// A sale request, validated, as a new operation.
pub fn validate_sale(ctx: &Context<'_>, req: &SaleRequest) -> Result<NewOperation> {
    check_key(&req.key)?;
    let default_tax = ctx.receipt.tax_group;
    let lines = match (&req.items[..], req.amount) {
        ([], None) => {
            return Err(Error::InvalidAmount(
                "a sale needs items or an amount".into(),
            ))
        }
        ([], Some(amount)) => vec![ReceiptLine {
            name: ctx.receipt.item_name.clone(),
            tax_group: default_tax,
            price: amount.positive()?,
            quantity_milli: 1000,
            discount: 0,
        }],
        (items, None) => {
            if items.len() > MAX_ITEMS {
                return Err(Error::InvalidRequest(format!(
                    "a receipt has at most {MAX_ITEMS} lines"
                )));
            }
            items
                .iter()
                .map(|i| line(i, default_tax))
                .collect::<Result<Vec<_>>>()?
        }
        (_, Some(_)) => {
            return Err(Error::InvalidRequest(
                "a sale has items or an amount, not both".into(),
            ))
        }
    };
    let total: i64 = lines.iter().map(line_total).sum();
    if total <= 0 || total > MAX_AMOUNT {
        return Err(Error::InvalidAmount("the total is out of range".into()));
    }
    let merchant = choose_merchant(ctx, req)?;
    let payments = if req.payments.is_empty() {
        tenders(&req.key, &[TenderRequest::card(total)], total, merchant)?
    } else {
        tenders(&req.key, &req.payments, total, merchant)?
    };
    let hash = fingerprint("sale", req);
    Ok(new_operation(
        ctx,
        &req.key,
        hash,
        OperationSpec::Sale { lines },
        total,
        None,
        payments,
    ))
}

/// A payment for the rest of a sale that awaits payment, validated.
pub fn validate_add_payment(l: &Loaded, req: &AddPaymentRequest) -> Result<NewPayment> {
    check_key(&req.key)?;
    let charged: i64 = l
        .payments
        .iter()
        .filter(|p| p.is_charged())
        .map(|p| p.approved)
        .sum();
    let cash: i64 = l
        .payments
        .iter()
        .filter(|p| p.method == PaymentMethod::Cash)
        .filter_map(|p| p.tendered)
        .sum();
    let rest = l.op.total - charged;
    let (method, action, amount) = match req.payment {
        TenderRequest::Card(crate::api::TenderAmount { amount }) => {
            let a = amount.positive()?;
            if a > rest - cash {
                return Err(Error::InvalidAmount(format!(
                    "the card payment is more than the {} kopiykas left",
                    rest - cash
                )));
            }
            (PaymentMethod::Card, CardAction::Purchase, a)
        }
        TenderRequest::Cash(crate::api::TenderAmount { amount }) => {
            let a = amount.positive()?;
            if cash + a < round_cash(rest) {
                return Err(Error::InvalidAmount(format!(
                    "the cash handed over is less than the {} kopiykas due",
                    round_cash(rest) - cash
                )));
            }
            (PaymentMethod::Cash, CardAction::None, a)
        }
    };
    Ok(NewPayment {
        key: req.key.clone(),
        method,
        card_action: action,
        requested: amount,
        tendered: (method == PaymentMethod::Cash).then_some(amount),
        refund_of: None,
        merchant: l.op.merchant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    #[test]
    fn tenders_must_cover_the_total() {
        let card = TenderRequest::card;
        let cash = TenderRequest::cash;
        assert!(tenders("k", &[card(1000)], 1000, 0).is_ok());
        assert!(tenders("k", &[card(600), cash(400)], 1000, 0).is_ok());
        // 3.97 in cash is rounded to 4.00; 3.95 handed over is not enough.
        assert!(tenders("k", &[card(603), cash(400)], 1000, 0).is_ok());
        assert!(tenders("k", &[card(603), cash(390)], 1000, 0).is_err());
        assert!(
            tenders("k", &[card(1001)], 1000, 0).is_err(),
            "no change on a card"
        );
        assert!(tenders("k", &[card(999)], 1000, 0).is_err());
        assert!(tenders("k", &[card(1000), cash(10)], 1000, 0).is_err());
        assert!(tenders("k", &[card(-5)], 1000, 0).is_err());
        assert!(tenders("k", &[cash(500), cash(500)], 1000, 0).is_err());
        let p = tenders("k", &[cash(2000)], 1000, 0).unwrap();
        assert_eq!(p[0].tendered, Some(2000));
        // At most MAX_CARD_PAYMENTS cards (cash does not count towards it).
        let n = MAX_CARD_PAYMENTS as i64;
        let mut many: Vec<TenderRequest> = (0..n).map(|_| card(100)).collect();
        many.push(cash(100));
        assert!(tenders("k", &many, 100 * (n + 1), 0).is_ok());
        many.push(card(100));
        assert!(tenders("k", &many, 100 * (n + 2), 0).is_err());
    }

    #[test]
    fn lines_are_checked() {
        let item = |name: &str, price, q, tax: Option<&str>, disc: Option<i64>| ItemRequest {
            name: name.into(),
            price: Money(price),
            quantity_milli: q,
            tax_group: tax.map(str::to_string),
            discount: disc.map(Money),
            department: None,
        };
        let ok = line(
            &item("  Хліб   білий ", 2500, Some(1500), Some("Б"), Some(100)),
            'А',
        )
        .unwrap();
        assert_eq!(ok.name, "Хліб білий");
        assert_eq!(ok.tax_group, 'Б');
        assert_eq!(line_total(&ok), 3650);
        assert!(line(&item("x", 100, None, Some("Ж"), None), 'А').is_err());
        assert!(line(&item("x", 100, None, None, Some(100)), 'А').is_err());
        assert!(line(&item("", 100, None, None, None), 'А').is_err());
        assert!(line(&item("a\u{7}b", 100, None, None, None), 'А').is_err());
        assert!(line(&item(&"x".repeat(3000), 100, None, None, None), 'А').is_err());
        assert!(line(&item("x", 100, Some(0), None, None), 'А').is_err());
        assert!(line(&item("x", 0, None, None, None), 'А').is_err());
        // The discount is checked against the line before it: 6.00 off 10.00
        // is fine, 9.99 too, 10.00 is not.
        let off = |d| line(&item("x", 1000, None, None, Some(d)), 'А').map(|l| line_total(&l));
        assert_eq!(off(600).unwrap(), 400);
        assert_eq!(off(999).unwrap(), 1);
        assert!(off(1000).is_err());
        // A line over the largest amount is refused, whatever its discount.
        let big = |d| line(&item("x", MAX_AMOUNT, Some(2000), None, Some(d)), 'А');
        assert!(big(MAX_AMOUNT + 1).is_err());
        assert_eq!(tax_group("b").unwrap(), 'B');
    }
}
