//! The support bundle an installer sends when something goes wrong
//! (`kasa support-bundle`): one `.tar.gz` with Kasa's logs, the settings
//! with every password removed, the journal's schema version and a count of
//! its operations, and the list of backups. Never the journal itself, and
//! every text in it goes through [`crate::redact::scrub`] once more.

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

/// Write the bundle to `out` (a `.tar.gz`); returns the files it holds.
pub fn write_bundle(input: &BundleInput, out: &Path) -> Result<Vec<String>> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(out)
        .map_err(|e| BackupError(format!("cannot create {}: {e}", out.display())))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut names = Vec::new();
    let now = chrono::Utc::now();
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(now.timestamp()).unwrap_or(0));
        header.set_cksum();
        tar.append_data(&mut header, format!("kasa-support/{name}"), bytes)?;
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
    let gz = tar.into_inner()?;
    let mut file = gz.finish()?;
    file.flush()?;
    file.sync_all()?;
    Ok(names)
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
        let out = tmp.path().join("bundle.tar.gz");
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
            ["info.json", "settings.json", "logs/kasa.log.2026-11-25"]
        );
        let mut all = String::new();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&out).unwrap(),
        ));
        for entry in ar.entries().unwrap() {
            let mut e = entry.unwrap();
            e.read_to_string(&mut all).unwrap();
        }
        assert!(!all.contains("7391"), "{all}");
        assert!(all.contains("\"password\": \"***\""), "{all}");
        assert!(all.contains("411111******1111"));
        assert!(crate::redact::find_pans(all.as_bytes()).is_empty());
        assert!(all.contains("\"schema_version\": "), "{all}");
    }
}
