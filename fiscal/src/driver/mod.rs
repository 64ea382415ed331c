//! The Datecs driver: typed commands on top of the link, and the receipt
//! session with recovery and read-back that implements [`FiscalRegister`].
//!
//! - [`commands`]: one method per register command and its reply layout;
//! - [`payment`]: the payment command and how card data rides in it (slots,
//!   text, the fallback), pure encoders with golden tests;
//! - [`receipt`]: the `print_sale` / `print_return` session: status first,
//!   stray receipts, step by step with resume, subtotal check, read-back of
//!   the closed receipt, signature and merchant copy.
//!
//! One [`DatecsDriver`] owns one link: every call takes the session lock, so
//! two commands never interleave on the wire.

pub mod commands;
pub mod payment;
pub mod receipt;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use tokio::sync::Mutex;

use crate::dialect::{Dialect, Syntax};
use crate::frame::{hex, Frame, Status};
use crate::health::{self, Health, ModemState, ShiftState};
use crate::link::{BoxStream, Link, LinkConfig, LinkStats};
use crate::settings::{DialectSettings, PasswordCheck};
use crate::text;
use crate::transport::{self, Endpoint};
use crate::{
    CardSlip, CashTotals, DeviceInfo, DeviceStatus, Error, FiscalRegister, Payment, PaymentResult,
    PrintedDocument, ReceiptKind, ReceiptLine, ReceiptState, ReportTotals, Result, ReturnReceipt,
    SaleReceipt, Subtotal,
};

pub use payment::{
    card_payment_text, card_slot_values, card_text_lines, clean_slot, encode_slot_payment,
    mask_pan, plain_payment_data, slot_value, MAX_DATA,
};
use receipt::{Kind, Pending};

/// A price change on one sale line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Percent in hundredths (−1000 = 10 % discount, 500 = 5 % surcharge).
    Percent(i64),
    /// Amount in minor units (negative = discount).
    Amount(i64),
}

/// One sale line with an optional discount or surcharge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleItem {
    pub name: String,
    pub tax_group: char,
    pub price: i64,
    pub quantity_milli: i64,
    pub adjustment: Option<Adjustment>,
}

impl From<&ReceiptLine> for SaleItem {
    fn from(l: &ReceiptLine) -> Self {
        SaleItem {
            name: l.name.clone(),
            tax_group: l.tax_group,
            price: l.price,
            quantity_milli: l.quantity_milli,
            adjustment: (l.discount != 0).then_some(Adjustment::Amount(-l.discount)),
        }
    }
}

/// The answer to a payment command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayResult {
    /// Still to pay (minor units).
    Remaining(i64),
    /// Fully paid; change to give (minor units, may be 0).
    Change(i64),
}

/// Operator and link settings.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    pub operator: String,
    pub password: String,
    pub till: String,
    pub link: LinkConfig,
    /// The passwords of other operators a receipt may be opened as (a
    /// user of the till is an operator of the register); an operator not
    /// listed uses `password`.
    pub operator_passwords: std::collections::BTreeMap<u32, String>,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            operator: "1".into(),
            password: "0000".into(),
            till: "1".into(),
            link: LinkConfig::default(),
            operator_passwords: std::collections::BTreeMap::new(),
        }
    }
}

/// Everything needed to reach a register: where, which dialect (with the
/// installer's [`DialectSettings`] inside, see [`Dialect::with_settings`]),
/// who.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub endpoint: Endpoint,
    pub dialect: Dialect,
    pub options: DriverOptions,
}

impl DriverConfig {
    /// A serial port at a baud rate, FP-T260 dialect, default operator.
    pub fn serial(path: impl Into<String>, baud: u32) -> Self {
        DriverConfig {
            endpoint: Endpoint::Serial {
                path: path.into(),
                baud,
            },
            dialect: Dialect::ua_fp_t260(),
            options: DriverOptions::default(),
        }
    }

