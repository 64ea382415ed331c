//! Rows of the `fiscal_documents` table: what the register printed for an
//! operation, with the text its electronic journal holds.

use rusqlite::{params, Connection, Transaction};

use crate::Result;

use super::log;

/// A fiscal document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub kind: String,
    pub number: Option<i64>,
    pub amount: i64,
    pub text: Option<String>,
}

/// A document to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    pub kind: &'static str,
    pub number: Option<i64>,
    pub amount: i64,
    pub text: Option<String>,
}

/// The documents of an operation, oldest first.
pub fn of_operation(c: &Connection, op: i64) -> Result<Vec<DocumentRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT kind, number, amount, text FROM fiscal_documents WHERE operation_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([op], |r| {
        Ok(DocumentRecord {
            kind: r.get(0)?,
            number: r.get(1)?,
            amount: r.get(2)?,
            text: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Record a document printed for operation `op`.
pub fn insert(tx: &Transaction<'_>, op: i64, d: &NewDocument, at: &str) -> Result<()> {
    crate::journal::exec(
        tx,
        "INSERT INTO fiscal_documents (operation_id, kind, number, amount, text, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![op, d.kind, d.number, d.amount, d.text, at],
    )?;
    let detail = match d.number {
        Some(n) => format!("{} {n}", d.kind),
        None => d.kind.to_string(),
    };
    log(tx, op, at, "document", Some(&detail))
}

/// Keep the read-back text of document `number` of operation `op`.
pub fn set_text(tx: &Transaction<'_>, op: i64, number: u64, text: &str) -> Result<()> {
    crate::journal::exec(
        tx,
        "UPDATE fiscal_documents SET text = ?3 WHERE operation_id = ?1 AND number = ?2",
        params![op, i64::try_from(number).unwrap_or(i64::MAX), text],
    )?;
    Ok(())
}

impl super::Journal {
    /// The sale receipt number of operation `op`, if printed.
    pub fn receipt_number(&self, op: i64) -> Result<Option<i64>> {
        self.read(|c| {
            Ok(crate::journal::one(c,
                "SELECT MAX(number) FROM fiscal_documents WHERE operation_id = ?1 AND kind = 'sale_receipt'",
                [op],
                |r| r.get(0),
            )?)
        })
    }

    /// The operation whose sale receipt has fiscal number `number`.
    pub fn operation_by_receipt(&self, number: i64) -> Result<Option<i64>> {
        self.read(|c| {
            Ok(crate::journal::one(c,
                "SELECT MAX(operation_id) FROM fiscal_documents WHERE number = ?1 AND kind = 'sale_receipt'",
                [number],
                |r| r.get(0),
            )?)
        })
    }
}
