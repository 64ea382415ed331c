//! The typed API the checkout uses for any card terminal, whatever its protocol.
//!
//! Amounts are integers of minor units (kopiykas). Card numbers are only ever
//! carried masked.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::recovery::{self, PendingOperation, Recovery};

use crate::{Error, Result};

/// A user-interface language for status and error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Ukrainian, the default.
    #[default]
    Uk,
    /// Russian.
    Ru,
    /// English.
    En,
}

impl Lang {
    /// Parse a language tag such as `uk`, `uk-UA`, `ru`, `en-GB`; unknown tags give Ukrainian.
    pub fn from_tag(tag: &str) -> Self {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("ru") {
            Lang::Ru
        } else if t.starts_with("en") {
            Lang::En
        } else {
            Lang::Uk
        }
    }

    /// Pick one of three texts.
    pub fn pick(self, uk: &'static str, ru: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Uk => uk,
            Lang::Ru => ru,
            Lang::En => en,
        }
    }
}

/// What the terminal is doing right now, reported while an operation runs.
///
/// The protocol status codes (`LastStatMsgCode` in B-POS1 and PrivatBank JSON)
/// map onto these with [`TerminalStatus::from_stat_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TerminalStatus {
    Connecting,
    WaitingForCard,
    CardRead,
    ChipProcessing,
    EnterPin,
    Authorising,
    Printing,
    RemoveCard,
    Finished,
    /// Code 0: idle, no status available.
    Idle,
    /// Code 4: the terminal waits for the cashier.
    WaitingForCashier,
    /// Code 8: the customer chooses one of several card applications.
    SelectApplication,
    /// Code 10: in progress, no detail.
    InProgress,
    /// Code 11: the terminal offers to correct the amount (discount).
    Correction,
    /// The cashier asked the terminal to stop.
    Cancelling,
}

impl TerminalStatus {
    /// The status for a `LastStatMsgCode` value (shared by B-POS1 and PrivatBank JSON).
    pub fn from_stat_code(code: u8) -> Self {
        match code {
            0 => TerminalStatus::Idle,
            1 => TerminalStatus::CardRead,
            2 => TerminalStatus::ChipProcessing,
            3 => TerminalStatus::Authorising,
            4 => TerminalStatus::WaitingForCashier,
            5 => TerminalStatus::Printing,
            6 | 12..=14 => TerminalStatus::EnterPin,
            7 => TerminalStatus::RemoveCard,
            8 | 15 => TerminalStatus::SelectApplication,
            9 => TerminalStatus::WaitingForCard,
            11 => TerminalStatus::Correction,
            _ => TerminalStatus::InProgress,
        }
    }

    /// The text to show to the cashier, in the given language.
    pub fn text(self, lang: Lang) -> &'static str {
        use TerminalStatus::*;
        match self {
            Connecting => lang.pick(
                "Підключення до термінала",
                "Подключение к терминалу",
                "Connecting to the terminal",
            ),
            WaitingForCard => lang.pick(
                "Прикладіть, вставте або проведіть картку",
                "Приложите, вставьте или проведите карту",
                "Tap, insert or swipe the card",
            ),
            CardRead => lang.pick("Картку прочитано", "Карта прочитана", "Card read"),
            ChipProcessing => lang.pick("Обробка чипа", "Обработка чипа", "Reading the chip"),
            EnterPin => lang.pick("Введіть PIN", "Введите PIN", "Enter PIN"),
            Authorising => lang.pick(
                "Авторизація в банку",
                "Авторизация в банке",
                "Authorising with the bank",
            ),
            Printing => lang.pick("Друк чека", "Печать чека", "Printing the slip"),
            RemoveCard => lang.pick("Заберіть картку", "Заберите карту", "Remove the card"),
            Finished => lang.pick("Готово", "Готово", "Done"),
            Idle => lang.pick("Термінал вільний", "Терминал свободен", "Terminal idle"),
            WaitingForCashier => lang.pick(
                "Термінал чекає на касира",
                "Терминал ждёт кассира",
                "Terminal waits for the cashier",
            ),
            SelectApplication => lang.pick(
                "Оберіть застосунок картки",
                "Выберите приложение карты",
                "Choose the card application",
            ),
            InProgress => lang.pick(
                "Операція виконується",
                "Операция выполняется",
                "Operation in progress",
            ),
            Correction => lang.pick(
                "Коригування суми",
                "Корректировка суммы",
                "Amount correction",
            ),
            Cancelling => lang.pick(
                "Скасування операції",
                "Отмена операции",
                "Cancelling the operation",
            ),
        }
    }
}