    /// A TCP address (`host:port`), FP-T260 dialect, default operator.
    pub fn tcp(addr: impl Into<String>) -> Self {
        DriverConfig {
            endpoint: Endpoint::tcp(addr),
            dialect: Dialect::ua_fp_t260(),
            options: DriverOptions::default(),
        }
    }

    /// The same configuration with the installer's dialect settings.
    pub fn with_settings(mut self, settings: DialectSettings) -> Self {
        self.dialect.settings = settings;
        self
    }
}

/// A Datecs register behind one link; the single owner of the device.
#[derive(Debug)]
pub struct DatecsDriver {
    inner: Mutex<Session>,
    dialect: Dialect,
}

/// The state behind the driver's lock.
#[derive(Debug)]
pub(crate) struct Session {
    link: Link<BoxStream>,
    /// The dialect; its settings change when the driver learns (the long
    /// form refused).
    d: Dialect,
    opts: DriverOptions,
    /// The receipt job in progress, for resume after an interruption.
    pending: Option<Pending>,
    /// The open receipt is a return receipt (card words say "refund").
    in_return: bool,
    /// The last password check: `None` until one ran.
    password_ok: Option<bool>,
    /// Card payments of the open receipt (paid command by command) whose
    /// cardholder must sign: the close prints the signature line and a
    /// merchant copy.
    signing: Vec<Payment>,
}

impl DatecsDriver {
    /// A driver on an already open byte stream.
    pub fn new(stream: BoxStream, dialect: Dialect, options: DriverOptions) -> Self {
        let mut link = Link::new(stream, dialect.framing, options.link.clone());
        link.set_secrets([options.password.as_bytes().to_vec()]);
        DatecsDriver {
            dialect: dialect.clone(),
            inner: Mutex::new(Session {
                link,
                d: dialect,
                opts: options,
                pending: None,
                in_return: false,
                password_ok: None,
                signing: Vec::new(),
            }),
        }
    }

    /// Opens the configured port or socket and checks that a register
    /// answers (status command).
    pub async fn connect(config: &DriverConfig) -> Result<Self> {
        let stream = transport::open(&config.endpoint).await?;
        let drv = DatecsDriver::new(stream, config.dialect.clone(), config.options.clone());
        drv.read_status().await?;
        Ok(drv)
    }

    /// The dialect the driver started with (see [`Self::settings`] for
    /// what it learned since).
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// The dialect settings in force, with what the driver learned (the
    /// register refused the long card form: `card.long_form_refused`).
    pub async fn settings(&self) -> DialectSettings {
        self.inner.lock().await.d.settings.clone()
    }

    /// Replaces the dialect settings in force (the field check tries an
    /// order this way; a caller applies saved settings).
    pub async fn set_settings(&self, settings: DialectSettings) {
        self.inner.lock().await.d.settings = settings;
    }

    /// True once the register refused card data in the payment command:
    /// card data now goes as text lines with a plain payment.
    pub async fn card_data_as_text(&self) -> bool {
        self.inner.lock().await.d.settings.card.long_form_refused
    }

    /// Link counters (writes, timeouts, NAKs, SYNs...).
    pub async fn link_stats(&self) -> LinkStats {
        self.inner.lock().await.link.stats.clone()
    }

    /// Makes the next command use SEQ `seq` (for golden-frame tests and log
    /// replays; normal use never needs it).
    pub async fn set_next_seq(&self, seq: u8) {
        self.inner.lock().await.link.set_next_seq(seq);
    }

    /// Sends a raw command and returns the reply frame (for diagnostics).
    pub async fn raw(&self, cmd: u16, data: &[u8]) -> Result<Frame> {
        self.inner.lock().await.link.exchange(cmd, data).await
    }

