//! An emulator of a Datecs register (FP-T260 dialect, and the X family) as a
//! real peer on a byte stream: a pty pair, a TCP socket or an in-memory
//! duplex.
//!
//! - It follows the link rules: NAK on a bad checksum, SYN while busy, and a
//!   repeated SEQ gets the last answer replayed instead of running twice.
//! - It keeps its counters (document numbers, per-tax-group and per-payment
//!   day totals, Z count) and any open receipt in a JSON state file across
//!   restarts.
//! - It renders each printed document as text: the virtual tape.
//! - It can simulate the wire time of a baud rate and a device time per
//!   printed line.
//! - It takes scripted faults ([`Faults`]): NAK every Nth frame, a corrupt
//!   BCC, a dropped reply after executing, going mute after a command, SYN
//!   for T ms, paper out at line N, cover open, shift over 24 hours, fiscal
//!   memory full.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use chrono::{Duration as ChronoDuration, Local, NaiveDateTime};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::codec::{DatecsCodec, Packet};
use crate::dialect::{x_error_code, Dialect, ErrorKind, Syntax};
use crate::frame::{Frame, Framing, Status, NAK, SYN};
use crate::text::{self, money, quantity};
use crate::{Error, Result};

/// Scripted faults. Counters are 1-based; 0 means off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Answer NAK to every Nth frame received (instead of running it).
    pub nak_every: u32,
    /// Corrupt the BCC of every Nth reply sent.
    pub corrupt_every: u32,
    /// Run every Nth command but drop its reply.
    pub drop_reply_every: u32,
    /// Run the next command with this code but drop its reply (once).
    pub drop_reply_on: Option<u16>,
    /// After running the next command with this code, answer nothing until
    /// [`EmulatorHandle::unmute`] (a pulled cable).
    pub mute_after: Option<u16>,
    /// Stay busy (sending SYN every 60 ms) this long before every reply.
    pub syn_ms: u64,
    /// Run out of paper at the Nth sale line of the next receipt (once).
    pub paper_out_at_line: Option<u32>,
    /// Load paper by itself this long after running out (0: only through
    /// [`EmulatorHandle::load_paper`]).
    pub paper_reload_ms: u64,
    pub cover_open: bool,
    pub shift_over_24h: bool,
    pub fm_full: bool,
    /// X framing with comma-separated reply data, as a DP-150MX answered
    /// (ErpNet.FP issue #183).
    pub x_comma_data: bool,
}

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub dialect: Dialect,
    /// Where counters and any open receipt are kept across restarts.
    pub state_file: Option<PathBuf>,
    /// Where each printed document is appended as text.
    pub tape_file: Option<PathBuf>,
    /// Simulate the wire time of this baud rate (10 bits per byte).
    pub baud: Option<u32>,
    /// Simulated printing time per printed line.
    pub line_time: Duration,
    pub password: String,
    pub serial: String,
    pub fiscal_memory: String,
    pub faults: Faults,
}

impl EmulatorConfig {
    pub fn new(dialect: Dialect) -> Self {
        EmulatorConfig {
            dialect,
            state_file: None,
            tape_file: None,
            baud: None,
            line_time: Duration::ZERO,
            password: "0000".into(),
            serial: "DT000001".into(),
            fiscal_memory: "40000001".into(),
            faults: Faults::default(),
        }
    }
}

/// Counters kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Number of the last document printed (receipts, reports, cash in/out).
    pub last_document: u64,
    pub fiscal_receipts: u64,
    pub return_receipts: u64,
    pub z_count: u64,
    /// Day sales per tax group А..Д (minor units).
    pub day_sales: [i64; 5],
    /// Day returns per tax group А..Д.
    pub day_returns: [i64; 5],
    /// Day sales per payment type: cash, card.
    pub day_paid: [i64; 2],
    /// Day returns per payment type: cash, card.
    pub day_refunded: [i64; 2],
    pub cash_in: i64,
    pub cash_out: i64,
    /// Clock offset set by the host (seconds from the local clock).
    pub clock_offset_s: i64,
}

/// An open receipt inside the emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenReceipt {
    /// `None` for a sale, the original document for a return.
    pub return_of: Option<u64>,
    pub items: u32,
    pub amount: i64,
    pub paid: i64,
    pub tax: [i64; 5],
    pub by_type: [i64; 2],
    pub lines: Vec<String>,
}

/// Everything persisted in the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersistedState {
    pub counters: Counters,
    pub receipt: Option<OpenReceipt>,
}

/// Wire statistics, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmulatorStats {
    pub frames: u64,
    pub executed: u64,
    pub replays: u64,
    pub naks_sent: u64,
    pub dropped: u64,
    /// Simulated wire plus device time so far.
    pub simulated: Duration,
}

/// The register's logic, without I/O.
#[derive(Debug)]
pub struct Device {
    pub config: EmulatorConfig,
    pub state: PersistedState,
    pub tape: Vec<String>,
    pub paper_out: bool,
    paper_out_since: Option<std::time::Instant>,
    pub muted: bool,
    pub stats: EmulatorStats,
    /// Lines printed by the last command (drives the device time).
    printed_now: usize,
}

type Outcome = std::result::Result<Vec<String>, ErrorKind>;

