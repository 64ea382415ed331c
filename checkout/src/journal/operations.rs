//! Rows of the `operations` table: creating an operation with its payments
//! in one transaction, reading it, and its guarded state changes.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::api::{OperationKind, OperationState};
use crate::operations::OperationSpec;
use crate::{Error, Result};

use super::payments::{self, NewPayment};
use super::{guarded, log};

/// An operation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRecord {
    pub id: i64,
    pub key: String,
    pub kind: OperationKind,
    pub state: OperationState,
    pub spec: OperationSpec,
    pub request_hash: String,
    pub actor: String,
    pub merchant: u8,
    pub business_day: String,
    /// The fiscal shift it belongs to (none before the day's first fiscal
    /// document).
    pub shift_id: Option<i64>,
    pub total: i64,
    pub original_id: Option<i64>,
    pub cancel_requested: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The fiscal register's operator its documents are printed as (the
    /// logged-in user's); none: the configured one.
    pub operator: Option<u32>,
}

/// An operation to create.
#[derive(Debug, Clone)]
pub struct NewOperation {
    pub key: String,
    pub spec: OperationSpec,
    pub request_hash: String,
    pub actor: String,
    pub merchant: u8,
    /// The shop's local date now: the business day unless a fiscal shift
    /// is open (then the operation belongs to the shift's day).
    pub business_day: String,
    pub total: i64,
    pub original_id: Option<i64>,
    pub payments: Vec<NewPayment>,
    pub at: String,
    /// The fiscal operator of the user who asked (see [`OperationRecord::operator`]).
    pub operator: Option<u32>,
}

const COLUMNS: &str = "id, key, kind, state, request, request_hash, actor, merchant, business_day,
    total, original_id, cancel_requested, error_code, error_message, created_at, updated_at,
    shift_id, operator";

fn from_row(r: &Row<'_>) -> rusqlite::Result<OperationRecord> {
    let kind: String = r.get(2)?;
    let state: String = r.get(3)?;
    let spec: String = r.get(4)?;
    let bad = |what: &str, v: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{what} {v:?}").into(),
        )
    };
    Ok(OperationRecord {
        id: r.get(0)?,
        key: r.get(1)?,
        kind: OperationKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        state: OperationState::parse(&state).ok_or_else(|| bad("state", &state))?,
        spec: serde_json::from_str(&spec).unwrap_or(OperationSpec::Legacy),
        request_hash: r.get(5)?,
        actor: r.get(6)?,
        merchant: r.get(7)?,
        business_day: r.get(8)?,
        total: r.get(9)?,
        original_id: r.get(10)?,
        cancel_requested: r.get::<_, i64>(11)? != 0,
        error_code: r.get(12)?,
        error_message: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        shift_id: r.get(16)?,
        operator: r.get(17)?,
    })
}