    pub async fn read_status(&self) -> Result<DeviceStatus> {
        self.inner.lock().await.status().await
    }
    pub async fn diagnostic(&self) -> Result<DeviceInfo> {
        self.inner.lock().await.diagnostic().await
    }
    pub async fn read_datetime(&self) -> Result<NaiveDateTime> {
        self.inner.lock().await.read_datetime().await
    }
    pub async fn set_datetime(&self, t: NaiveDateTime) -> Result<()> {
        self.inner.lock().await.set_datetime(t).await
    }
    pub async fn last_document(&self) -> Result<u64> {
        self.inner.lock().await.last_document().await
    }
    pub async fn receipt_state(&self) -> Result<ReceiptState> {
        self.inner.lock().await.receipt_state().await
    }
    /// Open a fiscal receipt (operator, password and till from the options).
    pub async fn open_receipt(&self) -> Result<()> {
        self.inner.lock().await.open_receipt(Kind::Sale).await
    }
    /// Open a return receipt referring to an original document.
    pub async fn open_return(&self, original: u64) -> Result<()> {
        self.inner
            .lock()
            .await
            .open_receipt(Kind::Return { original })
            .await
    }
    pub async fn sale(&self, item: &SaleItem) -> Result<()> {
        self.inner.lock().await.sale(item).await
    }
    /// Subtotal of the open receipt (minor units, exact).
    pub async fn subtotal(&self) -> Result<i64> {
        Ok(self.inner.lock().await.subtotal().await?.amount)
    }
    /// One payment (card data per the dialect's mode, with the fallback).
    pub async fn pay(&self, payment: &Payment) -> Result<PayResult> {
        Ok(self.inner.lock().await.pay(payment).await?.0)
    }
    /// A card payment with these exact slot values (markers in the field
    /// check); no fallback.
    pub async fn pay_card_slots(&self, amount: i64, values: &[String]) -> Result<PayResult> {
        self.inner.lock().await.pay_slots(amount, values).await
    }
    pub async fn print_text(&self, line: &str) -> Result<()> {
        self.inner.lock().await.print_text(line).await
    }
    /// Close the receipt; returns the register's document number.
    pub async fn close_receipt(&self) -> Result<u64> {
        self.inner.lock().await.close().await
    }
    /// Cancel the open receipt (only before payment).
    pub async fn cancel_receipt(&self) -> Result<()> {
        self.inner.lock().await.cancel().await
    }
}

#[async_trait]
impl FiscalRegister for DatecsDriver {
    async fn print_sale(&self, receipt: &SaleReceipt) -> Result<PrintedDocument> {
        let mut s = self.inner.lock().await;
        s.print_job(Kind::Sale, &receipt.lines, &receipt.payments)
            .await
    }

    async fn last_document_number(&self) -> Result<u64> {
        self.inner.lock().await.last_document().await
    }

    async fn print_return(&self, receipt: &ReturnReceipt) -> Result<PrintedDocument> {
        let mut s = self.inner.lock().await;
        let kind = Kind::Return {
            original: receipt.original_number,
        };
        s.print_job(kind, &receipt.lines, &receipt.payments).await
    }

    async fn status(&self) -> Result<DeviceStatus> {
        self.inner.lock().await.status().await
    }

    async fn info(&self) -> Result<DeviceInfo> {
        self.inner.lock().await.diagnostic().await
    }

    async fn cash_in_out(&self, amount: i64) -> Result<CashTotals> {
        self.inner.lock().await.cash_in_out(amount).await
    }

    async fn x_report(&self) -> Result<ReportTotals> {
        self.inner.lock().await.report(false).await
    }

    async fn z_report(&self) -> Result<ReportTotals> {
        self.inner.lock().await.report(true).await
    }

    async fn receipt_state(&self) -> Result<ReceiptState> {
        self.inner.lock().await.receipt_state().await
    }

    async fn open_receipt(&self, kind: ReceiptKind) -> Result<()> {
        self.open_receipt_as(kind, None).await
    }

    async fn open_receipt_as(&self, kind: ReceiptKind, operator: Option<u32>) -> Result<()> {
        let kind = match kind {
            ReceiptKind::Sale => Kind::Sale,
            ReceiptKind::Return { original } => Kind::Return { original },
        };
        let mut s = self.inner.lock().await;
        s.signing.clear();
        s.open_receipt_as(kind, operator).await
    }

