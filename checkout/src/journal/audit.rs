//! The audit log: who did what, when, why and what it changed, for every
//! manual action, override, settings change and day close. Rows are
//! append-only (the database refuses an update or a delete) and each is
//! hash-chained to the one before (SHA-256 over the previous hash and the
//! row's content), so an edited, inserted or deleted row shows in
//! [`verify`]. The chain's head is printed on each Z report, so a chain
//! rewritten from scratch shows against the paper (an [`Anchor`]).

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::{Error, Result};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many hex digits of the head hash a Z report prints.
pub const PRINTED_HASH: usize = 16;

/// One thing that happened, to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub operation: Option<i64>,
    pub reason: Option<&'a str>,
    /// What it changed, as JSON.
    pub change: Option<serde_json::Value>,
}

/// A row's hash: SHA-256 over the previous hash and the row's content (not
/// its id, so a row slipped in between shows as an insertion).
pub fn row_hash(
    prev: &str,
    at: &str,
    actor: &str,
    action: &str,
    operation: Option<i64>,
    reason: Option<&str>,
    change: Option<&str>,
) -> String {
    let text = serde_json::json!([prev, at, actor, action, operation, reason, change]).to_string();
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The chain's head: the last row's id and hash (`0` and [`GENESIS`] when
/// the log is empty).
pub fn head(c: &Connection) -> Result<(i64, String)> {
    Ok(
        c.prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, GENESIS.to_string())),
    )
}

/// Append an entry; returns the new head.
pub fn append(tx: &Transaction<'_>, e: &AuditEntry<'_>, at: &str) -> Result<(i64, String)> {
    let (last, prev) = head(tx)?;
    let change = e.change.as_ref().map(|c| c.to_string());
    let hash = row_hash(
        &prev,
        at,
        e.actor,
        e.action,
        e.operation,
        e.reason,
        change.as_deref(),
    );
    let id = last + 1;
    crate::journal::exec(
        tx,
        "INSERT INTO audit (id, at, actor, action, operation_id, reason, change, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            at,
            e.actor,
            e.action,
            e.operation,
            e.reason,
            change,
            prev,
            hash
        ],
    )?;
    Ok((id, hash))
}

/// The head as a Z report prints it: `АУДИТ <id> <first 16 hex digits>`.
pub fn printed_head(id: i64, hash: &str) -> String {
    format!("АУДИТ {id} {}", &hash[..PRINTED_HASH.min(hash.len())])
}

/// A head taken from outside the journal (the paper or the register's
/// electronic journal of a Z report): the chain must still hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Anchor {
    #[ts(type = "number")]
    pub id: i64,
    /// The hash or its first digits as printed.
    pub hash: String,
}

