//! The typed API the checkout uses for a fiscal register.
//!
//! Money is an integer of minor units; the card data printed on a receipt is
//! the card transaction's RRN, auth code, masked card number, terminal id and
//! invoice number.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::health::{Health, ModemState, ShiftState};
use crate::readback::ReadbackCheck;
use crate::settings::DialectSettings;
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
    /// Discount on the line in minor units (0 = none); the line costs
    /// `price × quantity − discount`.
    #[serde(default)]
    #[ts(type = "number")]
    pub discount: i64,
}

/// What a card payment is, printed as the operation word of the card block
/// (`оплата`, `повернення`, `видача`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CardOperation {
    /// A purchase (оплата).
    #[default]
    Sale,
    /// A refund or a void (повернення).
    Refund,
    /// Cash handed out against a card (видача).
    CashOut,
}

/// Card data to print with a card payment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CardSlip {
    pub rrn: String,
    pub auth_code: String,
    pub masked_pan: String,
    pub terminal_id: String,
    pub invoice: String,
    /// The merchant id (MID) the terminal reported, empty if none.
    #[serde(default)]
    pub merchant_id: String,
    /// The payment system or issuer name (VISA, MASTERCARD, ...), empty if unknown.
    #[serde(default)]
    pub payment_system: String,
    /// Sale, refund or cash-out.
    #[serde(default)]
    pub operation: CardOperation,
    /// The terminal asked for the cardholder's signature: the receipt
    /// carries a signature line and a merchant copy is printed.
    #[serde(default)]
    pub signature_required: bool,
    /// The acquirer's commission in minor units, where the bank reports one.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub commission: Option<i64>,
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

/// Which fiscal receipt to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptKind {
    /// A sale receipt (фіскальний чек).
    Sale,
    /// A return receipt (видатковий чек) referring to the original sale's
    /// fiscal number (0 when it is not known).
    Return {
        #[ts(type = "number")]
        original: u64,
    },
}

/// The open receipt as the register reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReceiptState {
    pub open: bool,
    /// The open receipt is a return receipt.
    #[serde(default)]
    pub is_return: bool,
    pub items: u32,
    /// Sum of the lines, minor units.
    #[ts(type = "number")]
    pub amount: i64,
    /// Paid so far, minor units.
    #[ts(type = "number")]
    pub paid: i64,
}

/// The register's subtotal of the open receipt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Subtotal {
    /// The exact sum, minor units.
    #[ts(type = "number")]
    pub amount: i64,
    /// The sum as it is paid in cash (rounded to 0.10 where the register
    /// rounds; equal to `amount` where it does not).
    #[ts(type = "number")]
    pub cash_amount: i64,
}

/// How the register took a payment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PaymentResult {
    /// Still to pay after this payment, minor units.
    #[ts(type = "number")]
    pub remaining: i64,
    /// Change to hand back, minor units.
    #[ts(type = "number")]
    pub change: i64,
    /// The register refused the card data inside the payment command, so
    /// the payment went as a plain amount and the card data as text lines.
    #[serde(default)]
    pub card_data_as_text: bool,
}

/// The register's cash drawer counters (command 0x46 with a zero amount).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CashTotals {
    /// Cash in the drawer by the register's count, minor units.
    #[ts(type = "number")]
    pub cash: i64,
    /// Cash put in today (службове внесення), minor units.
    #[ts(type = "number")]
    pub cash_in: i64,
    /// Cash taken out today (службова видача), minor units.
    #[ts(type = "number")]
    pub cash_out: i64,
}

/// What the register returned for a printed document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PrintedDocument {
    /// The register's document number.
    #[ts(type = "number")]
    pub number: u64,
    /// The document as the register recorded it in its electronic journal
    /// (read back with 0x7E after closing); empty when not read. The caller
    /// stores it.
    #[serde(default)]
    pub lines: Vec<String>,
    /// Whether the read-back found every card payment's RRN and auth code.
    #[serde(default)]
    pub readback: ReadbackCheck,
    /// The register refused the card data in the payment command: it went
    /// as text lines with a plain payment (see [`PaymentResult`]).
    #[serde(default)]
    pub card_data_as_text: bool,
    /// A non-fiscal merchant copy was printed (the cardholder signs it).
    #[serde(default)]
    pub merchant_copy: bool,
}

