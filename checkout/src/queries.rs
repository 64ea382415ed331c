//! The manager's questions to the journal: the days, one day's report (per
//! merchant and payment type, per terminal batch, per hour, its shifts with
//! their settlements and reconciliation), a search of the transactions
//! (by RRN, last four digits, amount, time range, status, payment type,
//! merchant, kind, day, shift or batch) with paging and totals, and one
//! operation's whole history. Every query runs on an index (see
//! `migrations/0003_shop_day.sql`); none scans the journal.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{OperationKind, OperationState, OperationView, PaymentMethod, PaymentState};
use crate::journal::audit::AuditRow;
use crate::journal::Journal;
use crate::money::Money;
use crate::reconcile::Reconciliation;
use crate::{Error, Result};

/// The most rows a page holds.
pub const MAX_PAGE: u32 = 200;
/// A page's rows when not asked.
pub const DEFAULT_PAGE: u32 = 50;
/// The most rows a page of an export holds.
pub const EXPORT_PAGE: u32 = 2_000;

// ---- the days ---------------------------------------------------------------

/// Which days to list: the newest first, before `before` (a date).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DaysQuery {
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One business day in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DaySummary {
    pub business_day: String,
    /// Its fiscal shifts (usually one).
    #[ts(type = "number[]")]
    pub shifts: Vec<i64>,
    /// A shift of the day is still open (no Z yet).
    pub open: bool,
    #[ts(type = "number | null")]
    pub z_number: Option<i64>,
    /// The journal's takings (approved sales) and money given back, minor
    /// units; none for a closed day whose reconciliation was not kept.
    #[ts(type = "number | null")]
    pub sales: Option<i64>,
    #[ts(type = "number | null")]
    pub returns: Option<i64>,
    /// Differences the day close named; none before the close.
    pub differences: Option<u32>,
    /// Settlements still pending.
    pub pending_settlements: u32,
}

/// The days, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayList {
    pub days: Vec<DaySummary>,
}

// ---- one day ----------------------------------------------------------------

/// One business day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    pub business_day: String,
}

/// Takings of one merchant and payment type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TotalsRow {
    pub merchant: u8,
    pub method: PaymentMethod,
    pub sales_count: u32,
    #[ts(type = "number")]
    pub sales: i64,
    pub returns_count: u32,
    #[ts(type = "number")]
    pub returns: i64,
}

/// Operations of one kind in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct KindCount {
    pub kind: OperationKind,
    pub state: OperationState,
    pub count: u32,
}

/// One terminal batch's card payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BatchSummary {
    pub merchant: u8,
    pub batch: String,
    pub count: u32,
    #[ts(type = "number")]
    pub sales: i64,
    #[ts(type = "number")]
    pub returns: i64,
}

/// Sales in one local hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HourRow {
    pub hour: u8,
    pub count: u32,
    #[ts(type = "number")]
    pub card: i64,
    #[ts(type = "number")]
    pub cash: i64,
}

/// A settlement of one merchant at a day close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettlementView {
    #[ts(type = "number")]
    pub shift: i64,
    pub merchant: u8,
    /// `done`, `empty` or `pending`.
    pub state: String,
    pub totals: Option<terminal::BatchTotals>,
    pub error_code: Option<String>,
    pub requested_at: String,
    pub done_at: Option<String>,
}

/// A fiscal shift as the manager sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ShiftView {
    #[ts(type = "number")]
    pub id: i64,
    pub business_day: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    #[ts(type = "number | null")]
    pub close_operation: Option<i64>,
    #[ts(type = "number | null")]
    pub z_number: Option<i64>,
    pub settlements: Vec<SettlementView>,
    pub reconciliation: Option<Reconciliation>,
    /// The audit chain's head as printed on its Z report.
    pub audit_head: Option<String>,
}

/// A business day's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayReport {
    pub business_day: String,
    pub totals: Vec<TotalsRow>,
    pub operations: Vec<KindCount>,
    pub batches: Vec<BatchSummary>,
    /// Approved sales by the shop's local hour.
    pub by_hour: Vec<HourRow>,
    pub shifts: Vec<ShiftView>,
}

/// One shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ShiftQuery {
    #[ts(type = "number")]
    pub shift: i64,
}

// ---- search -----------------------------------------------------------------

