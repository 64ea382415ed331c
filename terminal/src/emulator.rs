//! What every terminal emulator shares: a scripted outcome queue and a small
//! "bank" that keeps increasing invoice numbers, one batch per merchant kept
//! until settlement (with its totals), and every record it ever made, so that
//! what a lookup answers is what was processed.
//!
//! The books ([`Books`]) are plain data: with a state file
//! ([`Bank::with_store`], `kasa emulate terminal --state FILE`) they are
//! written after every change (to a temporary file, then renamed over the old
//! one, so a reader never sees half a file) and read back at start. A test
//! that runs the emulator as a separate process judges the money from them
//! with [`load_books`]: the approved charges, the reversals, the refunds and
//! the voids, whatever Kasa's own journal says.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{Local, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::recovery::DATE_TIME_FORMAT;
use crate::{BatchTotals, CardTransaction, Error, Result, TxnKind, TxnStatus};

/// The PAN the `raw-pan` outcome reports when the script names none: in full,
/// with spaces, the way a misconfigured terminal might send it.
pub const RAW_PAN: &str = "5168 7500 0000 1234";

/// A scripted outcome for the next financial operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The host approves.
    Approve,
    /// The host declines with a two-digit code (`05`, `51`, `55`...).
    Decline(String),
    /// The customer presses Cancel on the terminal (1001).
    CustomerCancel,
    /// The terminal cannot reach the bank (1004).
    NoHostLink,
    /// The terminal's printer has no paper (1005).
    NoPaper,
    /// The host approves part of the amount (RC 0010): half, at least 1.
    PartialApproval,
    /// The terminal waits for a card that never comes, until interrupted (or
    /// until its own card wait runs out).
    Timeout,
    /// The host approves, the transaction is recorded, and the link drops before
    /// the reply is sent.
    DropAfterApproval,
    /// The terminal answers that it is busy.
    Busy,
    /// The host approves and the terminal reports the card number as given
    /// here, unmasked and with spaces (default [`RAW_PAN`]), to prove that the
    /// checkout masks whatever the terminal sends.
    RawPan(String),
    /// The host approves and the cardholder must sign the slip (signVerif 1).
    SignatureRequired,
}

impl Outcome {
    /// The host's answer for outcomes that reach the host: `00` approve,
    /// `10` partial, or the decline code; `None` for the others.
    pub fn host_code(&self) -> Option<String> {
        match self {
            Outcome::Approve
            | Outcome::DropAfterApproval
            | Outcome::RawPan(_)
            | Outcome::SignatureRequired => Some("00".into()),
            Outcome::PartialApproval => Some("10".into()),
            Outcome::Decline(code) => Some(code.clone()),
            _ => None,
        }
    }

    /// The outcome a bare host code stands for.
    pub fn from_host_code(code: &str) -> Self {
        match code {
            "00" => Outcome::Approve,
            "10" => Outcome::PartialApproval,
            other => Outcome::Decline(other.to_string()),
        }
    }
}

impl FromStr for Outcome {
    type Err = Error;

    /// `approve`, `decline` (= `decline:05`), `decline:51`, `cancel`, `no-host`,
    /// `no-paper`, `partial`, `timeout`, `drop`, `busy`, `raw-pan` (or
    /// `raw-pan:4149 6200 0000 0042`), `signature`.
    fn from_str(s: &str) -> Result<Self> {
        let trimmed = s.trim();
        let (name, arg) = match trimmed.split_once([':', '=']) {
            Some((n, a)) => (n, Some(a.trim().to_string())),
            None => (trimmed, None),
        };
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match name.as_str() {
            "approve" | "ok" => Outcome::Approve,
            "decline" => {
                let code = arg.unwrap_or_else(|| "05".into());
                if code.is_empty() || code.len() > 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::InvalidRequest(format!("bad host code {code:?}")));
                }
                Outcome::Decline(format!("{code:0>2}"))
            }
            "cancel" | "customer-cancel" => Outcome::CustomerCancel,
            "no-host" | "no-host-link" => Outcome::NoHostLink,
            "no-paper" => Outcome::NoPaper,
            "partial" | "partial-approval" => Outcome::PartialApproval,
            "timeout" | "time-out" => Outcome::Timeout,
            "drop" | "drop-after-approval" => Outcome::DropAfterApproval,
            "busy" => Outcome::Busy,
            "raw-pan" => {
                let pan = arg.unwrap_or_else(|| RAW_PAN.into());
                let digits = pan.bytes().filter(u8::is_ascii_digit).count();
                if !(12..=19).contains(&digits)
                    || !pan.bytes().all(|b| b.is_ascii_digit() || b == b' ')
                {
                    return Err(Error::InvalidRequest(format!("bad card number {pan:?}")));
                }
                Outcome::RawPan(pan)
            }
            "signature" | "signature-required" => Outcome::SignatureRequired,
            _ => return Err(Error::InvalidRequest(format!("unknown outcome {s:?}"))),
        })
    }
}