impl Device {
    /// A device with its state loaded from the state file, if any.
    pub fn new(config: EmulatorConfig) -> Result<Self> {
        let state = match &config.state_file {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p)?;
                serde_json::from_str(&text)
                    .map_err(|e| Error::Protocol(format!("state file {}: {e}", p.display())))?
            }
            _ => PersistedState::default(),
        };
        Ok(Device {
            config,
            state,
            tape: Vec::new(),
            paper_out: false,
            paper_out_since: None,
            muted: false,
            stats: EmulatorStats::default(),
            printed_now: 0,
        })
    }

    fn d(&self) -> &Dialect {
        &self.config.dialect
    }

    fn save(&self) {
        if let Some(p) = &self.config.state_file {
            let tmp = p.with_extension("tmp");
            let ok = serde_json::to_vec_pretty(&self.state)
                .ok()
                .and_then(|bytes| std::fs::write(&tmp, bytes).ok())
                .and_then(|_| std::fs::rename(&tmp, p).ok());
            if ok.is_none() {
                // The emulator keeps running on its in-memory state.
                eprintln!("fiscal emulator: could not save {}", p.display());
            }
        }
    }

    fn now(&self) -> NaiveDateTime {
        Local::now().naive_local() + ChronoDuration::seconds(self.state.counters.clock_offset_s)
    }

    /// The status bytes for the current state.
    pub fn status(&self) -> Status {
        let framing = self.d().framing;
        let mut st = Status::idle(framing);
        let f = &self.config.faults;
        st.set_named("fiscal_receipt_open", self.state.receipt.is_some());
        if self.paper_out {
            st.set_named("paper_out", true);
            st.set_named("general_error", true);
        }
        if f.cover_open {
            st.set_named("cover_open", true);
            st.set_named("general_error", true);
        }
        if f.fm_full {
            st.set_named("fm_full", true);
        }
        if f.shift_over_24h {
            if let Some((b, i)) = self.d().shift_bit() {
                st.set(b, i, true);
            }
        }
        st
    }

    /// Prints a line on the open receipt; a long one wraps as the printer
    /// would.
    fn print(&mut self, line: impl Into<String>) {
        let w = self.d().line_width;
        let line = line.into();
        let lines = if line.chars().count() <= w || line.trim().is_empty() {
            vec![line]
        } else {
            text::wrap(&line, w, 8)
        };
        self.printed_now += lines.len();
        if let Some(r) = self.state.receipt.as_mut() {
            r.lines.extend(lines);
        }
    }

    /// Ends a document; `fresh` is how many of its lines (at the end) are
    /// printed now rather than earlier while the receipt was open.
    fn finish_document(&mut self, lines: Vec<String>, fresh: usize) {
        let doc = lines.join("\n");
        if let Some(p) = &self.config.tape_file {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .and_then(|mut f| writeln!(f, "{doc}\n{}", "-".repeat(self.d().line_width)));
            if written.is_err() {
                eprintln!("fiscal emulator: could not write the tape {}", p.display());
            }
        }
        self.printed_now += fresh;
        self.tape.push(doc);
    }

    fn params(&self, data: &[u8]) -> Vec<String> {
        let s = text::from_cp1251(data);
        match self.d().syntax {
            Syntax::Tab => {
                let s = s.strip_suffix('\t').unwrap_or(&s);
                s.split('\t').map(str::to_string).collect()
            }
            Syntax::Comma => s.split(',').map(str::to_string).collect(),
        }
    }

    fn printing_checks(&self) -> std::result::Result<(), ErrorKind> {
        if self.config.faults.cover_open {
            return Err(ErrorKind::CoverOpen);
        }
        if self.paper_out {
            return Err(ErrorKind::PaperOut);
        }
        Ok(())
    }

    /// Runs one request and builds the reply frame.
    pub fn execute(&mut self, req: &Frame) -> Frame {
        let reload = self.config.faults.paper_reload_ms;
        if let Some(since) = self.paper_out_since {
            if !self.paper_out || (reload > 0 && since.elapsed().as_millis() >= u128::from(reload))
            {
                self.paper_out = false;
                self.paper_out_since = None;
            }
        }
        self.printed_now = 0;
        self.stats.executed += 1;
        let outcome = self.run(req.cmd, &req.data);
        let mut status = self.status();
        let framing = self.d().framing;
        let data = match outcome {
            Ok(fields) => match self.d().syntax {
                Syntax::Tab => {
                    let mut all = vec!["0".to_string()];
                    all.extend(fields);
                    if self.config.faults.x_comma_data {
                        text::to_cp1251(&all.join(","))
                    } else {
                        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
                        self.d().params(&refs)
                    }
                }
                Syntax::Comma => text::to_cp1251(&fields.join(",")),
            },
            Err(kind) => {
                status.set_named("general_error", true);
                match kind {
                    ErrorKind::Syntax => status.set_named("syntax_error", true),
                    ErrorKind::InvalidCommand => status.set_named("invalid_command", true),
                    ErrorKind::Overflow => status.set_named("overflow", true),
                    ErrorKind::PaperOut => status.set_named("paper_out", true),
                    ErrorKind::CoverOpen => status.set_named("cover_open", true),
                    ErrorKind::PrinterFault => status.set_named("printer_fault", true),
                    _ => status.set_named("not_permitted", true),
                }
                match framing {
                    Framing::X => format!("{}\t", x_error_code(kind)).into_bytes(),
                    Framing::Old => Vec::new(),
                }
            }
        };
        Frame::reply(framing, req.seq, req.cmd, data, status.bytes)
    }

    fn run(&mut self, cmd: u16, data: &[u8]) -> Outcome {
        let c = self.d().cmd;
        let p = self.params(data);
        match cmd {
            x if x == c.status => Ok(Vec::new()),
            x if x == c.diagnostic => Ok(self.diagnostic()),
            x if x == c.read_datetime => {
                Ok(vec![self.now().format("%d-%m-%y %H:%M:%S").to_string()])
            }
            x if x == c.set_datetime => {
                let t = p.first().and_then(|s| crate::driver::parse_datetime(s));
                let t = t.ok_or(ErrorKind::Syntax)?;
                let local = Local::now().naive_local();
                self.state.counters.clock_offset_s = (t - local).num_seconds();
                self.save();
                Ok(Vec::new())
            }
            x if x == c.last_document => Ok(vec![self.state.counters.last_document.to_string()]),
            x if x == c.receipt_state => {
                let r = self.state.receipt.clone().unwrap_or_default();
                let open = if self.state.receipt.is_some() {
                    "1"
                } else {
                    "0"
                };
                let mut f = vec![open.to_string()];
                if self.d().syntax == Syntax::Tab {
                    f.push((self.state.counters.last_document + 1).to_string());
                }
                f.extend([r.items.to_string(), money(r.amount), money(r.paid)]);
                Ok(f)
            }
            x if x == c.open_receipt => self.open(&p, None),
            x if x == c.open_return => {
                let orig_at = if self.d().syntax == Syntax::Tab { 4 } else { 3 };
                let orig = p.get(orig_at).and_then(|s| s.trim().parse::<u64>().ok());
                let orig = orig.ok_or(ErrorKind::Syntax)?;
                self.open(&p, Some(orig))
            }
            x if x == c.sale => self.sale(data, &p),
            x if x == c.subtotal => {
                let r = self
                    .state
                    .receipt
                    .as_ref()
                    .ok_or(ErrorKind::NoReceiptOpen)?;
                let amount = r.amount;
                let tax = r.tax;
                self.printing_checks()?;
                let w = self.d().line_width - 8;
                self.print(format!("ПІДСУМОК{:>w$}", money(amount)));
                self.save();
                let mut f = Vec::new();
                if self.d().syntax == Syntax::Tab {
                    f.push((self.state.counters.last_document + 1).to_string());
                }
                f.push(money(amount));
                f.extend(tax.iter().map(|t| money(*t)));
                Ok(f)
            }
            x if x == c.print_text => {
                self.state
                    .receipt
                    .as_ref()
                    .ok_or(ErrorKind::NoReceiptOpen)?;
                self.printing_checks()?;
                let t = match self.d().syntax {
                    Syntax::Tab => p.first().cloned().unwrap_or_default(),
                    Syntax::Comma => text::from_cp1251(data),
                };
                if t.chars().count() > self.d().text_width {
                    return Err(ErrorKind::Syntax);
                }
                self.print(t);
                self.save();
                Ok(Vec::new())
            }
            x if x == c.payment => self.payment(data, &p),
            x if x == c.close => self.close(),
            x if x == c.cancel => {
                self.unpaid_receipt()?;
                let mut lines = self
                    .state
                    .receipt
                    .take()
                    .map(|r| r.lines)
                    .unwrap_or_default();
                lines.push("*** ЧЕК АНУЛЬОВАНО ***".into());
                self.finish_document(lines, 1);
                self.save();
                Ok(Vec::new())
            }
            x if x == c.cash_in_out => self.cash(&p),
            x if x == c.report => self.report(&p),
            _ => Err(ErrorKind::InvalidCommand),
        }
    }

    fn diagnostic(&self) -> Vec<String> {
        let d = self.d();
        let serial = self.config.serial.clone();
        let fm = self.config.fiscal_memory.clone();
        match d.syntax {
            Syntax::Comma => vec![
                d.model.to_string(),
                "4.00UA 15Jan25 1200".into(),
                "A1B2".into(),
                "00000000".into(),
                serial,
                fm,
            ],
            Syntax::Tab => vec![
                d.model.to_string(),
                "1.00".into(),
                "15Jan25".into(),
                "1200".into(),
                "A1B2".into(),
                "00000000".into(),
                serial,
                fm,
            ],
        }
    }

    fn open(&mut self, p: &[String], return_of: Option<u64>) -> Outcome {
        if p.len() < 3 {
            return Err(ErrorKind::Syntax);
        }
        self.printing_checks()?;
        let f = &self.config.faults;
        if f.fm_full {
            return Err(ErrorKind::FiscalMemoryFull);
        }
        if f.shift_over_24h {
            return Err(ErrorKind::ShiftOver24h);
        }
        if self.state.receipt.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        if p[1].trim() != self.config.password {
            return Err(ErrorKind::WrongPassword);
        }
        let title = match return_of {
            None => "ФІСКАЛЬНИЙ ЧЕК".to_string(),
            Some(n) => format!("ВИДАТКОВИЙ ЧЕК (до №{n})"),
        };
        self.state.receipt = Some(OpenReceipt {
            return_of,
            ..OpenReceipt::default()
        });
        self.print(format!("КАСА {}  ЗН {}", p[2].trim(), self.config.serial));
        self.print(format!("КАСИР {}", p[0].trim()));
        self.print(title);
        self.save();
        let all = self.state.counters.last_document + 1;
        Ok(match self.d().syntax {
            Syntax::Comma => vec![
                all.to_string(),
                (self.state.counters.fiscal_receipts + 1).to_string(),
            ],
            Syntax::Tab => vec![all.to_string()],
        })
    }

    /// The open receipt, if nothing has been paid on it yet (sales and a
    /// cancel are allowed only then).
    fn unpaid_receipt(&self) -> std::result::Result<&OpenReceipt, ErrorKind> {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if r.paid > 0 {
            return Err(ErrorKind::NotPermitted);
        }
        Ok(r)
    }

    fn sale(&mut self, data: &[u8], p: &[String]) -> Outcome {
        let r = self.unpaid_receipt()?;
        let line_no = r.items + 1;
        self.printing_checks()?;
        if self.config.faults.paper_out_at_line == Some(line_no) {
            self.config.faults.paper_out_at_line = None;
            self.paper_out = true;
            self.paper_out_since = Some(std::time::Instant::now());
            return Err(ErrorKind::PaperOut);
        }
        let (name_lines, tax, price, qty, adj) = match self.d().syntax {
            Syntax::Comma => parse_old_sale(&text::from_cp1251(data)).ok_or(ErrorKind::Syntax)?,
            Syntax::Tab => {
                if p.len() < 4 {
                    return Err(ErrorKind::Syntax);
                }
                let price = text::parse_money(&p[2]).ok_or(ErrorKind::Syntax)?;
                let qty = if p[3].trim().is_empty() {
                    1000
                } else {
                    text::parse_quantity(&p[3]).ok_or(ErrorKind::Syntax)?
                };
                let v = p.get(5).and_then(|s| text::parse_money(s)).unwrap_or(0);
                let adj = match p.get(4).map(|s| s.trim()) {
                    Some("1") => Adj::Percent(v),
                    Some("2") => Adj::Percent(-v),
                    Some("3") => Adj::Amount(v),
                    Some("4") => Adj::Amount(-v),
                    _ => Adj::None,
                };
                (vec![p[0].clone()], p[1].clone(), price, qty, adj)
            }
        };
        let d = self.d();
        let ti = d.tax_index_of(tax.trim()).ok_or(ErrorKind::Syntax)?;
        if name_lines
            .iter()
            .any(|l| l.chars().count() > d.item_name_width)
            || name_lines.len() > d.item_name_lines
        {
            return Err(ErrorKind::Syntax);
        }
        let base = round_div(i128::from(price) * i128::from(qty), 1000);
        let delta = match adj {
            Adj::None => 0,
            Adj::Percent(pc) => round_div(i128::from(base) * i128::from(pc), 10_000),
            Adj::Amount(a) => a,
        };
        let total = base + delta;
        if total < 0 {
            return Err(ErrorKind::Overflow);
        }
        for l in &name_lines {
            self.print(l.clone());
        }
        if qty != 1000 {
            self.print(format!("  {} x {}", quantity(qty), money(price)));
        }
        if delta != 0 {
            let what = if delta < 0 {
                "ЗНИЖКА"
            } else {
                "НАДБАВКА"
            };
            self.print(format!("  {what} {}", money(delta)));
        }
        let letter = text::tax_letter(ti);
        self.print(format!(
            "{:>w$} {letter}",
            money(total),
            w = self.d().line_width - 2
        ));
        if let Some(r) = self.state.receipt.as_mut() {
            r.items += 1;
            r.amount += total;
            r.tax[ti] += total;
        }
        self.save();
        Ok(Vec::new())
    }

    fn payment(&mut self, data: &[u8], p: &[String]) -> Outcome {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if r.items == 0 {
            return Err(ErrorKind::NotPermitted);
        }
        self.printing_checks()?;
        let d = self.d().clone();
        let (texts, code, amount) = match d.syntax {
            Syntax::Comma => {
                let s = text::from_cp1251(data);
                let (txt, rest) = s.rsplit_once('\t').ok_or(ErrorKind::Syntax)?;
                let mut it = rest.chars();
                let code = it.next().ok_or(ErrorKind::Syntax)?.to_string();
                let amount = text::parse_money(it.as_str()).ok_or(ErrorKind::Syntax)?;
                let texts: Vec<String> = txt
                    .split('\n')
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                (texts, code, amount)
            }
            Syntax::Tab => {
                let code = p.first().cloned().ok_or(ErrorKind::Syntax)?;
                let amount = p
                    .get(1)
                    .and_then(|s| text::parse_money(s))
                    .ok_or(ErrorKind::Syntax)?;
                (Vec::new(), code, amount)
            }
        };
        let kind = if code == d.cash_code {
            0
        } else if code == d.card_code {
            1
        } else {
            return Err(ErrorKind::Syntax);
        };
        if amount <= 0 || texts.len() > 2 || texts.iter().any(|t| t.chars().count() > d.text_width)
        {
            return Err(ErrorKind::Syntax);
        }
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if kind == 1 && r.paid + amount > r.amount {
            // No change can be given on a card.
            return Err(ErrorKind::NotPermitted);
        }
        for t in texts {
            self.print(t);
        }
        let label = if kind == 0 {
            "ГОТІВКА"
        } else {
            "КАРТКА"
        };
        self.print(format!(
            "{label}{:>w$}",
            money(amount),
            w = d.line_width - label.chars().count()
        ));
        let Some(r) = self.state.receipt.as_mut() else {
            return Err(ErrorKind::NoReceiptOpen);
        };
        r.paid += amount;
        r.by_type[kind] += amount;
        let (paid, total) = (r.paid, r.amount);
        if paid > total {
            self.print(format!(
                "РЕШТА{:>w$}",
                money(paid - total),
                w = d.line_width - 5
            ));
        }
        self.save();
        let (code, rest) = if paid < total {
            ("D", total - paid)
        } else {
            ("R", paid - total)
        };
        Ok(match d.syntax {
            Syntax::Comma => vec![format!("{code}{}", money(rest))],
            Syntax::Tab => vec![code.to_string(), money(rest)],
        })
    }

    fn close(&mut self) -> Outcome {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if r.paid < r.amount || r.items == 0 {
            return Err(ErrorKind::NotPermitted);
        }
        self.printing_checks()?;
        let w = self.d().line_width;
        let amount = r.amount;
        self.print(format!("СУМА{:>w$}", money(amount), w = w - 4));
        let c = &mut self.state.counters;
        c.last_document += 1;
        let number = c.last_document;
        let Some(r) = self.state.receipt.take() else {
            return Err(ErrorKind::NoReceiptOpen);
        };
        let c = &mut self.state.counters;
        let change = r.paid - r.amount;
        match r.return_of {
            None => {
                c.fiscal_receipts += 1;
                for i in 0..5 {
                    c.day_sales[i] += r.tax[i];
                }
                c.day_paid[0] += r.by_type[0] - change;
                c.day_paid[1] += r.by_type[1];
            }
            Some(_) => {
                c.return_receipts += 1;
                for i in 0..5 {
                    c.day_returns[i] += r.tax[i];
                }
                c.day_refunded[0] += r.by_type[0] - change;
                c.day_refunded[1] += r.by_type[1];
            }
        }
        let fiscal = c.fiscal_receipts + c.return_receipts;
        let mut lines = r.lines;
        lines.push(format!(
            "ЧЕК №{number}  {}",
            self.now().format("%d.%m.%Y %H:%M:%S")
        ));
        lines.push(format!("ФН {}", self.config.fiscal_memory));
        lines.push("ФІСКАЛЬНИЙ ЧЕК".into());
        self.finish_document(lines, 3);
        self.save();
        Ok(match self.d().syntax {
            Syntax::Comma => vec![number.to_string(), fiscal.to_string()],
            Syntax::Tab => vec![number.to_string()],
        })
    }

    fn cash(&mut self, p: &[String]) -> Outcome {
        if self.state.receipt.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.printing_checks()?;
        let amount = match self.d().syntax {
            Syntax::Comma => p.first().and_then(|s| text::parse_money(s)),
            Syntax::Tab => {
                let a = p.get(1).and_then(|s| text::parse_money(s));
                match p.first().map(|s| s.trim()) {
                    Some("1") => a.map(|a| -a),
                    Some("0") => a,
                    _ => None,
                }
            }
        }
        .ok_or(ErrorKind::Syntax)?;
        let c = &self.state.counters;
        let in_drawer = c.cash_in - c.cash_out + c.day_paid[0] - c.day_refunded[0];
        if amount == 0 || (amount < 0 && -amount > in_drawer) {
            return Err(ErrorKind::NotPermitted);
        }
        let c = &mut self.state.counters;
        if amount > 0 {
            c.cash_in += amount;
        } else {
            c.cash_out -= amount;
        }
        c.last_document += 1;
        let n = c.last_document;
        let (ci, co) = (c.cash_in, c.cash_out);
        let what = if amount > 0 {
            "СЛУЖБОВЕ ВНЕСЕННЯ"
        } else {
            "СЛУЖБОВА ВИДАЧА"
        };
        self.finish_document(
            vec![
                what.into(),
                format!("СУМА {}", money(amount.abs())),
                format!("№{n}  {}", self.now().format("%d.%m.%Y %H:%M:%S")),
            ],
            3,
        );
        self.save();
        let cash = ci - co;
        Ok(vec![money(cash), money(ci), money(co)])
    }

    fn report(&mut self, p: &[String]) -> Outcome {
        if self.state.receipt.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.printing_checks()?;
        let z = match self.d().syntax {
            Syntax::Comma => {
                // "{pwd},0" (Z) or "{pwd},2" (X); a bare "0"/"2"/"Z"/"X" too.
                let last = p.last().map(|s| s.trim().to_string()).unwrap_or_default();
                if p.len() >= 2 && p[0].trim() != self.config.password {
                    return Err(ErrorKind::WrongPassword);
                }
                match last.as_str() {
                    "0" | "Z" => true,
                    "2" | "X" => false,
                    _ => return Err(ErrorKind::Syntax),
                }
            }
            Syntax::Tab => match p.first().map(|s| s.trim()) {
                Some("Z") => true,
                Some("X") => false,
                _ => return Err(ErrorKind::Syntax),
            },
        };
        if z && self.config.faults.fm_full {
            return Err(ErrorKind::FiscalMemoryFull);
        }
        let c = self.state.counters.clone();
        let number = if z { c.z_count + 1 } else { c.z_count };
        let mut lines = vec![if z {
            format!("Z-ЗВІТ №{number}")
        } else {
            "X-ЗВІТ".to_string()
        }];
        for i in 0..5 {
            lines.push(format!(
                "ПРОДАЖ {} {}",
                text::tax_letter(i),
                money(c.day_sales[i])
            ));
        }
        for i in 0..5 {
            lines.push(format!(
                "ПОВЕРН. {} {}",
                text::tax_letter(i),
                money(c.day_returns[i])
            ));
        }
        lines.push(format!("ГОТІВКА {}", money(c.day_paid[0])));
        lines.push(format!("КАРТКА {}", money(c.day_paid[1])));
        lines.push(format!("ПОВЕРН. ГОТІВКА {}", money(c.day_refunded[0])));
        lines.push(format!("ПОВЕРН. КАРТКА {}", money(c.day_refunded[1])));
        lines.push(format!(
            "ВНЕСЕННЯ {}  ВИДАЧА {}",
            money(c.cash_in),
            money(c.cash_out)
        ));
        self.state.counters.last_document += 1;
        let now = self.now().format("%d.%m.%Y %H:%M:%S");
        lines.push(format!("№{}  {now}", self.state.counters.last_document));
        let mut fields = vec![number.to_string()];
        fields.extend(c.day_sales.iter().map(|t| money(*t)));
        if z {
            let cs = &mut self.state.counters;
            cs.z_count += 1;
            cs.day_sales = [0; 5];
            cs.day_returns = [0; 5];
            cs.day_paid = [0; 2];
            cs.day_refunded = [0; 2];
            cs.cash_in = 0;
            cs.cash_out = 0;
            self.config.faults.shift_over_24h = false;
        }
        let n = lines.len();
        self.finish_document(lines, n);
        self.save();
        Ok(fields)
    }
}

