//! The Datecs driver: typed commands on top of the link, and the receipt
//! session with recovery that implements [`FiscalRegister`].
//!
//! The receipt session:
//! - checks the status first (paper, cover, fiscal memory, 24-hour shift);
//! - reads the receipt state: a stray open receipt with no payment is
//!   cancelled, one already paid is finished and closed;
//! - reads the last document number before, and again after closing;
//! - remembers how far it got, so that after paper out (the receipt stays
//!   open) or a lost link, printing the same receipt again continues from the
//!   next line, and an uncertain outcome is resolved by looking at the
//!   register (receipt open? items? paid? last number moved?), never by
//!   printing again.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use async_trait::async_trait;
use chrono::NaiveDateTime;
use tokio::sync::Mutex;

use crate::dialect::{card_payment_text, card_text_lines, CardDataMode, Dialect, Syntax};
use crate::frame::{hex, Frame, Status};
use crate::link::{BoxStream, Link, LinkConfig, LinkStats};
use crate::text::{self, money, quantity};
use crate::transport::{self, Endpoint};
use crate::{
    line_total, DeviceInfo, DeviceStatus, Error, FiscalRegister, Payment, PaymentResult,
    PrintedDocument, ReceiptKind, ReceiptLine, ReceiptState, ReportTotals, Result, ReturnReceipt,
    SaleReceipt, Subtotal,
};

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
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            operator: "1".into(),
            password: "0000".into(),
            till: "1".into(),
            link: LinkConfig::default(),
        }
    }
}

/// Everything needed to reach a register: where, which dialect, who.
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
}

/// A Datecs register behind one link; the single owner of the device.
#[derive(Debug)]
pub struct DatecsDriver {
    inner: Mutex<Session>,
    dialect: Dialect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
    Close,
}

#[derive(Debug, Clone)]
struct Pending {
    fingerprint: u64,
    before: u64,
    /// The step that has not finished yet.
    next: usize,
}

#[derive(Debug)]
struct Session {
    link: Link<BoxStream>,
    d: Dialect,
    opts: DriverOptions,
    pending: Option<Pending>,
}

impl DatecsDriver {
    /// A driver on an already open byte stream.
    pub fn new(stream: BoxStream, dialect: Dialect, options: DriverOptions) -> Self {
        let link = Link::new(stream, dialect.framing, options.link.clone());
        DatecsDriver {
            dialect: dialect.clone(),
            inner: Mutex::new(Session {
                link,
                d: dialect,
                opts: options,
                pending: None,
            }),
        }
    }

