//! Backups of the journal (the shop's record of money taken) and restoring
//! one.
//!
//! - A backup is taken with SQLite's online backup API from a connection of
//!   its own: safe while Kasa runs (the journal is in WAL mode, so the copy
//!   is one consistent snapshot and Kasa's writes go on meanwhile).
//! - It is written to a temporary file in the backup directory, checked
//!   (`PRAGMA integrity_check`, the journal's tables, no full card number in
//!   any text), synced, and only then renamed to
//!   `kasa-journal-YYYYMMDDTHHMMSSZ.sqlite`; backups older than the
//!   installer's number of days are then removed (the newest is always kept).
//! - A restore checks the file the same way first, refuses a broken one, one
//!   from a newer Kasa, and one older than the journal it would replace
//!   (unless forced), never touches a journal that a running Kasa has open,
//!   and keeps the journal it replaces beside it.
//!
//! [`after_day_close`] is what the day close calls.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Why a backup or a restore did not happen: a sentence for the installer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(pub String);

impl From<rusqlite::Error> for BackupError {
    fn from(e: rusqlite::Error) -> Self {
        BackupError(format!("SQLite: {e}"))
    }
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        BackupError(e.to_string())
    }
}

impl From<crate::Error> for BackupError {
    fn from(e: crate::Error) -> Self {
        BackupError(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, BackupError>;

/// The installer's backup settings (the `backup` section of `kasa.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSettings {
    /// Write a backup after each day close.
    pub after_day_close: bool,
    /// Where backups go (a USB disk, a network share); default: `backups`
    /// in the data directory.
    pub dir: Option<PathBuf>,
    /// How many days a backup is kept (the newest is always kept).
    pub keep_days: u32,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            after_day_close: true,
            dir: None,
            keep_days: 60,
        }
    }
}

impl BackupSettings {
    /// The backup directory for the journal at `journal`.
    pub fn dir_for(&self, journal: &Path) -> PathBuf {
        match &self.dir {
            Some(d) => d.clone(),
            None => journal
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join("backups"),
        }
    }
}

/// What a backup file holds, as checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The journal's schema version (its last migration).
    pub schema_version: u32,
    pub operations: i64,
    pub payments: i64,
    /// The newest operation's last change (RFC 3339), if any.
    pub last_change: Option<String>,
}

/// A backup written and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub summary: Summary,
    /// Older backups removed by the retention rule.
    pub removed: Vec<PathBuf>,
}

const PREFIX: &str = "kasa-journal-";
const SUFFIX: &str = ".sqlite";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

fn err(msg: impl Into<String>) -> BackupError {
    BackupError(msg.into())
}

/// The file name of a backup taken at `at`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

/// When the backup called `name` was taken, if it is one of ours.
pub fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let stamp = stamp.split('.').next()?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// The order of the backups taken in one second: `...Z.sqlite` first, then
/// `...Z.1.sqlite`, `...Z.2.sqlite`...
fn sequence(name: &str) -> u32 {
    name.strip_suffix(SUFFIX)
        .and_then(|s| s.rsplit_once('.'))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let mut all = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(all),
        Err(e) => return Err(err(format!("cannot read {}: {e}", dir.display()))),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(at) = name.to_str().and_then(taken_at) {
            all.push((at, entry.path()));
        }
    }
    all.sort_by_key(|(at, path)| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        (*at, sequence(&name))
    });
    Ok(all)
}

/// Back up the journal at `journal` into `dir` now; checked, then old ones
/// removed after `keep_days`.
pub fn backup_to_dir(journal: &Path, dir: &Path, keep_days: u32) -> Result<Written> {
    let now = Utc::now();
    std::fs::create_dir_all(dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let mut path = dir.join(file_name(now));
    // Two backups in one second get distinct names.
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{PREFIX}{}.{n}{SUFFIX}", now.format(STAMP)));
        n += 1;
    }
    let summary = backup_to_file(journal, &path)?;
    let removed = prune(dir, keep_days, now, &path)?;
    tracing::info!(
        backup = %path.display(),
        operations = summary.operations,
        schema = summary.schema_version,
        removed = removed.len(),
        "journal backed up"
    );
    Ok(Written {
        path,
        summary,
        removed,
    })
}