impl PrintedDocument {
    /// A document known only by its number.
    pub fn numbered(number: u64) -> Self {
        PrintedDocument {
            number,
            ..PrintedDocument::default()
        }
    }
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

/// What the register says about itself right now (its status bits, read
/// through the dialect's table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct DeviceStatus {
    /// Names of the status bits that are set (`paper_out`, `cover_open`, ...).
    pub flags: Vec<String>,
    /// The raw status bytes as hex.
    pub raw: String,
    /// A fiscal receipt (sale or return) is open.
    pub receipt_open: bool,
    /// The open receipt is a return receipt (UA 1.3).
    pub return_receipt_open: bool,
    /// A non-fiscal receipt is open (2.5).
    pub nonfiscal_receipt_open: bool,
    pub paper_out: bool,
    pub near_paper_end: bool,
    pub cover_open: bool,
    /// The printing mechanism failed (X 0.4; on UA firmware 0.4 is a SAM bit).
    pub printer_fault: bool,
    pub fiscal_memory_full: bool,
    /// Fewer than ~50 fiscal memory records left (4.3).
    pub fiscal_memory_nearly_full: bool,
    /// Fiscal memory access error, inoperable, missing or read-only.
    pub fiscal_memory_error: bool,
    pub shift_over_24h: bool,
    pub fiscalised: bool,
    /// The clock is not set (0.2).
    pub clock_not_set: bool,
    /// The SAM failed (UA 1.4) or belongs to another device (UA 0.4).
    pub sam_error: bool,
    /// The electronic journal (КЛЕФ) is full (2.2).
    pub journal_full: bool,
    /// The electronic journal is nearly full (UA 2.4: about 2 MB left; X 2.4).
    pub journal_nearly_full: bool,
    /// The electronic journal has about 1 MB left: single receipts only
    /// (UA 2.6).
    pub journal_single_receipts: bool,
}

impl DeviceStatus {
    /// Ready for a sale: paper in, cover closed, fiscal memory and journal
    /// usable, SAM fine, shift under 24 hours.
    pub fn ready(&self) -> bool {
        !(self.paper_out
            || self.cover_open
            || self.printer_fault
            || self.fiscal_memory_full
            || self.fiscal_memory_error
            || self.journal_full
            || self.sam_error
            || self.shift_over_24h)
    }
}

