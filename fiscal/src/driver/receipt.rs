//! The receipt session behind `print_sale` / `print_return`:
//!
//! - the status first (paper, cover, fiscal memory, journal, SAM, 24-hour
//!   shift are typed errors before anything prints);
//! - the receipt state: a stray open receipt with no payment is cancelled,
//!   one already paid is finished and closed;
//! - the last document number before, and again after closing;
//! - open → lines → subtotal (the register's exact sum must equal ours, and
//!   on a cash receipt its rounded sum must equal [`round_cash`] of it,
//!   before anything is paid) → card text lines (text modes) → payments →
//!   signature line → close;
//! - each step's progress is remembered, so that after paper out (the
//!   receipt stays open) or a lost link, printing the same receipt again
//!   continues from the next step, and an uncertain outcome is resolved by
//!   looking at the register (receipt open? items? paid? last number
//!   moved?), never by printing again;
//! - after closing: the read-back from the electronic journal (RRN and auth
//!   code of every card payment must be there), then a non-fiscal merchant
//!   copy when a cardholder must sign.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::dialect::{CardDataMode, Dialect};
use crate::readback::{self, Needle, ReadbackCheck, ReadbackStatus};
use crate::rounding::round_cash;
use crate::text::money;
use crate::{
    line_total, CardSlip, Error, Payment, PrintedDocument, ReceiptLine, ReceiptState, Result,
};

use super::payment::{card_text_lines, clean_slot, encode_slot_payment, operation_word};
use super::{PayResult, SaleItem, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sale,
    Return { original: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Open,
    Line(usize),
    Subtotal,
    Text(usize),
    Pay(usize),
    Signature,
    Close,
}

/// A receipt job that has not finished: which one, the last document number
/// before it, and the first step not yet done.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    fingerprint: u64,
    before: u64,
    next: usize,
    /// Card data went as text lines on this receipt.
    as_text: bool,
}

fn fingerprint(kind: Kind, lines: &[ReceiptLine], payments: &[Payment]) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{kind:?}{lines:?}{payments:?}").hash(&mut h);
    h.finish()
}

fn first_pay(steps: &[Step]) -> usize {
    steps
        .iter()
        .position(|s| matches!(s, Step::Pay(_)))
        .unwrap_or(steps.len())
}

/// The cards whose holder must sign.
fn signing_cards(payments: &[Payment]) -> Vec<(&CardSlip, i64)> {
    payments
        .iter()
        .filter_map(|p| match p {
            Payment::Card { card, amount } if card.signature_required => Some((card, *amount)),
            _ => None,
        })
        .collect()
}

/// Refuses a receipt that cannot be right before anything is sent: no
/// lines, a bad tax group, non-positive payments, too little paid (cash is
/// due rounded where the register rounds), card payments over the total.
pub fn validate(d: &Dialect, lines: &[ReceiptLine], payments: &[Payment]) -> Result<()> {
    if lines.is_empty() {
        return Err(Error::InvalidRequest(
            "a receipt needs at least one line".into(),
        ));
    }
    for l in lines {
        d.tax_code(l.tax_group)?;
        if l.price < 0 || l.quantity_milli <= 0 {
            return Err(Error::InvalidRequest(format!(
                "line {:?}: bad price or quantity",
                l.name
            )));
        }
    }
    if payments.is_empty() {
        return Err(Error::InvalidRequest("a receipt needs a payment".into()));
    }
    if payments.iter().any(|p| p.amount() <= 0) {
        return Err(Error::InvalidRequest("payments must be positive".into()));
    }
    let total: i64 = lines.iter().map(line_total).sum();
    let paid: i64 = payments.iter().map(Payment::amount).sum();
    let card: i64 = payments
        .iter()
        .filter(|p| matches!(p, Payment::Card { .. }))
        .map(Payment::amount)
        .sum();
    let has_cash = payments.iter().any(|p| matches!(p, Payment::Cash { .. }));
    let due = if has_cash && d.cash_rounding {
        card + round_cash(total - card)
    } else {
        total
    };
    if paid < due {
        return Err(Error::InvalidRequest(format!("paid {paid} of {due}")));
    }
    if card > total {
        return Err(Error::InvalidRequest(format!(
            "card payments {card} exceed the total {total}"
        )));
    }
    Ok(())
}

impl Session {
    /// True when card data goes as fiscal text lines in a step of its own
    /// before the payment (`text_lines`, `both`, and always on X).
    pub(super) fn text_lines_step(&self) -> bool {
        matches!(
            self.d.card_mode(),
            CardDataMode::TextLines | CardDataMode::Both
        )
    }

