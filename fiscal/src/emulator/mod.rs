//! An emulator of a Datecs register (FP-T260 dialect, and the X family) as a
//! real peer on a byte stream: a pty pair, a TCP socket or an in-memory
//! duplex. Its device logic sits here; by job:
//!
//! - [`receipt`]: the fiscal receipt (open, sale, subtotal, text, payment
//!   with the card slots, close, cancel) and what it prints;
//! - [`service`]: everything else the register answers (diagnostic, shift,
//!   modem, password, cash, reports, non-fiscal documents);
//! - [`journal`]: the electronic journal, read by 0x7E, and [`load_state`];
//! - [`faults`]: what can be scripted to go wrong;
//! - [`serve`]: the link rules on a stream (NAK on a bad checksum, SYN while
//!   busy, a repeated SEQ gets the last answer replayed instead of running
//!   twice), wire time, pty and TCP.
//!
//! Its counters (document numbers, per-tax-group and per-payment day totals,
//! Z count), any open receipt and the journal live in a JSON state file
//! across restarts; each printed document is appended to the tape file.

pub mod faults;
pub mod journal;
pub mod receipt;
pub mod serve;
pub mod service;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dialect::{x_error_code, Dialect, ErrorKind, Syntax};
use crate::frame::{Frame, Framing, Status};
use crate::settings::{SlotField, UA_FP700_TEMPLATE};
use crate::text;
use crate::Result;

pub use faults::{Faults, LongFormRefusal};
pub use journal::{load_state, JournalCursor, JournalDocument};
#[cfg(unix)]
pub use serve::spawn_pty;
pub use serve::{serve, serve_line, spawn_tcp, EmulatorHandle, LineBaud};

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub dialect: Dialect,
    /// Where counters, any open receipt and the journal are kept across
    /// restarts.
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
    /// The fiscal-data modem's ids (UA 0x5A fields 8–10).
    pub id_dev: String,
    pub id_acq: String,
    pub id_sam: String,
    /// How this "firmware" reads the card slots of 0x35 (§7.8 order by
    /// default; another order exercises the field check).
    pub slot_order: Vec<SlotField>,
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
            id_dev: "4000000001".into(),
            id_acq: "IA000042".into(),
            id_sam: "SAM00001".into(),
            slot_order: UA_FP700_TEMPLATE.to_vec(),
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
    /// Day total of cash rounding (rounded minus exact), minor units.
    pub day_rounding: i64,
    pub cash_in: i64,
    pub cash_out: i64,
    /// Cash handed out against cards today (0x46 with card data).
    pub card_cash_out: i64,
    /// Clock offset set by the host (seconds from the local clock).
    pub clock_offset_s: i64,
    /// When the current shift opened (first fiscal document after a Z).
    pub shift_opened: Option<NaiveDateTime>,
}

impl Counters {
    /// Cash in the drawer by the register's count.
    pub fn cash_in_drawer(&self) -> i64 {
        self.cash_in - self.cash_out + self.day_paid[0] - self.day_refunded[0] - self.card_cash_out
    }
}

/// An open receipt inside the emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenReceipt {
    /// `None` for a sale, the original document for a return (0: unknown).
    pub return_of: Option<u64>,
    pub items: u32,
    pub amount: i64,
    /// Tendered so far (cash and card).
    pub paid: i64,
    pub tax: [i64; 5],
    pub by_type: [i64; 2],
    /// Cash rounding applied when a cash payment settled the receipt.
    pub rounding: i64,
    /// Fully paid (with the rounding).
    pub settled: bool,
    pub lines: Vec<String>,
}

impl OpenReceipt {
    /// What is settled of the receipt's sum: the whole sum once settled.
    pub fn credited(&self) -> i64 {
        if self.settled {
            self.amount
        } else {
            self.paid
        }
    }
}

/// Everything persisted in the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersistedState {
    pub counters: Counters,
    pub receipt: Option<OpenReceipt>,
    /// The electronic journal: every numbered document as printed.
    pub journal: Vec<JournalDocument>,
    /// An open non-fiscal document's lines.
    pub nonfiscal: Option<Vec<String>>,
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
    /// Wrong operator passwords since power-on; three lock the register.
    pub wrong_passwords: u32,
    /// Locked by wrong passwords until a power cycle (not persisted: a
    /// power cycle, or a restart of the emulator, clears it).
    pub locked: bool,
    journal_cursor: Option<JournalCursor>,
    /// Lines printed by the last command (drives the device time).
    printed_now: usize,
}

pub(crate) type Outcome = std::result::Result<Vec<String>, ErrorKind>;