#[derive(Debug, Clone, Copy)]
enum Adj {
    None,
    Percent(i64),
    Amount(i64),
}

fn round_div(n: i128, d: i128) -> i64 {
    let r = if n >= 0 {
        (n + d / 2) / d
    } else {
        (n - d / 2) / d
    };
    i64::try_from(r).unwrap_or(i64::MAX)
}

/// Parses old sale data `name[LF name2] TAB tax price [*qty] [,perc|;abs]`.
fn parse_old_sale(s: &str) -> Option<(Vec<String>, String, i64, i64, Adj)> {
    let (names, rest) = s.split_once('\t')?;
    let names: Vec<String> = names.split('\n').map(str::to_string).collect();
    let mut chars = rest.chars();
    let tax = chars.next()?.to_string();
    let rest = chars.as_str();
    let (main, adj) = if let Some((m, a)) = rest.split_once(',') {
        (m, Adj::Percent(text::parse_money(a)?))
    } else if let Some((m, a)) = rest.split_once(';') {
        (m, Adj::Amount(text::parse_money(a)?))
    } else {
        (rest, Adj::None)
    };
    let (price, qty) = match main.split_once('*') {
        Some((p, q)) => (text::parse_money(p)?, text::parse_quantity(q)?),
        None => (text::parse_money(main)?, 1000),
    };
    if price < 0 || qty <= 0 {
        return None;
    }
    Some((names, tax, price, qty, adj))
}