    /// Opens the configured port or socket and checks that a register
    /// answers (status command).
    pub async fn connect(config: &DriverConfig) -> Result<Self> {
        let stream = transport::open(&config.endpoint).await?;
        let drv = DatecsDriver::new(stream, config.dialect.clone(), config.options.clone());
        drv.status().await?;
        Ok(drv)
    }

    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// Link counters (writes, timeouts, NAKs, SYNs...).
    pub async fn link_stats(&self) -> LinkStats {
        self.inner.lock().await.link.stats.clone()
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
    /// Subtotal of the open receipt (minor units).
    pub async fn subtotal(&self) -> Result<i64> {
        self.inner.lock().await.subtotal().await
    }
    pub async fn pay(&self, payment: &Payment) -> Result<PayResult> {
        self.inner.lock().await.pay(payment).await
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

    async fn cash_in_out(&self, amount: i64) -> Result<()> {
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
        let kind = match kind {
            ReceiptKind::Sale => Kind::Sale,
            ReceiptKind::Return { original } => Kind::Return { original },
        };
        self.inner.lock().await.open_receipt(kind).await
    }

    async fn add_line(&self, line: &ReceiptLine) -> Result<()> {
        self.inner.lock().await.sale(&SaleItem::from(line)).await
    }

    async fn print_text(&self, text: &str) -> Result<()> {
        self.inner.lock().await.print_text(text).await
    }

    async fn subtotal(&self) -> Result<Subtotal> {
        let amount = self.inner.lock().await.subtotal().await?;
        Ok(Subtotal {
            amount,
            cash_amount: amount,
        })
    }

    async fn pay(&self, payment: &Payment) -> Result<PaymentResult> {
        let mut s = self.inner.lock().await;
        if let Payment::Card { .. } = payment {
            let text_lines = match s.d.card_data {
                CardDataMode::TextLines | CardDataMode::Both => true,
                CardDataMode::PaymentText => s.d.syntax == Syntax::Tab,
            };
            if text_lines {
                s.card_lines(Kind::Sale, payment).await?;
            }
        }
        Ok(match s.pay(payment).await? {
            PayResult::Remaining(remaining) => PaymentResult {
                remaining,
                ..PaymentResult::default()
            },
            PayResult::Change(change) => PaymentResult {
                change,
                ..PaymentResult::default()
            },
        })
    }

    async fn close_receipt(&self) -> Result<u64> {
        let mut s = self.inner.lock().await;
        s.close().await?;
        s.last_document().await
    }

    async fn cancel_receipt(&self) -> Result<()> {
        self.inner.lock().await.cancel().await
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

fn fingerprint(kind: Kind, lines: &[ReceiptLine], payments: &[Payment]) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{kind:?}{lines:?}{payments:?}").hash(&mut h);
    h.finish()
}

impl Session {
    async fn call(&mut self, cmd: u16, data: &[u8], strict: bool) -> Result<(Vec<String>, Status)> {
        let frame = self.link.exchange(cmd, data).await?;
        let status = Status::new(frame.status.clone().unwrap_or_default());
        let fields = self.d.reply_fields(&frame.data, cmd)?;
        self.check_status(cmd, &status, strict)?;
        Ok((fields, status))
    }

    fn check_status(&self, cmd: u16, st: &Status, strict: bool) -> Result<()> {
        if st.malformed() {
            return Err(Error::Protocol(format!(
                "reply status {} is malformed",
                hex(&st.bytes)
            )));
        }
        if st.syntax_error() {
            return Err(Error::Syntax { cmd });
        }
        if st.invalid_command() {
            return Err(Error::InvalidCommand { cmd });
        }
        let shift = self.d.shift_bit().is_some_and(|(b, i)| st.bit(b, i));
        if strict {
            if st.paper_out() {
                return Err(Error::PaperOut);
            }
            if st.cover_open() {
                return Err(Error::CoverOpen);
            }
            if st.printer_fault() {
                return Err(Error::PrinterFault);
            }
        }
        if st.not_permitted() {
            let c = &self.d.cmd;
            return Err(if st.fm_full() {
                Error::FiscalMemoryFull
            } else if shift {
                Error::ShiftOver24h
            } else if (cmd == c.open_receipt || cmd == c.open_return) && st.fiscal_receipt_open() {
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
                && !st.fiscal_receipt_open()
            {
                Error::NoReceiptOpen
            } else {
                Error::NotPermitted { cmd }
            });
        }
        if st.overflow() {
            return Err(Error::Overflow);
        }
        if strict && st.general_error() {
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

    async fn status(&mut self) -> Result<DeviceStatus> {
        let (_, st) = self.call(self.d.cmd.status, b"", false).await?;
        let shift = self.d.shift_bit().is_some_and(|(b, i)| st.bit(b, i));
        Ok(DeviceStatus {
            flags: st
                .flags_with(self.d.extra_status_bits)
                .into_iter()
                .map(String::from)
                .collect(),
            raw: hex(&st.bytes),
            receipt_open: st.fiscal_receipt_open(),
            paper_out: st.paper_out(),
            near_paper_end: st.near_paper_end(),
            cover_open: st.cover_open(),
            fiscal_memory_full: st.fm_full(),
            shift_over_24h: shift,
            fiscalised: st.fiscalised(),
        })
    }

    async fn diagnostic(&mut self) -> Result<DeviceInfo> {
        let (f, _) = self.call(self.d.cmd.diagnostic, b"1", false).await?;
        Ok(parse_diagnostic(&self.d, &f))
    }

    async fn read_datetime(&mut self) -> Result<NaiveDateTime> {
        let (f, _) = self.call(self.d.cmd.read_datetime, b"", false).await?;
        let t = f.first().map(|s| s.trim()).unwrap_or("");
        parse_datetime(t).ok_or_else(|| Error::Protocol(format!("unreadable date-time {t:?}")))
    }

    async fn set_datetime(&mut self, t: NaiveDateTime) -> Result<()> {
        let s = t.format("%d-%m-%y %H:%M:%S").to_string();
        let data = self.params(&[&s]);
        self.call(self.d.cmd.set_datetime, &data, false)
            .await
            .map(|_| ())
    }

    async fn last_document(&mut self) -> Result<u64> {
        let (f, _) = self.call(self.d.cmd.last_document, b"", false).await?;
        int(&f, 0, "document number")
    }

    async fn receipt_state(&mut self) -> Result<ReceiptState> {
        let (f, _) = self.call(self.d.cmd.receipt_state, b"", false).await?;
        // Old: Open,Items,Amount,Paid. X: IsOpen, Number, Items, Amount, Paid.
        let base = match self.d.syntax {
            Syntax::Comma => 0,
            Syntax::Tab => 1,
        };
        let open_flag = int(&f, 0, "open flag")?;
        Ok(ReceiptState {
            open: open_flag != 0,
            // X: 2-4 are the storno kinds.
            is_return: self.d.syntax == Syntax::Tab && open_flag >= 2,
            items: int(&f, base + 1, "item count")? as u32,
            amount: num(&f, base + 2, "amount")?,
            paid: num(&f, base + 3, "paid amount")?,
        })
    }

    async fn open_receipt(&mut self, kind: Kind) -> Result<()> {
        let (op, pwd, till) = (
            self.opts.operator.clone(),
            self.opts.password.clone(),
            self.opts.till.clone(),
        );
        match kind {
            Kind::Sale => {
                let data = match self.d.syntax {
                    Syntax::Comma => self.params(&[&op, &pwd, &till]),
                    Syntax::Tab => self.params(&[&op, &pwd, &till, ""]),
                };
                self.call(self.d.cmd.open_receipt, &data, true)
                    .await
                    .map(|_| ())
            }
            Kind::Return { original } => {
                let orig = original.to_string();
                let data = match self.d.syntax {
                    Syntax::Comma => self.params(&[&op, &pwd, &till, &orig]),
                    Syntax::Tab => {
                        self.params(&[&op, &pwd, &till, "1", &orig, "", "", "", "", "", ""])
                    }
                };
                self.call(self.d.cmd.open_return, &data, true)
                    .await
                    .map(|_| ())
            }
        }
    }

    fn sale_data(&self, item: &SaleItem) -> Result<Vec<u8>> {
        let tax = self.d.tax_code(item.tax_group)?;
        if item.price < 0 || item.quantity_milli <= 0 {
            return Err(Error::InvalidRequest(format!(
                "line {:?}: price and quantity must be positive",
                item.name
            )));
        }
        let name = text::sanitize(&item.name, false);
        let name = if name.is_empty() {
            "-".to_string()
        } else {
            name
        };
        Ok(match self.d.syntax {
            Syntax::Comma => {
                let lines = text::wrap(&name, self.d.item_name_width, self.d.item_name_lines);
                let mut s = lines.join("\n");
                s.push('\t');
                s.push_str(tax);
                s.push_str(&money(item.price));
                if item.quantity_milli != 1000 {
                    s.push('*');
                    s.push_str(&quantity(item.quantity_milli));
                }
                match item.adjustment {
                    Some(Adjustment::Percent(p)) => {
                        s.push(',');
                        s.push_str(&money(p));
                    }
                    Some(Adjustment::Amount(a)) => {
                        s.push(';');
                        s.push_str(&money(a));
                    }
                    None => {}
                }
                text::to_cp1251(&s)
            }
            Syntax::Tab => {
                let name = text::cut(&name, self.d.item_name_width);
                let (dt, dv) = match item.adjustment {
                    None => ("0", String::new()),
                    Some(Adjustment::Percent(p)) if p >= 0 => ("1", money(p)),
                    Some(Adjustment::Percent(p)) => ("2", money(-p)),
                    Some(Adjustment::Amount(a)) if a >= 0 => ("3", money(a)),
                    Some(Adjustment::Amount(a)) => ("4", money(-a)),
                };
                self.params(&[
                    &name,
                    tax,
                    &money(item.price),
                    &quantity(item.quantity_milli),
                    dt,
                    &dv,
                    "0",
                ])
            }
        })
    }

    async fn sale(&mut self, item: &SaleItem) -> Result<()> {
        let data = self.sale_data(item)?;
        self.call(self.d.cmd.sale, &data, true).await.map(|_| ())
    }

    async fn subtotal(&mut self) -> Result<i64> {
        let data = match self.d.syntax {
            Syntax::Comma => Vec::new(),
            Syntax::Tab => self.params(&["0", "0", "", ""]),
        };
        let (f, _) = self.call(self.d.cmd.subtotal, &data, true).await?;
        match self.d.syntax {
            Syntax::Comma => num(&f, 0, "subtotal"),
            Syntax::Tab => num(&f, 1, "subtotal"),
        }
    }

    fn payment_data(&self, payment: &Payment) -> Vec<u8> {
        let (code, amount, card) = match payment {
            Payment::Cash { amount } => (self.d.cash_code, *amount, None),
            Payment::Card { amount, card } => (self.d.card_code, *amount, Some(card)),
        };
        match self.d.syntax {
            Syntax::Comma => {
                let mut s = String::new();
                if let Some(card) = card {
                    if matches!(
                        self.d.card_data,
                        CardDataMode::PaymentText | CardDataMode::Both
                    ) {
                        let [l1, l2] = card_payment_text(card, self.d.text_width);
                        s.push_str(&l1);
                        s.push('\n');
                        s.push_str(&l2);
                    }
                }
                s.push('\t');
                s.push_str(code);
                s.push_str(&money(amount));
                text::to_cp1251(&s)
            }
            Syntax::Tab => self.params(&[code, &money(amount), ""]),
        }
    }

    async fn pay(&mut self, payment: &Payment) -> Result<PayResult> {
        if payment.amount() <= 0 {
            return Err(Error::InvalidRequest("a payment must be positive".into()));
        }
        let data = self.payment_data(payment);
        let cmd = self.d.cmd.payment;
        let (f, _) = self.call(cmd, &data, true).await?;
        // Old: "<code><amount>" (e.g. "R0.00"); X: code, amount.
        let (code, amount) = match self.d.syntax {
            Syntax::Comma => {
                let s = f.first().cloned().unwrap_or_default();
                let mut it = s.chars();
                let c = it.next().unwrap_or(' ');
                let rest: String = it.collect();
                let rest = if rest.is_empty() {
                    f.get(1).cloned().unwrap_or_default()
                } else {
                    rest
                };
                (c, text::parse_money(&rest))
            }
            Syntax::Tab => (
                f.first().and_then(|s| s.chars().next()).unwrap_or(' '),
                f.get(1).and_then(|s| text::parse_money(s)),
            ),
        };
        let amount = amount.ok_or_else(|| Error::Protocol(format!("payment reply {f:?}")))?;
        match code {
            'D' => Ok(PayResult::Remaining(amount)),
            'R' => Ok(PayResult::Change(amount)),
            'F' => Err(Error::NotPermitted { cmd }),
            'E' => Err(Error::Device {
                code: "negative_subtotal".into(),
                message: "the subtotal is negative".into(),
            }),
            'I' => Err(Error::Device {
                code: "negative_tax_group".into(),
                message: "a tax group total is negative".into(),
            }),
            _ => Err(Error::Protocol(format!("payment reply {f:?}"))),
        }
    }

    async fn print_text(&mut self, line: &str) -> Result<()> {
        let t = text::cut(&text::sanitize(line, false), self.d.text_width);
        let data = match self.d.syntax {
            Syntax::Comma => text::to_cp1251(&t),
            Syntax::Tab => self.params(&[&t]),
        };
        self.call(self.d.cmd.print_text, &data, true)
            .await
            .map(|_| ())
    }

    async fn close(&mut self) -> Result<u64> {
        let (f, _) = self.call(self.d.cmd.close, b"", true).await?;
        // Old: AllReceipt,FiscReceipt; X: SlipNumber. The number after closing
        // is read with 0x71 by the session; this is informative.
        match self.d.syntax {
            Syntax::Comma | Syntax::Tab => int(&f, 0, "receipt number"),
        }
    }

    async fn cancel(&mut self) -> Result<()> {
        self.call(self.d.cmd.cancel, b"", false).await.map(|_| ())
    }

    async fn cash_in_out(&mut self, amount: i64) -> Result<()> {
        if amount == 0 {
            return Err(Error::InvalidRequest("cash in/out of zero".into()));
        }
        let data = match self.d.syntax {
            Syntax::Comma => text::to_cp1251(&money(amount)),
            Syntax::Tab => {
                let t = if amount < 0 { "1" } else { "0" };
                self.params(&[t, &money(amount.abs())])
            }
        };
        self.call(self.d.cmd.cash_in_out, &data, true)
            .await
            .map(|_| ())
    }

    async fn report(&mut self, z: bool) -> Result<ReportTotals> {
        let p = self.d.report_param(z, &self.opts.password);
        let data = self.params(&[&p]);
        let (f, _) = self.call(self.d.cmd.report, &data, true).await?;
        let number = int(&f, 0, "report number")?;
        let tax_totals = f
            .iter()
            .skip(1)
            .take(5)
            .filter_map(|s| text::parse_money(s))
            .collect();
        Ok(ReportTotals { number, tax_totals })
    }

    /// Fails with the register's blocking condition, if any.
    async fn preflight(&mut self) -> Result<DeviceStatus> {
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
        if st.shift_over_24h {
            return Err(Error::ShiftOver24h);
        }
        Ok(st)
    }

    fn steps(&self, lines: &[ReceiptLine], payments: &[Payment]) -> Vec<Step> {
        let mut steps = vec![Step::Open];
        steps.extend((0..lines.len()).map(Step::Line));
        steps.push(Step::Subtotal);
        for (i, p) in payments.iter().enumerate() {
            let text_lines = match self.d.card_data {
                CardDataMode::TextLines | CardDataMode::Both => true,
                // The X payment command has no text: fall back to lines.
                CardDataMode::PaymentText => self.d.syntax == Syntax::Tab,
            };
            if matches!(p, Payment::Card { .. }) && text_lines {
                steps.push(Step::Text(i));
            }
            steps.push(Step::Pay(i));
        }
        steps.push(Step::Close);
        steps
    }

    async fn print_job(
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

        let mine = self
            .pending
            .as_ref()
            .filter(|p| p.fingerprint == fp)
            .cloned();
        let mut next = 0usize;
        let before;
        match mine {
            Some(p) if !state.open && last > p.before && p.next >= first_pay(&steps) => {
                // Closed while we were not looking: it is printed.
                self.pending = None;
                return Ok(PrintedDocument { number: last });
            }
            // Ours if we had got past opening it, or if it is still empty.
            Some(p) if state.open && (p.next > 0 || (state.items == 0 && state.paid == 0)) => {
                before = p.before;
                next = self.resume_point(&steps, p.next, &state, payments);
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
        });

        let mut closed_number = None;
        for (i, step) in steps.iter().enumerate().skip(next) {
            let r = match *step {
                Step::Open => self.open_receipt(kind).await,
                Step::Line(l) => {
                    let line = &lines[l];
                    self.sale(&SaleItem::from(line)).await
                }
                Step::Subtotal => self.subtotal().await.map(|_| ()),
                Step::Text(p) => self.card_lines(kind, &payments[p]).await,
                Step::Pay(p) => self.pay(&payments[p]).await.map(|_| ()),
                Step::Close => self.close().await.map(|n| closed_number = Some(n)),
            };
            if let Err(e) = r {
                if let Some(p) = self.pending.as_mut() {
                    p.next = i;
                }
                return Err(e);
            }
            if let Some(p) = self.pending.as_mut() {
                p.next = i + 1;
            }
        }
        let after = self
            .last_document()
            .await
            .or_else(|e| closed_number.ok_or(e))?;
        self.pending = None;
        Ok(PrintedDocument { number: after })
    }

    /// Where to continue an interrupted receipt that is still open, from what
    /// the register reports (its item count and paid amount are the truth).
    fn resume_point(
        &self,
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
                return steps.len() - 1; // all paid: close
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

    async fn card_lines(&mut self, kind: Kind, payment: &Payment) -> Result<()> {
        if let Payment::Card { card, .. } = payment {
            if let Kind::Return { original } = kind {
                self.print_text(&format!("ПОВЕРНЕННЯ ДО ЧЕКА №{original}"))
                    .await?;
            }
            for l in card_text_lines(card, self.d.text_width) {
                self.print_text(&l).await?;
            }
        }
        Ok(())
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

fn first_pay(steps: &[Step]) -> usize {
    steps
        .iter()
        .position(|s| matches!(s, Step::Pay(_)))
        .unwrap_or(steps.len())
}

fn validate(d: &Dialect, lines: &[ReceiptLine], payments: &[Payment]) -> Result<()> {
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
    if paid < total {
        return Err(Error::InvalidRequest(format!("paid {paid} of {total}")));
    }
    if card > total {
        return Err(Error::InvalidRequest(format!(
            "card payments {card} exceed the total {total}"
        )));
    }
    Ok(())
}

/// Parses the diagnostic reply of either syntax.
pub fn parse_diagnostic(d: &Dialect, f: &[String]) -> DeviceInfo {
    let get = |i: usize| f.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
    match d.syntax {
        // Model,FwRev FwDate FwTime,Checksum,Switches,Serial,FM
        Syntax::Comma if f.len() <= 6 || d.framing == crate::frame::Framing::Old => DeviceInfo {
            model: get(0),
            firmware: get(1),
            serial: get(4),
            fiscal_memory: get(5),
            framing: d.framing.to_string(),
            dialect: d.name.to_string(),
            baud: None,
        },
        // Name, FwRev, FwDate, FwTime, Checksum, Sw, Serial, FM
        _ => DeviceInfo {
            model: get(0),
            firmware: format!("{} {} {}", get(1), get(2), get(3))
                .trim()
                .to_string(),
            serial: get(6),
            fiscal_memory: get(7),
            framing: d.framing.to_string(),
            dialect: d.name.to_string(),
            baud: None,
        },
    }
}

/// Parses `DD-MM-YY HH:MM:SS` (an optional trailing DST flag is ignored).
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let main = s.get(..17).unwrap_or(s);
    NaiveDateTime::parse_from_str(main, "%d-%m-%y %H:%M:%S").ok()
}
