//! The support bundle an installer sends when something goes wrong
//! (`kasa support-bundle`, or the installer's screen): one `.zip` (what an
//! installer can open and mail from any computer) with Kasa's logs, the settings
//! with every password removed, the devices configured, the journal's schema
//! version and a count of its operations, its last operations with their
//! payments (card numbers masked, as the journal keeps them), and the list of
//! backups. Never the journal itself, and every text in it goes through
//! [`crate::redact::scrub`] once more.

use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

use crate::backup::{BackupError, Result};

/// Where Kasa's log files are: `logs` in the data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// What goes into a bundle.
#[derive(Debug, Clone)]
pub struct BundleInput {
    pub data_dir: PathBuf,
    pub settings_path: PathBuf,
    /// The `kasa` version.
    pub version: String,
}

/// The journal's schema version and its operations by state, read-only;
/// `{"error": ...}` when it cannot be read.
pub fn journal_facts(journal: &Path) -> Value {
    if !journal.exists() {
        return json!({ "path": journal, "exists": false });
    }
    let read = || -> rusqlite::Result<Value> {
        let c = Connection::open_with_flags(journal, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: Option<u32> =
            c.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })?;
        let mut by_state = serde_json::Map::new();
        let mut stmt =
            c.prepare("SELECT state, COUNT(*) FROM operations GROUP BY state ORDER BY state")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (state, n) = row?;
            by_state.insert(state, json!(n));
        }
        Ok(json!({
            "path": journal,
            "exists": true,
            "schema_version": version,
            "operations_by_state": by_state,
        }))
    };
    read().unwrap_or_else(|e| json!({ "path": journal, "exists": true, "error": e.to_string() }))
}

/// The settings file as a support person may see it: passwords replaced by
/// `***`; a file that is not JSON is scrubbed as text.
pub fn settings_text(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => serde_json::to_string_pretty(&crate::redact::settings_without_secrets(&v))
                .unwrap_or_default(),
            Err(e) => format!(
                "// not valid JSON ({e}); shown scrubbed:\n{}",
                crate::redact::scrub(&text)
            ),
        },
        Err(e) => format!("// no settings file at {} ({e})", path.display()),
    }
}

/// How many of the newest operations the bundle lists.
pub const LAST_OPERATIONS: u32 = 200;