/// A handle to a running emulator: its tape, counters and faults.
#[derive(Debug, Clone)]
pub struct EmulatorHandle {
    device: Arc<Mutex<Device>>,
}

impl EmulatorHandle {
    pub fn new(config: EmulatorConfig) -> Result<Self> {
        Ok(EmulatorHandle {
            device: Arc::new(Mutex::new(Device::new(config)?)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every document printed since start, as text.
    pub fn tape(&self) -> Vec<String> {
        self.lock().tape.clone()
    }
    pub fn counters(&self) -> Counters {
        self.lock().state.counters.clone()
    }
    /// The open receipt, if any.
    pub fn open_receipt(&self) -> Option<OpenReceipt> {
        self.lock().state.receipt.clone()
    }
    pub fn stats(&self) -> EmulatorStats {
        self.lock().stats.clone()
    }
    pub fn faults(&self) -> Faults {
        self.lock().config.faults.clone()
    }
    pub fn set_faults(&self, faults: Faults) {
        self.lock().config.faults = faults;
    }
    /// Changes the faults in place.
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.lock().config.faults);
    }
    /// Loads paper after a paper-out.
    pub fn load_paper(&self) {
        self.lock().paper_out = false;
    }
    /// Answers again after `mute_after`.
    pub fn unmute(&self) {
        self.lock().muted = false;
    }
    /// Characters per printed line.
    pub fn line_width(&self) -> usize {
        self.lock().config.dialect.line_width
    }
    pub fn framing(&self) -> Framing {
        self.lock().config.dialect.framing
    }
    /// Resets the simulated-time counter (for benchmarks).
    pub fn reset_stats(&self) {
        self.lock().stats = EmulatorStats::default();
    }

    /// Serves one byte stream until it closes.
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S) -> Result<()> {
        serve(self.clone(), stream).await
    }
}

fn wire_time(bytes: usize, baud: Option<u32>) -> Duration {
    match baud {
        Some(b) if b > 0 => Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(b)),
        _ => Duration::ZERO,
    }
}

