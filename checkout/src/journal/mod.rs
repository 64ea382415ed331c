//! The SQLite journal the engine writes ahead to: operations, their steps,
//! payments and fiscal documents, each step written (and synced: WAL with
//! `synchronous=FULL`) before the device call it leads to, so that after a
//! crash the journal says what must be asked of the devices. Schema changes
//! are numbered SQL files in `migrations/`.
//!
//! Every write is one transaction ([`Journal::write`]); state changes are
//! guarded (`UPDATE … WHERE state = expected`), and a write that finds the
//! row elsewhere is refused, never applied over it.

pub mod audit;
mod documents;
mod operations;
mod payments;
pub mod shifts;
mod steps;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

pub use documents::{
    insert as insert_document, set_text as set_document_text, DocumentRecord, NewDocument,
};
pub use operations::{
    request_cancel, set_problem, set_state as set_operation_state, NewOperation, OperationRecord,
};
pub use payments::{
    insert as payments_insert, set_request_id, update as payments_update, NewPayment,
    PaymentRecord, PaymentUpdate,
};
pub use steps::{finish as finish_step, start as start_step, supersede, StepRecord, StepState};

use crate::{Error, Result};

/// The numbered migrations, applied in order, each once.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/0001_journal.sql")),
    (2, include_str!("../../migrations/0002_operations.sql")),
    (3, include_str!("../../migrations/0003_shop_day.sql")),
    (4, include_str!("../../migrations/0004_users.sql")),
];

/// A handle on the journal file: one connection behind a mutex.
#[derive(Debug)]
pub struct Journal {
    conn: Mutex<Connection>,
}

/// An operation with everything that belongs to it, as read in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub op: OperationRecord,
    /// Oldest first.
    pub payments: Vec<PaymentRecord>,
    /// The newest attempt of each step, in the order they were first started.
    pub steps: Vec<StepRecord>,
    pub documents: Vec<DocumentRecord>,
}

impl Loaded {
    /// The newest attempt of the step called `name`.
    pub fn step(&self, name: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The payment with id `id`.
    pub fn payment(&self, id: i64) -> Option<&PaymentRecord> {
        self.payments.iter().find(|p| p.id == id)
    }

    /// The operation as it will read once step `name` is written done with
    /// these effects (the same changes [`Journal`] makes), so the next step
    /// can be planned, and written ahead, in the same transaction.
    pub fn with_step_done(
        &self,
        name: &str,
        payments: &[(i64, PaymentUpdate)],
        document: Option<&NewDocument>,
    ) -> Loaded {
        let mut next = self.clone();
        match next.steps.iter_mut().find(|s| s.name == name) {
            Some(s) => s.state = StepState::Done,
            None => next.steps.push(StepRecord {
                id: 0,
                operation_id: self.op.id,
                name: name.to_string(),
                attempt: 1,
                state: StepState::Done,
                recovery: None,
                result: None,
                error_code: None,
            }),
        }
        for (id, u) in payments {
            if let Some(p) = next.payments.iter_mut().find(|p| p.id == *id) {
                p.apply(u);
            }
        }
        if let Some(d) = document {
            next.documents.push(DocumentRecord {
                kind: d.kind.to_string(),
                number: d.number,
                amount: d.amount,
                text: d.text.clone(),
            });
        }
        next
    }
}

/// One line of an operation's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: String,
    pub what: String,
    pub detail: Option<String>,
}