/// The newest operations with their payments, read-only: what was asked,
/// what each device answered (RRN, auth code, masked card, response and
/// decline codes), and any error; `{"error": ...}` when the journal cannot
/// be read.
pub fn last_operations(journal: &Path, limit: u32) -> Value {
    let read = || -> rusqlite::Result<Value> {
        let c = Connection::open_with_flags(journal, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut ops = c.prepare(
            "SELECT id, kind, state, total, merchant, business_day, error_code, created_at, updated_at
             FROM operations ORDER BY id DESC LIMIT ?1",
        )?;
        let mut pays = c.prepare(
            "SELECT id, method, card_action, state, requested, approved, rrn, auth_code, masked_pan,
                    card_scheme, terminal_id, invoice, batch, response_code, decline_code
             FROM payments WHERE operation_id = ?1 ORDER BY id",
        )?;
        let rows = ops
            .query_map([limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    json!({
                        "id": r.get::<_, i64>(0)?, "kind": r.get::<_, String>(1)?,
                        "state": r.get::<_, String>(2)?, "total": r.get::<_, i64>(3)?,
                        "merchant": r.get::<_, Option<i64>>(4)?,
                        "business_day": r.get::<_, Option<String>>(5)?,
                        "error_code": r.get::<_, Option<String>>(6)?,
                        "created_at": r.get::<_, String>(7)?, "updated_at": r.get::<_, String>(8)?,
                    }),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut op) in rows {
            let payments = pays
                .query_map([id], |r| {
                    Ok(json!({
                        "id": r.get::<_, i64>(0)?, "method": r.get::<_, String>(1)?,
                        "card_action": r.get::<_, Option<String>>(2)?,
                        "state": r.get::<_, String>(3)?, "requested": r.get::<_, i64>(4)?,
                        "approved": r.get::<_, i64>(5)?, "rrn": r.get::<_, Option<String>>(6)?,
                        "auth_code": r.get::<_, Option<String>>(7)?,
                        "masked_pan": r.get::<_, Option<String>>(8)?,
                        "card_scheme": r.get::<_, Option<String>>(9)?,
                        "terminal_id": r.get::<_, Option<String>>(10)?,
                        "invoice": r.get::<_, Option<String>>(11)?,
                        "batch": r.get::<_, Option<String>>(12)?,
                        "response_code": r.get::<_, Option<String>>(13)?,
                        "decline_code": r.get::<_, Option<String>>(14)?,
                    }))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            op["payments"] = Value::Array(payments);
            out.push(op);
        }
        Ok(Value::Array(out))
    };
    if !journal.exists() {
        return json!([]);
    }
    read().unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// The devices the settings name (protocol, dialect, where they are
/// reached), no passwords; `null` for an emulated one.
pub fn devices(settings: Option<&crate::settings::Settings>) -> Value {
    let Some(s) = settings else {
        return json!({ "settings": "unreadable" });
    };
    json!({
        "terminal": s.terminal.as_ref().map(|t| json!({
            "protocol": serde_json::to_value(t.protocol).unwrap_or(Value::Null),
            "endpoint": serde_json::to_value(&t.endpoint).unwrap_or(Value::Null),
        })),
        "fiscal": s.fiscal.as_ref().map(|f| json!({
            "dialect": f.dialect,
            "endpoint": serde_json::to_value(&f.endpoint).unwrap_or(Value::Null),
            "operator": f.operator,
            "till": f.till,
        })),
        "merchants": s.merchants.iter().map(|m| json!({
            "index": m.index, "name": m.name, "terminal_id": m.terminal_id,
        })).collect::<Vec<_>>(),
    })
}

/// Write the bundle to `out` (a `.zip`, every file under `kasa-support/`);
/// returns the files it holds. Written to `out` with a `.part` suffix and
/// renamed when complete: no half bundle is ever left under `out`.
pub fn write_bundle(input: &BundleInput, out: &Path) -> Result<Vec<String>> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut part = out.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let result = write_zip(input, &part);
    match result {
        Ok(names) => {
            std::fs::rename(&part, out)?;
            Ok(names)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

fn write_zip(input: &BundleInput, out: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::create(out)
        .map_err(|e| BackupError(format!("cannot create {}: {e}", out.display())))?;
    let mut zip = zip::ZipWriter::new(file);
    let zip_err = |e: zip::result::ZipError| BackupError(format!("support bundle: {e}"));
    let mut names = Vec::new();
    let now = chrono::Utc::now();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644)
        .last_modified_time(zip_time(now));
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        zip.start_file(format!("kasa-support/{name}"), options)
            .map_err(zip_err)?;
        zip.write_all(bytes)?;
        names.push(name.to_string());
        Ok(())
    };

    let journal = crate::setup::journal_path(&input.data_dir);
    let settings: Option<crate::settings::Settings> =
        crate::settings::Settings::load(&input.settings_path).ok();
    let backups = settings
        .as_ref()
        .map(|s| s.backup.dir_for(&journal))
        .map(|dir| {
            let list = crate::backup::list(&dir).unwrap_or_default();
            json!({
                "dir": dir,
                "files": list.iter().map(|(at, p)| json!({
                    "name": p.file_name().map(|n| n.to_string_lossy().to_string()),
                    "taken_at": at.to_rfc3339(),
                    "bytes": std::fs::metadata(p).map(|m| m.len()).ok(),
                })).collect::<Vec<_>>(),
            })
        });
    let info = json!({
        "kasa_version": input.version,
        "made_at": now.to_rfc3339(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "data_dir": input.data_dir,
        "settings_path": input.settings_path,
        "mode": settings.as_ref().map(|s| if s.is_production() { "production" } else { "demo" }),
        "journal": journal_facts(&journal),
        "backups": backups,
    });
    add(
        "info.json",
        serde_json::to_string_pretty(&info)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    add(
        "settings.json",
        settings_text(&input.settings_path).as_bytes(),
    )?;
    add(
        "devices.json",
        serde_json::to_string_pretty(&devices(settings.as_ref()))
            .unwrap_or_default()
            .as_bytes(),
    )?;
    let operations = serde_json::to_string_pretty(&last_operations(&journal, LAST_OPERATIONS))
        .unwrap_or_default();
    add(
        "operations.json",
        crate::redact::scrub(&operations).as_bytes(),
    )?;
    let logs = log_dir(&input.data_dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path)?;
        let text = crate::redact::scrub(&String::from_utf8_lossy(&bytes));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        add(&format!("logs/{name}"), text.as_bytes())?;
    }
    let mut file = zip.finish().map_err(zip_err)?;
    file.flush()?;
    file.sync_all()?;
    Ok(names)
}

/// A zip entry's time (the format's own: local fields, two-second steps,
/// from 1980); the epoch of the format when `at` cannot be written.
fn zip_time(at: chrono::DateTime<chrono::Utc>) -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    u16::try_from(at.year())
        .ok()
        .and_then(|y| {
            zip::DateTime::from_date_and_time(
                y,
                u8::try_from(at.month()).ok()?,
                u8::try_from(at.day()).ok()?,
                u8::try_from(at.hour()).ok()?,
                u8::try_from(at.minute()).ok()?,
                u8::try_from(at.second()).ok()?,
            )
            .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_bundle_has_logs_settings_without_passwords_and_the_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let journal = crate::setup::journal_path(&data);
        drop(crate::journal::Journal::open(&journal).unwrap());
        std::fs::create_dir_all(log_dir(&data)).unwrap();
        std::fs::write(
            log_dir(&data).join("kasa.log.2026-11-25"),
            "{\"msg\":\"pan 4111 1111 1111 1111\"}\n",
        )
        .unwrap();
        let settings = tmp.path().join("kasa.json");
        std::fs::write(
            &settings,
            r#"{"fiscal":{"endpoint":{"kind":"tcp","address":"127.0.0.1:1"},"password":"7391"}}"#,
        )
        .unwrap();
        let out = tmp.path().join("bundle.zip");
        let names = write_bundle(
            &BundleInput {
                data_dir: data,
                settings_path: settings,
                version: "0.1.0".into(),
            },
            &out,
        )
        .unwrap();
        assert_eq!(
            names,
            [
                "info.json",
                "settings.json",
                "devices.json",
                "operations.json",
                "logs/kasa.log.2026-11-25"
            ]
        );
        assert!(
            !tmp.path().join("bundle.zip.part").exists(),
            "the part file was left"
        );
        let mut all = String::new();
        let mut ar = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
        assert_eq!(ar.len(), names.len());
        for i in 0..ar.len() {
            let mut e = ar.by_index(i).unwrap();
            assert!(e.name().starts_with("kasa-support/"), "{}", e.name());
            e.read_to_string(&mut all).unwrap();
        }
        assert!(!all.contains("7391"), "{all}");
        assert!(all.contains("\"password\": \"***\""), "{all}");
        assert!(all.contains("411111******1111"));
        assert!(crate::redact::find_pans(all.as_bytes()).is_empty());
        assert!(all.contains("\"schema_version\": "), "{all}");
    }
}