    fn steps(&self, lines: &[ReceiptLine], payments: &[Payment]) -> Vec<Step> {
        let mut steps = vec![Step::Open];
        steps.extend((0..lines.len()).map(Step::Line));
        steps.push(Step::Subtotal);
        for (i, p) in payments.iter().enumerate() {
            if matches!(p, Payment::Card { .. }) && self.text_lines_step() {
                steps.push(Step::Text(i));
            }
            steps.push(Step::Pay(i));
        }
        if !signing_cards(payments).is_empty() {
            steps.push(Step::Signature);
        }
        steps.push(Step::Close);
        steps
    }

    pub(super) async fn print_job(
        &mut self,
        kind: Kind,
        lines: &[ReceiptLine],
        payments: &[Payment],
    ) -> Result<PrintedDocument> {
        validate(&self.d, lines, payments)?;
        let mut looked = false;
        loop {
            match self.run_job(kind, lines, payments).await {
                Err(e) if e.is_uncertain() && !looked => {
                    // Resolve by looking once (run_job starts by reading the
                    // register's state); never by printing again blindly.
                    looked = true;
                }
                other => return other,
            }
        }
    }

    /// Fails with the register's blocking condition, if any.
    async fn preflight(&mut self) -> Result<()> {
        let st = self.status().await?;
        if st.paper_out {
            return Err(Error::PaperOut);
        }
        if st.cover_open {
            return Err(Error::CoverOpen);
        }
        if st.fiscal_memory_full {
            return Err(Error::FiscalMemoryFull);
        }
        if st.journal_full {
            return Err(Error::JournalFull);
        }
        if st.sam_error {
            return Err(Error::SamError);
        }
        if st.shift_over_24h {
            return Err(Error::ShiftOver24h);
        }
        Ok(())
    }