/// One merchant (legal entity) configured on the emulated terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantProfile {
    pub index: u8,
    pub terminal_id: String,
    pub merchant_id: String,
    pub name: String,
}

/// Why the terminal undid an approved transaction by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversal {
    /// `interrupt` (PrivatBank) arrived after the host had approved, before
    /// the reply reached the ECR: the terminal reversed it.
    Interrupted,
    /// Not confirmed within the confirm time-out (B-POS1): auto-cancelled.
    NotConfirmed,
    /// `Cancel` (B-POS1) while the approval waited for its confirm.
    Cancelled,
}

/// One transaction the emulated terminal processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub invoice: u64,
    /// Merchant index (1..).
    pub merchant: u8,
    #[serde(default)]
    pub terminal_id: String,
    #[serde(default)]
    pub merchant_id: String,
    pub kind: TxnKind,
    /// Approved, declined, reversed (interrupt) or cancelled (not confirmed).
    pub status: TxnStatus,
    /// Approved (or declined) amount, minor units; for a void, the amount voided.
    pub amount: i64,
    /// What the ECR asked for.
    #[serde(default)]
    pub requested_amount: i64,
    pub rrn: String,
    pub auth_code: String,
    /// The card number as the terminal reports it (masked, unless a
    /// `raw-pan` script said otherwise).
    pub pan: String,
    pub scheme: String,
    #[serde(default)]
    pub issuer: String,
    /// EMV application id of the card.
    #[serde(default)]
    pub aid: String,
    /// Two-digit host code, `00` when approved, `10` partial.
    pub host_code: String,
    pub at: NaiveDateTime,
    pub batch: u32,
    /// Its batch was closed by a settlement.
    #[serde(default)]
    pub settled: bool,
    pub request_id: String,
    /// For a void: the invoice it voided.
    pub voids: Option<u64>,
    /// Set on a purchase or refund voided later.
    pub voided: bool,
    /// For a refund: the RRN of the purchase it refunds.
    pub refund_of: Option<String>,
    #[serde(default)]
    pub signature_required: bool,
    /// B-POS1: the approval waits for `Confirm` until then (terminal-local
    /// time); `None` once confirmed, or for what needs no confirm.
    #[serde(default)]
    pub confirm_by: Option<NaiveDateTime>,
    /// Set when the terminal undid the approval by itself.
    #[serde(default)]
    pub reversal: Option<Reversal>,
}

impl Record {
    /// The card-transaction view of the record.
    pub fn transaction(&self, profile: &MerchantProfile) -> CardTransaction {
        CardTransaction {
            rrn: self.rrn.clone(),
            auth_code: self.auth_code.clone(),
            masked_pan: self.pan.clone(),
            card_scheme: self.scheme.clone(),
            terminal_id: profile.terminal_id.clone(),
            merchant_id: profile.merchant_id.clone(),
            invoice: format!("{:06}", self.invoice),
            amount: self.amount,
            batch: format!("{:06}", self.batch),
            kind: self.kind,
            status: self.status,
            response_code: self.host_code.clone(),
            date_time: self.at.format(DATE_TIME_FORMAT).to_string(),
            request_id: self.request_id.clone(),
            issuer: self.issuer.clone(),
            signature_required: self.signature_required,
            needs_confirm: false,
            requested_amount: self.requested_amount,
        }
    }

    /// `true` for an approved purchase or refund that counts in the totals.
    fn counts(&self) -> bool {
        self.status == TxnStatus::Approved
            && matches!(self.kind, TxnKind::Purchase | TxnKind::Refund)
    }

    /// The host approved it, whatever the terminal did with it afterwards.
    pub fn host_approved(&self) -> bool {
        !self.auth_code.is_empty() && (self.host_code == "00" || self.host_code == "10")
    }

    /// Waiting for a `Confirm` (B-POS1).
    pub fn awaiting_confirm(&self) -> bool {
        self.confirm_by.is_some() && self.status == TxnStatus::Approved
    }
}