/// A search of the transactions (payments); every field narrows it. A
/// page starts after `after` (the previous page's `next`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
pub struct SearchQuery {
    pub rrn: Option<String>,
    /// The card number's last four digits.
    pub last4: Option<String>,
    /// Asked or approved amount, minor units.
    #[ts(type = "number | null")]
    pub amount: Option<Money>,
    /// From this time (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Until this time (RFC 3339), exclusive.
    pub to: Option<String>,
    pub state: Option<PaymentState>,
    pub method: Option<PaymentMethod>,
    pub merchant: Option<u8>,
    pub kind: Option<OperationKind>,
    pub business_day: Option<String>,
    #[ts(type = "number | null")]
    pub shift: Option<i64>,
    /// A terminal batch number (with `merchant`, that merchant's).
    pub batch: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
    /// Leave the totals out (a page turned: they are known).
    pub no_totals: bool,
}

/// One transaction found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TransactionRow {
    #[ts(type = "number")]
    pub payment: i64,
    #[ts(type = "number")]
    pub operation: i64,
    pub kind: OperationKind,
    pub operation_state: OperationState,
    pub method: PaymentMethod,
    pub state: PaymentState,
    /// Gives money back (a refund, void or cash refund).
    pub returns: bool,
    #[ts(type = "number")]
    pub requested: i64,
    #[ts(type = "number")]
    pub approved: i64,
    pub merchant: u8,
    pub rrn: Option<String>,
    pub auth_code: Option<String>,
    pub masked_pan: Option<String>,
    pub invoice: Option<String>,
    pub batch: Option<String>,
    pub terminal_id: Option<String>,
    pub created_at: String,
    pub business_day: String,
}

/// Totals of everything a search matches (not only the page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SearchTotals {
    pub count: u32,
    pub sales_count: u32,
    #[ts(type = "number")]
    pub sales: i64,
    pub returns_count: u32,
    #[ts(type = "number")]
    pub returns: i64,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SearchPage {
    pub rows: Vec<TransactionRow>,
    /// Where the next page starts; none on the last.
    pub next: Option<String>,
    pub totals: Option<SearchTotals>,
}

// ---- one operation ------------------------------------------------------------

/// One attempt of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StepRow {
    pub name: String,
    pub attempt: u32,
    pub state: String,
    pub error_code: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// What the step found or did (the terminal's batch totals of an X or
    /// a day close, a settlement, the Z's totals...), as the engine keeps it.
    #[ts(type = "unknown")]
    pub result: Option<serde_json::Value>,
}

/// A line of an operation's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EventRow {
    pub at: String,
    pub what: String,
    pub detail: Option<String>,
}

/// A printed document with its text as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DocumentRow {
    pub kind: String,
    #[ts(type = "number | null")]
    pub number: Option<i64>,
    #[ts(type = "number")]
    pub amount: i64,
    pub text: Option<String>,
}

/// An operation with everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OperationDetail {
    pub operation: OperationView,
    pub steps: Vec<StepRow>,
    pub history: Vec<EventRow>,
    pub documents: Vec<DocumentRow>,
    pub audit: Vec<AuditRow>,
    #[ts(type = "number | null")]
    pub shift: Option<i64>,
    pub actor: String,
}

// ---- the queries --------------------------------------------------------------

fn check_day(day: &str) -> Result<()> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| Error::InvalidRequest(format!("{day:?} is not a date (YYYY-MM-DD)")))
}

fn check_time(t: &str) -> Result<String> {
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc).to_rfc3339())
        .map_err(|_| Error::InvalidRequest(format!("{t:?} is not a time (RFC 3339)")))
}

fn enum_text<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The reconciliation's journal takings: (sales, returns).
fn takings(r: &Reconciliation) -> (i64, i64) {
    r.rows
        .iter()
        .filter(|row| row.merchant.is_some())
        .fold((0, 0), |(s, t), row| {
            (s + row.journal.sales, t + row.journal.returns)
        })
}

