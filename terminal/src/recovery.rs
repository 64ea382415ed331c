//! Recovery after a lost reply: what to record before a financial request, and
//! the rule that decides whether a looked-up transaction is ours.
//!
//! Where the protocol echoes a request id (Ingenico web service) the match is
//! exact: the found transaction must carry our id. Otherwise (PrivatBank JSON,
//! B-POS1) it must agree on the operation type, the amount (or a partial
//! approval of it), an invoice number newer than the one known before the
//! request, and a time inside the request's window. The type is checked
//! first, always: a purchase is never taken for a void or a refund. Anything
//! else is not ours, and the operation is taken as not done.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, Local, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::{CardTransaction, Error, Result, TxnKind, TxnStatus};

/// The format of [`CardTransaction::date_time`] and [`PendingOperation::started_at`].
pub const DATE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// How many invoices between the prior one and the terminal's last one
/// recovery looks up one by one before giving up.
pub const MAX_SCAN: u64 = 50;

/// What the checkout writes to its journal before it sends a financial
/// request: everything [`crate::CardTerminal::execute`] needs to run it and
/// [`crate::CardTerminal::recover`] needs to find it again. Stored as JSON;
/// fields added later default when an older journal row is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// Purchase, refund or void.
    pub kind: TxnKind,
    /// Minor units: the amount to charge or refund, or for a void the amount
    /// of the transaction being voided (what a lookup of the void shows).
    pub amount: i64,
    pub merchant: u8,
    /// The terminal's last invoice number before the request, if known.
    pub prior_invoice: Option<String>,
    /// Local time when the request was about to be sent, [`DATE_TIME_FORMAT`].
    pub started_at: String,
    /// A fresh id (at most 20 characters) for protocols that echo one.
    pub request_id: String,
    /// How long after `started_at` a transaction may still be ours, in seconds.
    pub window_secs: i64,
    /// How far the terminal's clock may be behind ours, in seconds.
    pub clock_skew_secs: i64,
    /// Refund: the RRN of the purchase being refunded.
    #[serde(default)]
    pub original_rrn: Option<String>,
    /// Void: the invoice number of the transaction being voided.
    #[serde(default)]
    pub original_invoice: Option<String>,
    /// The terminal id this merchant's transactions carry, as known when the
    /// request was made (filled into a lookup that lacks it).
    #[serde(default)]
    pub terminal_id: String,
    /// The merchant id, likewise.
    #[serde(default)]
    pub merchant_id: String,
}

impl PendingOperation {
    /// A pending operation starting now.
    pub fn new(kind: TxnKind, amount: i64, merchant: u8, prior_invoice: Option<String>) -> Self {
        Self {
            kind,
            amount,
            merchant,
            prior_invoice: prior_invoice.filter(|s| !s.trim().is_empty()),
            started_at: Local::now()
                .naive_local()
                .format(DATE_TIME_FORMAT)
                .to_string(),
            request_id: new_request_id(),
            window_secs: 900,
            clock_skew_secs: 300,
            original_rrn: None,
            original_invoice: None,
            terminal_id: String::new(),
            merchant_id: String::new(),
        }
    }

    /// A refund of the purchase with `rrn`.
    pub fn refund_of(mut self, rrn: impl Into<String>) -> Self {
        self.original_rrn = Some(rrn.into().trim().to_string());
        self
    }

    /// A void of the transaction with `invoice` (`amount` is its amount).
    pub fn voiding(mut self, invoice: impl Into<String>) -> Self {
        self.original_invoice = Some(invoice.into().trim().to_string());
        self
    }

    /// The terminal and merchant ids the request knows (empty ones are kept
    /// as they were).
    pub fn with_ids(mut self, terminal_id: &str, merchant_id: &str) -> Self {
        if !terminal_id.trim().is_empty() {
            self.terminal_id = terminal_id.trim().to_string();
        }
        if !merchant_id.trim().is_empty() {
            self.merchant_id = merchant_id.trim().to_string();
        }
        self
    }

