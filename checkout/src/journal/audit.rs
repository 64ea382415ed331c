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
/// its id, so a row slipped in between shows as an insertion), as the JSON
/// array `[prev, at, actor, action, operation, reason, change]`.
pub fn row_hash(
    prev: &str,
    at: &str,
    actor: &str,
    action: &str,
    operation: Option<i64>,
    reason: Option<&str>,
    change: Option<&str>,
) -> String {
    let mut buf = Vec::with_capacity(256);
    let digest = row_digest(&mut buf, prev, at, actor, action, operation, reason, change);
    String::from_utf8_lossy(&hex(&digest)).into_owned()
}

/// The digest of a row, its JSON written into `buf` (reused across rows):
/// the same bytes `serde_json` gives for the array, without building it.
#[allow(clippy::too_many_arguments)] // the row's columns, in hash order
fn row_digest(
    buf: &mut Vec<u8>,
    prev: &str,
    at: &str,
    actor: &str,
    action: &str,
    operation: Option<i64>,
    reason: Option<&str>,
    change: Option<&str>,
) -> [u8; 32] {
    fn text(buf: &mut Vec<u8>, s: Option<&str>) {
        match s {
            // Writing a string into a Vec cannot fail.
            Some(s) => serde_json::to_writer(&mut *buf, s).unwrap_or_default(),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.clear();
    buf.push(b'[');
    for s in [prev, at, actor, action] {
        text(buf, Some(s));
        buf.push(b',');
    }
    match operation {
        Some(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        None => buf.extend_from_slice(b"null"),
    }
    buf.push(b',');
    text(buf, reason);
    buf.push(b',');
    text(buf, change);
    buf.push(b']');
    Sha256::digest(&buf[..]).into()
}

/// Lower-case hex of a digest.
fn hex(digest: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
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

/// What one stretch of the chain (a range of ids) says on its own.
#[derive(Debug, Default)]
struct Stretch {
    rows: u64,
    /// The first row's id and the hash it points back to.
    first: Option<(i64, String)>,
    /// The last row checked: its id and hash.
    last: Option<(i64, String)>,
    /// The first problem inside the stretch (the link into its first row
    /// is checked only for the stretch that starts the chain).
    finding: Option<Finding>,
    anchor_seen: bool,
}

/// Check the rows with ids in `lo..=hi`: each row's own hash, each link
/// after the first (and the first's when `from_genesis`), the anchor.
fn stretch(
    c: &Connection,
    lo: i64,
    hi: i64,
    from_genesis: bool,
    anchor: Option<&Anchor>,
) -> Result<Stretch> {
    let mut stmt = c.prepare(
        "SELECT id, at, actor, action, operation_id, reason, change, prev_hash, hash
         FROM audit WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    )?;
    let mut rows = stmt.query(params![lo, hi])?;
    let mut out = Stretch::default();
    let mut expected: Option<Vec<u8>> = from_genesis.then(|| GENESIS.as_bytes().to_vec());
    let mut buf = Vec::with_capacity(512);
    let anchor_hash = anchor.map(|a| a.hash.to_ascii_lowercase());
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let op: Option<i64> = r.get(4)?;
        let s = |i: usize| -> Result<Option<&str>> {
            Ok(match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => None,
                v => Some(v.as_str().map_err(rusqlite::Error::from)?),
            })
        };
        let at = s(1)?.unwrap_or_default();
        let actor = s(2)?.unwrap_or_default();
        let action = s(3)?.unwrap_or_default();
        let reason = s(5)?;
        let change = s(6)?;
        let prev = s(7)?.unwrap_or_default();
        let hash = s(8)?.unwrap_or_default();
        out.rows += 1;
        if out.first.is_none() {
            out.first = Some((id, prev.to_string()));
        }
        let own = hex(&row_digest(
            &mut buf, prev, at, actor, action, op, reason, change,
        ));
        if own[..] != *hash.as_bytes() {
            out.finding = Some(Finding::Edited { id });
            break;
        }
        if let Some(e) = &expected {
            if prev.as_bytes() != e.as_slice() {
                out.finding = Some(if points_back(c, prev, id)? {
                    Finding::Inserted { before: id }
                } else {
                    Finding::Deleted { before: id }
                });
                break;
            }
        }
        if let (Some(a), Some(h)) = (anchor, &anchor_hash) {
            if a.id == id {
                out.anchor_seen = true;
                if !hash.starts_with(h.as_str()) {
                    out.finding = Some(Finding::Rewritten { id });
                    break;
                }
            }
        }
        let e = expected.get_or_insert_with(Vec::new);
        e.clear();
        e.extend_from_slice(hash.as_bytes());
        out.last = Some((id, String::new()));
    }
    if let (Some(last), Some(e)) = (out.last.as_mut(), expected) {
        last.1 = String::from_utf8_lossy(&e).into_owned();
    }
    Ok(out)
}

/// Walk the chain from the start; stop at the first problem. With an
/// anchor (the head printed on the last Z report) the chain must hold it.
/// A long chain is checked in stretches on every core (each on its own
/// read connection to the journal file), then the stretches' links.
pub fn verify(c: &Connection, anchor: Option<&Anchor>) -> Result<Verification> {
    let (lo, hi): (Option<i64>, Option<i64>) =
        c.query_row("SELECT MIN(id), MAX(id) FROM audit", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (lo, hi) = (lo.unwrap_or(1), hi.unwrap_or(0));
    let path = c
        .path()
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from);
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let parts = match &path {
        Some(_) if hi - lo > 50_000 => i64::try_from(cores).unwrap_or(1),
        _ => 1,
    };
    let step = ((hi - lo + 1) / parts).max(1);
    let bounds: Vec<(i64, i64)> = (0..parts)
        .map(|k| {
            let a = lo + k * step;
            let b = if k == parts - 1 { hi } else { a + step - 1 };
            (a, b)
        })
        .collect();
    let stretches: Vec<Result<Stretch>> = std::thread::scope(|scope| {
        let others: Vec<_> = bounds
            .iter()
            .skip(1)
            .map(|&(a, b)| {
                let path = path.clone();
                scope.spawn(move || -> Result<Stretch> {
                    let p = path.ok_or_else(|| Error::NotFound("the journal file".into()))?;
                    let conn = Connection::open_with_flags(
                        p,
                        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    stretch(&conn, a, b, false, anchor)
                })
            })
            .collect();
        let mut all = vec![stretch(c, bounds[0].0, bounds[0].1, true, anchor)];
        for h in others {
            all.push(
                h.join()
                    .unwrap_or_else(|_| Err(Error::NotFound("a verifier thread".into()))),
            );
        }
        all
    });
    let mut rows = 0u64;
    let mut last: Option<(i64, String)> = None;
    let mut finding = None;
    let mut anchor_seen = false;
    for s in stretches {
        let s = s?;
        // The link into this stretch's first row, unless that row's own
        // hash is already wrong (a row's content is checked before its link).
        if let (Some((id, prev)), Some((_, hash))) = (&s.first, &last) {
            let edited_first = matches!(s.finding, Some(Finding::Edited { id: e }) if e == *id);
            if prev != hash && !edited_first {
                finding = Some(if points_back(c, prev, *id)? {
                    Finding::Inserted { before: *id }
                } else {
                    Finding::Deleted { before: *id }
                });
                rows += 1;
                break;
            }
        }
        rows += s.rows;
        anchor_seen |= s.anchor_seen;
        if s.finding.is_some() {
            finding = s.finding;
            break;
        }
        if s.last.is_some() {
            last = s.last;
        }
    }
    let (last_id, head_hash) = last.unwrap_or_else(|| (0, GENESIS.to_string()));
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
        rows,
        head_id: last_id,
        head_hash,
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
    /// Log the settings if they differ from the ones the last
    /// `settings_changed` row recorded (the first start records them too):
    /// what changed, before and after. Returns whether a row was written.
    pub fn audit_settings(&self, now: &serde_json::Value, at: &str) -> Result<bool> {
        self.audit_settings_by("kasa.json", now, at, None)
    }

    /// [`Journal::audit_settings`] for a change `actor` made (an
    /// installer's save), with more to record beside the change (`extra`,
    /// merged into the row's JSON: the request key).
    pub fn audit_settings_by(
        &self,
        actor: &str,
        now: &serde_json::Value,
        at: &str,
        extra: Option<serde_json::Value>,
    ) -> Result<bool> {
        self.write(|tx| {
            let last: Option<String> = tx
                .query_row(
                    "SELECT change FROM audit WHERE action = 'settings_changed'
                     ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let before = last
                .and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok())
                .map(|c| c["after"].clone());
            if before.as_ref() == Some(now) {
                return Ok(false);
            }
            let changed: Vec<String> = match (&before, now) {
                (Some(serde_json::Value::Object(b)), serde_json::Value::Object(n)) => n
                    .iter()
                    .filter(|(k, v)| b.get(*k) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .chain(b.keys().filter(|k| !n.contains_key(*k)).cloned())
                    .collect(),
                _ => Vec::new(),
            };
            append(
                tx,
                &AuditEntry {
                    actor,
                    action: "settings_changed",
                    operation: None,
                    reason: None,
                    change: Some({
                        let mut change = serde_json::json!({
                            "changed": changed,
                            "before": before,
                            "after": now,
                        });
                        if let (Some(serde_json::Value::Object(more)), Some(map)) =
                            (extra.clone(), change.as_object_mut())
                        {
                            map.extend(more);
                        }
                        change
                    }),
                },
                at,
            )?;
            Ok(true)
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash is SHA-256 over the JSON array as `serde_json` writes it:
    /// rows hashed before the hand-written encoder must still verify.
    #[test]
    fn the_row_hash_is_the_json_arrays() {
        type Case<'a> = (&'a str, Option<i64>, Option<&'a str>, Option<&'a str>);
        let cases: [Case<'_>; 4] = [
            (
                "close",
                Some(42),
                Some("день \"закрито\"\n\\ ok"),
                Some(r#"{"a":[1,2]}"#),
            ),
            ("login", None, None, None),
            ("override", Some(-7), Some("\u{1}\u{7f}é"), None),
            ("", Some(i64::MAX), Some(""), Some("")),
        ];
        for (action, op, reason, change) in cases {
            let text = serde_json::json!([
                GENESIS,
                "2026-11-25T10:00:00Z",
                "Олена",
                action,
                op,
                reason,
                change
            ])
            .to_string();
            let digest = Sha256::digest(text.as_bytes());
            let want: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let got = row_hash(
                GENESIS,
                "2026-11-25T10:00:00Z",
                "Олена",
                action,
                op,
                reason,
                change,
            );
            assert_eq!(got, want, "{text}");
        }
    }
}