/// Sleeps until `deadline` with sub-millisecond precision: the tokio timer
/// has 1 ms steps, so the wait runs on the blocking pool as a thread sleep
/// (nanosleep, which overshoots by the kernel's timer slack) up to a little
/// before the deadline, then a short spin to the deadline itself. Only used
/// when a baud rate or device time is simulated.
async fn sleep_until_precise(deadline: Instant) {
    const SPIN: Duration = Duration::from_micros(150);
    if deadline <= Instant::now() {
        return;
    }
    let waited = tokio::task::spawn_blocking(move || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        }
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
    })
    .await;
    if waited.is_err() {
        tokio::time::sleep_until(deadline).await;
    }
}

enum Action {
    Nothing,
    Nak,
    Send {
        bytes: Vec<u8>,
        busy: Duration,
        wire: Duration,
    },
}

/// Reads the line's current baud rate (the pty's termios), if known.
pub type LineBaud = Box<dyn Fn() -> Option<u32> + Send + Sync>;

/// Serves one byte stream until it closes (or fails).
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    handle: EmulatorHandle,
    stream: S,
) -> Result<()> {
    serve_line(handle, stream, None).await
}

/// Like [`serve`]; with `line_baud`, frames that arrive while the line is set
/// to another baud rate than the emulator's are ignored, as a real register
/// sees only framing errors then.
pub async fn serve_line<S: AsyncRead + AsyncWrite + Unpin>(
    handle: EmulatorHandle,
    stream: S,
    line_baud: Option<LineBaud>,
) -> Result<()> {
    let framing = handle.framing();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut codec = DatecsCodec::new(Some(framing));
    let mut buf = BytesMut::with_capacity(1024);
    let mut last: Option<(u8, Vec<u8>)> = None;
    let mut replies = 0u64;
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A pty master reads EIO once the other side is closed.
            Err(e) if e.raw_os_error() == Some(5) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        while let Some(packet) = codec.next_packet(&mut buf) {
            let received = Instant::now();
            let action = {
                let mut dev = handle.lock();
                match packet {
                    Packet::Corrupt(_) => {
                        dev.stats.naks_sent += 1;
                        if dev.muted {
                            Action::Nothing
                        } else {
                            Action::Nak
                        }
                    }
                    Packet::Nak | Packet::Syn => Action::Nothing,
                    Packet::Frame(f) if f.is_reply() => Action::Nothing,
                    Packet::Frame(req) => {
                        let want = dev.config.baud;
                        let have = line_baud.as_ref().and_then(|f| f());
                        match (want, have) {
                            (Some(w), Some(h)) if w != h => Action::Nothing,
                            _ => decide(&mut dev, &req, &mut last, &mut replies),
                        }
                    }
                }
            };
            match action {
                Action::Nothing => {}
                Action::Nak => wr.write_all(&[NAK]).await?,
                Action::Send { bytes, busy, wire } => {
                    let mut deadline = received + wire + busy;
                    // SYN every 60 ms while busy.
                    while deadline.saturating_duration_since(Instant::now())
                        > Duration::from_millis(60)
                    {
                        tokio::time::sleep(Duration::from_millis(60)).await;
                        wr.write_all(&[SYN]).await?;
                        wr.flush().await?;
                        if Instant::now() > deadline {
                            deadline = Instant::now();
                        }
                    }
                    sleep_until_precise(deadline).await;
                    wr.write_all(&bytes).await?;
                    wr.flush().await?;
                }
            }
        }
    }
}