/// A test card: masked number, payment system, issuer, EMV application id.
struct Card {
    pan: &'static str,
    scheme: &'static str,
    issuer: &'static str,
    aid: &'static str,
}

/// Test cards, masked as the payment systems require (first 6, last 4).
const CARDS: [Card; 4] = [
    Card {
        pan: "473118******9838",
        scheme: "VISA",
        issuer: "ПРИВАТБАНК",
        aid: "A0000000031010",
    },
    Card {
        pan: "516875******1234",
        scheme: "MASTERCARD",
        issuer: "УНІВЕРСАЛ БАНК",
        aid: "A0000000041010",
    },
    Card {
        pan: "414962******0042",
        scheme: "VISA",
        issuer: "ОЩАДБАНК",
        aid: "A0000000031010",
    },
    Card {
        pan: "537541******7777",
        scheme: "MASTERCARD",
        issuer: "ПУМБ",
        aid: "A0000000041010",
    },
];

/// The emulated terminal's books: every record, the counters, the script.
/// This is what the state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Books {
    /// `privatbank`, `ingenico-web`, `bpos1` (empty when not set).
    #[serde(default)]
    pub protocol: String,
    pub merchants: Vec<MerchantProfile>,
    /// Every transaction ever processed, in order (settled batches included).
    pub records: Vec<Record>,
    /// The open batch number of each merchant index.
    pub batches: BTreeMap<u8, u32>,
    pub next_invoice: u64,
    pub next_rrn: u64,
    /// The last operation performed (also after its batch was settled).
    pub last_invoice: Option<u64>,
    /// Outcomes still queued for the next financial operations.
    pub script: VecDeque<Outcome>,
    /// The outcome once the queue is empty.
    pub default_outcome: Outcome,
}

impl Books {
    fn new(merchants: u8) -> Self {
        let merchants = (1..=merchants.max(1))
            .map(|i| MerchantProfile {
                index: i,
                terminal_id: format!("KASA{i:04}"),
                merchant_id: format!("S1KASA{i:02}"),
                name: format!("ФОП Каса {i}"),
            })
            .collect();
        Self {
            protocol: String::new(),
            merchants,
            records: Vec::new(),
            batches: BTreeMap::new(),
            next_invoice: 1,
            next_rrn: 1,
            last_invoice: None,
            script: VecDeque::new(),
            default_outcome: Outcome::Approve,
        }
    }

    /// Approved purchases that stand: charges the terminal did not undo
    /// (a void is a record of its own, see [`Books::voids`]).
    pub fn approved_charges(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.kind == TxnKind::Purchase && r.status == TxnStatus::Approved)
            .collect()
    }

    /// Approved purchases that were not voided later.
    pub fn standing_charges(&self) -> Vec<&Record> {
        self.approved_charges()
            .into_iter()
            .filter(|r| !r.voided)
            .collect()
    }

    /// Purchases and refunds the host approved and the terminal undid by
    /// itself (interrupt, missing confirm, cancel before confirm).
    pub fn reversals(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.reversal.is_some() || r.status == TxnStatus::Reversed)
            .collect()
    }

    /// Approved refunds.
    pub fn refunds(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.kind == TxnKind::Refund && r.status == TxnStatus::Approved)
            .collect()
    }

    /// Approved voids.
    pub fn voids(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.kind == TxnKind::Void && r.status == TxnStatus::Approved)
            .collect()
    }

    /// Declined operations.
    pub fn declines(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.status == TxnStatus::Declined)
            .collect()
    }

    /// Approvals still waiting for a `Confirm` (B-POS1).
    pub fn awaiting_confirm(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.awaiting_confirm())
            .collect()
    }

    /// The record with this RRN (the original, not a void of it).
    pub fn by_rrn(&self, rrn: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.rrn == rrn && r.kind != TxnKind::Void)
    }

    /// The record made under this request id (Ingenico).
    pub fn by_request_id(&self, request_id: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| !request_id.is_empty() && r.request_id == request_id)
    }

    /// The record with this invoice number.
    pub fn record(&self, invoice: u64) -> Option<&Record> {
        self.records.iter().find(|r| r.invoice == invoice)
    }

    /// The records of the open batches, in order.
    pub fn open_batch(&self) -> Vec<&Record> {
        self.records.iter().filter(|r| !r.settled).collect()
    }

    /// Money the terminal's card operations moved in the end, in minor units:
    /// standing approved purchases minus approved refunds.
    pub fn net_charged(&self) -> i64 {
        let charged: i64 = self.standing_charges().iter().map(|r| r.amount).sum();
        let refunded: i64 = self.refunds().iter().map(|r| r.amount).sum();
        charged - refunded
    }
}