/// The register's identity, from the diagnostic command (0x5A).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct DeviceInfo {
    pub model: String,
    pub firmware: String,
    /// The firmware date as the register gives it (`15Jan25`), if separate.
    pub firmware_date: String,
    pub serial: String,
    pub fiscal_memory: String,
    /// The fiscal number (UA: the registration number), if reported.
    pub fiscal_number: String,
    /// Country code (Ukraine = 2), if reported.
    pub country: String,
    /// UA fiscal-data modem ids: the device, the *information* acquirer (the
    /// operator that carries register data to the tax service, NOT the card
    /// acquirer: never print it as the bank's id) and the SAM.
    pub id_dev: String,
    pub id_acq: String,
    pub id_sam: String,
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
    /// Put cash in (positive) or take it out (negative), minor units;
    /// returns the drawer counters after it.
    async fn cash_in_out(&self, _amount: i64) -> Result<CashTotals> {
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

    // ---- the receipt command by command, for a caller that journals each step

    /// The open receipt, if any (open, return or sale, items, amount, paid).
    async fn receipt_state(&self) -> Result<ReceiptState> {
        unsupported("reading the receipt state")
    }
    /// Open a sale or return receipt with the configured operator.
    async fn open_receipt(&self, _kind: ReceiptKind) -> Result<()> {
        unsupported("opening a receipt")
    }
    /// Open a sale or return receipt as operator number `operator` (the
    /// user of the till who asked; its receipt names them), or as the
    /// configured operator. A register without operators ignores it.
    async fn open_receipt_as(&self, kind: ReceiptKind, _operator: Option<u32>) -> Result<()> {
        self.open_receipt(kind).await
    }
    /// Register one line on the open receipt.
    async fn add_line(&self, _line: &ReceiptLine) -> Result<()> {
        unsupported("receipt lines")
    }
    /// Print a fiscal text line on the open receipt.
    async fn print_text(&self, _text: &str) -> Result<()> {
        unsupported("text lines")
    }
    /// The open receipt's subtotal, as the register computed it.
    async fn subtotal(&self) -> Result<Subtotal> {
        unsupported("subtotals")
    }
    /// Pay (part of) the open receipt.
    async fn pay(&self, _payment: &Payment) -> Result<PaymentResult> {
        unsupported("payments")
    }
    /// Close the paid receipt; returns its document number.
    async fn close_receipt(&self) -> Result<u64> {
        unsupported("closing a receipt")
    }
    /// Cancel the open receipt (only before any payment).
    async fn cancel_receipt(&self) -> Result<()> {
        unsupported("cancelling a receipt")
    }
    /// The lines of document `number` as the register recorded them in its
    /// electronic journal (the read-back).
    async fn read_document(&self, _number: u64) -> Result<Vec<String>> {
        unsupported("reading the electronic journal")
    }
    /// Check the operator password once, without printing a fiscal
    /// document. Never call it again by itself after a refusal: three wrong
    /// passwords lock a Datecs register until it is power-cycled.
    async fn check_password(&self) -> Result<()> {
        unsupported("checking the operator password")
    }
    /// The cash drawer counters, without moving cash.
    async fn cash_totals(&self) -> Result<CashTotals> {
        unsupported("cash counters")
    }
    /// Print a non-fiscal document (a customer's copy, a test slip).
    async fn print_non_fiscal(&self, _lines: &[String]) -> Result<()> {
        unsupported("non-fiscal documents")
    }

    // ---- what the register reports, for the pre-flight gate

    /// The fiscal shift (open, minutes, Z report due).
    async fn shift_state(&self) -> Result<ShiftState> {
        unsupported("reading the shift state")
    }
    /// The fiscal-data modem (sent, unsent data).
    async fn modem_state(&self) -> Result<ModemState> {
        unsupported("reading the data modem state")
    }
    /// The register's clock (local time).
    async fn read_clock(&self) -> Result<chrono::NaiveDateTime> {
        unsupported("reading the clock")
    }
    /// Everything the pre-flight gate needs in one call: status, shift,
    /// modem, the clock against `now` (the system's local time, passed in),
    /// the last password check; with blocking conditions and warnings.
    async fn health(&self, _now: chrono::NaiveDateTime) -> Result<Health> {
        unsupported("the health check")
    }
    /// Card cash-out (видача готівки): a document carrying the card data
    /// with the operation word `видача`, the cash leaving the drawer.
    async fn card_cash_out(&self, _amount: i64, _card: &CardSlip) -> Result<PrintedDocument> {
        unsupported("card cash-out")
    }
    /// The dialect settings in force, including what the driver learned
    /// (`card.long_form_refused`), so a caller can persist them.
    async fn dialect_settings(&self) -> Result<DialectSettings> {
        unsupported("dialect settings")
    }
}

/// Total of a line in minor units: price × quantity, rounded half up, less
/// the line's discount.
pub fn line_total(line: &ReceiptLine) -> i64 {
    let p = i128::from(line.price) * i128::from(line.quantity_milli);
    let r = if p >= 0 {
        (p + 500) / 1000
    } else {
        (p - 500) / 1000
    };
    i64::try_from(r - i128::from(line.discount)).unwrap_or(i64::MAX)
}

impl Payment {
    /// The amount of this payment in minor units.
    pub fn amount(&self) -> i64 {
        match self {
            Payment::Cash { amount } | Payment::Card { amount, .. } => *amount,
        }
    }
}