/// Back up the journal at `journal` to the file `dest` (which must not
/// exist): copied with the online backup API into `dest.partial`, checked,
/// synced, renamed.
pub fn backup_to_file(journal: &Path, dest: &Path) -> Result<Summary> {
    if !journal.is_file() {
        return Err(err(format!("no journal at {}", journal.display())));
    }
    if dest.exists() {
        return Err(err(format!("{} already exists", dest.display())));
    }
    let partial = partial_path(dest);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let src = Connection::open_with_flags(
            journal,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        src.busy_timeout(Duration::from_secs(10))?;
        {
            let mut dst = Connection::open(&partial)?;
            copy_all(&src, &mut dst)?;
        }
        drop(src);
        // A backup is one self-contained file.
        {
            let c = Connection::open(&partial)?;
            c.pragma_update(None, "journal_mode", "DELETE")?;
        }
        let summary = check(&partial)?;
        sync_file(&partial)?;
        std::fs::rename(&partial, dest)?;
        if let Some(dir) = dest.parent() {
            sync_dir(dir);
        }
        Ok(summary)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Copy every page of `src` into `dst` in one step: one read transaction,
/// one snapshot (a writer goes on beside it, in the WAL). Busy or locked
/// is tried again for at most 10 s.
fn copy_all(src: &Connection, dst: &mut Connection) -> Result<()> {
    use rusqlite::backup::StepResult;
    let backup = rusqlite::backup::Backup::new(src, dst)?;
    let end = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked
                if std::time::Instant::now() < end =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return Err(err("the journal stayed busy for 10 s: no backup taken")),
        }
    }
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

fn sync_file(path: &Path) -> Result<()> {
    // Opened for writing: Windows flushes only a handle with write access
    // (a read-only one is refused, "Access denied").
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .sync_all()?;
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Directories cannot be opened for syncing everywhere (Windows).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Remove the backups in `dir` taken more than `keep_days` days before
/// `now`, never `keep`.
pub fn prune(dir: &Path, keep_days: u32, now: DateTime<Utc>, keep: &Path) -> Result<Vec<PathBuf>> {
    let limit = now - chrono::Duration::days(i64::from(keep_days));
    let mut removed = Vec::new();
    for (at, path) in list(dir)? {
        if at < limit && path != keep {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) => tracing::warn!("cannot remove the old backup {}: {e}", path.display()),
            }
        }
    }
    Ok(removed)
}

/// Check a journal file (a backup, or one about to be replaced): a SQLite
/// database that passes `PRAGMA integrity_check`, holds the journal's
/// tables, and no full card number anywhere in its text.
pub fn check(path: &Path) -> Result<Summary> {
    let what = path.display();
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read {what}: {e}")))?;
    if meta.len() == 0 {
        return Err(err(format!("{what} is empty")));
    }
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        f.read_exact(&mut head)
            .map_err(|_| err(format!("{what} is not a Kasa journal (too short)")))?;
    }
    if &head != b"SQLite format 3\0" {
        return Err(err(format!("{what} is not a SQLite database")));
    }
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| err(format!("cannot open {what}: {e}")))?;
    let integrity: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| err(format!("{what} is damaged: {e}")))?;
    if integrity != ["ok"] {
        let shown: Vec<_> = integrity.into_iter().take(5).collect();
        return Err(err(format!(
            "{what} is damaged (integrity check: {})",
            shown.join("; ")
        )));
    }
    let schema_version: Option<u32> = c
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .map_err(|e| err(format!("{what} is not a Kasa journal: {e}")))?;
    let schema_version =
        schema_version.ok_or_else(|| err(format!("{what} is not a Kasa journal (no schema)")))?;
    let count = |table: &str| -> Result<i64> {
        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| err(format!("{what} is not a Kasa journal: {e}")))
    };
    let operations = count("operations")?;
    let payments = count("payments")?;
    let last_change: Option<String> = c
        .query_row("SELECT MAX(updated_at) FROM operations", [], |r| r.get(0))
        .optional()
        .map_err(|e| err(format!("{what}: {e}")))?
        .flatten();
    if let Some(found) = full_card_number(&c)? {
        return Err(err(format!(
            "{what} holds what looks like a full card number ({found}): not kept"
        )));
    }
    Ok(Summary {
        schema_version,
        operations,
        payments,
        last_change,
    })
}