/// Read the books an emulator keeps in its state file (`--state FILE`).
pub fn load_books(path: impl AsRef<Path>) -> Result<Books> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Protocol(format!("{}: not emulator books: {e}", path.display())))
}

/// Write `bytes` to `path` so that a reader sees the old file or the new one,
/// never a part: a temporary file beside it, flushed, then renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// The emulated terminal's books and what it does with them.
#[derive(Debug, Clone)]
pub struct Bank {
    books: Books,
    /// The state file, written after every change.
    store: Option<PathBuf>,
    /// Print every record made or changed on stderr.
    trace: bool,
}

impl Default for Bank {
    fn default() -> Self {
        Self::new(3)
    }
}

impl Bank {
    /// A bank with `merchants` merchants, indexes 1.. (0 = the first one).
    pub fn new(merchants: u8) -> Self {
        Self {
            books: Books::new(merchants),
            store: None,
            trace: false,
        }
    }

    /// Keep the books in `path`: read them from it when it exists (records,
    /// counters, script and default outcome as saved), else write them there
    /// now. From then on every change is written.
    pub fn with_store(mut self, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if path.exists() {
            let protocol = std::mem::take(&mut self.books.protocol);
            self.books = load_books(&path)?;
            if self.books.protocol.is_empty() {
                self.books.protocol = protocol;
            }
        }
        self.store = Some(path);
        self.save()?;
        Ok(self)
    }

    /// Print every record made or changed on stderr (`--trace`).
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    fn trace(&self, what: &str, r: &Record) {
        if self.trace {
            eprintln!(
                "{} {what} {:?} invoice {} {:?} {} rrn {}",
                self.books.protocol, r.kind, r.invoice, r.status, r.amount, r.rrn
            );
        }
    }

    /// Name the protocol in the books.
    pub fn set_protocol(&mut self, protocol: &str) {
        self.books.protocol = protocol.to_string();
        self.changed();
    }

    /// The books as they are.
    pub fn books(&self) -> &Books {
        &self.books
    }

    /// The state file, if any.
    pub fn store(&self) -> Option<&Path> {
        self.store.as_deref()
    }

    fn save(&self) -> Result<()> {
        if let Some(path) = &self.store {
            let bytes = serde_json::to_vec_pretty(&self.books)
                .map_err(|e| Error::Protocol(format!("cannot encode the books: {e}")))?;
            write_atomically(path, &bytes)?;
        }
        Ok(())
    }

    /// Write the books after a change; an emulator that cannot keep its
    /// books must not go on as if it did.
    fn changed(&self) {
        if let Err(e) = self.save() {
            panic!("the emulator cannot write its state file: {e}");
        }
    }

    /// The merchants configured on the terminal.
    pub fn merchants(&self) -> &[MerchantProfile] {
        &self.books.merchants
    }

    /// Queue an outcome for the next financial operation.
    pub fn script_next(&mut self, outcome: Outcome) {
        self.books.script.push_back(outcome);
        self.changed();
    }

    /// The outcome used when nothing is queued.
    pub fn set_default(&mut self, outcome: Outcome) {
        self.books.default_outcome = outcome;
        self.changed();
    }

    /// Take the outcome for the operation starting now.
    pub fn next_outcome(&mut self) -> Outcome {
        match self.books.script.pop_front() {
            Some(o) => {
                self.changed();
                o
            }
            None => self.books.default_outcome.clone(),
        }
    }

    /// The merchant profile for an index (0 or unknown = the first).
    pub fn profile(&self, merchant: u8) -> MerchantProfile {
        self.books
            .merchants
            .iter()
            .find(|m| m.index == merchant)
            .or_else(|| self.books.merchants.first())
            .cloned()
            .unwrap_or(MerchantProfile {
                index: 1,
                terminal_id: "KASA0001".into(),
                merchant_id: "S1KASA01".into(),
                name: "Каса".into(),
            })
    }

    fn resolve(&self, merchant: u8) -> u8 {
        self.profile(merchant).index
    }

