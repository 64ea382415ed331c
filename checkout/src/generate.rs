//! A journal generator: a realistic year (or any span) of a busy shop, for
//! the query benchmarks and for trying the manager screens on volume.
//! Several merchants on one terminal; sales by card, cash and both; a few
//! declines and cancels; refunds by RRN and voids of the same day; cash in
//! and out; an X report most days; a day close per day with its shift, Z,
//! settlements and reconciliation; and an audit log (logins, approvals,
//! day closes) hash-chained as the engine writes it.
//!
//! The rows are written as the engine writes them (same tables, same JSON
//! for requests), so every query, view and `kasa audit verify` reads them.
//! `kasa journal generate --operations N --out FILE`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDate, TimeZone};
use rusqlite::{params, Transaction};

use crate::api::PaymentMethod;
use crate::journal::audit::row_hash;
use crate::journal::Journal;
use crate::operations::OperationSpec;
use crate::reconcile::{Amounts, ReconRow, Reconciliation};
use crate::Result;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Operations in all (day closes included).
    pub operations: u64,
    /// Over this many days, ending the day before `last_day`.
    pub days: u32,
    /// Merchants on the terminal (indexes 1..=n).
    pub merchants: u8,
    /// Audit rows in all.
    pub audit_rows: u64,
    /// The day after the last generated day.
    pub last_day: NaiveDate,
    pub time_zone: chrono_tz::Tz,
    pub seed: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            operations: 1_000_000,
            days: 365,
            merchants: 3,
            audit_rows: 1_000_000,
            last_day: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            time_zone: crate::clock::DEFAULT_TIME_ZONE,
            seed: 7,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenSummary {
    pub operations: u64,
    pub payments: u64,
    pub audit_rows: u64,
    pub first_day: String,
    pub last_day: String,
    /// Some RRNs and last-four digits that exist, for searches.
    pub sample_rrns: Vec<String>,
    pub sample_last4: Vec<String>,
}

/// A small, fast, seeded generator (xorshift64*): the same seed gives the
/// same journal.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Per mille.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// A card sale the day's refunds and voids can give back.
#[derive(Debug, Clone)]
struct CardSale {
    op: i64,
    payment: i64,
    amount: i64,
    merchant: u8,
    receipt: i64,
}

struct Day<'a> {
    tx: &'a Transaction<'a>,
    rng: &'a mut Rng,
    day: String,
    shift: i64,
    merchants: u8,
    next_rrn: &'a mut u64,
    next_doc: &'a mut i64,
    invoices: &'a mut BTreeMap<u8, u64>,
    batches: &'a BTreeMap<u8, u64>,
    totals: BTreeMap<(u8, &'static str), Amounts>,
    sales: Vec<CardSale>,
    summary: &'a mut GenSummary,
}

const PANS: [&str; 6] = ["516875", "414962", "535145", "403021", "557721", "444111"];

