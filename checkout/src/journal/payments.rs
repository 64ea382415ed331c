//! Rows of the `payments` table. A payment is created `pending` and leaves
//! that state once, guarded: approved (with its card data, the card number
//! masked here whatever the terminal sent), declined, cancelled or unknown;
//! an approved card payment may later be reversed.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::api::{CardAction, CardData, Decline, PaymentMethod, PaymentState};
use crate::mask::mask_pan;
use crate::Result;

use super::{guarded, log};

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: i64,
    pub operation_id: i64,
    pub key: String,
    pub method: PaymentMethod,
    pub card_action: CardAction,
    pub state: PaymentState,
    pub requested: i64,
    pub approved: i64,
    pub tendered: Option<i64>,
    pub change: Option<i64>,
    pub refund_of: Option<i64>,
    pub merchant: u8,
    /// Set once the terminal approved (or a lookup found it).
    pub card: Option<CardData>,
    pub request_id: Option<String>,
    pub decline: Option<Decline>,
}

impl PaymentRecord {
    /// A card payment that the terminal approved and that was not given back.
    pub fn is_charged(&self) -> bool {
        self.method == PaymentMethod::Card && self.state == PaymentState::Approved
    }

    /// The change [`update`] writes, made in memory (planning ahead).
    pub fn apply(&mut self, u: &PaymentUpdate) {
        match u {
            PaymentUpdate::Approved { amount, card } => {
                self.state = PaymentState::Approved;
                self.approved = *amount;
                self.card = Some(CardData {
                    masked_pan: mask_pan(&card.masked_pan),
                    ..card.clone()
                });
                self.decline = None;
            }
            PaymentUpdate::CashTaken { amount, change } => {
                self.state = PaymentState::Approved;
                self.approved = *amount;
                self.change = Some(*change);
            }
            PaymentUpdate::Declined(d) => {
                self.state = PaymentState::Declined;
                self.decline = Some(d.clone());
            }
            PaymentUpdate::Cancelled(d) => {
                self.state = PaymentState::Cancelled;
                self.decline = Some(d.clone());
            }
            PaymentUpdate::Unknown(d) => {
                self.state = PaymentState::Unknown;
                self.decline = Some(d.clone());
            }
            PaymentUpdate::Reversed => self.state = PaymentState::Reversed,
        }
    }
}

/// A payment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub key: String,
    pub method: PaymentMethod,
    pub card_action: CardAction,
    pub requested: i64,
    pub tendered: Option<i64>,
    pub refund_of: Option<i64>,
    pub merchant: u8,
}

/// How a payment ended.
#[allow(clippy::large_enum_variant)] // built once per payment, never in bulk
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentUpdate {
    /// Approved by the terminal (or found approved by a lookup).
    Approved { amount: i64, card: CardData },
    /// Cash taken on the receipt: how much went to the receipt, and the change.
    CashTaken { amount: i64, change: i64 },
    /// Declined: not charged.
    Declined(Decline),
    /// Cancelled on the terminal, or never sent: not charged.
    Cancelled(Decline),
    /// The terminal cannot tell.
    Unknown(Decline),
    /// An approved card payment given back on the terminal.
    Reversed,
}

const COLUMNS: &str = "id, operation_id, key, method, card_action, state, requested, approved,
    tendered, change_given, refund_of, merchant, rrn, auth_code, masked_pan, card_scheme,
    terminal_id, merchant_id, invoice, batch, response_code, card_time, signature_required,
    request_id, decline_code, decline_message";

fn text<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<PaymentRecord> {
    let method: String = r.get(3)?;
    let action: String = r.get(4)?;
    let state: String = r.get(5)?;
    let bad = |v: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("bad payment value {v:?}").into(),
        )
    };
    let rrn: Option<String> = r.get(12)?;
    let opt = |i: usize| -> rusqlite::Result<String> {
        Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
    };
    let card = match rrn {
        Some(rrn) => Some(CardData {
            rrn,
            auth_code: opt(13)?,
            masked_pan: opt(14)?,
            card_scheme: opt(15)?,
            terminal_id: opt(16)?,
            merchant_id: opt(17)?,
            invoice: opt(18)?,
            batch: opt(19)?,
            response_code: opt(20)?,
            date_time: opt(21)?,
            signature_required: r.get::<_, i64>(22)? != 0,
        }),
        None => None,
    };
    let decline = match r.get::<_, Option<String>>(24)? {
        Some(code) => Some(Decline {
            code,
            message: opt(25)?,
        }),
        None => None,
    };
    Ok(PaymentRecord {
        id: r.get(0)?,
        operation_id: r.get(1)?,
        key: r.get(2)?,
        method: text(&method).ok_or_else(|| bad(&method))?,
        card_action: text(&action).ok_or_else(|| bad(&action))?,
        state: text(&state).ok_or_else(|| bad(&state))?,
        requested: r.get(6)?,
        approved: r.get(7)?,
        tendered: r.get(8)?,
        change: r.get(9)?,
        refund_of: r.get(10)?,
        merchant: r.get(11)?,
        card,
        request_id: r.get(23)?,
        decline,
    })
}