    /// The batch number of a merchant.
    pub fn batch(&self, merchant: u8) -> u32 {
        *self
            .books
            .batches
            .get(&self.resolve(merchant))
            .unwrap_or(&1)
    }

    fn new_record(
        &mut self,
        kind: TxnKind,
        merchant: u8,
        requested: i64,
        outcome: &Outcome,
    ) -> Record {
        let code = outcome.host_code().unwrap_or_else(|| "05".into());
        let merchant = self.resolve(merchant);
        let profile = self.profile(merchant);
        let invoice = self.books.next_invoice;
        self.books.next_invoice += 1;
        let card = &CARDS[(invoice % CARDS.len() as u64) as usize];
        let approved = code == "00" || code == "10";
        let (rrn, auth) = if approved {
            let n = self.books.next_rrn;
            self.books.next_rrn += 1;
            (
                format!("{:012}", 632_600_000_000 + n * 7919),
                format!("{:06}", (n * 104_729 + 17) % 1_000_000),
            )
        } else {
            (String::new(), String::new())
        };
        let amount = if code == "10" {
            (requested / 2).max(1)
        } else {
            requested
        };
        let pan = match outcome {
            Outcome::RawPan(pan) => pan.clone(),
            _ => card.pan.to_string(),
        };
        Record {
            invoice,
            merchant,
            terminal_id: profile.terminal_id,
            merchant_id: profile.merchant_id,
            kind,
            status: if approved {
                TxnStatus::Approved
            } else {
                TxnStatus::Declined
            },
            amount,
            requested_amount: requested,
            rrn,
            auth_code: auth,
            pan,
            scheme: card.scheme.into(),
            issuer: card.issuer.into(),
            aid: card.aid.into(),
            host_code: code,
            at: Local::now().naive_local(),
            batch: self.batch(merchant),
            settled: false,
            request_id: String::new(),
            voids: None,
            voided: false,
            refund_of: None,
            signature_required: approved && *outcome == Outcome::SignatureRequired,
            confirm_by: None,
            reversal: None,
        }
    }

    fn push(&mut self, record: Record) -> Record {
        self.trace("recorded", &record);
        self.books.last_invoice = Some(record.invoice);
        self.books.records.push(record.clone());
        self.changed();
        record
    }

    /// Authorise a purchase or refund with the host's answer `code` (`00`
    /// approve, `10` partial, else a decline) and record it.
    pub fn authorise(
        &mut self,
        kind: TxnKind,
        merchant: u8,
        amount: i64,
        code: &str,
        request_id: &str,
    ) -> Record {
        let outcome = Outcome::from_host_code(code);
        self.authorise_as(kind, merchant, amount, &outcome, request_id)
    }

    /// Authorise a purchase with the host's answer the scripted `outcome`
    /// implies (a partial approval takes half; `raw-pan` and `signature`
    /// approve with their card details) and record it.
    pub fn authorise_as(
        &mut self,
        kind: TxnKind,
        merchant: u8,
        amount: i64,
        outcome: &Outcome,
        request_id: &str,
    ) -> Record {
        let mut record = self.new_record(kind, merchant, amount, outcome);
        record.request_id = request_id.into();
        self.push(record)
    }

    /// Check that a refund of `amount` against `rrn` is allowed; the original
    /// need not be in the open batch (refunds work across settlements).
    pub fn check_refund(&self, amount: i64, rrn: &str) -> Result<()> {
        let original = self
            .books
            .records
            .iter()
            .find(|r| r.rrn == rrn && r.kind == TxnKind::Purchase);
        if let Some(orig) = original {
            let refunded: i64 = self
                .books
                .records
                .iter()
                .filter(|r| r.kind == TxnKind::Refund && r.status == TxnStatus::Approved)
                .filter(|r| r.refund_of.as_deref() == Some(rrn))
                .map(|r| r.amount)
                .sum();
            if amount > orig.amount - refunded {
                return Err(Error::device("1000", "Сума повернення більша за залишок"));
            }
        }
        Ok(())
    }

    /// Refund `amount` against the purchase with `rrn`, with the host's answer `code`.
    pub fn refund(&mut self, merchant: u8, amount: i64, rrn: &str, code: &str) -> Result<Record> {
        self.refund_as(merchant, amount, rrn, &Outcome::from_host_code(code), "")
    }

