//! What every terminal emulator shares: a scripted outcome queue and a small
//! "bank" that keeps increasing invoice numbers, one batch per merchant kept
//! until settlement (with its totals), and a journal that lookups read, so that
//! what a lookup answers is what was processed.

use std::collections::{HashMap, VecDeque};
use std::str::FromStr;

use chrono::{Local, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::recovery::DATE_TIME_FORMAT;
use crate::{BatchTotals, CardTransaction, Error, Result, TxnKind, TxnStatus};

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
    /// The host approves part of the amount (PrivatBank RC 0010): half, at least 1.
    PartialApproval,
    /// The terminal never answers (it waits for a card until interrupted).
    Timeout,
    /// The host approves, the transaction is recorded, and the link drops before
    /// the reply is sent.
    DropAfterApproval,
    /// The terminal answers that it is busy.
    Busy,
}

impl FromStr for Outcome {
    type Err = Error;

    /// `approve`, `decline` (= `decline:05`), `decline:51`, `cancel`, `no-host`,
    /// `no-paper`, `partial`, `timeout`, `drop`, `busy`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        let (name, arg) = match s.split_once([':', '=']) {
            Some((n, a)) => (n.to_string(), Some(a.trim().to_string())),
            None => (s.clone(), None),
        };
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
            _ => return Err(Error::InvalidRequest(format!("unknown outcome {s:?}"))),
        })
    }
}

/// One merchant (legal entity) configured on the emulated terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantProfile {
    pub index: u8,
    pub terminal_id: String,
    pub merchant_id: String,
    pub name: String,
}

/// One transaction the emulated terminal processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub invoice: u64,
    pub merchant: u8,
    pub kind: TxnKind,
    pub status: TxnStatus,
    /// Approved (or declined) amount, minor units.
    pub amount: i64,
    pub rrn: String,
    pub auth_code: String,
    pub pan: String,
    pub scheme: String,
    /// Two-digit host code, `00` when approved, `10` partial.
    pub host_code: String,
    pub at: NaiveDateTime,
    pub batch: u32,
    pub request_id: String,
    /// For a void: the invoice it voided.
    pub voids: Option<u64>,
    /// Set on a purchase or refund voided later.
    pub voided: bool,
    /// For a refund: the RRN of the purchase it refunds.
    pub refund_of: Option<String>,
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
        }
    }

    /// `true` for an approved purchase or refund that counts in the totals.
    fn counts(&self) -> bool {
        self.status == TxnStatus::Approved
            && matches!(self.kind, TxnKind::Purchase | TxnKind::Refund)
    }
}

/// Test cards, masked as the payment systems require (first 6, last 4).
const CARDS: [(&str, &str); 4] = [
    ("473118******9838", "VISA"),
    ("516875******1234", "MASTERCARD"),
    ("414962******0042", "VISA"),
    ("537541******7777", "MASTERCARD"),
];

/// The emulated terminal's books.
#[derive(Debug, Clone)]
pub struct Bank {
    pub merchants: Vec<MerchantProfile>,
    next_invoice: u64,
    next_rrn: u64,
    batches: HashMap<u8, u32>,
    /// The open batches of all merchants, in order.
    journal: Vec<Record>,
    /// The last operation performed (also after its batch was settled).
    last: Option<Record>,
    script: VecDeque<Outcome>,
    default_outcome: Outcome,
}

impl Default for Bank {
    fn default() -> Self {
        Self::new(3)
    }
}

impl Bank {
    /// A bank with `merchants` merchants, indexes 1.. (0 = the first one).
    pub fn new(merchants: u8) -> Self {
        let merchants = (1..=merchants.max(1))
            .map(|i| MerchantProfile {
                index: i,
                terminal_id: format!("KASA{i:04}"),
                merchant_id: format!("S1KASA{i:02}"),
                name: format!("ФОП Каса {i}"),
            })
            .collect();
        Self {
            merchants,
            next_invoice: 1,
            next_rrn: 1,
            batches: HashMap::new(),
            journal: Vec::new(),
            last: None,
            script: VecDeque::new(),
            default_outcome: Outcome::Approve,
        }
    }

    /// Queue an outcome for the next financial operation.
    pub fn script_next(&mut self, outcome: Outcome) {
        self.script.push_back(outcome);
    }

    /// The outcome used when nothing is queued.
    pub fn set_default(&mut self, outcome: Outcome) {
        self.default_outcome = outcome;
    }

    /// Take the outcome for the operation starting now.
    pub fn next_outcome(&mut self) -> Outcome {
        self.script
            .pop_front()
            .unwrap_or_else(|| self.default_outcome.clone())
    }

    /// The merchant profile for an index (0 or unknown = the first).
    pub fn profile(&self, merchant: u8) -> MerchantProfile {
        self.merchants
            .iter()
            .find(|m| m.index == merchant)
            .or_else(|| self.merchants.first())
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
        *self.batches.get(&self.resolve(merchant)).unwrap_or(&1)
    }

