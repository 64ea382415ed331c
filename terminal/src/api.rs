//! The typed API the checkout uses for any card terminal, whatever its protocol.
//!
//! Amounts are integers of minor units (kopiykas). Card numbers are only ever
//! carried masked.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Result;

/// What the terminal is doing right now, reported while an operation runs.
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
}

/// A progress event of a running terminal operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TerminalProgress {
    pub status: TerminalStatus,
}

/// Where a driver sends its progress events.
pub type ProgressSink = tokio::sync::mpsc::UnboundedSender<TerminalProgress>;

/// The data of an approved card transaction that goes onto the fiscal receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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
}

/// How a card operation ended. A decline or a cancel is an outcome, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardOutcome {
    Approved(CardTransaction),
    Declined { code: String, message: String },
    Cancelled,
}

/// A purchase request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRequest {
    pub amount: i64,
    /// Which of the terminal's merchants takes the payment.
    pub merchant: u8,
}

/// A card terminal as the checkout sees it.
#[async_trait]
pub trait CardTerminal: Send + Sync + std::fmt::Debug {
    /// Charge a card.
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome>;
    /// The terminal's last transaction, for recovery after a lost reply.
    async fn last_transaction(&self) -> Result<Option<CardTransaction>>;
}