    /// Refund with the host's answer the scripted `outcome` implies.
    pub fn refund_as(
        &mut self,
        merchant: u8,
        amount: i64,
        rrn: &str,
        outcome: &Outcome,
        request_id: &str,
    ) -> Result<Record> {
        self.check_refund(amount, rrn)?;
        let mut record = self.new_record(TxnKind::Refund, merchant, amount, outcome);
        record.refund_of = Some(rrn.to_string());
        record.request_id = request_id.into();
        Ok(self.push(record))
    }

    /// Void a transaction of the open batch by invoice number.
    pub fn void(&mut self, invoice: u64, request_id: &str) -> Result<Record> {
        self.void_as(invoice, request_id, &Outcome::Approve)
    }

    /// Void with the host's answer the scripted `outcome` implies: a decline
    /// is recorded as a declined void and the original stands.
    pub fn void_as(&mut self, invoice: u64, request_id: &str, outcome: &Outcome) -> Result<Record> {
        let Some(i) = self
            .books
            .records
            .iter()
            .position(|r| r.invoice == invoice && !r.settled && r.counts() && !r.voided)
        else {
            return Err(Error::device("1000", "Чек не знайдено в пакеті"));
        };
        let declined = matches!(outcome, Outcome::Decline(_));
        if !declined {
            self.books.records[i].voided = true;
        }
        let orig = self.books.records[i].clone();
        let answer = if declined {
            outcome.clone()
        } else {
            Outcome::Approve
        };
        let mut record = self.new_record(TxnKind::Void, orig.merchant, orig.amount, &answer);
        record.pan = orig.pan.clone();
        record.scheme = orig.scheme.clone();
        record.issuer = orig.issuer.clone();
        record.aid = orig.aid.clone();
        record.voids = Some(orig.invoice);
        record.request_id = request_id.into();
        Ok(self.push(record))
    }

    /// Mark the record with `invoice` reversed (interrupt after approval).
    pub fn reverse(&mut self, invoice: u64) {
        self.update(invoice, |r| {
            r.status = TxnStatus::Reversed;
            r.reversal = Some(Reversal::Interrupted);
            r.confirm_by = None;
        });
    }

    /// Change the status of the record with `invoice`.
    pub fn set_status(&mut self, invoice: u64, status: TxnStatus) {
        self.update(invoice, |r| r.status = status);
    }

    /// Change the record with `invoice` and write the books.
    pub fn update(&mut self, invoice: u64, change: impl FnOnce(&mut Record)) {
        if let Some(r) = self.books.records.iter_mut().find(|r| r.invoice == invoice) {
            change(r);
            let r = r.clone();
            self.trace("changed", &r);
            self.changed();
        }
    }

    /// B-POS1: the approval with `invoice` waits for `Confirm` until `until`.
    pub fn await_confirm(&mut self, invoice: u64, until: NaiveDateTime) {
        self.update(invoice, |r| r.confirm_by = Some(until));
    }

    /// B-POS1 `Confirm`: confirm the approval waiting for it. `Ok(invoice)`
    /// when one was confirmed; `Err(code)` otherwise: `1008` when the last
    /// operation is approved and needs nothing more (already complete),
    /// `1000` when there is none to confirm (cancelled, or nothing approved).
    pub fn confirm(&mut self) -> std::result::Result<u64, u32> {
        let waiting = self
            .books
            .records
            .iter()
            .rev()
            .find(|r| r.awaiting_confirm())
            .map(|r| r.invoice);
        if let Some(invoice) = waiting {
            self.update(invoice, |r| r.confirm_by = None);
            return Ok(invoice);
        }
        let last = self.books.last_invoice.and_then(|i| self.books.record(i));
        match last {
            Some(r) if r.status == TxnStatus::Approved => Err(1008),
            _ => Err(1000),
        }
    }

    /// B-POS1: cancel every approval whose confirm time has passed at `now`
    /// (all of them with `force`: a new operation or `Cancel` started).
    /// `true` when something was cancelled.
    pub fn expire_unconfirmed(&mut self, now: NaiveDateTime, force: bool) -> bool {
        let due: Vec<(u64, Reversal)> = self
            .books
            .records
            .iter()
            .filter(|r| r.awaiting_confirm())
            .filter_map(|r| match r.confirm_by {
                Some(t) if t <= now => Some((r.invoice, Reversal::NotConfirmed)),
                Some(_) if force => Some((r.invoice, Reversal::Cancelled)),
                _ => None,
            })
            .collect();
        for (invoice, why) in &due {
            self.update(*invoice, |r| {
                r.status = TxnStatus::Cancelled;
                r.reversal = Some(*why);
                r.confirm_by = None;
            });
        }
        !due.is_empty()
    }