impl Day<'_> {
    #[allow(clippy::too_many_arguments)] // one row's columns, named at the call
    fn operation(
        &mut self,
        kind: &str,
        state: &str,
        spec: &OperationSpec,
        merchant: u8,
        total: i64,
        original: Option<i64>,
        at: &str,
    ) -> Result<i64> {
        let request = serde_json::to_string(spec).unwrap_or_default();
        let key = format!("gen-{}-{}", self.day, self.rng.next());
        crate::journal::exec(
            self.tx,
            "INSERT INTO operations (key, kind, state, request, request_hash, actor, merchant,
                 business_day, shift_id, total, original_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'generated', 'cashier', ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            params![key, kind, state, request, merchant, self.day, self.shift, total, original, at],
        )?;
        let id = self.tx.last_insert_rowid();
        crate::journal::exec(
            self.tx,
            "INSERT INTO operation_events (operation_id, at, what, detail) VALUES (?1, ?2, ?3, NULL)",
            params![id, at, state],
        )?;
        Ok(id)
    }

    fn step(&mut self, op: i64, name: &str, state: &str, at: &str) -> Result<()> {
        crate::journal::exec(
            self.tx,
            "INSERT INTO steps (operation_id, name, attempt, state, started_at, finished_at)
             VALUES (?1, ?2, 1, ?3, ?4, ?4)",
            params![op, name, state, at],
        )?;
        Ok(())
    }

    fn document(&mut self, op: i64, kind: &str, amount: i64, at: &str) -> Result<i64> {
        *self.next_doc += 1;
        let n = *self.next_doc;
        crate::journal::exec(
            self.tx,
            "INSERT INTO fiscal_documents (operation_id, kind, number, amount, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![op, kind, n, amount, at],
        )?;
        Ok(n)
    }

    fn count(&mut self, merchant: u8, method: &'static str, amount: i64, returns: bool) {
        let t = self.totals.entry((merchant, method)).or_default();
        if returns {
            t.returns_count += 1;
            t.returns += amount;
        } else {
            t.sales_count += 1;
            t.sales += amount;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cash_payment(
        &mut self,
        op: i64,
        n: u32,
        amount: i64,
        merchant: u8,
        returns: bool,
        at: &str,
    ) -> Result<i64> {
        crate::journal::exec(
            self.tx,
            "INSERT INTO payments (operation_id, key, method, card_action, state, requested,
                 approved, tendered, change_given, merchant, returns, created_at, updated_at)
             VALUES (?1, ?2, 'cash', 'none', 'approved', ?3, ?3, ?3, 0, ?4, ?5, ?6, ?6)",
            params![op, format!("gen-{op}-{n}"), amount, merchant, returns, at],
        )?;
        self.count(merchant, "cash", amount, returns);
        Ok(self.tx.last_insert_rowid())
    }

    #[allow(clippy::too_many_arguments)]
    fn card_payment(
        &mut self,
        op: i64,
        n: u32,
        amount: i64,
        merchant: u8,
        action: &str,
        state: &str,
        refund_of: Option<i64>,
        at: &str,
    ) -> Result<(i64, Option<String>, Option<String>)> {
        let approved = state == "approved";
        let returns = action != "purchase";
        let (rrn, auth, pan, invoice) = if approved {
            *self.next_rrn += 1;
            let inv = self.invoices.entry(merchant).or_insert(0);
            *inv += 1;
            let pan = format!(
                "{}******{:04}",
                PANS[self.rng.below(PANS.len() as u64) as usize],
                self.rng.below(10_000)
            );
            (
                Some(format!("{:012}", *self.next_rrn)),
                Some(format!("{:06}", self.rng.below(1_000_000))),
                Some(pan),
                Some(inv.to_string()),
            )
        } else {
            (None, None, None, None)
        };
        let batch = self.batches.get(&merchant).map(|b| b.to_string());
        crate::journal::exec(
            self.tx,
            "INSERT INTO payments (operation_id, key, method, card_action, state, requested,
                 approved, refund_of, merchant, rrn, auth_code, masked_pan, card_scheme,
                 terminal_id, merchant_id, invoice, batch, response_code, returns,
                 decline_code, created_at, updated_at)
             VALUES (?1, ?2, 'card', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'MASTERCARD',
                 ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)",
            params![
                op,
                format!("gen-{op}-{n}"),
                action,
                state,
                amount,
                if approved { amount } else { 0 },
                refund_of,
                merchant,
                rrn,
                auth,
                pan,
                format!("KASA{merchant:04}"),
                format!("S1KASA{merchant:02}"),
                invoice,
                batch.as_ref().filter(|_| approved),
                if approved { "00" } else { "05" },
                returns,
                (!approved).then_some("terminal.declined"),
                at
            ],
        )?;
        if approved {
            self.count(merchant, "card", amount, returns);
            self.summary.payments += 1;
        }
        if self.summary.sample_rrns.len() < 64 && approved && self.rng.chance(3) {
            if let (Some(r), Some(p)) = (&rrn, &pan) {
                self.summary.sample_rrns.push(r.clone());
                self.summary.sample_last4.push(p[p.len() - 4..].to_string());
            }
        }
        Ok((self.tx.last_insert_rowid(), rrn, invoice))
    }

    fn lines(amount: i64) -> Vec<fiscal::ReceiptLine> {
        vec![fiscal::ReceiptLine {
            name: "Товари".into(),
            tax_group: 'А',
            price: amount,
            quantity_milli: 1000,
            discount: 0,
        }]
    }

    /// One operation at `at`.
    fn one(&mut self, at: &str) -> Result<()> {
        let merchant = 1 + u8::try_from(self.rng.below(u64::from(self.merchants))).unwrap_or(0);
        let amount = 500 + i64::try_from(self.rng.below(150_000)).unwrap_or(0);
        let roll = self.rng.below(1000);
        match roll {
            // A refund by RRN of an earlier card sale of the day.
            0..=14 if !self.sales.is_empty() => {
                let i = self.rng.below(self.sales.len() as u64) as usize;
                let s = self.sales[i].clone();
                let back = if self.rng.chance(500) {
                    s.amount
                } else {
                    s.amount / 2 + 1
                };
                let spec = OperationSpec::Refund {
                    lines: Self::lines(back),
                    original_receipt: u64::try_from(s.receipt).ok(),
                };
                let op =
                    self.operation("refund", "done", &spec, s.merchant, back, Some(s.op), at)?;
                let (p, _, _) = self.card_payment(
                    op,
                    1,
                    back,
                    s.merchant,
                    "refund",
                    "approved",
                    Some(s.payment),
                    at,
                )?;
                self.step(op, &format!("charge:{p}"), "done", at)?;
                self.step(op, "receipt", "done", at)?;
                self.document(op, "return_receipt", back, at)?;
            }
            // A void of a card sale of the day (whole).
            15..=19 if !self.sales.is_empty() => {
                let i = self.rng.below(self.sales.len() as u64) as usize;
                let s = self.sales.swap_remove(i);
                let spec = OperationSpec::Void {
                    lines: Self::lines(s.amount),
                    original_receipt: u64::try_from(s.receipt).ok(),
                };
                let op =
                    self.operation("void", "done", &spec, s.merchant, s.amount, Some(s.op), at)?;
                let (p, _, _) = self.card_payment(
                    op,
                    1,
                    s.amount,
                    s.merchant,
                    "void",
                    "approved",
                    Some(s.payment),
                    at,
                )?;
                self.step(op, &format!("charge:{p}"), "done", at)?;
                self.step(op, "receipt", "done", at)?;
                self.document(op, "return_receipt", s.amount, at)?;
            }
            20..=24 => {
                let kind = if roll < 22 { "cash_in" } else { "cash_out" };
                let spec = if kind == "cash_in" {
                    OperationSpec::CashIn { amount }
                } else {
                    OperationSpec::CashOut { amount }
                };
                let op = self.operation(kind, "done", &spec, 0, amount, None, at)?;
                self.step(op, "drawer", "done", at)?;
                self.document(op, kind, amount, at)?;
            }
            // A declined card, or a cancel on the terminal.
            25..=54 => {
                let state = if roll < 45 { "declined" } else { "cancelled" };
                let spec = OperationSpec::Sale {
                    lines: Self::lines(amount),
                };
                let op = self.operation("sale", state, &spec, merchant, amount, None, at)?;
                let pstate = if state == "declined" {
                    "declined"
                } else {
                    "cancelled"
                };
                let (p, _, _) =
                    self.card_payment(op, 1, amount, merchant, "purchase", pstate, None, at)?;
                self.step(op, &format!("charge:{p}"), "done", at)?;
            }
            // Cash only.
            55..=354 => {
                let spec = OperationSpec::Sale {
                    lines: Self::lines(amount),
                };
                let op = self.operation("sale", "done", &spec, merchant, amount, None, at)?;
                self.cash_payment(op, 1, amount, merchant, false, at)?;
                self.step(op, "receipt", "done", at)?;
                self.document(op, "sale_receipt", amount, at)?;
            }
            // Card and cash.
            355..=404 => {
                let spec = OperationSpec::Sale {
                    lines: Self::lines(amount),
                };
                let op = self.operation("sale", "done", &spec, merchant, amount, None, at)?;
                let card = amount / 2;
                let (p, _, _) =
                    self.card_payment(op, 1, card, merchant, "purchase", "approved", None, at)?;
                self.cash_payment(op, 2, amount - card, merchant, false, at)?;
                self.step(op, &format!("charge:{p}"), "done", at)?;
                self.step(op, "receipt", "done", at)?;
                self.document(op, "sale_receipt", amount, at)?;
            }
            // Card.
            _ => {
                let spec = OperationSpec::Sale {
                    lines: Self::lines(amount),
                };
                let op = self.operation("sale", "done", &spec, merchant, amount, None, at)?;
                let (p, _, _) =
                    self.card_payment(op, 1, amount, merchant, "purchase", "approved", None, at)?;
                self.step(op, &format!("charge:{p}"), "done", at)?;
                self.step(op, "receipt", "done", at)?;
                let receipt = self.document(op, "sale_receipt", amount, at)?;
                self.sales.push(CardSale {
                    op,
                    payment: p,
                    amount,
                    merchant,
                    receipt,
                });
            }
        }
        self.summary.operations += 1;
        Ok(())
    }
}