/// The payments of an operation, oldest first.
pub fn of_operation(c: &Connection, op: i64) -> Result<Vec<PaymentRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM payments WHERE operation_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([op], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Insert a payment of operation `op`; returns its id.
pub fn insert(tx: &Transaction<'_>, op: i64, p: &NewPayment, at: &str) -> Result<i64> {
    crate::journal::exec(
        tx,
        "INSERT INTO payments (operation_id, key, method, card_action, state, requested, tendered,
            refund_of, merchant, created_at, updated_at, returns)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?9, ?9,
            (SELECT kind IN ('refund','void','cash_refund') FROM operations WHERE id = ?1))",
        params![
            op,
            p.key,
            name(&p.method),
            name(&p.card_action),
            p.requested,
            p.tendered,
            p.refund_of,
            p.merchant,
            at
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Record what the terminal said the request id of a payment will be.
pub fn set_request_id(tx: &Transaction<'_>, id: i64, request_id: &str) -> Result<()> {
    crate::journal::exec(
        tx,
        "UPDATE payments SET request_id = ?2 WHERE id = ?1",
        params![id, request_id],
    )?;
    Ok(())
}

/// Apply how a payment ended; refused unless the payment is in a state it
/// may leave that way.
pub fn update(tx: &Transaction<'_>, id: i64, u: &PaymentUpdate, at: &str) -> Result<()> {
    let op: i64 = tx
        .query_row(
            "SELECT operation_id FROM payments WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| crate::Error::NotFound(format!("payment {id}")))?;
    let (n, what, detail) = match u {
        PaymentUpdate::Approved { amount, card } => {
            let n = crate::journal::exec(
                tx,
                "UPDATE payments SET state = 'approved', approved = ?2, rrn = ?3, auth_code = ?4,
                    masked_pan = ?5, card_scheme = ?6, terminal_id = ?7, merchant_id = ?8,
                    invoice = ?9, batch = ?10, response_code = ?11, card_time = ?12,
                    signature_required = ?13, decline_code = NULL, decline_message = NULL,
                    updated_at = ?14
                 WHERE id = ?1 AND state IN ('pending','unknown')",
                params![
                    id,
                    amount,
                    card.rrn,
                    card.auth_code,
                    mask_pan(&card.masked_pan),
                    card.card_scheme,
                    card.terminal_id,
                    card.merchant_id,
                    card.invoice,
                    card.batch,
                    card.response_code,
                    card.date_time,
                    card.signature_required,
                    at
                ],
            )?;
            (
                n,
                "approved",
                format!("payment {id}: {amount}, rrn {}", card.rrn),
            )
        }
        PaymentUpdate::CashTaken { amount, change } => {
            let n = crate::journal::exec(
                tx,
                "UPDATE payments SET state = 'approved', approved = ?2, change_given = ?3,
                    updated_at = ?4
                 WHERE id = ?1 AND state = 'pending' AND method = 'cash'",
                params![id, amount, change, at],
            )?;
            (
                n,
                "cash_taken",
                format!("payment {id}: {amount}, change {change}"),
            )
        }
        PaymentUpdate::Declined(d) | PaymentUpdate::Cancelled(d) | PaymentUpdate::Unknown(d) => {
            let state = match u {
                PaymentUpdate::Declined(_) => "declined",
                PaymentUpdate::Cancelled(_) => "cancelled",
                _ => "unknown",
            };
            let n = crate::journal::exec(
                tx,
                "UPDATE payments SET state = ?2, decline_code = ?3, decline_message = ?4,
                    updated_at = ?5
                 WHERE id = ?1 AND state IN ('pending','unknown')",
                params![id, state, d.code, d.message, at],
            )?;
            (n, state, format!("payment {id}: {}", d.code))
        }
        PaymentUpdate::Reversed => {
            let n = crate::journal::exec(
                tx,
                "UPDATE payments SET state = 'reversed', updated_at = ?2
                 WHERE id = ?1 AND state = 'approved' AND method = 'card'",
                params![id, at],
            )?;
            (n, "reversed", format!("payment {id}"))
        }
    };
    guarded(n, || format!("payment {id} cannot become {what}"))?;
    log(tx, op, at, &format!("payment_{what}"), Some(&detail))
}

impl super::Journal {
    /// Add a payment to an existing operation (paying the rest of a sale).
    pub fn add_payment(&self, op: i64, p: &NewPayment, at: &str) -> Result<i64> {
        self.write(|tx| {
            let id = insert(tx, op, p, at)?;
            log(tx, op, at, "payment_added", Some(&format!("payment {id}")))?;
            Ok(id)
        })
    }

    /// The approved card payment with this RRN (a purchase), if any.
    pub fn payment_by_rrn(&self, rrn: &str) -> Result<Option<PaymentRecord>> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM payments
                     WHERE rrn = ?1 AND card_action = 'purchase' AND state = 'approved'
                     ORDER BY id DESC LIMIT 1"
                ),
                [rrn.trim()],
                from_row,
            )
            .optional()?)
        })
    }

    /// The approved card purchase with this terminal invoice number, if any.
    pub fn payment_by_invoice(&self, invoice: &str) -> Result<Option<PaymentRecord>> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM payments
                     WHERE invoice = ?1 AND card_action = 'purchase' AND state = 'approved'
                     ORDER BY id DESC LIMIT 1"
                ),
                [invoice.trim()],
                from_row,
            )
            .optional()?)
        })
    }

    /// The payments that give money back for payment `id` (refunds, voids),
    /// except those that ended without moving money.
    pub fn refunds_of(&self, id: i64) -> Result<Vec<PaymentRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM payments
                 WHERE refund_of = ?1 AND state IN ('pending','approved','unknown') ORDER BY id"
            ))?;
            let rows = stmt.query_map([id], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The terminal and merchant ids the terminal last reported for a
    /// merchant index (a receipt printed after a lookup carries them too).
    pub fn known_ids(&self, merchant: u8) -> Result<Option<(String, String)>> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                "SELECT terminal_id, COALESCE(merchant_id, '') FROM payments
                 WHERE merchant = ?1 AND method = 'card' AND terminal_id IS NOT NULL
                   AND terminal_id <> ''
                 ORDER BY id DESC LIMIT 1",
                [merchant],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
    }

    /// A payment by id.
    pub fn payment(&self, id: i64) -> Result<Option<PaymentRecord>> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                &format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
        })
    }
}