    /// Totals of the open batch of one merchant (0 = all).
    pub fn totals(&self, merchant: u8) -> BatchTotals {
        let target = (merchant != 0).then(|| self.resolve(merchant));
        let mut t = BatchTotals::default();
        for r in self
            .books
            .records
            .iter()
            .filter(|r| !r.settled && target.is_none_or(|m| r.merchant == m))
        {
            if !r.counts() {
                continue;
            }
            if r.voided {
                t.cancelled_count += 1;
                t.cancelled_amount += r.amount;
            } else if r.kind == TxnKind::Purchase {
                t.debit_count += 1;
                t.debit_amount += r.amount;
            } else {
                t.credit_count += 1;
                t.credit_amount += r.amount;
            }
        }
        t
    }

    /// Settle one merchant (0 = all): its batch is closed and a new one opened.
    /// `Err` when there is nothing to settle.
    pub fn settle(&mut self, merchant: u8) -> Result<BatchTotals> {
        let target = (merchant != 0).then(|| self.resolve(merchant));
        let hit = |r: &Record| !r.settled && target.is_none_or(|m| r.merchant == m);
        if !self.books.records.iter().any(hit) {
            return Err(Error::device(
                "0001",
                "Cannot obtain receipt: log file is empty!",
            ));
        }
        let totals = self.totals(merchant);
        let settled: Vec<u8> = self
            .books
            .merchants
            .iter()
            .map(|m| m.index)
            .filter(|m| target.is_none_or(|t| *m == t))
            .collect();
        for r in self.books.records.iter_mut().filter(|r| hit(r)) {
            r.settled = true;
            r.confirm_by = None;
        }
        for m in settled {
            *self.books.batches.entry(m).or_insert(1) += 1;
        }
        self.changed();
        Ok(totals)
    }

    /// A record of the open batch by invoice; `0` = the last operation performed.
    pub fn lookup(&self, invoice: u64) -> Option<&Record> {
        if invoice == 0 {
            return self.last();
        }
        self.books
            .records
            .iter()
            .find(|r| r.invoice == invoice && !r.settled)
    }

    /// The last operation performed (also after its batch was settled).
    pub fn last(&self) -> Option<&Record> {
        self.books.last_invoice.and_then(|i| self.books.record(i))
    }

    /// The open batches, in order.
    pub fn journal(&self) -> Vec<Record> {
        self.books.open_batch().into_iter().cloned().collect()
    }
}

