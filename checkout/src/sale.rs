//! The card sale as a saga: each step is written to the journal before the
//! device call it leads to.
//!
//! ```text
//! intent → terminal_sent → approved (card data) → fiscal_sent → done
//!               ↘ declined / cancelled          ↘ needs_attention
//! ```

use std::sync::Arc;

use chrono::Utc;
use fiscal::{CardSlip, FiscalRegister, Payment, ReceiptLine, SaleReceipt};
use terminal::{
    CardOutcome, CardTerminal, CardTransaction, PendingOperation, Recovery, TxnKind, TxnStatus,
};
use tokio::sync::{broadcast, mpsc, Mutex};

use crate::api::{
    AppInfo, Attention, CardSaleRequest, Decline, KasaEvent, ReceiptTape, SaleResult, SaleState,
};
use crate::journal::Journal;
use crate::money::parse_amount;
use crate::settings::ReceiptSettings;
use crate::{Error, Result};

/// What the free-amount receipt line is called and taxed as.
#[derive(Debug, Clone)]
pub struct ReceiptDefaults {
    pub item_name: String,
    pub tax_group: char,
}

impl Default for ReceiptDefaults {
    fn default() -> Self {
        Self {
            item_name: "Товари".into(),
            tax_group: 'А',
        }
    }
}

/// A running checkout: the journal, the two devices, and the event bus.
#[derive(Debug)]
pub struct Checkout {
    journal: Journal,
    terminal: Arc<dyn CardTerminal>,
    fiscal: Arc<dyn FiscalRegister>,
    events: broadcast::Sender<KasaEvent>,
    /// One operation at a time on the devices.
    lane: Mutex<()>,
    mode: String,
    receipt: ReceiptSettings,
    /// In demo mode, the emulated register whose printed documents the UI shows.
    virtual_tape: Option<fiscal::demo::DemoRegister>,
}

impl Checkout {
    /// Assemble a checkout from its parts. `mode` is `demo` or `production`.
    pub fn new(
        journal: Journal,
        terminal: Arc<dyn CardTerminal>,
        fiscal: Arc<dyn FiscalRegister>,
        mode: &str,
    ) -> Self {
        let (events, _) = broadcast::channel(256);
        Self {
            journal,
            terminal,
            fiscal,
            events,
            lane: Mutex::new(()),
            mode: mode.to_string(),
            receipt: ReceiptSettings::default(),
            virtual_tape: None,
        }
    }

    /// Name and tax the free-amount receipt line this way.
    pub fn with_receipt_settings(mut self, receipt: ReceiptSettings) -> Self {
        self.receipt = receipt;
        self
    }

    /// Show what this emulated register prints as the virtual receipt tape.
    pub fn with_virtual_tape(mut self, register: fiscal::demo::DemoRegister) -> Self {
        self.virtual_tape = Some(register);
        self
    }

    /// The last `last` documents of the virtual receipt tape, oldest first
    /// (empty when a real register is configured).
    pub fn receipt_tape(&self, last: usize) -> ReceiptTape {
        let documents = match &self.virtual_tape {
            Some(reg) => {
                let all = reg.tape_history();
                let skip = all.len().saturating_sub(last);
                all.into_iter().skip(skip).collect()
            }
            None => Vec::new(),
        };
        ReceiptTape {
            available: self.virtual_tape.is_some(),
            documents,
        }
    }

    /// The journal (read access for reports and tests).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Listen to progress and state events.
    pub fn subscribe(&self) -> broadcast::Receiver<KasaEvent> {
        self.events.subscribe()
    }

