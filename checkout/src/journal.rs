//! The SQLite journal the sale saga writes ahead to.
//!
//! Every state of a sale is written (and synced: WAL with `synchronous=FULL`)
//! before the device call it leads to, so that after a crash the row says what
//! must be checked. Schema changes are numbered SQL files in `migrations/`.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use terminal::{CardTransaction, PendingOperation};

use crate::api::{Attention, Decline, SaleResult, SaleState};
use crate::{Error, Result};

/// The numbered migrations, applied in order, each once.
const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("../migrations/0001_journal.sql"))];

/// A handle on the journal file. Cheap calls; one connection behind a mutex.
#[derive(Debug)]
pub struct Journal {
    conn: Mutex<Connection>,
}

/// One row of a sale's state history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleEvent {
    pub state: SaleState,
    pub at: String,
    pub detail: Option<String>,
}

impl Journal {
    /// Open (creating if needed) the journal at `path` and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let journal = Journal {
            conn: Mutex::new(conn),
        };
        journal.migrate()?;
        Ok(journal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (each
        // write is one transaction), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.lock();
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )?;
        for (version, sql) in MIGRATIONS {
            let done: Option<u32> = conn
                .query_row(
                    "SELECT version FROM schema_migrations WHERE version = ?1",
                    [version],
                    |r| r.get(0),
                )
                .optional()?;
            if done.is_some() {
                continue;
            }
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, now().to_rfc3339()],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version the journal is at.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .lock()
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })?)
    }

    /// Record a new card sale in state `intent`, with what recovery will need
    /// to recognise its payment on the terminal; returns its id.
    pub fn begin_card_sale(
        &self,
        amount: i64,
        merchant: u8,
        at: DateTime<Utc>,
        pending: &PendingOperation,
    ) -> Result<i64> {
        let request = serde_json::to_string(pending)
            .map_err(|e| Error::InvalidRequest(format!("cannot record the request: {e}")))?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ts = at.to_rfc3339();
        let day = at.format("%Y-%m-%d").to_string();
        tx.execute(
            "INSERT INTO sales (created_at, business_day, kind, amount, merchant, state,
                                terminal_request, updated_at)
             VALUES (?1, ?2, 'card', ?3, ?4, 'intent', ?5, ?1)",
            params![ts, day, amount, merchant, request],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO sale_events (sale_id, at, state, detail) VALUES (?1, ?2, 'intent', NULL)",
            params![id, ts],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// One saga step in one transaction: `update` changes the sale's row
    /// (given the sale id as `?1` and the time as `?2`), then the step is
    /// appended to the sale's history. Nothing is written if the sale is unknown.
    fn transition(
        &self,
        id: i64,
        state: SaleState,
        detail: Option<&str>,
        update: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> rusqlite::Result<usize>,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ts = now().to_rfc3339();
        if update(&tx, &ts)? == 0 {
            return Err(Error::NotFound(format!("sale {id}")));
        }
        tx.execute(
            "INSERT INTO sale_events (sale_id, at, state, detail) VALUES (?1, ?2, ?3, ?4)",
            params![id, ts, state.as_str(), detail],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Move a sale to `state`, with an optional note for the history.
    pub fn set_state(&self, id: i64, state: SaleState, detail: Option<&str>) -> Result<()> {
        self.transition(id, state, detail, |tx, ts| {
            tx.execute(
                "UPDATE sales SET state = ?3, updated_at = ?2 WHERE id = ?1",
                params![id, ts, state.as_str()],
            )
        })
    }

    /// Put a sale aside for someone to resolve (state `needs_attention`): the
    /// device's stable error code and what it said.
    pub fn record_attention(&self, id: i64, attention: &Attention) -> Result<()> {
        let detail = format!("{}: {}", attention.device_code, attention.message);
        self.transition(id, SaleState::NeedsAttention, Some(&detail), |tx, ts| {
            tx.execute(
                "UPDATE sales SET state = 'needs_attention', updated_at = ?2,
                    attention_code = ?3, attention_reason = ?4
                 WHERE id = ?1",
                params![id, ts, attention.device_code, attention.message],
            )
        })
    }

    /// Record the terminal's approval and its card data (state `approved`);
    /// `how` says how it was learnt (the reply, or a lookup after a lost reply).
    pub fn record_approval(&self, id: i64, card: &CardTransaction, how: &str) -> Result<()> {
        let detail = format!("rrn {} ({how})", card.rrn);
        self.transition(id, SaleState::Approved, Some(&detail), |tx, ts| {
            tx.execute(
                "UPDATE sales SET state = 'approved', updated_at = ?2, rrn = ?3, auth_code = ?4,
                    masked_pan = ?5, card_scheme = ?6, terminal_id = ?7, merchant_id = ?8,
                    invoice = ?9, approved_amount = ?10, batch = ?11, response_code = ?12,
                    card_time = ?13, request_id = ?14
                 WHERE id = ?1",
                params![
                    id,
                    ts,
                    card.rrn,
                    card.auth_code,
                    card.masked_pan,
                    card.card_scheme,
                    card.terminal_id,
                    card.merchant_id,
                    card.invoice,
                    card.amount,
                    card.batch,
                    card.response_code,
                    card.date_time,
                    card.request_id
                ],
            )
        })
    }

    /// Record a decline (state `declined`).
    pub fn record_decline(&self, id: i64, decline: &Decline) -> Result<()> {
        self.transition(id, SaleState::Declined, Some(&decline.code), |tx, ts| {
            tx.execute(
                "UPDATE sales SET state = 'declined', updated_at = ?2, decline_code = ?3,
                    decline_message = ?4
                 WHERE id = ?1",
                params![id, ts, decline.code, decline.message],
            )
        })
    }

    /// Record the fiscal receipt's number (state `done`).
    pub fn record_receipt(&self, id: i64, fiscal_number: i64) -> Result<()> {
        let detail = format!("receipt {fiscal_number}");
        self.transition(id, SaleState::Done, Some(&detail), |tx, ts| {
            tx.execute(
                "UPDATE sales SET state = 'done', updated_at = ?2, fiscal_number = ?3 WHERE id = ?1",
                params![id, ts, fiscal_number],
            )
        })
    }

    /// A sale as the UI sees it.
    pub fn sale(&self, id: i64) -> Result<SaleResult> {
        let conn = self.lock();
        conn.query_row(
            "SELECT id, state, amount, rrn, auth_code, masked_pan, card_scheme, terminal_id,
                    merchant_id, invoice, approved_amount, fiscal_number, decline_code, decline_message,
                    batch, response_code, card_time, request_id, attention_code, attention_reason
             FROM sales WHERE id = ?1",
            [id],
            |r| {
                let state: String = r.get(1)?;
                let rrn: Option<String> = r.get(3)?;
                let card = match rrn {
                    Some(rrn) => Some(CardTransaction {
                        rrn,
                        auth_code: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        masked_pan: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                        card_scheme: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        terminal_id: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        merchant_id: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                        invoice: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                        amount: r.get::<_, Option<i64>>(10)?.unwrap_or_default(),
                        batch: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
                        response_code: r.get::<_, Option<String>>(15)?.unwrap_or_default(),
                        date_time: r.get::<_, Option<String>>(16)?.unwrap_or_default(),
                        request_id: r.get::<_, Option<String>>(17)?.unwrap_or_default(),
                        // The journal records only approved card sales.
                        kind: terminal::TxnKind::Purchase,
                        status: terminal::TxnStatus::Approved,
                    }),
                    None => None,
                };
                let decline = match r.get::<_, Option<String>>(12)? {
                    Some(code) => Some(Decline {
                        code,
                        message: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let attention = match r.get::<_, Option<String>>(18)? {
                    Some(device_code) => Some(Attention {
                        device_code,
                        message: r.get::<_, Option<String>>(19)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                Ok(SaleResult {
                    sale_id: r.get(0)?,
                    state: SaleState::parse(&state).unwrap_or(SaleState::NeedsAttention),
                    amount: r.get(2)?,
                    card,
                    fiscal_number: r.get(11)?,
                    decline,
                    attention,
                })
            },
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("sale {id}")))
    }

    /// What was recorded before the sale's payment request was sent.
    pub fn terminal_request(&self, id: i64) -> Result<Option<PendingOperation>> {
        let text: Option<String> = self
            .lock()
            .query_row(
                "SELECT terminal_request FROM sales WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// The states a sale went through, oldest first.
    pub fn history(&self, id: i64) -> Result<Vec<SaleEvent>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT state, at, detail FROM sale_events WHERE sale_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([id], |r| {
            let s: String = r.get(0)?;
            Ok(SaleEvent {
                state: SaleState::parse(&s).unwrap_or(SaleState::NeedsAttention),
                at: r.get(1)?,
                detail: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many sales the journal holds.
    pub fn count_sales(&self) -> Result<i64> {
        Ok(self
            .lock()
            .query_row("SELECT COUNT(*) FROM sales", [], |r| r.get(0))?)
    }

    /// Sales left in an unfinished state (to resolve before the next one).
    pub fn unfinished(&self) -> Result<Vec<i64>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id FROM sales WHERE state IN ('intent','terminal_sent','approved','fiscal_sent','needs_attention') ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}