/// A progress event of a running terminal operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TerminalProgress {
    pub status: TerminalStatus,
}

impl TerminalProgress {
    /// A progress event with the given status.
    pub fn new(status: TerminalStatus) -> Self {
        Self { status }
    }
}

/// Where a driver sends its progress events.
pub type ProgressSink = tokio::sync::mpsc::UnboundedSender<TerminalProgress>;

/// A progress sink whose events go nowhere.
pub fn discard_progress() -> ProgressSink {
    tokio::sync::mpsc::unbounded_channel().0
}

/// Which kind of card operation a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TxnKind {
    #[default]
    Purchase,
    Refund,
    Void,
    /// Anything else the terminal reports (pre-auth completion, instalments...).
    Other,
}

/// The terminal's status of a looked-up transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TxnStatus {
    #[default]
    Approved,
    Declined,
    /// Reversed (voided, or auto-cancelled for want of a confirm).
    Reversed,
    Cancelled,
    Unknown,
}

/// The data of a card transaction that goes onto the fiscal receipt.
///
/// Everything here is what the terminal reported (on a reply or on a lookup);
/// nothing is made up by the driver. A receipt printed after a lookup carries
/// the same fields as one printed after a reply: where a protocol's lookup
/// lacks the terminal or merchant id, recovery fills them from what the
/// request knew ([`PendingOperation`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct CardTransaction {
    /// Retrieval reference number, 12 characters.
    pub rrn: String,
    /// Approval code, up to 6 characters.
    pub auth_code: String,
    /// The card number exactly as the terminal reported it: normally masked
    /// (`516875******1234`, `9704 XXXX XXXX 6163`), but drivers pass on
    /// whatever the terminal sent, spaces and all, and the checkout normalises
    /// and masks it before it is stored or printed.
    pub masked_pan: String,
    /// Payment system (VISA, MASTERCARD, ПРОСТІР...) as the terminal names it.
    pub card_scheme: String,
    pub terminal_id: String,
    pub merchant_id: String,
    /// The terminal's receipt number inside its batch (used for void).
    pub invoice: String,
    /// Amount actually approved, in minor units (less than asked on a partial
    /// approval; for a void, the amount voided).
    #[ts(type = "number")]
    pub amount: i64,
    /// The terminal's batch (settlement day) number, empty where the protocol has none.
    #[serde(default)]
    pub batch: String,
    /// Purchase, refund or void.
    #[serde(default)]
    #[ts(inline)]
    pub kind: TxnKind,
    /// Approved, declined, reversed... (mostly meaningful for lookups).
    #[serde(default)]
    #[ts(inline)]
    pub status: TxnStatus,
    /// The terminal's response code as it sent it (`0000`, `0010`, `00`...).
    #[serde(default)]
    pub response_code: String,
    /// Terminal-local date and time, `YYYY-MM-DDTHH:MM:SS`, empty if unknown.
    #[serde(default)]
    pub date_time: String,
    /// The request id the terminal echoed back, where the protocol has one.
    #[serde(default)]
    pub request_id: String,
    /// The card issuer (bank) where the terminal names it apart from the
    /// payment system (PrivatBank `issuerName`, B-POS1 `IssuerName`).
    #[serde(default)]
    pub issuer: String,
    /// The cardholder must sign the slip (PrivatBank `signVerif`, B-POS1
    /// `SignVerif` = 1). Per the B-POS1 notes a failed signature check is
    /// answered with a void.
    #[serde(default)]
    pub signature_required: bool,
    /// The terminal holds this approval until the ECR confirms it (B-POS1):
    /// call [`CardTerminal::confirm`] before printing the receipt; until then
    /// the terminal cancels it by itself once its confirm time-out passes.
    /// Recovery sets it on every approved B-POS1 purchase or refund it finds,
    /// because the terminal does not tell a confirmed approval from one still
    /// waiting, and `confirm()` on an already confirmed one is harmless.
    #[serde(default)]
    pub needs_confirm: bool,
    /// What was asked, in minor units, where the driver knows it (0 when not):
    /// an approval for less is partial whatever the response code says.
    #[serde(default)]
    #[ts(type = "number")]
    pub requested_amount: i64,
}