impl Anchor {
    /// Read a printed head (`АУДИТ 123 0123abcd...`) out of a document's lines.
    pub fn from_lines(lines: &[String]) -> Option<Anchor> {
        lines.iter().rev().find_map(|l| {
            let rest = l.trim().strip_prefix("АУДИТ")?;
            let mut it = rest.split_whitespace();
            let id = it.next()?.parse().ok()?;
            let hash = it.next()?.to_string();
            (hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                .then_some(Anchor { id, hash })
        })
    }
}

/// What is wrong with the chain, at the first place it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The row's content no longer gives its hash.
    Edited {
        #[ts(type = "number")]
        id: i64,
    },
    /// Rows were slipped in before this one (it points to an older row).
    Inserted {
        #[ts(type = "number")]
        before: i64,
    },
    /// Rows are missing before this one.
    Deleted {
        #[ts(type = "number")]
        before: i64,
    },
    /// The log ends before the head printed on the last Z report.
    TailCut {
        #[ts(type = "number")]
        last: i64,
        #[ts(type = "number")]
        anchor: i64,
    },
    /// The row the last Z report printed has another hash: the chain was
    /// recomputed.
    Rewritten {
        #[ts(type = "number")]
        id: i64,
    },
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Verification {
    #[ts(type = "number")]
    pub rows: u64,
    #[ts(type = "number")]
    pub head_id: i64,
    pub head_hash: String,
    /// The anchor was checked (a head printed on a Z report).
    pub anchored: bool,
    pub ok: bool,
    pub finding: Option<Finding>,
}

/// Walk the chain from the start; stop at the first problem. With an
/// anchor (the head printed on the last Z report) the chain must hold it.
pub fn verify(c: &Connection, anchor: Option<&Anchor>) -> Result<Verification> {
    let mut stmt = c.prepare(
        "SELECT id, at, actor, action, operation_id, reason, change, prev_hash, hash
         FROM audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected = GENESIS.to_string();
    let mut count = 0u64;
    let mut last_id = 0i64;
    let mut finding = None;
    let mut anchor_seen = false;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let at: String = r.get(1)?;
        let actor: String = r.get(2)?;
        let action: String = r.get(3)?;
        let op: Option<i64> = r.get(4)?;
        let reason: Option<String> = r.get(5)?;
        let change: Option<String> = r.get(6)?;
        let prev: String = r.get(7)?;
        let hash: String = r.get(8)?;
        count += 1;
        let own = row_hash(
            &prev,
            &at,
            &actor,
            &action,
            op,
            reason.as_deref(),
            change.as_deref(),
        );
        if own != hash {
            finding = Some(Finding::Edited { id });
            break;
        }
        if prev != expected {
            finding = Some(if points_back(c, &prev, id)? {
                Finding::Inserted { before: id }
            } else {
                Finding::Deleted { before: id }
            });
            break;
        }
        if let Some(a) = anchor {
            if a.id == id {
                anchor_seen = true;
                if !hash.starts_with(&a.hash.to_ascii_lowercase()) {
                    finding = Some(Finding::Rewritten { id });
                    break;
                }
            }
        }
        expected = hash;
        last_id = id;
    }
    if finding.is_none() {
        if let Some(a) = anchor {
            if !anchor_seen {
                finding = Some(Finding::TailCut {
                    last: last_id,
                    anchor: a.id,
                });
            }
        }
    }
    Ok(Verification {
        rows: count,
        head_id: last_id,
        head_hash: expected,
        anchored: anchor.is_some(),
        ok: finding.is_none(),
        finding,
    })
}

/// Whether `prev` is the hash of a row before `id` (the rows in between
/// were slipped in) rather than of a row that is gone.
fn points_back(c: &Connection, prev: &str, id: i64) -> Result<bool> {
    if prev == GENESIS {
        return Ok(true);
    }
    Ok(
        c.prepare("SELECT 1 FROM audit WHERE hash = ?1 AND id < ?2 LIMIT 1")?
            .query_row(params![prev, id], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

impl super::Journal {
    /// Append one entry in its own transaction.
    pub fn audit(&self, e: &AuditEntry<'_>, at: &str) -> Result<(i64, String)> {
        self.write(|tx| append(tx, e, at))
    }

    /// Verify the whole chain (see [`verify`]).
    pub fn verify_audit(&self, anchor: Option<&Anchor>) -> Result<Verification> {
        self.read(|c| verify(c, anchor))
    }

    /// The chain's head.
    pub fn audit_head(&self) -> Result<(i64, String)> {
        self.read(head)
    }

    /// The audit rows about operation `op`, oldest first.
    pub fn audit_of(&self, op: i64) -> Result<Vec<AuditRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, actor, action, reason, change FROM audit
                 WHERE operation_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([op], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    reason: r.get(4)?,
                    change: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// One audit row as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditRow {
    #[ts(type = "number")]
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub reason: Option<String>,
    /// JSON.
    pub change: Option<String>,
}

/// Refuse an anchor that cannot be one.
pub fn parse_anchor(text: &str) -> Result<Anchor> {
    let (id, hash) = text
        .trim()
        .split_once(':')
        .ok_or_else(|| Error::InvalidRequest("an anchor is ID:HASH".into()))?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| Error::InvalidRequest(format!("{id:?} is not a row id")))?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() < 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidRequest(
            "the hash is at least 8 hex digits".into(),
        ));
    }
    Ok(Anchor { id, hash })
}
