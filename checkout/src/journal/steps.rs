//! Rows of the `steps` table: one attempt of one step of an operation,
//! written `started` with what its recovery needs before the device call,
//! and finished once, guarded.

use rusqlite::{params, Connection, Row, Transaction};

use crate::Result;

use super::guarded;

/// Where a step attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Written before its device call; what happened is unknown until it
    /// finishes (or is recovered).
    Started,
    Done,
    /// Ended without doing anything on the device, or left for a person.
    Failed,
    /// Replaced by a newer attempt (print again, a receipt restarted).
    Superseded,
}

impl StepState {
    fn as_str(self) -> &'static str {
        match self {
            StepState::Started => "started",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Superseded => "superseded",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "started" => StepState::Started,
            "done" => StepState::Done,
            "failed" => StepState::Failed,
            "superseded" => StepState::Superseded,
            _ => return None,
        })
    }
}

/// One attempt of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub id: i64,
    pub operation_id: i64,
    pub name: String,
    pub attempt: i64,
    pub state: StepState,
    /// JSON: what `recover` needs.
    pub recovery: Option<String>,
    /// JSON: what the step produced.
    pub result: Option<String>,
    pub error_code: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let state: String = r.get(4)?;
    Ok(StepRecord {
        id: r.get(0)?,
        operation_id: r.get(1)?,
        name: r.get(2)?,
        attempt: r.get(3)?,
        state: StepState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("bad step state {state:?}").into(),
            )
        })?,
        recovery: r.get(5)?,
        result: r.get(6)?,
        error_code: r.get(7)?,
    })
}

/// The newest attempt of each step of an operation, in the order the steps
/// were first started.
pub fn latest_of_operation(c: &Connection, op: i64) -> Result<Vec<StepRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT s.id, s.operation_id, s.name, s.attempt, s.state, s.recovery, s.result, s.error_code
         FROM steps s
         WHERE s.operation_id = ?1
           AND s.attempt = (SELECT MAX(attempt) FROM steps t
                            WHERE t.operation_id = s.operation_id AND t.name = s.name)
         ORDER BY (SELECT MIN(id) FROM steps t
                   WHERE t.operation_id = s.operation_id AND t.name = s.name)",
    )?;
    let rows = stmt.query_map([op], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Write a new attempt of step `name` as `started`; returns its id. Refused
/// while the previous attempt is still `started` (its outcome is unknown).
pub fn start(
    tx: &Transaction<'_>,
    op: i64,
    name: &str,
    recovery: Option<&str>,
    at: &str,
) -> Result<i64> {
    let busy: i64 = crate::journal::one(
        tx,
        "SELECT COUNT(*) FROM steps WHERE operation_id = ?1 AND name = ?2 AND state = 'started'",
        params![op, name],
        |r| r.get(0),
    )?;
    guarded(usize::from(busy == 0), || {
        format!("step {name} of operation {op} is still started")
    })?;
    crate::journal::exec(tx,
        "INSERT INTO steps (operation_id, name, attempt, state, recovery, started_at)
         VALUES (?1, ?2,
                 (SELECT COALESCE(MAX(attempt), 0) + 1 FROM steps WHERE operation_id = ?1 AND name = ?2),
                 'started', ?3, ?4)",
        params![op, name, recovery, at],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Finish a started attempt as `done` or `failed`.
pub fn finish(
    tx: &Transaction<'_>,
    id: i64,
    state: StepState,
    result: Option<&str>,
    error_code: Option<&str>,
    at: &str,
) -> Result<()> {
    let n = crate::journal::exec(
        tx,
        "UPDATE steps SET state = ?2, result = ?3, error_code = ?4, finished_at = ?5
         WHERE id = ?1 AND state = 'started'",
        params![id, state.as_str(), result, error_code, at],
    )?;
    guarded(n, || format!("step {id} is not started"))
}

/// Mark the newest attempts of the named steps of an operation as
/// superseded, so they run again.
pub fn supersede(tx: &Transaction<'_>, op: i64, names: &[String], at: &str) -> Result<()> {
    for name in names {
        crate::journal::exec(
            tx,
            "UPDATE steps SET state = 'superseded', finished_at = COALESCE(finished_at, ?3)
             WHERE operation_id = ?1 AND name = ?2 AND state IN ('done','failed','started')",
            params![op, name, at],
        )?;
    }
    Ok(())
}