impl CardTransaction {
    /// `true` when the terminal approved less than was asked: response code
    /// `0010` (PrivatBank JSON and B-POS1 `10`), or an approved amount below
    /// [`CardTransaction::requested_amount`] (the Ingenico web service has no
    /// partial-approval code).
    pub fn is_partial(&self) -> bool {
        let rc = self.response_code.trim();
        rc == "0010"
            || rc == "10"
            || (self.requested_amount > 0 && self.amount < self.requested_amount)
    }

    /// Fill what the terminal left empty from what the request knew.
    pub fn fill_from(&mut self, pending: &PendingOperation) {
        if self.terminal_id.trim().is_empty() {
            self.terminal_id = pending.terminal_id.clone();
        }
        if self.merchant_id.trim().is_empty() {
            self.merchant_id = pending.merchant_id.clone();
        }
        if self.requested_amount == 0 {
            self.requested_amount = pending.amount;
        }
    }
}

/// How a card operation ended. A decline or a cancel is an outcome, not an error.
#[allow(clippy::large_enum_variant)] // boxing would change the checkout's API
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardOutcome {
    Approved(CardTransaction),
    /// Declined by the bank (two-digit host code, e.g. `05`, `51`, `55`) or by the
    /// card (`1002`, EMV decline).
    Declined {
        code: String,
        message: String,
    },
    Cancelled,
}

/// A purchase request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRequest {
    pub amount: i64,
    /// Which of the terminal's merchants takes the payment.
    pub merchant: u8,
}

/// A refund by RRN, full or partial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub amount: i64,
    pub rrn: String,
    pub merchant: u8,
}

/// A void (cancel inside the current batch) by invoice number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidRequest {
    pub invoice: String,
    pub merchant: u8,
}

/// Batch totals: the X report (without closing) or the settlement (Z).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct BatchReport {
    /// Merchant index the report is for (0 = all).
    pub merchant: u8,
    /// Numbers, where the protocol reports them as numbers (B-POS1 does; PrivatBank
    /// JSON sends only the slip text).
    pub totals: Option<BatchTotals>,
    /// The slip text the terminal sent, if any.
    pub receipt: String,
    /// `true` for a settlement (the batch is closed).
    pub closed: bool,
}

/// Count and sum of each kind of transaction in a batch, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct BatchTotals {
    pub debit_count: u32,
    #[ts(type = "number")]
    pub debit_amount: i64,
    pub credit_count: u32,
    #[ts(type = "number")]
    pub credit_amount: i64,
    pub cancelled_count: u32,
    #[ts(type = "number")]
    pub cancelled_amount: i64,
}

/// What the terminal says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct TerminalInfo {
    /// `privatbank`, `ingenico-web`, `bpos1`, `sim`.
    pub protocol: String,
    pub vendor: String,
    pub model: String,
    /// Software version string (PrivatBank: version + merchant + serial).
    pub version: String,
    /// Where the driver talks to it (address or port).
    pub endpoint: String,
}

/// Whether a protocol needs the ECR to confirm an approved operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmMode {
    /// The terminal confirms by itself: an approval is final (PrivatBank JSON,
    /// Ingenico web service, or B-POS1 with the driver confirming at once).
    Automatic,
    /// The caller must call [`CardTerminal::confirm`] after an approval, or the
    /// terminal cancels the operation after its own timeout (B-POS1).
    Explicit,
}

/// A card terminal as the checkout sees it.
///
/// Only `purchase` and `last_transaction` are required; the other operations
/// answer [`Error::Unsupported`] unless a driver provides them.
///
/// # A financial operation the journalling way
///
/// 1. `open()` once at start-up: the link and the protocol's handshake.
/// 2. `begin(kind, amount, merchant)` snapshots what recovery needs (prior
///    invoice, time, a fresh request id, the terminal and merchant ids known);
///    for a refund add [`PendingOperation::refund_of`] (the original RRN), for
///    a void [`PendingOperation::voiding`] (the invoice; `amount` is the amount
///    being voided). Write it to the journal.
/// 3. `execute(&pending, progress)` runs it.
/// 4. An approval with [`CardTransaction::needs_confirm`]: journal it, then
///    `confirm()`; print only after that.
/// 5. After a crash, a time-out or a lost reply (`Error::outcome_unknown`):
///    `recover(&pending)`; a [`Recovery::Found`] approval with `needs_confirm`
///    goes through step 4 again.
#[async_trait]
pub trait CardTerminal: Send + Sync + std::fmt::Debug {
    /// Charge a card.
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome>;
    /// The terminal's last transaction, for recovery after a lost reply.
    async fn last_transaction(&self) -> Result<Option<CardTransaction>>;