fn decide(
    dev: &mut Device,
    req: &Frame,
    last: &mut Option<(u8, Vec<u8>)>,
    replies: &mut u64,
) -> Action {
    dev.stats.frames += 1;
    if dev.muted {
        return Action::Nothing;
    }
    let baud = dev.config.baud;
    let faults = dev.config.faults.clone();
    let req_len = req.encode().map(|b| b.len()).unwrap_or(0);
    if faults.nak_every > 0 && dev.stats.frames % u64::from(faults.nak_every) == 0 {
        dev.stats.naks_sent += 1;
        return Action::Nak;
    }
    let (bytes, busy) = match last {
        Some((seq, bytes)) if *seq == req.seq => {
            dev.stats.replays += 1;
            (bytes.clone(), Duration::ZERO)
        }
        _ => {
            let reply = dev.execute(req);
            let bytes = reply.encode().unwrap_or_default();
            *last = Some((req.seq, bytes.clone()));
            let busy = Duration::from_millis(faults.syn_ms)
                + dev.config.line_time * dev.printed_now as u32;
            if faults.mute_after == Some(req.cmd) {
                dev.config.faults.mute_after = None;
                dev.muted = true;
                dev.stats.dropped += 1;
                return Action::Nothing;
            }
            let executed = dev.stats.executed;
            let drop_nth =
                faults.drop_reply_every > 0 && executed % u64::from(faults.drop_reply_every) == 0;
            if drop_nth || faults.drop_reply_on == Some(req.cmd) {
                if faults.drop_reply_on == Some(req.cmd) {
                    dev.config.faults.drop_reply_on = None;
                }
                dev.stats.dropped += 1;
                return Action::Nothing;
            }
            (bytes, busy)
        }
    };
    *replies += 1;
    let mut bytes = bytes;
    if faults.corrupt_every > 0 && *replies % u64::from(faults.corrupt_every) == 0 {
        let i = bytes.len().saturating_sub(2);
        if let Some(b) = bytes.get_mut(i) {
            *b = 0x30 + ((*b - 0x30 + 1) & 0x0F);
        }
    }
    let wire = wire_time(req_len + bytes.len(), baud);
    dev.stats.simulated += wire + busy;
    Action::Send { bytes, busy, wire }
}

