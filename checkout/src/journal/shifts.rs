//! Rows of the `shifts` table: the fiscal shift as the journal knows it. A
//! shift opens with the day's first fiscal document (the register opens its
//! own then) and closes with the Z report; an operation belongs to the open
//! shift, and its business day is the shop-local date on which that shift
//! began, or the shop's date when no shift is open.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::Result;

/// A shift as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftRecord {
    pub id: i64,
    pub business_day: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub close_operation: Option<i64>,
    pub z_number: Option<i64>,
    pub fiscal_totals: Option<String>,
    pub terminal_totals: Option<String>,
    pub reconciliation: Option<String>,
    pub audit_head: Option<String>,
}

const COLUMNS: &str = "id, business_day, opened_at, closed_at, close_operation, z_number,
    fiscal_totals, terminal_totals, reconciliation, audit_head";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShiftRecord> {
    Ok(ShiftRecord {
        id: r.get(0)?,
        business_day: r.get(1)?,
        opened_at: r.get(2)?,
        closed_at: r.get(3)?,
        close_operation: r.get(4)?,
        z_number: r.get(5)?,
        fiscal_totals: r.get(6)?,
        terminal_totals: r.get(7)?,
        reconciliation: r.get(8)?,
        audit_head: r.get(9)?,
    })
}

/// The open shift, if any.
pub fn open_shift(c: &Connection) -> Result<Option<ShiftRecord>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM shifts WHERE closed_at IS NULL"
    ))?
    .query_row([], from_row)
    .optional()?)
}

/// The open shift, opened now on `business_day` if none is; operation `op`
/// is put in it if it was in none. Returns the shift.
pub fn ensure_open(
    tx: &Transaction<'_>,
    op: i64,
    business_day: &str,
    at: &str,
) -> Result<ShiftRecord> {
    let shift = match open_shift(tx)? {
        Some(s) => s,
        None => {
            crate::journal::exec(
                tx,
                "INSERT INTO shifts (business_day, opened_at) VALUES (?1, ?2)",
                params![business_day, at],
            )?;
            let id = tx.last_insert_rowid();
            crate::journal::log(tx, op, at, "shift_opened", Some(business_day))?;
            ShiftRecord {
                id,
                business_day: business_day.to_string(),
                opened_at: at.to_string(),
                closed_at: None,
                close_operation: None,
                z_number: None,
                fiscal_totals: None,
                terminal_totals: None,
                reconciliation: None,
                audit_head: None,
            }
        }
    };
    crate::journal::exec(
        tx,
        "UPDATE operations SET shift_id = ?2, business_day = ?3 WHERE id = ?1 AND shift_id IS NULL",
        params![op, shift.id, shift.business_day],
    )?;
    Ok(shift)
}

/// What a Z report closes a shift with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftClose {
    pub operation: i64,
    pub z_number: Option<i64>,
    pub fiscal_totals: String,
    pub audit_head: Option<String>,
}

/// Close shift `id` with its Z report.
pub fn close(tx: &Transaction<'_>, id: i64, z: &ShiftClose, at: &str) -> Result<()> {
    let n = crate::journal::exec(
        tx,
        "UPDATE shifts SET closed_at = ?2, close_operation = ?3, z_number = ?4,
            fiscal_totals = ?5, audit_head = ?6
         WHERE id = ?1 AND closed_at IS NULL",
        params![
            id,
            at,
            z.operation,
            z.z_number,
            z.fiscal_totals,
            z.audit_head
        ],
    )?;
    super::guarded(n, || format!("shift {id} is not open"))
}

/// Keep what the day close found about shift `id`: the terminal's totals
/// per merchant and the three-way reconciliation.
pub fn set_reports(
    tx: &Transaction<'_>,
    id: i64,
    terminal_totals: &str,
    reconciliation: &str,
) -> Result<()> {
    crate::journal::exec(
        tx,
        "UPDATE shifts SET terminal_totals = ?2, reconciliation = ?3 WHERE id = ?1",
        params![id, terminal_totals, reconciliation],
    )?;
    Ok(())
}

impl super::Journal {
    /// The open shift, if any.
    pub fn current_shift(&self) -> Result<Option<ShiftRecord>> {
        self.read(open_shift)
    }

    /// A shift by id.
    pub fn shift(&self, id: i64) -> Result<Option<ShiftRecord>> {
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM shifts WHERE id = ?1"))?
                    .query_row([id], from_row)
                    .optional()?,
            )
        })
    }

    /// The latest closed shift, if any.
    pub fn last_closed_shift(&self) -> Result<Option<ShiftRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM shifts WHERE closed_at IS NOT NULL ORDER BY id DESC LIMIT 1"
            ))?
            .query_row([], from_row)
            .optional()?)
        })
    }
}

impl super::Journal {
    /// The operations of shift `id`, loaded whole, oldest first.
    pub fn operations_of_shift(&self, id: i64) -> Result<Vec<super::Loaded>> {
        self.read(|c| {
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM operations WHERE shift_id = ?1 ORDER BY id")?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter().map(|op| super::load(c, op)).collect()
        })
    }

    /// The merchants whose settlement is pending (of shift `shift`, or of
    /// any shift).
    pub fn pending_settlements(&self, shift: Option<i64>) -> Result<Vec<u8>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT merchant FROM settlements
                 WHERE state = 'pending' AND (?1 IS NULL OR shift_id = ?1) ORDER BY merchant",
            )?;
            let rows = stmt.query_map([shift], |r| r.get::<_, u8>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The settlements left pending, oldest first: (shift, merchant).
    pub fn pending_settlement_rows(&self) -> Result<Vec<(i64, u8)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT shift_id, merchant FROM settlements WHERE state = 'pending' ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The register's first document of shift `id`: the one after the
    /// previous shift's Z report, else the shift's first recorded document.
    pub fn first_document_of_shift(&self, id: i64) -> Result<Option<i64>> {
        self.read(|c| {
            let after_z: Option<i64> = crate::journal::one(
                c,
                "SELECT MAX(d.number) FROM fiscal_documents d
                 JOIN shifts s ON d.operation_id = s.close_operation
                 WHERE s.id = (SELECT MAX(id) FROM shifts WHERE id < ?1 AND closed_at IS NOT NULL)
                   AND d.kind = 'z_report'",
                [id],
                |r| r.get(0),
            )?;
            if let Some(z) = after_z {
                return Ok(Some(z + 1));
            }
            Ok(crate::journal::one(
                c,
                "SELECT MIN(d.number) FROM fiscal_documents d
                 JOIN operations o ON o.id = d.operation_id WHERE o.shift_id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
    }
}

/// Record a pending settlement as done (run later).
pub fn settle_later(
    tx: &Transaction<'_>,
    shift: i64,
    merchant: u8,
    state: &str,
    totals: Option<&str>,
    receipt: Option<&str>,
    at: &str,
) -> Result<()> {
    let n = crate::journal::exec(
        tx,
        "UPDATE settlements SET state = ?3, totals = ?4, receipt = ?5, error_code = NULL,
             done_at = ?6
         WHERE shift_id = ?1 AND merchant = ?2 AND state = 'pending'",
        params![shift, merchant, state, totals, receipt, at],
    )?;
    super::guarded(n, || format!("no pending settlement {shift}/{merchant}"))
}