    fn new_record(&mut self, kind: TxnKind, merchant: u8, amount: i64, code: &str) -> Record {
        let merchant = self.resolve(merchant);
        let invoice = self.next_invoice;
        self.next_invoice += 1;
        let (pan, scheme) = CARDS[(invoice % CARDS.len() as u64) as usize];
        let approved = code == "00" || code == "10";
        let (rrn, auth) = if approved {
            let n = self.next_rrn;
            self.next_rrn += 1;
            (
                format!("{:012}", 632_600_000_000 + n * 7919),
                format!("{:06}", (n * 104_729 + 17) % 1_000_000),
            )
        } else {
            (String::new(), String::new())
        };
        Record {
            invoice,
            merchant,
            kind,
            status: if approved {
                TxnStatus::Approved
            } else {
                TxnStatus::Declined
            },
            amount,
            rrn,
            auth_code: auth,
            pan: pan.into(),
            scheme: scheme.into(),
            host_code: code.into(),
            at: Local::now().naive_local(),
            batch: self.batch(merchant),
            request_id: String::new(),
            voids: None,
            voided: false,
            refund_of: None,
        }
    }

    fn push(&mut self, record: Record) -> Record {
        self.journal.push(record.clone());
        self.last = Some(record.clone());
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
        let approved_amount = if code == "10" {
            (amount / 2).max(1)
        } else {
            amount
        };
        let mut record = self.new_record(kind, merchant, approved_amount, code);
        record.request_id = request_id.into();
        self.push(record)
    }

    /// Check that a refund of `amount` against `rrn` is allowed; the original
    /// need not be in the open batch (refunds work across settlements).
    pub fn check_refund(&self, amount: i64, rrn: &str) -> Result<()> {
        let original = self
            .journal
            .iter()
            .find(|r| r.rrn == rrn && r.kind == TxnKind::Purchase);
        if let Some(orig) = original {
            let refunded: i64 = self
                .journal
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
        self.check_refund(amount, rrn)?;
        let mut record = self.new_record(TxnKind::Refund, merchant, amount, code);
        record.refund_of = Some(rrn.to_string());
        Ok(self.push(record))
    }

    /// Void a transaction of the open batch by invoice number.
    pub fn void(&mut self, invoice: u64, request_id: &str) -> Result<Record> {
        let Some(i) = self
            .journal
            .iter()
            .position(|r| r.invoice == invoice && r.counts() && !r.voided)
        else {
            return Err(Error::device("1000", "Чек не знайдено в пакеті"));
        };
        self.journal[i].voided = true;
        let orig = self.journal[i].clone();
        let mut record = self.new_record(TxnKind::Void, orig.merchant, orig.amount, "00");
        record.pan = orig.pan.clone();
        record.scheme = orig.scheme.clone();
        record.voids = Some(orig.invoice);
        record.request_id = request_id.into();
        Ok(self.push(record))
    }

    /// Mark the record with `invoice` reversed (interrupt after approval).
    pub fn reverse(&mut self, invoice: u64) {
        self.set_status(invoice, TxnStatus::Reversed);
    }

    /// Change the status of the record with `invoice` (reversal, auto-cancel).
    pub fn set_status(&mut self, invoice: u64, status: TxnStatus) {
        for r in self.journal.iter_mut().filter(|r| r.invoice == invoice) {
            r.status = status;
        }
        if let Some(last) = self.last.as_mut().filter(|r| r.invoice == invoice) {
            last.status = status;
        }
    }

    /// Totals of the open batch of one merchant (0 = all).
    pub fn totals(&self, merchant: u8) -> BatchTotals {
        let mut t = BatchTotals::default();
        for r in self
            .journal
            .iter()
            .filter(|r| merchant == 0 || r.merchant == self.resolve(merchant))
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
        let target = if merchant == 0 {
            None
        } else {
            Some(self.resolve(merchant))
        };
        let hit = |r: &Record| target.is_none_or(|m| r.merchant == m);
        if !self.journal.iter().any(hit) {
            return Err(Error::device(
                "0001",
                "Cannot obtain receipt: log file is empty!",
            ));
        }
        let totals = self.totals(merchant);
        let settled: Vec<u8> = self
            .merchants
            .iter()
            .map(|m| m.index)
            .filter(|m| target.is_none_or(|t| *m == t))
            .collect();
        self.journal.retain(|r| !hit(r));
        for m in settled {
            *self.batches.entry(m).or_insert(1) += 1;
        }
        Ok(totals)
    }

    /// A record of the open batch by invoice; `0` = the last operation performed.
    pub fn lookup(&self, invoice: u64) -> Option<&Record> {
        if invoice == 0 {
            return self.last.as_ref();
        }
        self.journal.iter().find(|r| r.invoice == invoice)
    }

    /// The open batch, in order.
    pub fn journal(&self) -> &[Record] {
        &self.journal
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
        assert!("explode".parse::<Outcome>().is_err());
        assert!("decline:5x".parse::<Outcome>().is_err());
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
    }
}
