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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct CardTransaction {
    /// Retrieval reference number, 12 characters.
    pub rrn: String,
    /// Approval code, up to 6 characters.
    pub auth_code: String,
    /// Masked card number, e.g. `516875******1234`.
    pub masked_pan: String,
    /// Card scheme as the terminal names it (VISA, MASTERCARD, ...).
    pub card_scheme: String,
    pub terminal_id: String,
    pub merchant_id: String,
    /// The terminal's receipt number inside its batch (used for void).
    pub invoice: String,
    /// Amount actually approved, in minor units (may be less on partial approval).
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
}

impl CardTransaction {
    /// `true` when the terminal approved less than was asked (PrivatBank RC 0010).
    pub fn is_partial(&self) -> bool {
        self.response_code.trim() == "0010" || self.response_code.trim() == "10"
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
#[async_trait]
pub trait CardTerminal: Send + Sync + std::fmt::Debug {
    /// Charge a card.
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome>;
    /// The terminal's last transaction, for recovery after a lost reply.
    async fn last_transaction(&self) -> Result<Option<CardTransaction>>;

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
    /// unless the host had already approved it.
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
    /// Confirm the last approved operation (only for [`ConfirmMode::Explicit`]).
    async fn confirm(&self) -> Result<()> {
        Ok(())
    }

    /// Snapshot what recovery will need before a financial request is sent:
    /// the time, the last invoice number, and a fresh request id. The checkout
    /// writes it to its journal, then calls [`CardTerminal::purchase_as`].
    async fn begin(&self, kind: TxnKind, amount: i64, merchant: u8) -> Result<PendingOperation> {
        let last = self.last_transaction().await?;
        Ok(PendingOperation::new(
            kind,
            amount,
            merchant,
            last.map(|t| t.invoice),
        ))
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
        self.purchase(req, progress).await
    }
    /// After a lost reply or a crash: look the operation up on the terminal and
    /// decide whether the found transaction is ours.
    async fn recover(&self, pending: &PendingOperation) -> Result<Recovery> {
        let last = self.last_transaction().await?;
        Ok(recovery::judge(pending, last))
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