impl Journal {
    /// Open (creating if needed) the journal at `path` and bring its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        let journal = Journal {
            conn: Mutex::new(conn),
        };
        journal.migrate()?;
        Ok(journal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (each write is one transaction), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` in one transaction: all of it is written, or none.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Run `f` in one transaction that is not synced to disk by itself: the
    /// next [`Journal::write`] syncs it together with its own (the WAL is
    /// written in order). Only for a write that no device call follows
    /// before the next synced write, so a crash in between loses nothing
    /// that happened on a device: the creation of an operation, whose first
    /// step's write-ahead is synced before that step's device call.
    pub fn write_unsynced<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        conn.pragma_update(None, "synchronous", "OFF")?;
        let out = (|| {
            let tx = conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        conn.pragma_update(None, "synchronous", "FULL")?;
        out
    }

    /// The journal's file (none for an in-memory journal).
    pub fn file(&self) -> Option<std::path::PathBuf> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT file FROM pragma_database_list WHERE name = 'main'",
                [],
                |r| r.get::<_, String>(0),
            )?)
        })
        .ok()
        .filter(|f| !f.is_empty())
        .map(std::path::PathBuf::from)
    }

    /// Run `f` on the connection for reading.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&self.lock())
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.lock();
        // A migration may rebuild a table others refer to: foreign keys are
        // checked again once every migration ran.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let result = Self::apply_migrations(&mut conn);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        result?;
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::Internal(format!(
                "the journal's migrations left a broken reference in {table}"
            )));
        }
        Ok(())
    }

    fn apply_migrations(conn: &mut Connection) -> Result<()> {
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
            crate::journal::exec(
                &tx,
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, chrono::Utc::now().to_rfc3339()],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version the journal is at.
    pub fn schema_version(&self) -> Result<u32> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                "SELECT MAX(version) FROM schema_migrations",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// A pragma's value on the journal's own connection (tests check that
    /// `synchronous` is FULL where it matters: on the connection that writes).
    pub fn pragma(&self, name: &str) -> Result<String> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                &format!("PRAGMA {name}"),
                [],
                |r| {
                    let v: rusqlite::types::Value = r.get(0)?;
                    Ok(match v {
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        other => format!("{other:?}"),
                    })
                },
            )?)
        })
    }

    /// An operation and everything that belongs to it.
    pub fn load(&self, id: i64) -> Result<Loaded> {
        self.read(|c| load(c, id))
    }

    /// The history of an operation, oldest first.
    pub fn history(&self, id: i64) -> Result<Vec<Event>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT at, what, detail FROM operation_events WHERE operation_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok(Event {
                    at: r.get(0)?,
                    what: r.get(1)?,
                    detail: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// Read an operation and what belongs to it.
pub fn load(c: &Connection, id: i64) -> Result<Loaded> {
    let op = operations::get(c, id)?.ok_or_else(|| Error::NotFound(format!("operation {id}")))?;
    Ok(Loaded {
        payments: payments::of_operation(c, id)?,
        steps: steps::latest_of_operation(c, id)?,
        documents: documents::of_operation(c, id)?,
        op,
    })
}

/// Append a line to an operation's history.
pub fn log(
    tx: &Transaction<'_>,
    op: i64,
    at: &str,
    what: &str,
    detail: Option<&str>,
) -> Result<()> {
    crate::journal::exec(
        tx,
        "INSERT INTO operation_events (operation_id, at, what, detail) VALUES (?1, ?2, ?3, ?4)",
        params![op, at, what, detail],
    )?;
    Ok(())
}

/// Record what a person did to an operation, under the request's key, and
/// append it to the audit log (with the operation's state before it, or
/// the `change` given).
pub fn record_action(
    tx: &Transaction<'_>,
    key: &str,
    op: i64,
    action: &str,
    actor: &str,
    reason: Option<&str>,
    at: &str,
) -> Result<()> {
    record_action_changing(tx, key, op, action, actor, reason, None, at)
}

/// [`record_action`] with what the action changes.
#[allow(clippy::too_many_arguments)] // the columns of one audited action
pub fn record_action_changing(
    tx: &Transaction<'_>,
    key: &str,
    op: i64,
    action: &str,
    actor: &str,
    reason: Option<&str>,
    change: Option<serde_json::Value>,
    at: &str,
) -> Result<()> {
    crate::journal::exec(tx,
        "INSERT INTO actions (key, operation_id, action, actor, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key, op, action, actor, reason, at],
    )?;
    let change = match change {
        Some(c) => c,
        None => {
            let state: Option<String> = crate::journal::one(
                tx,
                "SELECT state FROM operations WHERE id = ?1",
                [op],
                |r| r.get(0),
            )
            .optional()?;
            serde_json::json!({ "state": state })
        }
    };
    audit::append(
        tx,
        &audit::AuditEntry {
            actor,
            action,
            operation: Some(op),
            reason,
            change: Some(change),
        },
        at,
    )?;
    log(
        tx,
        op,
        at,
        action,
        Some(&format!(
            "by {actor}{}",
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
    )
}

impl Journal {
    /// The operation and action an action key was used for.
    pub fn action_by_key(&self, key: &str) -> Result<Option<(i64, String)>> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                "SELECT operation_id, action FROM actions WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
    }
}

/// Run a statement through the connection's statement cache (the journal
/// runs the same few statements over and over).
pub fn exec<P: rusqlite::Params>(c: &Connection, sql: &str, p: P) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(p)
}

/// Read one row through the statement cache.
pub fn one<T, P: rusqlite::Params>(
    c: &Connection,
    sql: &str,
    p: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(p, f)
}

/// Map "no row changed" onto a refused guarded write.
fn guarded(changed: usize, what: impl FnOnce() -> String) -> Result<()> {
    if changed == 0 {
        return Err(Error::Internal(format!(
            "guarded write refused: {}",
            what()
        )));
    }
    Ok(())
}