    /// Open the link and do the protocol's handshake now, and keep the link
    /// (PrivatBank: handshake, identify, merchant list and the pause after the
    /// handshake), so that the first operation is as fast as the next ones.
    /// Operations still open the link themselves when it is down.
    async fn open(&self) -> Result<()> {
        Ok(())
    }

    /// Refund by RRN (allowed outside the current batch).
    async fn refund(&self, req: RefundRequest, progress: ProgressSink) -> Result<CardOutcome> {
        let _ = (req, progress);
        Err(Error::Unsupported("refund".into()))
    }
    /// Void a transaction of the current batch by invoice number.
    async fn void(&self, req: VoidRequest, progress: ProgressSink) -> Result<CardOutcome> {
        let _ = (req, progress);
        Err(Error::Unsupported("void".into()))
    }
    /// Ask the terminal to stop the running operation (while it waits for the
    /// card or PIN). The running call then ends with [`CardOutcome::Cancelled`],
    /// unless the host had already approved it: then it ends with the approval
    /// (or, where the protocol reverses it, as cancelled with the reversal on
    /// the terminal's books), never with a lost approval.
    async fn cancel(&self) -> Result<()> {
        Err(Error::Unsupported("cancel".into()))
    }
    /// X report: batch totals without closing.
    async fn batch_totals(&self, merchant: u8) -> Result<BatchReport> {
        let _ = merchant;
        Err(Error::Unsupported("batch totals".into()))
    }
    /// Z: settlement with the bank for one merchant (0 = all).
    async fn settle(&self, merchant: u8) -> Result<BatchReport> {
        let _ = merchant;
        Err(Error::Unsupported("settlement".into()))
    }
    /// Look a transaction of the current batch up by invoice number.
    async fn find_by_invoice(&self, invoice: &str) -> Result<Option<CardTransaction>> {
        let _ = invoice;
        Err(Error::Unsupported("lookup by invoice".into()))
    }
    /// What the terminal is.
    async fn info(&self) -> Result<TerminalInfo> {
        Err(Error::Unsupported("terminal info".into()))
    }
    /// Test the terminal's link to the bank.
    async fn check_connection(&self, merchant: u8) -> Result<()> {
        let _ = merchant;
        Err(Error::Unsupported("host connection check".into()))
    }
    /// Whether approvals must be confirmed by the caller.
    fn confirm_mode(&self) -> ConfirmMode {
        ConfirmMode::Automatic
    }
    /// Confirm the last approved operation, the one whose
    /// [`CardTransaction::needs_confirm`] is set. Harmless on an approval that
    /// is already confirmed (and on protocols that confirm by themselves).
    /// [`Error::ConfirmExpired`] when the terminal had already cancelled it
    /// for want of a confirm: the card was not charged.
    async fn confirm(&self) -> Result<()> {
        Ok(())
    }

    /// Snapshot what recovery will need before a financial request is sent:
    /// the time, the last invoice number, and a fresh request id. The checkout
    /// writes it to its journal, then calls [`CardTerminal::execute`].
    async fn begin(&self, kind: TxnKind, amount: i64, merchant: u8) -> Result<PendingOperation> {
        let last = self.last_transaction().await?;
        Ok(PendingOperation::new(
            kind,
            amount,
            merchant,
            last.map(|t| t.invoice),
        ))
    }

    /// Run the operation `pending` describes (purchase, refund of
    /// `original_rrn`, void of `original_invoice`), under its request id where
    /// the protocol echoes one. The approval carries `requested_amount` and the
    /// ids the request knew where the terminal left them empty.
    async fn execute(
        &self,
        pending: &PendingOperation,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        pending.validate()?;
        let outcome = match pending.kind {
            TxnKind::Purchase => self.purchase_as(pending, progress).await,
            TxnKind::Refund => {
                let req = RefundRequest {
                    amount: pending.amount,
                    rrn: pending.original_rrn.clone().unwrap_or_default(),
                    merchant: pending.merchant,
                };
                self.refund(req, progress).await
            }
            TxnKind::Void => {
                let req = VoidRequest {
                    invoice: pending.original_invoice.clone().unwrap_or_default(),
                    merchant: pending.merchant,
                };
                self.void(req, progress).await
            }
            TxnKind::Other => Err(Error::Unsupported("operation kind other".into())),
        }?;
        Ok(complete(outcome, pending))
    }