impl Device {
    /// A device with its state loaded from the state file, if any.
    pub fn new(config: EmulatorConfig) -> Result<Self> {
        let state = match &config.state_file {
            Some(p) if p.exists() => load_state(p)?,
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
            wrong_passwords: 0,
            locked: false,
            journal_cursor: None,
            printed_now: 0,
        })
    }

    fn d(&self) -> &Dialect {
        &self.config.dialect
    }

    /// Turns the device off and on: the password lock and any journal read
    /// in progress are gone; counters, receipt and journal stay.
    pub fn power_cycle(&mut self) {
        self.wrong_passwords = 0;
        self.locked = false;
        self.journal_cursor = None;
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

    /// The register's clock: the system's, plus what the host set, plus the
    /// clock fault.
    pub fn now(&self) -> NaiveDateTime {
        register_local_now()
            + ChronoDuration::seconds(
                self.state.counters.clock_offset_s + self.config.faults.clock_offset_s,
            )
    }

    /// Minutes the current shift has been open.
    fn shift_minutes(&self) -> Option<i64> {
        self.state
            .counters
            .shift_opened
            .map(|t| (self.now() - t).num_minutes().max(0))
    }

    fn shift_over(&self) -> bool {
        self.config.faults.shift_over_24h || self.shift_minutes().is_some_and(|m| m >= 24 * 60)
    }

    /// The status bytes for the current state, through the dialect's table.
    pub fn status(&self) -> Status {
        let d = self.d();
        let mut st = d.idle();
        let f = &self.config.faults;
        let receipt = self.state.receipt.as_ref();
        d.set_status(&mut st, "fiscal_receipt_open", receipt.is_some());
        d.set_status(
            &mut st,
            "return_receipt_open",
            receipt.is_some_and(|r| r.return_of.is_some()),
        );
        d.set_status(
            &mut st,
            "nonfiscal_receipt_open",
            self.state.nonfiscal.is_some(),
        );
        if self.paper_out {
            d.set_status(&mut st, "paper_out", true);
            d.set_status(&mut st, "general_error", true);
        }
        if f.cover_open {
            d.set_status(&mut st, "cover_open", true);
            d.set_status(&mut st, "general_error", true);
        }
        if f.fm_full {
            d.set_status(&mut st, "fm_full", true);
        }
        if f.sam_error {
            d.set_status(&mut st, "sam_error", true);
            d.set_status(&mut st, "general_error", true);
        }
        if f.ej_nearly_full {
            d.set_status(&mut st, "ej_nearly_full", true);
        }
        if self.shift_over() {
            d.set_status(&mut st, "shift_over_24h", true);
        }
        st
    }

    /// Prints a line on the open receipt (or non-fiscal document); a long
    /// one wraps as the printer would.
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
        } else if let Some(n) = self.state.nonfiscal.as_mut() {
            n.extend(lines);
        }
    }

    /// Ends a document: the tape (memory and file); `fresh` is how many of
    /// its lines (at the end) are printed now rather than earlier while the
    /// receipt was open.
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

    /// Ends a numbered document: tape and journal.
    fn finish_numbered(&mut self, number: u64, kind: &str, lines: Vec<String>, fresh: usize) {
        self.journal_add(number, kind, &lines);
        self.finish_document(lines, fresh);
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
        let d = self.d().clone();
        let data = match outcome {
            Ok(fields) => match d.syntax {
                Syntax::Tab => {
                    let mut all = vec!["0".to_string()];
                    all.extend(fields);
                    if self.config.faults.x_comma_data {
                        text::to_cp1251(&all.join(","))
                    } else {
                        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
                        d.params(&refs)
                    }
                }
                Syntax::Comma => text::to_cp1251(&fields.join(",")),
            },
            Err(kind) => {
                d.set_status(&mut status, "general_error", true);
                let bit = match kind {
                    ErrorKind::Syntax => "syntax_error",
                    ErrorKind::InvalidCommand => "invalid_command",
                    ErrorKind::Overflow => "overflow",
                    ErrorKind::PaperOut => "paper_out",
                    ErrorKind::CoverOpen => "cover_open",
                    ErrorKind::PrinterFault => "printer_fault",
                    _ => "not_permitted",
                };
                d.set_status(&mut status, bit, true);
                match framing {
                    Framing::X => format!("{}\t", x_error_code(kind)).into_bytes(),
                    Framing::Old => Vec::new(),
                }
            }
        };
        // A reply longer than the frame allows is cut (a journal line is
        // far shorter; this only guards against a malformed reply).
        let mut data = data;
        data.truncate(218);
        Frame::reply(framing, req.seq, req.cmd, data, status.bytes)
    }

    fn run(&mut self, cmd: u16, data: &[u8]) -> Outcome {
        let c = self.d().cmd;
        let p = self.params(data);
        let lockable = [
            c.open_receipt,
            c.open_return,
            c.set_password,
            c.report,
            c.cash_in_out,
        ];
        if self.locked && lockable.contains(&cmd) {
            return Err(ErrorKind::Locked);
        }
        match cmd {
            x if x == c.status => Ok(Vec::new()),
            x if x == c.diagnostic => Ok(self.diagnostic()),
            x if x == c.read_datetime => {
                Ok(vec![self.now().format("%d-%m-%y %H:%M:%S").to_string()])
            }
            x if x == c.set_datetime => {
                let t = p.first().and_then(|s| crate::driver::parse_datetime(s));
                let t = t.ok_or(ErrorKind::Syntax)?;
                let local = register_local_now();
                self.state.counters.clock_offset_s =
                    (t - local).num_seconds() - self.config.faults.clock_offset_s;
                self.save();
                Ok(Vec::new())
            }
            x if x == c.last_document => Ok(vec![self.state.counters.last_document.to_string()]),
            x if x == c.receipt_state => Ok(self.receipt_state()),
            x if x == c.open_receipt => self.open(&p, None),
            x if x == c.open_return => {
                let orig = match self.d().syntax {
                    // X storno: the original document is the 5th parameter.
                    Syntax::Tab => Some(
                        p.get(4)
                            .and_then(|s| s.trim().parse::<u64>().ok())
                            .ok_or(ErrorKind::Syntax)?,
                    ),
                    // UA 0x55: as 0x30; an optional 4th parameter names the
                    // original.
                    Syntax::Comma => p.get(3).and_then(|s| s.trim().parse::<u64>().ok()),
                };
                self.open(&p, Some(orig.unwrap_or(0)))
            }
            x if x == c.sale => self.sale(data, &p),
            x if x == c.subtotal => self.subtotal(),
            x if x == c.print_text => self.print_text(data, &p),
            x if x == c.payment => self.payment(data, &p),
            x if x == c.close => self.close(),
            x if x == c.cancel => self.cancel(),
            x if x == c.cash_in_out => self.cash(data, &p),
            x if x == c.report => self.report(&p),
            x if x == c.set_password => self.set_password(&p),
            x if x == c.nonfiscal_open => self.nonfiscal_open(),
            x if x == c.nonfiscal_text => self.nonfiscal_text(data, &p),
            x if x == c.nonfiscal_close => self.nonfiscal_close(),
            x if Some(x) == c.shift_state => Ok(self.shift_state()),
            x if Some(x) == c.modem_state => Ok(self.modem_state()),
            x if Some(x) == c.journal_read => self.journal_read(&p),
            _ => Err(ErrorKind::InvalidCommand),
        }
    }

    /// Checks an operator password; three wrong ones lock the register until
    /// a power cycle.
    fn password_ok(&mut self, given: &str) -> std::result::Result<(), ErrorKind> {
        if self.locked {
            return Err(ErrorKind::Locked);
        }
        if given.trim() == self.config.password {
            return Ok(());
        }
        self.wrong_passwords += 1;
        if self.wrong_passwords >= 3 {
            self.locked = true;
        }
        Err(ErrorKind::WrongPassword)
    }
}