/// Where a full card number shows in the text of any table, if anywhere.
fn full_card_number(c: &Connection) -> Result<Option<String>> {
    let tables: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for (i, name) in names.iter().enumerate() {
                if let rusqlite::types::ValueRef::Text(t) = row.get_ref(i)? {
                    if !crate::redact::find_pans_standing(t).is_empty() {
                        return Ok(Some(format!("{table}.{name}")));
                    }
                }
            }
        }
    }
    Ok(None)
}

/// The newest schema version this Kasa knows (a journal migrated from nothing).
pub fn current_schema_version() -> Result<u32> {
    let dir = std::env::temp_dir().join(format!(
        "kasa-schema-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    let version =
        crate::journal::Journal::open(&dir.join("j.sqlite")).and_then(|j| j.schema_version());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(version?)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    pub journal: PathBuf,
    pub summary: Summary,
    /// The journal it replaced, kept under this name.
    pub replaced: Option<PathBuf>,
}

/// Restore the backup `from` as the journal `journal`. Refused: a file that
/// fails [`check`]; one from a newer Kasa; one older than the journal it
/// would replace (its newest change is older, or it has fewer operations)
/// unless `force`; a journal a running Kasa has open. The journal replaced
/// is kept as `journal.sqlite.before-restore-<time>`.
pub fn restore(from: &Path, journal: &Path, force: bool) -> Result<Restored> {
    let summary = check(from)?;
    let known = current_schema_version()?;
    if summary.schema_version > known {
        return Err(err(format!(
            "{} is from a newer Kasa (journal schema {}, this Kasa knows up to {known})",
            from.display(),
            summary.schema_version
        )));
    }
    let dir = journal
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let existing = if journal.exists() {
        ensure_not_in_use(journal)?;
        Some(check_existing(journal)?)
    } else {
        None
    };
    if let (Some(current), false) = (&existing, force) {
        let older_change = match (&summary.last_change, &current.last_change) {
            (Some(b), Some(c)) => b < c,
            (None, Some(_)) => true,
            _ => false,
        };
        if older_change || summary.operations < current.operations {
            return Err(err(format!(
                "{} is older than the journal at {} (its last change {}, {} operations; the journal's {}, {} operations): \
                 restoring it would lose operations; use --force to restore it anyway",
                from.display(),
                journal.display(),
                summary.last_change.as_deref().unwrap_or("none"),
                summary.operations,
                current.last_change.as_deref().unwrap_or("none"),
                current.operations
            )));
        }
    }
    // Copy it in beside the journal with the backup API, check, then swap.
    let incoming = dir.join(format!(
        "{}.restoring",
        journal.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&incoming);
    let copy = (|| -> Result<()> {
        let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut dst = Connection::open(&incoming)?;
        copy_all(&src, &mut dst)?;
        drop(dst);
        check(&incoming)?;
        sync_file(&incoming)?;
        Ok(())
    })();
    if let Err(e) = copy {
        let _ = std::fs::remove_file(&incoming);
        return Err(e);
    }
    let replaced = match existing {
        Some(_) => {
            let aside = dir.join(format!(
                "{}.before-restore-{}",
                journal.file_name().unwrap_or_default().to_string_lossy(),
                Utc::now().format(STAMP)
            ));
            std::fs::rename(journal, &aside)?;
            Some(aside)
        }
        None => None,
    };
    for ext in ["-wal", "-shm"] {
        let mut p = journal.as_os_str().to_os_string();
        p.push(ext);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::rename(&incoming, journal)?;
    sync_dir(dir);
    tracing::info!(
        from = %from.display(),
        journal = %journal.display(),
        operations = summary.operations,
        "journal restored"
    );
    Ok(Restored {
        journal: journal.to_path_buf(),
        summary,
        replaced,
    })
}

/// Refuse when another process has the journal open: leaving WAL mode
/// needs the only connection, and brings the WAL's pages into the main
/// file (so the file moved aside is whole).
fn ensure_not_in_use(journal: &Path) -> Result<()> {
    let c = Connection::open(journal)?;
    c.busy_timeout(Duration::from_millis(200))?;
    let mode: String = c
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(|e| in_use(journal, e))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(in_use(journal, "still in WAL mode"));
    }
    Ok(())
}

fn in_use(journal: &Path, why: impl std::fmt::Display) -> BackupError {
    err(format!(
        "the journal {} is in use (is Kasa running? stop it first): {why}",
        journal.display()
    ))
}

/// The journal about to be replaced: what it holds. A damaged one can
/// only be replaced by force.
fn check_existing(journal: &Path) -> Result<Summary> {
    check(journal)
}

/// Called after each day close: a backup into the installer's directory,
/// when the settings ask for one; `Ok(None)` when they do not. A failure
/// (a USB disk unplugged) is for the caller to show and log: the day close
/// itself stands.
pub fn after_day_close(journal: &Path, settings: &BackupSettings) -> Result<Option<Written>> {
    if !settings.after_day_close {
        return Ok(None);
    }
    let dir = settings.dir_for(journal);
    backup_to_dir(journal, &dir, settings.keep_days)
        .map(Some)
        .inspect_err(|e| tracing::error!("the backup after the day close failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;

    fn journal_with_rows(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("journal.sqlite");
        let j = Journal::open(&path).unwrap();
        drop(j);
        let c = Connection::open(&path).unwrap();
        for i in 0..n {
            c.execute(
                "INSERT INTO operations (key, kind, state, request, request_hash, actor, business_day, total, created_at, updated_at)
                 VALUES (?1, 'sale', 'done', '{}', 'h', 'test', '2026-11-25', 100, ?2, ?2)",
                rusqlite::params![format!("k{i}"), format!("2026-11-25T10:00:{i:02}Z")],
            )
            .unwrap();
        }
        path
    }

    #[test]
    fn a_backup_is_checked_named_and_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = journal_with_rows(tmp.path(), 3);
        let dir = tmp.path().join("b");
        // An old one the retention removes, a foreign file it leaves alone.
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join(file_name(Utc::now() - chrono::Duration::days(10)));
        std::fs::write(&old, b"old").unwrap();
        std::fs::write(dir.join("notes.txt"), b"keep").unwrap();
        let w = backup_to_dir(&journal, &dir, 7).unwrap();
        assert_eq!(w.summary.operations, 3);
        assert!(w.summary.schema_version >= 2);
        assert_eq!(w.removed, vec![old.clone()]);
        assert!(!old.exists() && dir.join("notes.txt").exists());
        assert!(taken_at(&w.path.file_name().unwrap().to_string_lossy()).is_some());
        // A second one in the same second gets its own name.
        let w2 = backup_to_dir(&journal, &dir, 7).unwrap();
        assert_ne!(w.path, w2.path);
        let all: Vec<_> = list(&dir).unwrap().into_iter().map(|(_, p)| p).collect();
        assert_eq!(all, vec![w.path, w2.path]);
    }

    #[test]
    fn backups_of_one_second_list_in_the_order_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let names = [
            "kasa-journal-20261125T101010Z.sqlite",
            "kasa-journal-20261125T101010Z.2.sqlite",
            "kasa-journal-20261125T101010Z.10.sqlite",
            "kasa-journal-20261125T101011Z.sqlite",
        ];
        for n in names.iter().rev() {
            std::fs::write(tmp.path().join(n), b"x").unwrap();
        }
        let listed: Vec<_> = list(tmp.path())
            .unwrap()
            .into_iter()
            .map(|(_, p)| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(listed, names);
    }

    #[test]
    fn restore_refuses_broken_older_and_newer_files() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = journal_with_rows(tmp.path(), 2);
        let b = tmp.path().join("b.sqlite");
        backup_to_file(&journal, &b).unwrap();

        // Into a new place: fine.
        let fresh = tmp.path().join("new").join("journal.sqlite");
        let r = restore(&b, &fresh, false).unwrap();
        assert_eq!(r.summary.operations, 2);
        assert!(r.replaced.is_none());
        assert_eq!(
            Journal::open(&fresh).unwrap().schema_version().unwrap(),
            r.summary.schema_version
        );

        // Over a journal that has more: refused, unless forced.
        let c = Connection::open(&journal).unwrap();
        c.execute(
            "INSERT INTO operations (key, kind, state, request, request_hash, actor, business_day, total, created_at, updated_at)
             VALUES ('later', 'sale', 'done', '{}', 'h', 'test', '2026-11-26', 100, '2026-11-26T10:00:00Z', '2026-11-26T10:00:00Z')",
            [],
        )
        .unwrap();
        drop(c);
        let e = restore(&b, &journal, false).unwrap_err().to_string();
        assert!(e.contains("older") && e.contains("--force"), "{e}");
        let r = restore(&b, &journal, true).unwrap();
        let aside = r.replaced.unwrap();
        assert_eq!(check(&aside).unwrap().operations, 3);
        assert_eq!(check(&journal).unwrap().operations, 2);

        // Truncated and corrupted files are refused.
        let bytes = std::fs::read(&b).unwrap();
        let cut = tmp.path().join("cut.sqlite");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = restore(&cut, &fresh, true).unwrap_err().to_string();
        assert!(e.contains("damaged") || e.contains("not a"), "{e}");
        let mut bad = bytes.clone();
        for b in bad.iter_mut().skip(4096).take(2048) {
            *b ^= 0x5A;
        }
        let bad_path = tmp.path().join("bad.sqlite");
        std::fs::write(&bad_path, &bad).unwrap();
        assert!(restore(&bad_path, &fresh, true).is_err());
        let junk = tmp.path().join("junk.sqlite");
        std::fs::write(&junk, b"hello").unwrap();
        assert!(restore(&junk, &fresh, true)
            .unwrap_err()
            .to_string()
            .contains("not a"));

        // From a newer Kasa.
        let newer = tmp.path().join("newer.sqlite");
        backup_to_file(&journal, &newer).unwrap();
        let c = Connection::open(&newer).unwrap();
        c.execute("INSERT INTO schema_migrations VALUES (999, 'x')", [])
            .unwrap();
        drop(c);
        let e = restore(&newer, &tmp.path().join("n2/journal.sqlite"), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("newer Kasa"), "{e}");
    }

    #[test]
    fn a_journal_in_use_is_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = journal_with_rows(tmp.path(), 1);
        let b = tmp.path().join("b.sqlite");
        backup_to_file(&journal, &b).unwrap();
        let open = Journal::open(&journal).unwrap();
        let e = restore(&b, &journal, true).unwrap_err().to_string();
        assert!(e.contains("in use"), "{e}");
        drop(open);
        restore(&b, &journal, true).unwrap();
    }

    #[test]
    fn a_full_card_number_is_never_kept_in_a_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = journal_with_rows(tmp.path(), 1);
        let c = Connection::open(&journal).unwrap();
        c.execute(
            "UPDATE operations SET error_message = 'card 4111 1111 1111 1111 declined'",
            [],
        )
        .unwrap();
        drop(c);
        let e = backup_to_file(&journal, &tmp.path().join("b.sqlite"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("full card number") && e.contains("operations.error_message"),
            "{e}"
        );
        assert!(!tmp.path().join("b.sqlite").exists());
        assert!(!tmp.path().join("b.sqlite.partial").exists());
    }

    #[test]
    fn after_day_close_follows_the_settings() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = journal_with_rows(tmp.path(), 1);
        let off = BackupSettings {
            after_day_close: false,
            ..BackupSettings::default()
        };
        assert!(after_day_close(&journal, &off).unwrap().is_none());
        let w = after_day_close(&journal, &BackupSettings::default())
            .unwrap()
            .unwrap();
        assert!(w.path.starts_with(tmp.path().join("backups")));
        let to = BackupSettings {
            dir: Some(tmp.path().join("usb")),
            ..BackupSettings::default()
        };
        let w = after_day_close(&journal, &to).unwrap().unwrap();
        assert!(w.path.starts_with(tmp.path().join("usb")));
        let s: BackupSettings =
            serde_json::from_str(r#"{"dir":"/media/usb/kasa","keep_days":30}"#).unwrap();
        assert_eq!(s.keep_days, 30);
        assert!(s.after_day_close);
    }
}