    async fn add_line(&self, line: &ReceiptLine) -> Result<()> {
        self.inner.lock().await.sale(&SaleItem::from(line)).await
    }

    async fn print_text(&self, text: &str) -> Result<()> {
        self.inner.lock().await.print_text(text).await
    }

    async fn subtotal(&self) -> Result<Subtotal> {
        self.inner.lock().await.subtotal().await
    }

    async fn pay(&self, payment: &Payment) -> Result<PaymentResult> {
        let mut s = self.inner.lock().await;
        if let Payment::Card { card, .. } = payment {
            // The text-lines modes print the card block before the payment.
            if s.text_lines_step() {
                s.card_lines(card).await?;
            }
        }
        let (r, card_data_as_text) = s.pay(payment).await?;
        if let Payment::Card { card, .. } = payment {
            if card.signature_required {
                s.signing.push(payment.clone());
            }
        }
        Ok(match r {
            PayResult::Remaining(remaining) => PaymentResult {
                remaining,
                card_data_as_text,
                ..PaymentResult::default()
            },
            PayResult::Change(change) => PaymentResult {
                change,
                card_data_as_text,
                ..PaymentResult::default()
            },
        })
    }

    async fn close_receipt(&self) -> Result<u64> {
        let mut s = self.inner.lock().await;
        let signing = std::mem::take(&mut s.signing);
        if !signing.is_empty() {
            let line = s.d.settings.card.signature_line.clone();
            s.print_text(&line).await?;
        }
        s.close().await?;
        let number = s.last_document().await?;
        if !signing.is_empty() {
            s.merchant_copy(number, &signing).await;
        }
        Ok(number)
    }

    async fn cancel_receipt(&self) -> Result<()> {
        let mut s = self.inner.lock().await;
        s.signing.clear();
        s.cancel().await
    }

    async fn read_document(&self, number: u64) -> Result<Vec<String>> {
        self.inner.lock().await.read_document(number).await
    }

    async fn check_password(&self) -> Result<()> {
        self.inner.lock().await.check_password().await
    }

    async fn cash_totals(&self) -> Result<CashTotals> {
        self.inner.lock().await.cash_totals().await
    }

    async fn print_non_fiscal(&self, lines: &[String]) -> Result<()> {
        self.inner.lock().await.print_non_fiscal(lines).await
    }

    async fn shift_state(&self) -> Result<ShiftState> {
        self.inner.lock().await.shift_state().await
    }

    async fn modem_state(&self) -> Result<ModemState> {
        self.inner.lock().await.modem_state().await
    }

    async fn read_clock(&self) -> Result<NaiveDateTime> {
        self.inner.lock().await.read_datetime().await
    }

    async fn health(&self, now: NaiveDateTime) -> Result<Health> {
        self.inner.lock().await.health(now).await
    }

    async fn card_cash_out(&self, amount: i64, card: &CardSlip) -> Result<PrintedDocument> {
        self.inner.lock().await.card_cash_out(amount, card).await
    }

    async fn dialect_settings(&self) -> Result<DialectSettings> {
        Ok(self.settings().await)
    }
}