/// Minor units as `1234.56`.
pub fn money(minor: i64) -> String {
    crate::privatbank::frame::format_amount(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_parse() {
        assert_eq!(
            "decline:51".parse::<Outcome>().unwrap(),
            Outcome::Decline("51".into())
        );
        assert_eq!(
            "decline".parse::<Outcome>().unwrap(),
            Outcome::Decline("05".into())
        );
        assert_eq!("no-paper".parse::<Outcome>().unwrap(), Outcome::NoPaper);
        assert_eq!(
            "raw-pan".parse::<Outcome>().unwrap(),
            Outcome::RawPan(RAW_PAN.into())
        );
        assert_eq!(
            "raw-pan:4149 6200 0000 0042".parse::<Outcome>().unwrap(),
            Outcome::RawPan("4149 6200 0000 0042".into())
        );
        assert_eq!(
            "signature".parse::<Outcome>().unwrap(),
            Outcome::SignatureRequired
        );
        assert!("explode".parse::<Outcome>().is_err());
        assert!("decline:5x".parse::<Outcome>().is_err());
        assert!("raw-pan:4149-6200".parse::<Outcome>().is_err());
    }

    #[test]
    fn batch_totals_follow_the_journal() {
        let mut bank = Bank::new(2);
        let a = bank.authorise(TxnKind::Purchase, 1, 1000, "00", "");
        bank.authorise(TxnKind::Purchase, 2, 500, "00", "");
        bank.authorise(TxnKind::Purchase, 1, 700, "51", "");
        bank.authorise(TxnKind::Refund, 1, 300, "00", "");
        bank.void(a.invoice, "").unwrap();
        let t1 = bank.totals(1);
        assert_eq!((t1.debit_count, t1.debit_amount), (0, 0));
        assert_eq!((t1.credit_count, t1.credit_amount), (1, 300));
        assert_eq!((t1.cancelled_count, t1.cancelled_amount), (1, 1000));
        assert_eq!(bank.totals(2).debit_amount, 500);
        assert_eq!(bank.totals(0).debit_amount, 500);
        assert!(bank.void(a.invoice, "").is_err(), "voided twice");
        bank.settle(1).unwrap();
        assert_eq!(bank.totals(1), BatchTotals::default());
        assert_eq!(bank.batch(1), 2);
        assert_eq!(bank.totals(2).debit_amount, 500, "merchant 2 still open");
        assert!(bank.settle(1).is_err(), "empty batch");
        let b = bank.authorise(TxnKind::Purchase, 1, 100, "00", "");
        assert!(b.invoice > a.invoice);
        assert_eq!(bank.lookup(0).map(|r| r.invoice), Some(b.invoice));
        // Settled records stay in the books.
        let books = bank.books();
        assert_eq!(books.records.len(), 6);
        assert_eq!(books.voids().len(), 1);
        assert_eq!(books.declines().len(), 1);
        assert_eq!(books.net_charged(), 500 + 100 - 300);
    }

    #[test]
    fn partial_approval_takes_half_and_keeps_what_was_asked() {
        let mut bank = Bank::new(1);
        let r = bank.authorise_as(TxnKind::Purchase, 1, 2_001, &Outcome::PartialApproval, "");
        assert_eq!(
            (r.amount, r.requested_amount, r.host_code.as_str()),
            (1_000, 2_001, "10")
        );
        let one = bank.authorise_as(TxnKind::Purchase, 1, 1, &Outcome::PartialApproval, "");
        assert_eq!(one.amount, 1, "at least one kopiyka");
        let raw = bank.authorise_as(
            TxnKind::Purchase,
            1,
            5,
            &Outcome::RawPan(RAW_PAN.into()),
            "",
        );
        assert_eq!(raw.pan, RAW_PAN);
    }

    #[test]
    fn confirm_and_expiry() {
        let mut bank = Bank::new(1);
        let now = Local::now().naive_local();
        let a = bank.authorise(TxnKind::Purchase, 1, 100, "00", "");
        bank.await_confirm(a.invoice, now + chrono::Duration::seconds(30));
        assert_eq!(bank.books().awaiting_confirm().len(), 1);
        assert_eq!(bank.confirm(), Ok(a.invoice));
        assert_eq!(bank.confirm(), Err(1008), "already complete");
        let b = bank.authorise(TxnKind::Purchase, 1, 200, "00", "");
        bank.await_confirm(b.invoice, now);
        assert!(!bank.expire_unconfirmed(now - chrono::Duration::seconds(1), false));
        assert!(bank.expire_unconfirmed(now, false));
        let b = bank.books().record(b.invoice).unwrap().clone();
        assert_eq!(
            (b.status, b.reversal),
            (TxnStatus::Cancelled, Some(Reversal::NotConfirmed))
        );
        assert_eq!(bank.confirm(), Err(1000), "nothing left to confirm");
        assert_eq!(bank.books().reversals().len(), 1);
        assert_eq!(bank.books().approved_charges().len(), 1);
    }

    #[test]
    fn the_state_file_is_written_after_every_change_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("books.json");
        let mut bank = Bank::new(2).with_store(&path).unwrap();
        bank.set_protocol("privatbank");
        bank.script_next(Outcome::Decline("51".into()));
        let a = bank.authorise(TxnKind::Purchase, 2, 4_200, "00", "K1");
        let books = load_books(&path).unwrap();
        assert_eq!(books.protocol, "privatbank");
        assert_eq!(books.approved_charges()[0].amount, 4_200);
        assert_eq!(
            books.by_request_id("K1").map(|r| r.invoice),
            Some(a.invoice)
        );
        assert_eq!(books.script.len(), 1);
        bank.reverse(a.invoice);
        assert_eq!(load_books(&path).unwrap().reversals().len(), 1);
        // A new emulator on the same file continues the books.
        let mut again = Bank::new(1).with_store(&path).unwrap();
        assert_eq!(again.merchants().len(), 2);
        assert_eq!(again.next_outcome(), Outcome::Decline("51".into()));
        let b = again.authorise(TxnKind::Purchase, 1, 1, "00", "");
        assert!(b.invoice > a.invoice, "invoices keep increasing");
        assert!(load_books(&path).unwrap().script.is_empty());
        assert!(!dir.path().join("books.json.tmp").exists());
    }
}