    /// Check that the operation can be run: a positive amount, the RRN of a
    /// refund, the invoice of a void.
    pub fn validate(&self) -> Result<()> {
        if self.amount <= 0 {
            return Err(Error::InvalidRequest(format!(
                "amount {} must be positive (for a void: the amount voided)",
                self.amount
            )));
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        match self.kind {
            TxnKind::Refund if blank(&self.original_rrn) => Err(Error::InvalidRequest(
                "a refund needs the RRN of the original purchase".into(),
            )),
            TxnKind::Void if blank(&self.original_invoice) => Err(Error::InvalidRequest(
                "a void needs the invoice number of the transaction".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// What a lookup found.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recovery {
    /// The terminal's transaction is ours; its `status` says whether it was
    /// approved (print the receipt, after `confirm()` when its
    /// `needs_confirm` is set) or not (declined, reversed, or cancelled by the
    /// terminal for want of a confirm: the card was not charged).
    Found(CardTransaction),
    /// No transaction of ours on the terminal: the request was not carried out.
    NotFound {
        /// Why the terminal's last transaction, if any, was not taken for ours.
        reason: String,
    },
}

impl Recovery {
    /// The approved transaction, if the lookup found ours approved.
    pub fn approved(&self) -> Option<&CardTransaction> {
        match self {
            Recovery::Found(tx) if tx.status == TxnStatus::Approved => Some(tx),
            _ => None,
        }
    }
}

/// Decide whether `last` (the terminal's last transaction) is the pending
/// one; a found one gets the ids the request knew where it lacks them.
pub fn judge(pending: &PendingOperation, last: Option<CardTransaction>) -> Recovery {
    decide(pending, last, mismatch)
}

/// [`judge`] for protocols that echo the request id: only a transaction
/// carrying exactly our id (and of our type) is ours.
pub fn judge_by_request_id(pending: &PendingOperation, last: Option<CardTransaction>) -> Recovery {
    decide(pending, last, |p, tx| {
        if tx.kind != p.kind {
            return Some(format!("type {:?} is not {:?}", tx.kind, p.kind));
        }
        if p.request_id.trim().is_empty() || tx.request_id.trim() != p.request_id.trim() {
            return Some(format!(
                "request id {:?} is not {:?}",
                tx.request_id, p.request_id
            ));
        }
        None
    })
}

fn decide(
    pending: &PendingOperation,
    last: Option<CardTransaction>,
    rule: impl Fn(&PendingOperation, &CardTransaction) -> Option<String>,
) -> Recovery {
    match last {
        None => Recovery::NotFound {
            reason: "the terminal has no transaction".into(),
        },
        Some(mut tx) => match rule(pending, &tx) {
            None => {
                tx.fill_from(pending);
                Recovery::Found(tx)
            }
            Some(reason) => Recovery::NotFound { reason },
        },
    }
}

/// The invoices strictly between the prior one and `last`, newest first, when
/// `last` is newer than the prior one and at most [`MAX_SCAN`] away: where an
/// operation of ours could hide behind a later one.
pub fn between(pending: &PendingOperation, last: &CardTransaction) -> Vec<u64> {
    let (Some(prior), Some(last)) = (
        pending.prior_invoice.as_deref().and_then(invoice_number),
        invoice_number(&last.invoice),
    ) else {
        return Vec::new();
    };
    if last <= prior + 1 || last - prior > MAX_SCAN {
        return Vec::new();
    }
    (prior + 1..last).rev().collect()
}

/// `None` when `tx` is the pending operation, or the first reason it is not.
pub fn mismatch(pending: &PendingOperation, tx: &CardTransaction) -> Option<String> {
    if tx.kind != pending.kind {
        return Some(format!("type {:?} is not {:?}", tx.kind, pending.kind));
    }
    if !pending.request_id.is_empty() && !tx.request_id.is_empty() {
        return if tx.request_id.trim() == pending.request_id.trim() {
            None
        } else {
            Some(format!(
                "request id {} is not {}",
                tx.request_id, pending.request_id
            ))
        };
    }
    let amount_ok = tx.amount == pending.amount
        || (tx.is_partial() && tx.amount > 0 && tx.amount < pending.amount);
    if !amount_ok {
        return Some(format!("amount {} is not {}", tx.amount, pending.amount));
    }
    if let Some(prior) = &pending.prior_invoice {
        match (invoice_number(prior), invoice_number(&tx.invoice)) {
            (Some(p), Some(n)) if n > p => {}
            (Some(p), Some(n)) => return Some(format!("invoice {n} is not newer than {p}")),
            _ if tx.invoice.trim() == prior.trim() => {
                return Some(format!(
                    "invoice {} is the one before the request",
                    tx.invoice
                ))
            }
            _ => return Some(format!("invoice {:?} cannot be compared", tx.invoice)),
        }
    } else if tx.invoice.trim().is_empty() {
        return Some("the transaction has no invoice number".into());
    }
    if !tx.date_time.is_empty() {
        let started = NaiveDateTime::parse_from_str(&pending.started_at, DATE_TIME_FORMAT);
        let at = NaiveDateTime::parse_from_str(&tx.date_time, DATE_TIME_FORMAT);
        match (started, at) {
            (Ok(s), Ok(t)) => {
                let from = s - Duration::seconds(pending.clock_skew_secs);
                let to = s + Duration::seconds(pending.window_secs + pending.clock_skew_secs);
                if t < from || t > to {
                    return Some(format!("time {t} is outside the request window from {s}"));
                }
            }
            _ => return Some(format!("time {:?} cannot be read", tx.date_time)),
        }
    }
    None
}

fn invoice_number(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// A fresh request id: `K`, the time in milliseconds and a counter, base 36,
/// at most 20 characters (the Ingenico web service's limit).
pub fn new_request_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = u64::try_from(Local::now().timestamp_millis()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 1296;
    format!("K{}{:0>2}", base36(millis), base36(u64::from(n)))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingOperation {
        let mut p = PendingOperation::new(TxnKind::Purchase, 1500, 1, Some("000041".into()));
        p.started_at = "2026-11-22T10:00:00".into();
        p.request_id = String::new();
        p
    }

    fn tx() -> CardTransaction {
        CardTransaction {
            invoice: "000042".into(),
            amount: 1500,
            date_time: "2026-11-22T10:00:40".into(),
            ..Default::default()
        }
    }

    #[test]
    fn ours_when_all_agree() {
        assert_eq!(mismatch(&pending(), &tx()), None);
        assert!(judge(&pending(), Some(tx())).approved().is_some());
    }

    #[test]
    fn unrelated_transactions_are_not_ours() {
        let p = pending();
        let older = CardTransaction {
            invoice: "000041".into(),
            ..tx()
        };
        assert!(mismatch(&p, &older).is_some());
        let other_amount = CardTransaction {
            amount: 1499,
            ..tx()
        };
        assert!(mismatch(&p, &other_amount).is_some());
        let refund = CardTransaction {
            kind: TxnKind::Refund,
            ..tx()
        };
        assert!(mismatch(&p, &refund).is_some());
        let yesterday = CardTransaction {
            date_time: "2026-11-21T10:00:40".into(),
            ..tx()
        };
        assert!(mismatch(&p, &yesterday).is_some());
        assert!(matches!(judge(&p, None), Recovery::NotFound { .. }));
    }

    #[test]
    fn partial_approval_matches_a_smaller_amount() {
        let partial = CardTransaction {
            amount: 1000,
            response_code: "0010".into(),
            ..tx()
        };
        assert_eq!(mismatch(&pending(), &partial), None);
    }

    #[test]
    fn request_id_is_exact() {
        let mut p = pending();
        p.request_id = "KABC".into();
        let ours = CardTransaction {
            request_id: "KABC".into(),
            amount: 1,
            ..tx()
        };
        assert_eq!(mismatch(&p, &ours), None);
        let theirs = CardTransaction {
            request_id: "KABD".into(),
            ..tx()
        };
        assert!(mismatch(&p, &theirs).is_some());
    }

    #[test]
    fn ids_fill_only_from_what_the_request_knows() {
        let p = pending().with_ids(" T1 ", " M1 ");
        assert_eq!(
            (p.terminal_id.as_str(), p.merchant_id.as_str()),
            ("T1", "M1")
        );
        let kept = p.with_ids(" ", "");
        assert_eq!(
            (kept.terminal_id.as_str(), kept.merchant_id.as_str()),
            ("T1", "M1")
        );
    }

    #[test]
    fn validate_refuses_no_amount_a_refund_without_rrn_a_void_without_invoice() {
        let op = |kind, amount| PendingOperation::new(kind, amount, 1, None);
        assert!(op(TxnKind::Purchase, 1).validate().is_ok());
        assert!(op(TxnKind::Purchase, 0).validate().is_err());
        assert!(op(TxnKind::Purchase, -5).validate().is_err());
        assert!(op(TxnKind::Refund, 100).validate().is_err());
        assert!(op(TxnKind::Refund, 100).refund_of(" ").validate().is_err());
        assert!(op(TxnKind::Refund, 100)
            .refund_of("632600001234")
            .validate()
            .is_ok());
        assert!(op(TxnKind::Void, 100).validate().is_err());
        assert!(op(TxnKind::Void, 100).voiding("").validate().is_err());
        assert!(op(TxnKind::Void, 100).voiding("000042").validate().is_ok());
    }

    #[test]
    fn between_lists_the_invoices_after_the_prior_one_newest_first_within_the_scan() {
        let p = pending(); // prior invoice 41
        let last = |invoice: u64| CardTransaction {
            invoice: format!("{invoice:06}"),
            ..tx()
        };
        assert_eq!(between(&p, &last(45)), vec![44, 43, 42]);
        assert_eq!(between(&p, &last(43)), vec![42]);
        assert!(
            between(&p, &last(42)).is_empty(),
            "nothing between 41 and 42"
        );
        assert!(between(&p, &last(41)).is_empty());
        assert!(between(&p, &last(30)).is_empty(), "an older last invoice");
        // At most MAX_SCAN away.
        let far = 41 + MAX_SCAN;
        let all = between(&p, &last(far));
        assert_eq!(all.len() as u64, MAX_SCAN - 1);
        assert_eq!((all.first(), all.last()), (Some(&(far - 1)), Some(&42)));
        assert!(between(&p, &last(far + 1)).is_empty());
        assert!(between(&p, &last(41 + 2 * MAX_SCAN)).is_empty());
        // No prior invoice, or one that is not a number: nothing to scan.
        let mut none = pending();
        none.prior_invoice = None;
        assert!(between(&none, &last(45)).is_empty());
    }

    #[test]
    fn a_partial_approval_of_nothing_or_of_more_is_not_ours() {
        let partial = |amount| CardTransaction {
            amount,
            response_code: "0010".into(),
            ..tx()
        };
        assert_eq!(mismatch(&pending(), &partial(1),), None);
        assert_eq!(mismatch(&pending(), &partial(1499)), None);
        assert!(mismatch(&pending(), &partial(0)).is_some());
        assert!(mismatch(&pending(), &partial(1501)).is_some());
    }

    #[test]
    fn an_older_or_the_same_invoice_says_why_it_is_not_ours() {
        let p = pending(); // prior 000041
        let at = |invoice: &str| CardTransaction {
            invoice: invoice.into(),
            ..tx()
        };
        let why = |t: &CardTransaction| mismatch(&p, t).unwrap_or_default();
        assert!(
            why(&at("000040")).contains("not newer than 41"),
            "{}",
            why(&at("000040"))
        );
        assert!(why(&at("000041")).contains("not newer than 41"));
        // Invoices that are not numbers: the same one is the one before
        // ours; another cannot be compared. Neither is taken for ours.
        let mut letters = pending();
        letters.prior_invoice = Some("A41".into());
        let why = |t: &CardTransaction| mismatch(&letters, t).unwrap_or_default();
        assert!(
            why(&at(" A41 ")).contains("the one before"),
            "{}",
            why(&at("A41"))
        );
        assert!(
            why(&at("A42")).contains("cannot be compared"),
            "{}",
            why(&at("A42"))
        );
        // No prior invoice: a transaction without one is not ours.
        let mut none = pending();
        none.prior_invoice = None;
        assert!(mismatch(&none, &at(" ")).is_some());
        assert_eq!(mismatch(&none, &at("000042")), None);
    }

    #[test]
    fn the_time_window_is_the_request_window_widened_by_the_clock_skew_both_ends_included() {
        // Started 10:00:00; window 900 s, skew 300 s: from 09:55:00 to 10:20:00.
        let p = pending();
        assert_eq!((p.window_secs, p.clock_skew_secs), (900, 300));
        let at = |time: &str| CardTransaction {
            date_time: format!("2026-11-22T{time}"),
            ..tx()
        };
        for inside in ["09:55:00", "10:00:00", "10:16:40", "10:20:00"] {
            assert_eq!(mismatch(&p, &at(inside)), None, "{inside}");
        }
        for outside in ["09:54:59", "10:20:01", "13:00:00"] {
            assert!(mismatch(&p, &at(outside)).is_some(), "{outside}");
        }
        let unreadable = CardTransaction {
            date_time: "22.11.2026 10:00".into(),
            ..tx()
        };
        assert!(mismatch(&p, &unreadable).is_some());
    }

    #[test]
    fn request_ids_are_short_and_distinct() {
        let a = new_request_id();
        let b = new_request_id();
        assert!(a.len() <= 20, "{a}");
        assert_ne!(a, b);
    }
}