/// `None` for a command the register does not know (or whose reply it
/// shapes otherwise); other errors stay errors.
fn optional<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::InvalidCommand { .. } | Error::Syntax { .. } | Error::Protocol(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn num(fields: &[String], i: usize, what: &str) -> Result<i64> {
    fields
        .get(i)
        .and_then(|f| text::parse_money(f))
        .ok_or_else(|| Error::Protocol(format!("reply has no {what} (field {i}): {fields:?}")))
}

fn int(fields: &[String], i: usize, what: &str) -> Result<u64> {
    fields
        .get(i)
        .and_then(|f| f.trim().parse::<u64>().ok())
        .ok_or_else(|| Error::Protocol(format!("reply has no {what} (field {i}): {fields:?}")))
}

impl Session {
    /// One command: the reply's fields (the X error code checked and
    /// removed) and its status, or the error the status bits say.
    async fn call(&mut self, cmd: u16, data: &[u8], strict: bool) -> Result<(Vec<String>, Status)> {
        let frame = self.link.exchange(cmd, data).await?;
        let status = Status::new(frame.status.clone().unwrap_or_default());
        let fields = self.d.reply_fields(&frame.data, cmd)?;
        self.check_status(cmd, &status, strict)?;
        Ok((fields, status))
    }

    /// The error the status bits of a reply to `cmd` say, read through the
    /// dialect's table. `strict` is for commands that print: there paper,
    /// cover and mechanism count, and any general error is a failure.
    fn check_status(&self, cmd: u16, st: &Status, strict: bool) -> Result<()> {
        if st.malformed() {
            return Err(Error::Protocol(format!(
                "reply status {} is malformed",
                hex(&st.bytes)
            )));
        }
        let d = &self.d;
        let has = |name: &str| d.status_has(st, name);
        if has("syntax_error") {
            return Err(Error::Syntax { cmd });
        }
        if has("invalid_command") {
            return Err(Error::InvalidCommand { cmd });
        }
        let sam = has("sam_error") || has("sam_foreign");
        if strict {
            if has("paper_out") {
                return Err(Error::PaperOut);
            }
            if has("cover_open") {
                return Err(Error::CoverOpen);
            }
            if has("printer_fault") {
                return Err(Error::PrinterFault);
            }
        }
        if has("not_permitted") {
            let c = &d.cmd;
            let open = has("fiscal_receipt_open");
            return Err(if has("fm_full") {
                Error::FiscalMemoryFull
            } else if has("ej_full") {
                Error::JournalFull
            } else if sam {
                Error::SamError
            } else if has("shift_over_24h") {
                Error::ShiftOver24h
            } else if cmd == c.set_password {
                // 0x65 with the same old and new password is refused only
                // for a wrong password (or a register locked by three).
                Error::WrongPassword
            } else if (cmd == c.open_receipt || cmd == c.open_return) && open {
                Error::ReceiptOpen
            } else if [
                c.sale,
                c.subtotal,
                c.payment,
                c.close,
                c.cancel,
                c.print_text,
            ]
            .contains(&cmd)
                && !open
            {
                Error::NoReceiptOpen
            } else {
                Error::NotPermitted { cmd }
            });
        }
        if has("overflow") {
            return Err(Error::Overflow);
        }
        if strict && has("general_error") {
            if sam {
                return Err(Error::SamError);
            }
            if has("ej_full") {
                return Err(Error::JournalFull);
            }
            return Err(Error::Device {
                code: "general_error".into(),
                message: format!("status {}", hex(&st.bytes)),
            });
        }
        Ok(())
    }

    fn params(&self, fields: &[&str]) -> Vec<u8> {
        self.d.params(fields)
    }

    /// The status bits as the checkout sees them.
    fn device_status(&self, st: &Status) -> DeviceStatus {
        let d = &self.d;
        let has = |n: &str| d.status_has(st, n);
        DeviceStatus {
            flags: d.status_flags(st).into_iter().map(String::from).collect(),
            raw: hex(&st.bytes),
            receipt_open: has("fiscal_receipt_open"),
            return_receipt_open: has("return_receipt_open"),
            nonfiscal_receipt_open: has("nonfiscal_receipt_open"),
            paper_out: has("paper_out"),
            near_paper_end: has("near_paper_end"),
            cover_open: has("cover_open"),
            printer_fault: has("printer_fault"),
            fiscal_memory_full: has("fm_full"),
            fiscal_memory_nearly_full: has("fm_nearly_full"),
            fiscal_memory_error: [
                "fm_access_error",
                "fm_inoperable",
                "fm_missing",
                "fm_read_only",
                "fm_general_error",
                "fm_close_failed",
            ]
            .iter()
            .any(|n| has(n)),
            shift_over_24h: has("shift_over_24h"),
            fiscalised: has("fiscalised"),
            clock_not_set: has("clock_not_set"),
            sam_error: has("sam_error") || has("sam_foreign"),
            journal_full: has("ej_full"),
            journal_nearly_full: has("ej_nearly_full"),
            journal_single_receipts: has("ej_single_receipts"),
        }
    }

    /// Status, shift, modem, clock and the last password check, assessed.
    async fn health(&mut self, now: NaiveDateTime) -> Result<Health> {
        let status = self.status().await?;
        // A firmware without the shift or modem command answers "invalid
        // command" or a syntax error: that part is then unknown, not a
        // failure of the whole check.
        let shift = match self.d.cmd.shift_state {
            Some(_) => optional(self.shift_state().await)?,
            None => None,
        };
        let modem = match self.d.cmd.modem_state {
            Some(_) => optional(self.modem_state().await)?,
            None => None,
        };
        let register = self.read_datetime().await?;
        let clock = health::clock_drift(register, now, self.d.settings.clock_tolerance_s);
        Ok(health::assess(
            status,
            shift,
            modem,
            Some(clock),
            self.password_ok,
            now,
        ))
    }

    /// Checks the operator password once (0x65 with the same old and new
    /// password), or not at all with `password_check: none`. Never retried
    /// here: three wrong passwords lock the register until a power cycle.
    async fn check_password(&mut self) -> Result<()> {
        if self.d.settings.password_check == PasswordCheck::None {
            return Ok(());
        }
        let (op, pwd) = (self.opts.operator.clone(), self.opts.password.clone());
        let data = match self.d.syntax {
            Syntax::Comma => self.params(&[&op, &pwd, &pwd]),
            Syntax::Tab => self.params(&[&op, &pwd, &pwd]),
        };
        let r = self.call(self.d.cmd.set_password, &data, false).await;
        match &r {
            Ok(_) => self.password_ok = Some(true),
            Err(Error::WrongPassword) => self.password_ok = Some(false),
            Err(_) => {}
        }
        r.map(|_| ())
    }
}

/// Parses the diagnostic reply of either syntax: the UA layout when it has
/// ten fields or more (model, firmware and date, checksum, switches,
/// country, serial, fiscal number, ID_DEV, ID_ACQ, ID_SAM; reference §7.4),
/// else the generic old layout (model, firmware, checksum, switches,
/// serial, FM) or the X one.
pub fn parse_diagnostic(d: &Dialect, f: &[String]) -> DeviceInfo {
    let get = |i: usize| f.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
    let base = DeviceInfo {
        framing: d.framing.to_string(),
        dialect: d.name.to_string(),
        ..DeviceInfo::default()
    };
    if f.len() >= 10 && d.syntax == Syntax::Comma {
        let fw = get(1);
        let (firmware, date) = match fw.split_once(' ') {
            Some((a, b)) => (a.to_string(), b.trim().to_string()),
            None => (fw.clone(), String::new()),
        };
        return DeviceInfo {
            model: get(0),
            firmware,
            firmware_date: date,
            country: get(4),
            serial: get(5),
            fiscal_memory: get(6),
            fiscal_number: get(6),
            id_dev: get(7),
            id_acq: get(8),
            id_sam: get(9),
            ..base
        };
    }
    match d.syntax {
        // Model,FwRev FwDate FwTime,Checksum,Switches,Serial,FM
        Syntax::Comma if f.len() <= 6 || d.framing == crate::frame::Framing::Old => DeviceInfo {
            model: get(0),
            firmware: get(1),
            serial: get(4),
            fiscal_memory: get(5),
            ..base
        },
        // Name, FwRev, FwDate, FwTime, Checksum, Sw, Serial, FM
        _ => DeviceInfo {
            model: get(0),
            firmware: get(1),
            firmware_date: format!("{} {}", get(2), get(3)).trim().to_string(),
            serial: get(6),
            fiscal_memory: get(7),
            ..base
        },
    }
}

/// Parses `DD-MM-YY HH:MM:SS` (an optional trailing DST flag is ignored).
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let main = s.get(..17).unwrap_or(s);
    NaiveDateTime::parse_from_str(main, "%d-%m-%y %H:%M:%S").ok()
}
