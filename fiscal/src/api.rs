//! The typed API the checkout uses for a fiscal register.
//!
//! Money is an integer of minor units; the card data printed on a receipt is
//! the card transaction's RRN, auth code, masked card number, terminal id and
//! invoice number.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Result;

/// One line of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReceiptLine {
    pub name: String,
    /// Tax group letter, `А`..`Д` (Latin `A`..`E` accepted).
    pub tax_group: char,
    /// Unit price in minor units.
    #[ts(type = "number")]
    pub price: i64,
    /// Quantity in thousandths (1000 = one piece).
    #[ts(type = "number")]
    pub quantity_milli: i64,
}

/// Card data to print with a card payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CardSlip {
    pub rrn: String,
    pub auth_code: String,
    pub masked_pan: String,
    pub terminal_id: String,
    pub invoice: String,
}

/// How a receipt is paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payment {
    Cash {
        #[ts(type = "number")]
        amount: i64,
    },
    Card {
        #[ts(type = "number")]
        amount: i64,
        card: CardSlip,
    },
}

/// A sale receipt to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleReceipt {
    pub lines: Vec<ReceiptLine>,
    pub payments: Vec<Payment>,
}

/// What the register returned for a printed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PrintedDocument {
    /// The register's document number.
    #[ts(type = "number")]
    pub number: u64,
}

/// A fiscal register as the checkout sees it.
#[async_trait]
pub trait FiscalRegister: Send + Sync + std::fmt::Debug {
    /// Print a fiscal sale receipt.
    async fn print_sale(&self, receipt: &SaleReceipt) -> Result<PrintedDocument>;
    /// The number of the last document the register printed.
    async fn last_document_number(&self) -> Result<u64>;
}