/// The emulated register's clock runs on Ukrainian time, as a register
/// sold in Ukraine is set, whatever the machine's own time zone.
pub const REGISTER_TIME_ZONE: chrono_tz::Tz = chrono_tz::Europe::Kyiv;

/// Now on the register's time zone.
pub fn register_local_now() -> NaiveDateTime {
    Utc::now().with_timezone(&REGISTER_TIME_ZONE).naive_local()
}

/// Reads a state file's counters and journal; an absent file is an empty
/// state (a register that printed nothing yet).
pub fn load_state_or_default(path: &std::path::Path) -> Result<PersistedState> {
    if path.exists() {
        load_state(path)
    } else {
        Ok(PersistedState::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::NAK;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn dev(d: Dialect) -> Device {
        Device::new(EmulatorConfig::new(d)).unwrap()
    }

    fn run(dev: &mut Device, cmd: u16, data: &[u8]) -> Frame {
        let req = Frame::request(dev.config.dialect.framing, 0x21, cmd, data.to_vec());
        dev.execute(&req)
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
        let r = run(&mut e, 0x33, b"");
        assert_eq!(r.data, b"25.00,25.00", "UA subtotal: sum,rounded");
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

    #[test]
    fn a_return_receipt_sets_the_ua_bit_and_0x2e_is_the_shift() {
        let mut e = dev(Dialect::ua_fp_t260());
        assert_eq!(run(&mut e, 0x2E, b"").data, b"Z", "no shift yet");
        let r = run(&mut e, 0x55, b"1,0000,1");
        let st = Status::new(r.status.unwrap());
        assert!(
            st.bit(1, 3) && st.bit(2, 3),
            "1.3 return receipt, 2.3 receipt open"
        );
        assert_eq!(run(&mut e, 0x2E, b"").data, b"P,0");
        let r = run(&mut e, 0x7E, b"R,1");
        assert_eq!(r.data, b"F", "no such document yet");
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