    /// A purchase that carries the request id of `pending`, where the protocol
    /// echoes one; others run a plain [`CardTerminal::purchase`].
    async fn purchase_as(
        &self,
        pending: &PendingOperation,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        let req = PurchaseRequest {
            amount: pending.amount,
            merchant: pending.merchant,
        };
        let outcome = self.purchase(req, progress).await?;
        Ok(complete(outcome, pending))
    }

    /// After a lost reply or a crash: look the operation up on the terminal and
    /// decide whether the found transaction is ours (see [`recovery`]).
    async fn recover(&self, pending: &PendingOperation) -> Result<Recovery> {
        let last = self.last_transaction().await?;
        self.resolve(pending, last).await
    }

    /// The matching half of [`CardTerminal::recover`], for drivers that fetch
    /// the last transaction their own way: judge `last`; when it is newer than
    /// the prior invoice but not ours, look the invoices in between up one by
    /// one (where the protocol can look up by invoice), so that an operation
    /// the terminal did after ours does not hide it.
    async fn resolve(
        &self,
        pending: &PendingOperation,
        last: Option<CardTransaction>,
    ) -> Result<Recovery> {
        let candidates = last
            .as_ref()
            .map(|tx| recovery::between(pending, tx))
            .unwrap_or_default();
        let verdict = recovery::judge(pending, last);
        if matches!(verdict, Recovery::Found(_)) || candidates.is_empty() {
            return Ok(verdict);
        }
        for invoice in candidates {
            match self.find_by_invoice(&invoice.to_string()).await {
                Ok(Some(tx)) => {
                    if let found @ Recovery::Found(_) = recovery::judge(pending, Some(tx)) {
                        return Ok(found);
                    }
                }
                Ok(None) => {}
                Err(Error::Unsupported(_)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(verdict)
    }
}

/// An approval as `execute` hands it on: what was asked, and the ids the
/// request knew where the terminal left them empty.
fn complete(outcome: CardOutcome, pending: &PendingOperation) -> CardOutcome {
    match outcome {
        CardOutcome::Approved(mut tx) => {
            tx.fill_from(pending);
            CardOutcome::Approved(tx)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_three_distinct_texts() {
        let all = [
            TerminalStatus::Connecting,
            TerminalStatus::WaitingForCard,
            TerminalStatus::CardRead,
            TerminalStatus::ChipProcessing,
            TerminalStatus::EnterPin,
            TerminalStatus::Authorising,
            TerminalStatus::Printing,
            TerminalStatus::RemoveCard,
            TerminalStatus::Finished,
            TerminalStatus::Idle,
            TerminalStatus::WaitingForCashier,
            TerminalStatus::SelectApplication,
            TerminalStatus::InProgress,
            TerminalStatus::Correction,
            TerminalStatus::Cancelling,
        ];
        for lang in [Lang::Uk, Lang::Ru, Lang::En] {
            let mut texts: Vec<&str> = all.iter().map(|s| s.text(lang)).collect();
            assert!(texts.iter().all(|t| !t.is_empty()));
            texts.sort_unstable();
            texts.dedup();
            assert_eq!(texts.len(), all.len(), "{lang:?}");
        }
        assert_ne!(
            TerminalStatus::EnterPin.text(Lang::Uk),
            TerminalStatus::EnterPin.text(Lang::En)
        );
        assert_eq!(Lang::from_tag("ru-UA"), Lang::Ru);
        assert_eq!(Lang::from_tag("xx"), Lang::Uk);
    }

    #[test]
    fn stat_codes_follow_the_spec() {
        assert_eq!(
            TerminalStatus::from_stat_code(9),
            TerminalStatus::WaitingForCard
        );
        assert_eq!(TerminalStatus::from_stat_code(6), TerminalStatus::EnterPin);
        assert_eq!(
            TerminalStatus::from_stat_code(4),
            TerminalStatus::WaitingForCashier
        );
        assert_eq!(
            TerminalStatus::from_stat_code(3),
            TerminalStatus::Authorising
        );
        assert_eq!(
            TerminalStatus::from_stat_code(200),
            TerminalStatus::InProgress
        );
    }
}