/// One operation by id.
pub fn get(c: &Connection, id: i64) -> Result<Option<OperationRecord>> {
    Ok(crate::journal::one(
        c,
        &format!("SELECT {COLUMNS} FROM operations WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?)
}

/// One operation by its idempotency key.
pub fn by_key(c: &Connection, key: &str) -> Result<Option<OperationRecord>> {
    Ok(crate::journal::one(
        c,
        &format!("SELECT {COLUMNS} FROM operations WHERE key = ?1"),
        [key],
        from_row,
    )
    .optional()?)
}

impl super::Journal {
    /// Create an operation (state `running`) with its payments; returns its
    /// id. Not synced by itself: the first step's write-ahead, synced before
    /// its device call, takes it to disk (see [`super::Journal::write_unsynced`]).
    pub fn create_operation(&self, new: &NewOperation) -> Result<i64> {
        let spec = serde_json::to_string(&new.spec)
            .map_err(|e| Error::Internal(format!("cannot record the request: {e}")))?;
        self.write_unsynced(|tx| {
            let shift = super::shifts::open_shift(tx)?;
            let (day, shift_id) = match &shift {
                Some(s) => (s.business_day.clone(), Some(s.id)),
                None => (new.business_day.clone(), None),
            };
            crate::journal::exec(
                tx,
                "INSERT INTO operations (key, kind, state, request, request_hash, actor, merchant,
                    business_day, shift_id, total, original_id, created_at, updated_at, operator)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
                params![
                    new.key,
                    new.spec.kind().as_str(),
                    spec,
                    new.request_hash,
                    new.actor,
                    new.merchant,
                    day,
                    shift_id,
                    new.total,
                    new.original_id,
                    new.at,
                    new.operator
                ],
            )?;
            let id = tx.last_insert_rowid();
            if new.spec.kind() == crate::api::OperationKind::DayClose {
                super::audit::append(
                    tx,
                    &super::audit::AuditEntry {
                        actor: &new.actor,
                        action: "day_close",
                        operation: Some(id),
                        reason: None,
                        change: Some(serde_json::json!({ "business_day": day, "shift": shift_id })),
                    },
                    &new.at,
                )?;
            }
            for p in &new.payments {
                payments::insert(tx, id, p, &new.at)?;
            }
            log(
                tx,
                id,
                &new.at,
                "running",
                Some(&format!("by {}", new.actor)),
            )?;
            Ok(id)
        })
    }

    /// One operation by its idempotency key.
    pub fn operation_by_key(&self, key: &str) -> Result<Option<OperationRecord>> {
        self.read(|c| by_key(c, key))
    }

    /// Operations the engine has not finished: running, awaiting payment or
    /// needing attention, oldest first.
    pub fn unresolved(&self) -> Result<Vec<OperationRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM operations
                 WHERE state IN ('running','awaiting_payment','needs_attention') ORDER BY id"
            ))?;
            let rows = stmt.query_map([], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The operations of a business day, oldest first.
    pub fn operations_of_day(&self, day: &str) -> Result<Vec<OperationRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM operations WHERE business_day = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([day], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The refunds, voids and cash refunds of sale `id` that moved money or
    /// may still move it (not declined, cancelled or failed).
    pub fn returns_of(&self, id: i64) -> Result<Vec<OperationRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM operations
                 WHERE original_id = ?1 AND state NOT IN ('declined','cancelled','failed')
                 ORDER BY id"
            ))?;
            let rows = stmt.query_map([id], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Whether the cashier asked to cancel operation `id`.
    pub fn cancel_requested(&self, id: i64) -> Result<bool> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                "SELECT cancel_requested FROM operations WHERE id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )? != 0)
        })
    }

    /// How many operations the journal holds.
    pub fn count_operations(&self) -> Result<i64> {
        self.read(|c| {
            Ok(crate::journal::one(
                c,
                "SELECT COUNT(*) FROM operations",
                [],
                |r| r.get(0),
            )?)
        })
    }
}

/// Move an operation from one of `from` to `to`, with an error (or none) and
/// a line in its history. Refused if the operation is elsewhere.
pub fn set_state(
    tx: &Transaction<'_>,
    id: i64,
    from: &[OperationState],
    to: OperationState,
    error: Option<(&str, &str)>,
    at: &str,
) -> Result<()> {
    let from_list = from
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let (code, message) = match error {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    let n = crate::journal::exec(
        tx,
        &format!(
            "UPDATE operations SET state = ?2, error_code = ?3, error_message = ?4, updated_at = ?5
             WHERE id = ?1 AND state IN ({from_list})"
        ),
        params![id, to.as_str(), code, message, at],
    )?;
    guarded(n, || format!("operation {id} is not in {from_list}"))?;
    let detail = error.map(|(c, m)| format!("{c}: {m}"));
    log(tx, id, at, to.as_str(), detail.as_deref())
}

/// Say why a running operation is stuck (a device that does not answer)
/// without changing its state.
pub fn set_problem(
    tx: &Transaction<'_>,
    id: i64,
    code: &str,
    message: &str,
    at: &str,
) -> Result<()> {
    crate::journal::exec(
        tx,
        "UPDATE operations SET error_code = ?2, error_message = ?3, updated_at = ?4
         WHERE id = ?1 AND state = 'running'",
        params![id, code, message, at],
    )?;
    Ok(())
}

/// Record that the cashier asked to cancel an operation.
pub fn request_cancel(tx: &Transaction<'_>, id: i64, at: &str) -> Result<()> {
    let n = crate::journal::exec(
        tx,
        "UPDATE operations SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1",
        params![id, at],
    )?;
    guarded(n, || format!("operation {id}"))?;
    log(tx, id, at, "cancel_requested", None)
}