impl Journal {
    /// The business days, newest first (those with a fiscal shift, and
    /// today's when it has none yet).
    pub fn days(&self, q: &DaysQuery, today: &str) -> Result<DayList> {
        if let Some(b) = &q.before {
            check_day(b)?;
        }
        let limit = q.limit.unwrap_or(31).clamp(1, 366);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, business_day, closed_at IS NULL, z_number, reconciliation
                 FROM shifts
                 WHERE business_day IN (
                     SELECT DISTINCT business_day FROM shifts
                     WHERE ?1 IS NULL OR business_day < ?1
                     ORDER BY business_day DESC LIMIT ?2)
                 ORDER BY business_day DESC, id",
            )?;
            let rows = stmt.query_map(rusqlite::params![q.before, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            let mut days: Vec<DaySummary> = Vec::new();
            for row in rows {
                let (id, day, open, z, recon) = row?;
                let recon: Option<Reconciliation> =
                    recon.and_then(|r| serde_json::from_str(&r).ok());
                if days.last().map(|d| &d.business_day) != Some(&day) {
                    days.push(DaySummary {
                        business_day: day.clone(),
                        shifts: Vec::new(),
                        open: false,
                        z_number: None,
                        sales: Some(0),
                        returns: Some(0),
                        differences: Some(0),
                        pending_settlements: 0,
                    });
                }
                let Some(d) = days.last_mut() else { continue };
                d.shifts.push(id);
                d.open |= open;
                d.z_number = z.or(d.z_number);
                match &recon {
                    Some(r) => {
                        let (s, t) = takings(r);
                        d.sales = d.sales.map(|x| x + s);
                        d.returns = d.returns.map(|x| x + t);
                        d.differences = d
                            .differences
                            .map(|x| x + u32::try_from(r.differences.len()).unwrap_or(u32::MAX));
                    }
                    None => {
                        d.sales = None;
                        d.returns = None;
                        d.differences = None;
                    }
                }
                d.pending_settlements += crate::journal::one(
                    c,
                    "SELECT COUNT(*) FROM settlements WHERE shift_id = ?1 AND state = 'pending'",
                    [id],
                    |r| r.get::<_, u32>(0),
                )?;
            }
            // An open day's takings come from the journal itself.
            for d in days.iter_mut().filter(|d| d.open || d.sales.is_none()) {
                let (s, t) = day_takings(c, &d.business_day)?;
                d.sales = Some(s);
                d.returns = Some(t);
            }
            let newest = days.first().map(|d| d.business_day.clone());
            let before_ok = q.before.as_deref().is_none_or(|b| today < b);
            if before_ok && newest.as_deref().is_none_or(|n| n < today) {
                let (s, t) = day_takings(c, today)?;
                days.insert(
                    0,
                    DaySummary {
                        business_day: today.to_string(),
                        shifts: Vec::new(),
                        open: false,
                        z_number: None,
                        sales: Some(s),
                        returns: Some(t),
                        differences: None,
                        pending_settlements: 0,
                    },
                );
                days.truncate(limit as usize);
            }
            Ok(DayList { days })
        })
    }

    /// One business day's report.
    pub fn day_report(&self, day: &str, tz: chrono_tz::Tz) -> Result<DayReport> {
        check_day(day)?;
        self.read(|c| {
            let mut totals = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT p.merchant, p.method, p.returns, COUNT(*), SUM(p.approved)
                 FROM operations o JOIN payments p ON p.operation_id = o.id
                 WHERE o.business_day = ?1 AND p.state = 'approved'
                 GROUP BY p.merchant, p.method, p.returns
                 ORDER BY p.merchant, p.method",
            )?;
            let rows = stmt.query_map([day], |r| {
                Ok((
                    r.get::<_, u8>(0)?,
                    parse_enum::<PaymentMethod>(&r.get::<_, String>(1)?)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            for row in rows {
                let (merchant, method, returns, count, sum) = row?;
                if totals
                    .last()
                    .is_none_or(|t: &TotalsRow| t.merchant != merchant || t.method != method)
                {
                    totals.push(TotalsRow {
                        merchant,
                        method,
                        sales_count: 0,
                        sales: 0,
                        returns_count: 0,
                        returns: 0,
                    });
                }
                if let Some(t) = totals.last_mut() {
                    if returns {
                        t.returns_count += count;
                        t.returns += sum;
                    } else {
                        t.sales_count += count;
                        t.sales += sum;
                    }
                }
            }
            let mut stmt = c.prepare_cached(
                "SELECT kind, state, COUNT(*) FROM operations WHERE business_day = ?1
                 GROUP BY kind, state ORDER BY kind, state",
            )?;
            let operations = stmt
                .query_map([day], |r| {
                    Ok(KindCount {
                        kind: parse_enum(&r.get::<_, String>(0)?)?,
                        state: parse_enum(&r.get::<_, String>(1)?)?,
                        count: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut stmt = c.prepare_cached(
                "SELECT p.merchant, p.batch, COUNT(*),
                        SUM(CASE WHEN p.returns = 0 THEN p.approved ELSE 0 END),
                        SUM(CASE WHEN p.returns = 1 THEN p.approved ELSE 0 END)
                 FROM operations o JOIN payments p ON p.operation_id = o.id
                 WHERE o.business_day = ?1 AND p.state = 'approved' AND p.method = 'card'
                 GROUP BY p.merchant, p.batch ORDER BY p.merchant, p.batch",
            )?;
            let batches = stmt
                .query_map([day], |r| {
                    Ok(BatchSummary {
                        merchant: r.get(0)?,
                        batch: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        count: r.get(2)?,
                        sales: r.get(3)?,
                        returns: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut hours: BTreeMap<u8, HourRow> = BTreeMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT p.created_at, p.method, p.approved
                 FROM operations o JOIN payments p ON p.operation_id = o.id
                 WHERE o.business_day = ?1 AND o.kind = 'sale' AND p.state = 'approved'",
            )?;
            let rows = stmt.query_map([day], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (at, method, amount) = row?;
                let Ok(t) = DateTime::parse_from_rfc3339(&at) else {
                    continue;
                };
                let hour = u8::try_from(t.with_timezone(&tz).hour()).unwrap_or(0);
                let h = hours.entry(hour).or_insert(HourRow {
                    hour,
                    count: 0,
                    card: 0,
                    cash: 0,
                });
                h.count += 1;
                if method == "card" {
                    h.card += amount;
                } else {
                    h.cash += amount;
                }
            }
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM shifts WHERE business_day = ?1 ORDER BY id")?
                .query_map([day], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let shifts = ids
                .into_iter()
                .filter_map(|id| shift_view(c, id).transpose())
                .collect::<Result<Vec<_>>>()?;
            Ok(DayReport {
                business_day: day.to_string(),
                totals,
                operations,
                batches,
                by_hour: hours.into_values().collect(),
                shifts,
            })
        })
    }

    /// One shift with its settlements and reconciliation.
    pub fn shift_view(&self, id: i64) -> Result<ShiftView> {
        self.read(|c| shift_view(c, id))?
            .ok_or_else(|| Error::NotFound(format!("shift {id}")))
    }

    /// The settlements still pending, oldest first.
    pub fn pending_settlement_views(&self) -> Result<Vec<SettlementView>> {
        self.read(|c| settlements(c, "WHERE state = 'pending'", None))
    }

    /// Search the transactions.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage> {
        self.search_paged(q, MAX_PAGE)
    }

    /// Search the transactions in pages of up to [`EXPORT_PAGE`] rows (an
    /// export reads the whole result a page at a time).
    pub fn search_export(&self, q: &SearchQuery) -> Result<SearchPage> {
        self.search_paged(q, EXPORT_PAGE)
    }

    fn search_paged(&self, q: &SearchQuery, max_page: u32) -> Result<SearchPage> {
        let mut wh: Vec<&str> = Vec::new();
        let mut args: Vec<Sql> = Vec::new();
        let mut join = false;
        if let Some(rrn) = q.rrn.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if rrn.len() > 32 {
                return Err(Error::InvalidRequest(
                    "an RRN has at most 32 characters".into(),
                ));
            }
            wh.push("p.rrn = ?");
            args.push(Sql::Text(rrn.to_string()));
        }
        if let Some(l4) = q.last4.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if l4.len() != 4 || !l4.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::InvalidRequest(
                    "the card's last digits are 4 digits".into(),
                ));
            }
            wh.push("p.pan_last4 = ?");
            args.push(Sql::Text(l4.to_string()));
        }
        if let Some(a) = q.amount {
            let a = a.positive()?;
            wh.push("(p.approved = ? OR p.requested = ?)");
            args.push(Sql::Integer(a));
            args.push(Sql::Integer(a));
        }
        if let Some(t) = &q.from {
            wh.push("p.created_at >= ?");
            args.push(Sql::Text(check_time(t)?));
        }
        if let Some(t) = &q.to {
            wh.push("p.created_at < ?");
            args.push(Sql::Text(check_time(t)?));
        }
        if let Some(s) = &q.state {
            wh.push("p.state = ?");
            args.push(Sql::Text(enum_text(s)));
        }
        if let Some(m) = &q.method {
            wh.push("p.method = ?");
            args.push(Sql::Text(enum_text(m)));
        }
        if let Some(m) = q.merchant {
            wh.push("p.merchant = ?");
            args.push(Sql::Integer(i64::from(m)));
        }
        if let Some(b) = q.batch.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            wh.push("p.batch = ?");
            args.push(Sql::Text(b.to_string()));
        }
        if let Some(k) = &q.kind {
            wh.push("o.kind = ?");
            args.push(Sql::Text(k.as_str().to_string()));
            join = true;
        }
        if let Some(d) = &q.business_day {
            check_day(d)?;
            wh.push("o.business_day = ?");
            args.push(Sql::Text(d.clone()));
            join = true;
        }
        if let Some(s) = q.shift {
            wh.push("o.shift_id = ?");
            args.push(Sql::Integer(s));
            join = true;
        }
        let filter = if wh.is_empty() {
            "1".to_string()
        } else {
            wh.join(" AND ")
        };
        let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, max_page);
        let mut page_filter = filter.clone();
        let mut page_args = args.clone();
        if let Some(after) = &q.after {
            let (at, id) = after
                .rsplit_once('|')
                .and_then(|(at, id)| Some((check_time(at).ok()?, id.parse::<i64>().ok()?)))
                .ok_or_else(|| Error::InvalidRequest(format!("{after:?} is not a page mark")))?;
            page_filter.push_str(" AND (p.created_at, p.id) < (?, ?)");
            page_args.push(Sql::Text(at));
            page_args.push(Sql::Integer(id));
        }
        page_args.push(Sql::Integer(i64::from(limit) + 1));
        self.read(|c| {
            let sql = format!(
                "SELECT p.id, p.operation_id, o.kind, o.state, p.method, p.state, p.returns,
                        p.requested, p.approved, p.merchant, p.rrn, p.auth_code, p.masked_pan,
                        p.invoice, p.batch, p.terminal_id, p.created_at, o.business_day
                 FROM payments p JOIN operations o ON o.id = p.operation_id
                 WHERE {page_filter}
                 ORDER BY p.created_at DESC, p.id DESC LIMIT ?"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt
                .query_map(params_from_iter(page_args.iter()), |r| {
                    Ok(TransactionRow {
                        payment: r.get(0)?,
                        operation: r.get(1)?,
                        kind: parse_enum(&r.get::<_, String>(2)?)?,
                        operation_state: parse_enum(&r.get::<_, String>(3)?)?,
                        method: parse_enum(&r.get::<_, String>(4)?)?,
                        state: parse_enum(&r.get::<_, String>(5)?)?,
                        returns: r.get(6)?,
                        requested: r.get(7)?,
                        approved: r.get(8)?,
                        merchant: r.get(9)?,
                        rrn: r.get(10)?,
                        auth_code: r.get(11)?,
                        masked_pan: r.get(12)?,
                        invoice: r.get(13)?,
                        batch: r.get(14)?,
                        terminal_id: r.get(15)?,
                        created_at: r.get(16)?,
                        business_day: r.get(17)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next = if rows.len() > limit as usize {
                rows.truncate(limit as usize);
                rows.last().map(|r| format!("{}|{}", r.created_at, r.payment))
            } else {
                None
            };
            let totals = if q.no_totals {
                None
            } else {
                let from = if join {
                    "payments p JOIN operations o ON o.id = p.operation_id"
                } else {
                    "payments p"
                };
                let sql = format!(
                    "SELECT COUNT(*),
                        COALESCE(SUM(p.state = 'approved' AND p.returns = 0), 0),
                        COALESCE(SUM(CASE WHEN p.state = 'approved' AND p.returns = 0 THEN p.approved END), 0),
                        COALESCE(SUM(p.state = 'approved' AND p.returns = 1), 0),
                        COALESCE(SUM(CASE WHEN p.state = 'approved' AND p.returns = 1 THEN p.approved END), 0)
                     FROM {from} WHERE {filter}"
                );
                Some(c.prepare_cached(&sql)?.query_row(
                    params_from_iter(args.iter()),
                    |r| {
                        Ok(SearchTotals {
                            count: r.get(0)?,
                            sales_count: r.get(1)?,
                            sales: r.get(2)?,
                            returns_count: r.get(3)?,
                            returns: r.get(4)?,
                        })
                    },
                )?)
            };
            Ok(SearchPage { rows, next, totals })
        })
    }

    /// Every step attempt, history line, document and audit row of
    /// operation `id`, besides its view.
    pub fn operation_detail(&self, operation: OperationView) -> Result<OperationDetail> {
        let id = operation.id;
        let audit = self.audit_of(id)?;
        self.read(|c| {
            let steps = c
                .prepare_cached(
                    "SELECT name, attempt, state, error_code, started_at, finished_at, result
                     FROM steps WHERE operation_id = ?1 ORDER BY id",
                )?
                .query_map([id], |r| {
                    Ok(StepRow {
                        name: r.get(0)?,
                        attempt: r.get(1)?,
                        state: r.get(2)?,
                        error_code: r.get(3)?,
                        started_at: r.get(4)?,
                        finished_at: r.get(5)?,
                        result: r
                            .get::<_, Option<String>>(6)?
                            .and_then(|t| serde_json::from_str(&t).ok()),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let history = c
                .prepare_cached(
                    "SELECT at, what, detail FROM operation_events WHERE operation_id = ?1 ORDER BY id",
                )?
                .query_map([id], |r| {
                    Ok(EventRow {
                        at: r.get(0)?,
                        what: r.get(1)?,
                        detail: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let documents = c
                .prepare_cached(
                    "SELECT kind, number, amount, text FROM fiscal_documents
                     WHERE operation_id = ?1 ORDER BY id",
                )?
                .query_map([id], |r| {
                    Ok(DocumentRow {
                        kind: r.get(0)?,
                        number: r.get(1)?,
                        amount: r.get(2)?,
                        text: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let (shift, actor) = crate::journal::one(
                c,
                "SELECT shift_id, actor FROM operations WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(OperationDetail {
                operation,
                steps,
                history,
                documents,
                audit,
                shift,
                actor,
            })
        })
    }
}

/// A day's approved takings from the journal: (sales, returns).
fn day_takings(c: &Connection, day: &str) -> Result<(i64, i64)> {
    Ok(crate::journal::one(
        c,
        "SELECT COALESCE(SUM(CASE WHEN p.returns = 0 THEN p.approved END), 0),
                COALESCE(SUM(CASE WHEN p.returns = 1 THEN p.approved END), 0)
         FROM operations o JOIN payments p ON p.operation_id = o.id
         WHERE o.business_day = ?1 AND p.state = 'approved'",
        [day],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

fn settlements(c: &Connection, filter: &str, shift: Option<i64>) -> Result<Vec<SettlementView>> {
    let sql = format!(
        "SELECT shift_id, merchant, state, totals, error_code, requested_at, done_at
         FROM settlements {filter} ORDER BY id"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row<'_>| {
        Ok(SettlementView {
            shift: r.get(0)?,
            merchant: r.get(1)?,
            state: r.get(2)?,
            totals: r
                .get::<_, Option<String>>(3)?
                .and_then(|t| serde_json::from_str(&t).ok()),
            error_code: r.get(4)?,
            requested_at: r.get(5)?,
            done_at: r.get(6)?,
        })
    };
    let rows = match shift {
        Some(s) => stmt
            .query_map([s], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => stmt
            .query_map([], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(rows)
}

fn shift_view(c: &Connection, id: i64) -> Result<Option<ShiftView>> {
    let row = c
        .prepare_cached(
            "SELECT business_day, opened_at, closed_at, close_operation, z_number,
                    reconciliation, audit_head
             FROM shifts WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })
        .optional()?;
    let Some((business_day, opened_at, closed_at, close_operation, z_number, recon, audit_head)) =
        row
    else {
        return Ok(None);
    };
    Ok(Some(ShiftView {
        id,
        business_day,
        opened_at,
        closed_at,
        close_operation,
        z_number,
        settlements: settlements(c, "WHERE shift_id = ?1", Some(id))?,
        reconciliation: recon.and_then(|r| serde_json::from_str(&r).ok()),
        audit_head,
    }))
}

// ---- the day's state and the audit ------------------------------------------

/// Where the shop's day stands: what the cashier and the manager see before
/// a day close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayStatus {
    /// The business day a sale now lands on.
    pub business_day: String,
    /// The open fiscal shift.
    pub shift: Option<ShiftView>,
    /// Minutes since the open shift began.
    #[ts(type = "number | null")]
    pub shift_minutes: Option<i64>,
    /// The shift nears its 24 hours (a Z report is due soon), or passed them.
    pub z_due_soon: bool,
    pub z_overdue: bool,
    /// Operations not finished (a day close waits for them).
    pub unresolved: u32,
    pub pending_settlements: Vec<SettlementView>,
}

/// Check the audit chain; `head` is the head printed on the last Z report
/// (`ID:HASH` as on paper), else the one the journal kept with its shift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields, default)]
pub struct AuditVerifyQuery {
    pub head: Option<String>,
}

/// The settlements still pending after a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettlementList {
    pub settlements: Vec<SettlementView>,
}
