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

/// A return receipt (видатковий чек) that refers to the original sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReturnReceipt {
    /// The fiscal number of the original sale receipt.
    #[ts(type = "number")]
    pub original_number: u64,
    pub lines: Vec<ReceiptLine>,
    /// How the money goes back (card refunds carry the card data).
    pub payments: Vec<Payment>,
}

/// What the register says about itself right now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceStatus {
    /// Names of the status bits that are set (`paper_out`, `cover_open`, ...).
    pub flags: Vec<String>,
    /// The raw status bytes as hex.
    pub raw: String,
    pub receipt_open: bool,
    pub paper_out: bool,
    pub near_paper_end: bool,
    pub cover_open: bool,
    pub fiscal_memory_full: bool,
    pub shift_over_24h: bool,
    pub fiscalised: bool,
}

impl DeviceStatus {
    /// Ready for a sale: paper in, cover closed, memory not full, shift
    /// under 24 hours.
    pub fn ready(&self) -> bool {
        !(self.paper_out || self.cover_open || self.fiscal_memory_full || self.shift_over_24h)
    }
}

/// The register's identity, from the diagnostic command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceInfo {
    pub model: String,
    pub firmware: String,
    pub serial: String,
    pub fiscal_memory: String,
    /// `old` or `x`.
    pub framing: String,
    /// The dialect table in use.
    pub dialect: String,
    /// The baud rate, when found by detection on a serial port.
    pub baud: Option<u32>,
}

/// Totals of an X or Z report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReportTotals {
    /// The Z report counter after a Z; the current one after an X.
    #[ts(type = "number")]
    pub number: u64,
    /// Sales per tax group А..Д in minor units.
    #[ts(type = "Array<number>")]
    pub tax_totals: Vec<i64>,
}

fn unsupported<T>(what: &str) -> Result<T> {
    Err(crate::Error::InvalidRequest(format!(
        "this register does not support {what}"
    )))
}

/// A fiscal register as the checkout sees it.
///
/// `print_sale` and `last_document_number` are what every register must do;
/// the rest have defaults that say "not supported".
#[async_trait]
pub trait FiscalRegister: Send + Sync + std::fmt::Debug {
    /// Print a fiscal sale receipt.
    async fn print_sale(&self, receipt: &SaleReceipt) -> Result<PrintedDocument>;
    /// The number of the last document the register printed.
    async fn last_document_number(&self) -> Result<u64>;
    /// Print a return receipt referring to the original sale.
    async fn print_return(&self, _receipt: &ReturnReceipt) -> Result<PrintedDocument> {
        unsupported("return receipts")
    }
    /// The register's status (paper, cover, open receipt, ...).
    async fn status(&self) -> Result<DeviceStatus> {
        unsupported("status")
    }
    /// Model, firmware and serial number.
    async fn info(&self) -> Result<DeviceInfo> {
        unsupported("diagnostic info")
    }
    /// Put cash in (positive) or take it out (negative), minor units.
    async fn cash_in_out(&self, _amount: i64) -> Result<()> {
        unsupported("cash in and out")
    }
    /// Print an X report (totals, day stays open).
    async fn x_report(&self) -> Result<ReportTotals> {
        unsupported("X reports")
    }
    /// Print a Z report (closes the fiscal day).
    async fn z_report(&self) -> Result<ReportTotals> {
        unsupported("Z reports")
    }
}

/// Total of a line in minor units: price × quantity, rounded half up.
pub fn line_total(line: &ReceiptLine) -> i64 {
    let p = i128::from(line.price) * i128::from(line.quantity_milli);
    let r = if p >= 0 {
        (p + 500) / 1000
    } else {
        (p - 500) / 1000
    };
    i64::try_from(r).unwrap_or(i64::MAX)
}

impl Payment {
    /// The amount of this payment in minor units.
    pub fn amount(&self) -> i64 {
        match self {
            Payment::Cash { amount } | Payment::Card { amount, .. } => *amount,
        }
    }
}