/// Runs an emulator on a fresh pty pair. Returns its handle and the slave
/// path a driver (or `kasa fiscal ...`) can open; the task holds the slave
/// open so the pty stays usable between clients.
pub fn spawn_pty(
    config: EmulatorConfig,
) -> Result<(EmulatorHandle, String, tokio::task::JoinHandle<Result<()>>)> {
    let handle = EmulatorHandle::new(config)?;
    let (master, slave, path) = crate::transport::pty_pair()?;
    let h = handle.clone();
    let task = tokio::spawn(async move {
        use tokio_serial::SerialPort;
        let line: LineBaud = Box::new(move || slave.baud_rate().ok());
        serve_line(h, master, Some(line)).await
    });
    Ok((handle, path, task))
}

/// Runs an emulator on a TCP listener, one client at a time.
pub async fn spawn_tcp(
    config: EmulatorConfig,
    addr: &str,
) -> Result<(
    EmulatorHandle,
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<()>>,
)> {
    let handle = EmulatorHandle::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let h = handle.clone();
    let task = tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await?;
            sock.set_nodelay(true)?;
            if let Err(e) = serve(h.clone(), sock).await {
                eprintln!("fiscal emulator: client ended: {e}");
            }
        }
    });
    Ok((handle, local, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(d: Dialect) -> Device {
        Device::new(EmulatorConfig::new(d)).unwrap()
    }

    fn run(dev: &mut Device, cmd: u16, data: &[u8]) -> Frame {
        let req = Frame::request(dev.config.dialect.framing, 0x21, cmd, data.to_vec());
        dev.execute(&req)
    }

    #[test]
    fn old_sale_parsing() {
        let (n, t, p, q, _) = parse_old_sale("Bread\tA1.50*2.000").unwrap();
        assert_eq!(
            (n, t.as_str(), p, q),
            (vec!["Bread".to_string()], "A", 150, 2000)
        );
        let (n, t, p, q, a) = parse_old_sale("Хліб\nбілий\tБ12.50,-10.00").unwrap();
        assert_eq!((n.len(), t.as_str(), p, q), (2, "Б", 1250, 1000));
        assert!(matches!(a, Adj::Percent(-1000)));
        assert!(parse_old_sale("no tab").is_none());
        assert!(parse_old_sale("x\tA1.5x").is_none());
    }

    #[test]
    fn a_whole_receipt_in_the_old_dialect() {
        let d = Dialect::ua_fp_t260();
        let mut e = dev(d.clone());
        let r = run(&mut e, 0x30, b"1,0000,1");
        assert_eq!(r.data, b"1,1");
        assert!(Status::new(r.status.unwrap()).fiscal_receipt_open());
        let r = run(&mut e, 0x31, &text::to_cp1251("Хліб\tБ12.50*2.000"));
        assert!(!Status::new(r.status.unwrap()).general_error());
        let r = run(&mut e, 0x35, b"\tP30.00");
        assert_eq!(r.data, b"R5.00");
        let r = run(&mut e, 0x38, b"");
        assert_eq!(r.data, b"1,1");
        assert_eq!(e.state.counters.day_sales[1], 2500);
        assert_eq!(e.state.counters.day_paid[0], 2500);
        assert!(e.tape[0].contains("Хліб"));
        let r = run(&mut e, 0x99, b"");
        assert!(Status::new(r.status.unwrap()).invalid_command());
    }

    #[tokio::test]
    async fn corrupt_requests_get_a_nak_and_repeats_a_replay() {
        let handle = EmulatorHandle::new(EmulatorConfig::new(Dialect::ua_fp_t260())).unwrap();
        let (mut a, b) = tokio::io::duplex(1024);
        tokio::spawn(serve(handle.clone(), b));
        let mut bad = Frame::request(Framing::Old, 0x21, 0x4A, b"".to_vec())
            .encode()
            .unwrap();
        let n = bad.len();
        bad[n - 2] ^= 0x01;
        a.write_all(&bad).await.unwrap();
        let mut got = [0u8; 1];
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(got[0], NAK);
        let good = Frame::request(Framing::Old, 0x22, 0x71, b"".to_vec())
            .encode()
            .unwrap();
        let mut first = vec![0u8; 64];
        a.write_all(&good).await.unwrap();
        let n1 = a.read(&mut first).await.unwrap();
        a.write_all(&good).await.unwrap();
        let mut second = vec![0u8; 64];
        let n2 = a.read(&mut second).await.unwrap();
        assert_eq!(&first[..n1], &second[..n2]);
        let st = handle.stats();
        assert_eq!((st.executed, st.replays, st.naks_sent), (1, 1, 1));
    }

    #[test]
    fn x_errors_are_codes() {
        let mut e = dev(Dialect::x_family());
        let r = run(&mut e, 0x31, b"Bread\t1\t1.00\t1.000\t0\t\t0\t");
        assert_eq!(r.data, b"-111016\t");
        let r = run(&mut e, 0x30, b"1\t9999\t1\t\t");
        assert_eq!(r.data, b"-102002\t");
    }
}