    /// Version and mode, for the UI's header.
    pub fn info(&self) -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            mode: self.mode.clone(),
        }
    }

    fn emit_state(&self, sale_id: i64, state: SaleState) {
        let _ = self.events.send(KasaEvent::State { sale_id, state });
    }

    fn step(&self, sale_id: i64, state: SaleState, detail: Option<&str>) -> Result<()> {
        self.journal.set_state(sale_id, state, detail)?;
        self.emit_state(sale_id, state);
        Ok(())
    }

    /// The pre-flight gate: never charge a card for a sale the register could
    /// not print a receipt for. Nothing is written when it refuses.
    async fn preflight(&self) -> Result<()> {
        let status = self.fiscal.status().await?;
        let refusal = if status.paper_out {
            Some(fiscal::Error::PaperOut)
        } else if status.cover_open {
            Some(fiscal::Error::CoverOpen)
        } else if status.fiscal_memory_full {
            Some(fiscal::Error::FiscalMemoryFull)
        } else if status.shift_over_24h {
            Some(fiscal::Error::ShiftOver24h)
        } else {
            None
        };
        match refusal {
            Some(e) => Err(Error::Fiscal(e)),
            None => Ok(()),
        }
    }

    /// Leave a sale in `needs_attention`, saying which device failed and how.
    fn put_aside(&self, sale_id: i64, e: &Error) -> Result<()> {
        let attention = Attention {
            device_code: e.device_code().unwrap_or_else(|| "internal".into()),
            message: e.to_string(),
        };
        self.journal.record_attention(sale_id, &attention)?;
        self.emit_state(sale_id, SaleState::NeedsAttention);
        Ok(())
    }

    /// Take a card payment for the typed amount and print its fiscal receipt.
    ///
    /// Invalid input, and a fiscal register that could not print the receipt
    /// (no paper, cover open, memory full, shift over 24 h), are refused before
    /// anything is written or charged. A decline or a cancel is a result, not
    /// an error. If the receipt cannot be printed after an approval, the sale
    /// ends in `needs_attention` with the card data kept.
    pub async fn pay_by_card(&self, req: &CardSaleRequest) -> Result<SaleResult> {
        let amount = parse_amount(&req.amount)?;
        let _lane = self.lane.try_lock().map_err(|_| Error::Busy)?;
        self.preflight().await?;
        let merchant = 0u8;

        // What recovery needs to recognise this payment on the terminal, taken
        // (and journalled) before anything is sent.
        let pending = self
            .terminal
            .begin(TxnKind::Purchase, amount, merchant)
            .await?;
        let sale_id = self
            .journal
            .begin_card_sale(amount, merchant, Utc::now(), &pending)?;
        self.emit_state(sale_id, SaleState::Intent);

        self.step(sale_id, SaleState::TerminalSent, None)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<terminal::TerminalProgress>();
        let forward = {
            let events = self.events.clone();
            tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    let _ = events.send(KasaEvent::Progress {
                        sale_id,
                        status: p.status,
                    });
                }
            })
        };
        let outcome = self.terminal.purchase_as(&pending, tx).await;
        let _ = forward.await;

        let (outcome, how) = match outcome {
            Err(e) if e.outcome_unknown() => {
                // The reply was lost: look the payment up instead of guessing.
                match self.look_up(&pending).await {
                    Ok(Lookup::Known(found)) => (Ok(*found), "found by lookup after a lost reply"),
                    Ok(Lookup::Unknown(why)) => return self.payment_unknown(sale_id, why),
                    // Still unknown: someone must look.
                    Err(_) => (Err(e), "lookup failed"),
                }
            }
            other => (other, "reply"),
        };
        self.settle_payment(sale_id, outcome, how).await
    }

    /// Ask the terminal whether the payment `pending` describes went through.
    ///
    /// "Not charged" is concluded only when the terminal's last transaction is
    /// not newer than the one before the request (or there is none): a newer
    /// transaction that is not ours means the lookup cannot see ours, and the
    /// outcome stays unknown. A terminal that cannot be reached is an error.
    async fn look_up(&self, pending: &PendingOperation) -> terminal::Result<Lookup> {
        Ok(match self.terminal.recover(pending).await? {
            Recovery::Found(found) if found.status == TxnStatus::Approved => {
                Lookup::Known(Box::new(CardOutcome::Approved(found)))
            }
            Recovery::Found(found) => Lookup::Known(Box::new(CardOutcome::Declined {
                code: found.response_code.clone(),
                message: format!("{:?} (found by lookup)", found.status),
            })),
            Recovery::NotFound { reason } => {
                let last = self.terminal.last_transaction().await?;
                if last.is_some_and(|tx| newer_than_before(pending, &tx)) {
                    Lookup::Unknown(format!(
                        "the terminal's last payment is newer and not this one ({reason})"
                    ))
                } else {
                    Lookup::Known(Box::new(CardOutcome::Declined {
                        code: "not_found".into(),
                        message: format!("the terminal has no such payment: {reason}"),
                    }))
                }
            }
        })
    }

    /// Put a sale whose payment the terminal cannot account for aside.
    fn payment_unknown(&self, sale_id: i64, why: String) -> Result<SaleResult> {
        let attention = Attention {
            device_code: "terminal.outcome_unknown".into(),
            message: why,
        };
        self.journal.record_attention(sale_id, &attention)?;
        self.emit_state(sale_id, SaleState::NeedsAttention);
        self.journal.sale(sale_id)
    }

    /// Record how the terminal answered; after an approval, print the receipt.
    async fn settle_payment(
        &self,
        sale_id: i64,
        outcome: terminal::Result<CardOutcome>,
        how: &str,
    ) -> Result<SaleResult> {
        match outcome {
            Ok(CardOutcome::Approved(card)) => {
                self.journal.record_approval(sale_id, &card, how)?;
                self.emit_state(sale_id, SaleState::Approved);
                self.print_receipt(sale_id, &card).await
            }
            Ok(CardOutcome::Declined { code, message }) => {
                self.journal
                    .record_decline(sale_id, &Decline { code, message })?;
                self.emit_state(sale_id, SaleState::Declined);
                self.journal.sale(sale_id)
            }
            Ok(CardOutcome::Cancelled) => {
                self.step(sale_id, SaleState::Cancelled, None)?;
                self.journal.sale(sale_id)
            }
            Err(e) if !e.outcome_unknown() => {
                // A definite refusal (no host link, no paper, busy...): the card
                // was not charged.
                let decline = Decline {
                    code: e.code().to_string(),
                    message: e.to_string(),
                };
                self.journal.record_decline(sale_id, &decline)?;
                self.emit_state(sale_id, SaleState::Declined);
                self.journal.sale(sale_id)
            }
            Err(e) => {
                // We cannot tell whether the card was charged: leave the row for recovery.
                let e = Error::Terminal(e);
                self.put_aside(sale_id, &e)?;
                Err(e)
            }
        }
    }

    /// Print the fiscal receipt of an approved card payment.
    async fn print_receipt(&self, sale_id: i64, card: &CardTransaction) -> Result<SaleResult> {
        let receipt = SaleReceipt {
            lines: vec![ReceiptLine {
                name: self.receipt.item_name.clone(),
                tax_group: self.receipt.tax_group,
                price: card.amount,
                quantity_milli: 1000,
                discount: 0,
            }],
            payments: vec![Payment::Card {
                amount: card.amount,
                card: CardSlip {
                    rrn: card.rrn.clone(),
                    auth_code: card.auth_code.clone(),
                    masked_pan: card.masked_pan.clone(),
                    terminal_id: card.terminal_id.clone(),
                    invoice: card.invoice.clone(),
                    ..Default::default()
                },
            }],
        };
        self.step(sale_id, SaleState::FiscalSent, None)?;
        match self.fiscal.print_sale(&receipt).await {
            Ok(doc) => {
                let number = i64::try_from(doc.number).unwrap_or(i64::MAX);
                self.journal.record_receipt(sale_id, number)?;
                self.emit_state(sale_id, SaleState::Done);
            }
            Err(e) => self.put_aside(sale_id, &Error::Fiscal(e))?,
        }
        self.journal.sale(sale_id)
    }

    /// Resolve the sales a crash or a pulled cable left unfinished, oldest
    /// first, before the next sale: never by sending a purchase again.
    ///
    /// - `intent`: nothing reached the terminal; the sale is cancelled.
    /// - `terminal_sent`: the payment is looked up on the terminal, then
    ///   recorded (and printed) as found.
    /// - `approved`: the card was charged and no receipt was started; it is
    ///   printed now.
    /// - `fiscal_sent`: whether the receipt printed is unknown; the sale is
    ///   put aside for someone to check the register.
    ///
    /// A sale whose terminal cannot be reached is left as it is, for the next
    /// attempt. Returns the sales it resolved.
    pub async fn recover_unfinished(&self) -> Result<Vec<SaleResult>> {
        let _lane = self.lane.lock().await;
        let mut resolved = Vec::new();
        for id in self.journal.unfinished()? {
            let sale = self.journal.sale(id)?;
            let result = match sale.state {
                SaleState::Intent => {
                    self.step(id, SaleState::Cancelled, Some("never sent to the terminal"))?;
                    self.journal.sale(id)
                }
                SaleState::TerminalSent => {
                    let Some(pending) = self.journal.terminal_request(id)? else {
                        continue;
                    };
                    match self.look_up(&pending).await {
                        Ok(Lookup::Known(found)) => {
                            self.settle_payment(id, Ok(*found), "found by lookup at start-up")
                                .await
                        }
                        Ok(Lookup::Unknown(why)) => self.payment_unknown(id, why),
                        // The terminal cannot be reached: try again next time.
                        Err(_) => continue,
                    }
                }
                SaleState::Approved => match sale.card.as_ref() {
                    Some(card) => self.print_receipt(id, card).await,
                    None => continue,
                },
                SaleState::FiscalSent => {
                    let attention = Attention {
                        device_code: "fiscal.outcome_unknown".into(),
                        message: "Kasa stopped while the receipt was printing: check the \
                                  register's last receipt before printing again"
                            .into(),
                    };
                    self.journal.record_attention(id, &attention)?;
                    self.emit_state(id, SaleState::NeedsAttention);
                    self.journal.sale(id)
                }
                _ => continue,
            };
            match result {
                Ok(r) => resolved.push(r),
                Err(e) => tracing::warn!("sale {id} could not be resolved: {e}"),
            }
        }
        Ok(resolved)
    }
}

/// Whether `tx` came after the request `pending` was journalled (or cannot be
/// placed), judged by the terminal's invoice numbers.
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

/// What a lookup on the terminal concluded.
#[derive(Debug)]
enum Lookup {
    /// The payment's outcome is known.
    Known(Box<CardOutcome>),
    /// The terminal cannot account for the payment either way.
    Unknown(String),
}