    async fn run_job(
        &mut self,
        kind: Kind,
        lines: &[ReceiptLine],
        payments: &[Payment],
    ) -> Result<PrintedDocument> {
        let fp = fingerprint(kind, lines, payments);
        let steps = self.steps(lines, payments);
        self.preflight().await?;
        let state = self.receipt_state().await?;
        let last = self.last_document().await?;
        let needles = readback::needles_for(payments, None);

        let mine = self
            .pending
            .as_ref()
            .filter(|p| p.fingerprint == fp)
            .cloned();
        let mut next = 0usize;
        let mut as_text = false;
        let before;
        match mine {
            Some(p) if !state.open && last > p.before && p.next >= first_pay(&steps) => {
                // Closed while we were not looking: it is printed.
                self.pending = None;
                let mut doc = self.read_back(last, &needles).await;
                doc.card_data_as_text = p.as_text;
                doc.merchant_copy = self.merchant_copy(last, payments).await;
                return Ok(doc);
            }
            // Ours if we had got past opening it, or if it is still empty.
            Some(p) if state.open && (p.next > 0 || (state.items == 0 && state.paid == 0)) => {
                before = p.before;
                as_text = p.as_text;
                next = Self::resume_point(&steps, p.next, &state, payments);
                self.in_return = matches!(kind, Kind::Return { .. });
            }
            _ => {
                if state.open {
                    self.clear_stray(&state).await?;
                }
                before = if state.open {
                    self.last_document().await?
                } else {
                    last
                };
            }
        }
        self.pending = Some(Pending {
            fingerprint: fp,
            before,
            next,
            as_text,
        });

        let mut closed_number = None;
        for (i, step) in steps.iter().enumerate().skip(next) {
            let r = match *step {
                Step::Open => self.open_receipt(kind).await,
                Step::Line(l) => {
                    let line = &lines[l];
                    self.sale(&SaleItem::from(line)).await
                }
                Step::Subtotal => self.checked_subtotal(lines, payments).await,
                Step::Text(p) => self.text_step(kind, &payments[p]).await,
                Step::Pay(p) => match self.pay(&payments[p]).await {
                    Ok((_, text)) => {
                        as_text |= text;
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                Step::Signature => {
                    let line = self.d.settings.card.signature_line.clone();
                    self.print_text(&line).await
                }
                Step::Close => self.close().await.map(|n| closed_number = Some(n)),
            };
            if let Some(p) = self.pending.as_mut() {
                p.next = if r.is_err() { i } else { i + 1 };
                p.as_text = as_text;
            }
            r?;
        }
        let after = self
            .last_document()
            .await
            .or_else(|e| closed_number.ok_or(e))?;
        self.pending = None;
        let mut doc = self.read_back(after, &needles).await;
        doc.card_data_as_text = as_text;
        doc.merchant_copy = self.merchant_copy(after, payments).await;
        Ok(doc)
    }

    /// The register's subtotal against ours, before any payment: a
    /// difference stops the receipt (nothing is paid, it stays open).
    async fn checked_subtotal(
        &mut self,
        lines: &[ReceiptLine],
        payments: &[Payment],
    ) -> Result<()> {
        let ours: i64 = lines.iter().map(line_total).sum();
        let reg = self.subtotal().await?;
        if reg.amount != ours {
            return Err(Error::SubtotalMismatch {
                ours,
                register: reg.amount,
            });
        }
        let has_cash = payments.iter().any(|p| matches!(p, Payment::Cash { .. }));
        if has_cash
            && self.d.cash_rounding
            && self.d.subtotal_rounded_field.is_some()
            && reg.cash_amount != round_cash(ours)
        {
            return Err(Error::SubtotalMismatch {
                ours: round_cash(ours),
                register: reg.cash_amount,
            });
        }
        Ok(())
    }

    async fn text_step(&mut self, kind: Kind, payment: &Payment) -> Result<()> {
        let Payment::Card { card, .. } = payment else {
            return Ok(());
        };
        if let Kind::Return { original } = kind {
            if original != 0 {
                self.print_text(&format!("ПОВЕРНЕННЯ ДО ЧЕКА №{original}"))
                    .await?;
            }
        }
        self.card_lines(card).await
    }

    /// The card block as fiscal text lines (0x36).
    pub(super) async fn card_lines(&mut self, card: &CardSlip) -> Result<()> {
        let op = self.operation_for(card);
        let word = operation_word(&self.d.settings.card, op).to_string();
        for l in card_text_lines(card, &word, self.d.text_width) {
            self.print_text(&l).await?;
        }
        Ok(())
    }

    /// A card payment with exactly these slot values (cleaned), no fallback:
    /// the field check puts markers in the slots this way.
    pub(super) async fn pay_slots(&mut self, amount: i64, values: &[String]) -> Result<PayResult> {
        let values: Vec<String> = values.iter().map(|v| clean_slot(v)).collect();
        let data = encode_slot_payment(&self.d, amount, &values)?;
        self.pay_data(&data).await
    }

    /// Reads document `number` back from the journal and checks the needles.
    /// A read that fails does not undo the printed receipt: it is reported
    /// as `unavailable` with the error's code.
    pub(super) async fn read_back(&mut self, number: u64, needles: &[Needle]) -> PrintedDocument {
        let mut doc = PrintedDocument::numbered(number);
        if !self.d.settings.readback || self.d.cmd.journal_read.is_none() {
            return doc;
        }
        match self.read_document(number).await {
            Ok(lines) => {
                doc.readback = readback::find(&lines, needles);
                doc.lines = lines;
            }
            Err(e) => {
                doc.readback = ReadbackCheck {
                    status: ReadbackStatus::Unavailable,
                    missing: Vec::new(),
                    error: Some(e.code().to_string()),
                };
            }
        }
        doc
    }

    /// A non-fiscal merchant copy for the cardholder to sign, when a card
    /// payment asks for a signature. Its failure does not undo the receipt.
    pub(crate) async fn merchant_copy(&mut self, number: u64, payments: &[Payment]) -> bool {
        let cards = signing_cards(payments);
        if cards.is_empty() {
            return false;
        }
        let mut lines = vec!["КОПІЯ ТОРГОВЦЯ".to_string(), format!("ЧЕК №{number}")];
        for (card, amount) in cards {
            let op = self.operation_for(card);
            let word = operation_word(&self.d.settings.card, op).to_string();
            lines.extend(card_text_lines(card, &word, self.d.text_width));
            lines.push(format!("СУМА {}", money(amount)));
        }
        lines.push(self.d.settings.card.signature_line.clone());
        self.print_non_fiscal(&lines).await.is_ok()
    }

    /// Where to continue an interrupted receipt that is still open, from what
    /// the register reports (its item count and paid amount are the truth).
    fn resume_point(
        steps: &[Step],
        pending_next: usize,
        state: &ReceiptState,
        payments: &[Payment],
    ) -> usize {
        let first_of = |want: &dyn Fn(&Step) -> bool| steps.iter().position(want);
        if state.paid > 0 {
            // Skip the payments the register already took.
            let mut taken = 0usize;
            let mut sum = 0i64;
            while taken < payments.len() && sum + payments[taken].amount() <= state.paid {
                sum += payments[taken].amount();
                taken += 1;
            }
            if taken >= payments.len() || sum >= state.amount {
                // All paid: the signature line (if any) and the close.
                let tail = first_of(&|s| *s == Step::Signature).unwrap_or(steps.len() - 1);
                return tail.max(pending_next.min(steps.len() - 1));
            }
            return first_of(&|s| matches!(s, Step::Text(i) | Step::Pay(i) if *i == taken))
                .unwrap_or(pending_next);
        }
        // Nothing paid yet: lines the register lacks come first; with all
        // lines in, go on from where we were, but not before the subtotal.
        let next = pending_next.clamp(1, steps.len() - 1);
        let lines_done = state.items as usize;
        if let Some(i) = first_of(&|s| *s == Step::Line(lines_done)) {
            return i;
        }
        let subtotal = first_of(&|s| *s == Step::Subtotal).unwrap_or(next);
        next.max(subtotal)
    }

    /// A receipt left open by someone else: cancel it if nothing was paid,
    /// otherwise pay the rest in cash and close it.
    async fn clear_stray(&mut self, state: &ReceiptState) -> Result<()> {
        if state.paid == 0 {
            return self.cancel().await;
        }
        if state.paid < state.amount {
            self.pay(&Payment::Cash {
                amount: state.amount - state.paid,
            })
            .await?;
        }
        self.close().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, quantity_milli: i64) -> ReceiptLine {
        ReceiptLine {
            name: "Хліб".into(),
            tax_group: 'А',
            price,
            quantity_milli,
            discount: 0,
        }
    }

    fn card(amount: i64) -> Payment {
        Payment::Card {
            amount,
            card: CardSlip::default(),
        }
    }

    #[test]
    fn an_open_receipt_resumes_where_the_register_says_it_is() {
        use Step::*;
        // Three lines, then card 6.00 and cash 5.00 for 10.03.
        let steps = [
            Open,
            Line(0),
            Line(1),
            Line(2),
            Subtotal,
            Pay(0),
            Pay(1),
            Close,
        ];
        let payments = [card(600), Payment::Cash { amount: 500 }];
        let at = |pending: usize, items: u32, paid: i64, amount: i64| {
            let state = ReceiptState {
                open: true,
                items,
                amount,
                paid,
                ..ReceiptState::default()
            };
            Session::resume_point(&steps, pending, &state, &payments)
        };
        // Nothing paid: the first line the register lacks...
        assert_eq!(at(0, 0, 0, 0), 1);
        assert_eq!(at(2, 1, 0, 0), 2);
        // ...and with every line in, not before the subtotal, nor past the end.
        assert_eq!(at(2, 3, 0, 1003), 4);
        assert_eq!(at(6, 3, 0, 1003), 6);
        assert_eq!(at(99, 3, 0, 1003), 7);
        // The card taken: on to the cash.
        assert_eq!(at(5, 3, 600, 1003), 6);
        // Everything taken (cash with change), or the sum covered: the close.
        assert_eq!(at(5, 3, 1100, 1003), 7);
        assert_eq!(at(5, 3, 600, 600), 7);
        // With a signature line, that comes before the close, unless done.
        let signed = [Open, Line(0), Subtotal, Pay(0), Signature, Close];
        let state = ReceiptState {
            open: true,
            items: 1,
            amount: 600,
            paid: 600,
            ..ReceiptState::default()
        };
        assert_eq!(Session::resume_point(&signed, 3, &state, &payments[..1]), 4);
        assert_eq!(Session::resume_point(&signed, 5, &state, &payments[..1]), 5);
        // Never past the last step, whatever was remembered.
        assert_eq!(
            Session::resume_point(&signed, 99, &state, &payments[..1]),
            5
        );
        assert_eq!(at(99, 3, 1100, 1003), 7);
    }

    #[test]
    fn a_line_needs_a_price_of_zero_or_more_and_a_positive_quantity() {
        let d = Dialect::ua_fp_t260();
        let ok = |price, qty| {
            validate(&d, &[line(price, qty)], &[Payment::Cash { amount: 100 }]).is_ok()
        };
        assert!(ok(0, 1000), "a free line is allowed");
        assert!(!ok(-1, 1000));
        assert!(!ok(100, 0));
        assert!(!ok(100, -1000));
        assert!(!ok(-1, 0));
    }

    #[test]
    fn cash_is_due_rounded_only_where_the_register_rounds_and_cards_never() {
        let d = Dialect::ua_fp_t260();
        assert!(d.cash_rounding);
        let lines = [line(1004, 1000)];
        let check = |d: &Dialect, payments: &[Payment]| validate(d, &lines, payments).is_ok();
        // 10.04 in cash rounds to 10.00 on a rounding register.
        assert!(check(&d, &[Payment::Cash { amount: 1000 }]));
        assert!(!check(&d, &[Payment::Cash { amount: 990 }]));
        // A card pays the exact sum: 10.00 of 10.04 is short.
        assert!(!check(&d, &[card(1000)]));
        assert!(check(&d, &[card(1004)]));
        assert!(!check(&d, &[card(1005)]), "a card never pays more");
        // Card 5.00 and the cash rest 5.04 rounded to 5.00.
        assert!(check(&d, &[card(500), Payment::Cash { amount: 500 }]));
        // A register that does not round wants the exact cash.
        let exact = Dialect {
            cash_rounding: false,
            ..Dialect::ua_fp_t260()
        };
        assert!(!check(&exact, &[Payment::Cash { amount: 1000 }]));
        assert!(check(&exact, &[Payment::Cash { amount: 1004 }]));
    }
}