/// Fill the journal at `path` (created if missing) as `o` says.
pub fn generate(path: &Path, o: &GenOptions) -> Result<GenSummary> {
    let journal = Journal::open(path)?;
    journal.read(|c| {
        c.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -200000;")?;
        Ok(())
    })?;
    let mut rng = Rng(o.seed.max(1));
    let mut summary = GenSummary::default();
    let days = o.days.max(1);
    let per_day = (o.operations / u64::from(days)).max(1);
    let audit_per_day = o.audit_rows / u64::from(days);
    let mut next_rrn = 100_000_000_000u64;
    let mut next_doc = 0i64;
    let mut invoices: BTreeMap<u8, u64> = BTreeMap::new();
    let mut batches: BTreeMap<u8, u64> = (1..=o.merchants).map(|m| (m, 1)).collect();
    let (mut audit_id, mut audit_hash) = journal.audit_head()?;
    let first = o.last_day - Duration::days(i64::from(days));
    summary.first_day = first.format("%Y-%m-%d").to_string();
    for d in 0..days {
        let date = first + Duration::days(i64::from(d));
        let day = date.format("%Y-%m-%d").to_string();
        summary.last_day = day.clone();
        // The day's operations, 08:00 to 21:00 local, evenly spread.
        let open_local = date.and_hms_opt(8, 0, 0).unwrap_or_default();
        let start = o
            .time_zone
            .from_local_datetime(&open_local)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        let span_ms = 13 * 3600 * 1000;
        let remaining = o.operations.saturating_sub(summary.operations);
        let count = if d + 1 == days {
            remaining.saturating_sub(1)
        } else {
            per_day.saturating_sub(1).min(remaining.saturating_sub(1))
        };
        journal.write(|tx| {
            let at0 = start.to_rfc3339();
            crate::journal::exec(
                tx,
                "INSERT INTO shifts (business_day, opened_at) VALUES (?1, ?2)",
                params![day, at0],
            )?;
            let shift = tx.last_insert_rowid();
            let mut g = Day {
                tx,
                rng: &mut rng,
                day: day.clone(),
                shift,
                merchants: o.merchants.max(1),
                next_rrn: &mut next_rrn,
                next_doc: &mut next_doc,
                invoices: &mut invoices,
                batches: &batches,
                totals: BTreeMap::new(),
                sales: Vec::new(),
                summary: &mut summary,
            };
            for i in 0..count {
                let ms = i64::try_from(i * span_ms / count.max(1)).unwrap_or(0);
                let at = (start + Duration::milliseconds(ms)).to_rfc3339();
                g.one(&at)?;
            }
            // The day close.
            let at = (start + Duration::milliseconds(i64::try_from(span_ms).unwrap_or(0) + 60_000)).to_rfc3339();
            let merchants: Vec<u8> = (1..=g.merchants).collect();
            let op = g.operation(
                "day_close",
                "done",
                &OperationSpec::DayClose {
                    merchants: merchants.clone(),
                },
                0,
                0,
                None,
                &at,
            )?;
            g.step(op, "survey", "done", &at)?;
            for m in &merchants {
                g.step(op, &format!("settle:{m}"), "done", &at)?;
            }
            g.step(op, "z", "done", &at)?;
            g.step(op, "reconcile", "done", &at)?;
            let z = g.document(op, "z_report", 0, &at)?;
            g.summary.operations += 1;
            let mut rows = Vec::new();
            for ((m, method), a) in &g.totals {
                rows.push(ReconRow {
                    merchant: Some(*m),
                    method: if *method == "card" {
                        PaymentMethod::Card
                    } else {
                        PaymentMethod::Cash
                    },
                    journal: *a,
                    terminal: (*method == "card").then_some(*a),
                    fiscal: Some(*a),
                });
            }
            let recon = Reconciliation {
                shift,
                business_day: day.clone(),
                rows,
                differences: Vec::new(),
                unchecked: Vec::new(),
            };
            for m in &merchants {
                let card = g.totals.get(&(*m, "card")).copied().unwrap_or_default();
                let totals = terminal::BatchTotals {
                    debit_count: card.sales_count,
                    debit_amount: card.sales,
                    credit_count: card.returns_count,
                    credit_amount: card.returns,
                    cancelled_count: 0,
                    cancelled_amount: 0,
                };
                crate::journal::exec(
                    tx,
                    "INSERT INTO settlements (shift_id, merchant, state, totals, requested_at, done_at)
                     VALUES (?1, ?2, 'done', ?3, ?4, ?4)",
                    params![shift, m, serde_json::to_string(&totals).unwrap_or_default(), at],
                )?;
            }
            // The day's audit rows, the day close last.
            let n = if d + 1 == days {
                o.audit_rows.saturating_sub(u64::try_from(audit_id).unwrap_or(0))
            } else {
                audit_per_day
            };
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit (id, at, actor, action, operation_id, reason, change, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for i in 0..n {
                let last = i + 1 == n;
                let ms = i64::try_from(i * span_ms / n.max(1)).unwrap_or(0);
                let at_i = if last {
                    at.clone()
                } else {
                    (start + Duration::milliseconds(ms)).to_rfc3339()
                };
                let (actor, action, opid, change) = if last {
                    (
                        "manager",
                        "day_close",
                        Some(op),
                        Some(format!("{{\"business_day\":\"{day}\",\"shift\":{shift}}}")),
                    )
                } else if i % 7 == 3 {
                    ("manager", "approve_refund", None, None)
                } else {
                    ("cashier", "login", None, None)
                };
                let hash = row_hash(
                    &audit_hash,
                    &at_i,
                    actor,
                    action,
                    opid,
                    None,
                    change.as_deref(),
                );
                audit_id += 1;
                stmt.execute(params![
                    audit_id,
                    at_i,
                    actor,
                    action,
                    opid,
                    Option::<String>::None,
                    change,
                    audit_hash,
                    hash
                ])?;
                audit_hash = hash;
            }
            drop(stmt);
            let head = crate::journal::audit::printed_head(audit_id, &audit_hash);
            crate::journal::exec(
                tx,
                "UPDATE shifts SET closed_at = ?2, close_operation = ?3, z_number = ?4,
                     fiscal_totals = '{}', terminal_totals = '{}', reconciliation = ?5,
                     audit_head = ?6
                 WHERE id = ?1",
                params![
                    shift,
                    at,
                    op,
                    i64::from(d) + 1,
                    serde_json::to_string(&recon).unwrap_or_default(),
                    head
                ],
            )?;
            let _ = z;
            Ok(())
        })?;
        for b in batches.values_mut() {
            *b += 1;
        }
        summary.audit_rows = u64::try_from(audit_id).unwrap_or(0);
    }
    journal.read(|c| {
        c.execute_batch("PRAGMA synchronous = FULL; ANALYZE;")?;
        Ok(())
    })?;
    Ok(summary)
}
