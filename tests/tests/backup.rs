//! Backups, logs and the support bundle, with `kasa` as an installer runs
//! it: `kasa serve` against the emulators as processes, `kasa backup` while a
//! load of sales runs, `kasa restore` into a new data directory, and the
//! logs, the support bundle and a backup searched for card numbers (the
//! terminal emulator scripted to send full ones) and the register's
//! password.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{ensure, Context as _};
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};
use testkit::process::{kasa_bin, settings, Emulator, Kasa};

/// The register's operator password here: it must never show in a log.
const PASSWORD: &str = "7391";

/// `kasa <args>` with this data directory and settings; its output.
fn run_kasa(data: &Path, config: &Path, args: &[&str]) -> anyhow::Result<Output> {
    let out = Command::new(kasa_bin()?)
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("KASA_LOG", "warn")
        .output()
        .context("run kasa")?;
    Ok(out)
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Emulators, a production `kasa.json` for them with the password and the
/// backup directory, and the data directory.
struct Shop {
    dir: tempfile::TempDir,
    terminal: Emulator,
    fiscal: Emulator,
    config: PathBuf,
    data: PathBuf,
}

impl Shop {
    fn new(terminal_extra: &[&str]) -> anyhow::Result<Shop> {
        let dir = tempfile::tempdir()?;
        let terminal = Emulator::terminal("privatbank", dir.path(), terminal_extra)?;
        let fiscal = Emulator::fiscal(dir.path(), &["--password", PASSWORD])?;
        let config = settings(dir.path(), "privatbank", &terminal, &fiscal, json!({}))?;
        let mut s: Value = serde_json::from_slice(&std::fs::read(&config)?)?;
        s["fiscal"]["password"] = json!(PASSWORD);
        s["backup"] = json!({ "dir": dir.path().join("usb"), "keep_days": 30 });
        std::fs::write(&config, serde_json::to_vec_pretty(&s)?)?;
        let data = dir.path().join("data");
        Ok(Shop {
            dir,
            terminal,
            fiscal,
            config,
            data,
        })
    }

    fn serve(&self, data: &Path) -> anyhow::Result<Kasa> {
        Kasa::start(data, &self.config, None)
    }
}

/// Operations and payments as rows, to compare two journals.
fn rows(journal: &Path) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let c = Connection::open_with_flags(journal, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut ops = c.prepare(
        "SELECT id, key, kind, state, total, request, created_at, updated_at FROM operations ORDER BY id",
    )?;
    let ops = ops
        .query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut pays = c.prepare(
        "SELECT id, operation_id, method, state, requested, approved, IFNULL(rrn, ''), IFNULL(masked_pan, ''), IFNULL(auth_code, '') FROM payments ORDER BY id",
    )?;
    let pays = pays
        .query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((ops, pays))
}

fn backup_path(out: &Output) -> anyhow::Result<PathBuf> {
    ensure!(out.status.success(), "kasa backup failed: {}", text(out));
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    ensure!(
        path.is_file(),
        "no backup at {}: {}",
        path.display(),
        text(out)
    );
    Ok(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_sales_restores_every_operation_and_a_broken_one_is_refused(
) -> anyhow::Result<()> {
    let shop = Shop::new(&[])?;
    let kasa = std::sync::Arc::new(shop.serve(&shop.data)?);
    let pid = std::process::id();

    // A load: card sales, mixed card and cash, cash, one after the other,
    // while backups are taken beside them.
    let k = std::sync::Arc::clone(&kasa);
    // How many sales the load has finished: each backup waits for a number
    // of them (a state), so it is taken while sales are under way.
    let (sold_tx, mut sold) = tokio::sync::watch::channel(0usize);
    let load = tokio::spawn(async move {
        let mut done = Vec::new();
        for i in 0..40 {
            let key = format!("load-{pid}-{i}");
            let body = match i % 3 {
                0 => json!({ "key": key, "amount": 1250 + i }),
                1 => json!({ "key": key, "amount": 1000, "payments": [
                    { "method": "card", "amount": 600 }, { "method": "cash", "amount": 400 } ] }),
                _ => {
                    json!({ "key": key, "amount": 500, "payments": [{ "method": "cash", "amount": 500 }] })
                }
            };
            let v = k.ok("sale", body).await?;
            anyhow::ensure!(v["state"] == "done", "sale {i}: {v}");
            done.push(key);
            sold_tx.send_replace(done.len());
        }
        Ok::<_, anyhow::Error>(done)
    });
    let mut during = Vec::new();
    for after in [2, 8, 14] {
        sold.wait_for(|n| *n >= after)
            .await
            .context("the load stopped before the backups")?;
        let (data, config) = (shop.data.clone(), shop.config.clone());
        let out =
            tokio::task::spawn_blocking(move || run_kasa(&data, &config, &["backup"])).await??;
        during.push((backup_path(&out)?, load.is_finished()));
    }
    ensure!(
        during.iter().any(|(_, finished)| !finished),
        "every backup finished after the load: the test proves nothing"
    );
    let keys = load.await??;
    let last = run_kasa(&shop.data, &shop.config, &["backup"])?;
    let last = backup_path(&last)?;
    ensure!(
        last.starts_with(shop.dir.path().join("usb")),
        "{}",
        last.display()
    );

    // The day close writes a backup by itself, into the installer's
    // directory, before it answers: one more file, holding the day close.
    let usb = shop.dir.path().join("usb");
    let before = checkout::backup::list(&usb)?;
    let close = kasa
        .ok("day_close", json!({ "key": format!("close-{pid}") }))
        .await?;
    ensure!(close["state"] == "done", "day close: {close}");
    let after = checkout::backup::list(&usb)?;
    ensure!(
        after.len() == before.len() + 1,
        "no backup after the day close: {before:?} then {after:?}"
    );
    let (_, closed) = after.last().context("no backup")?.clone();
    let (ops, _) = rows(&closed)?;
    ensure!(
        ops.iter().any(|o| o.contains("|day_close|done|")),
        "the backup after the day close lacks it: {:?}",
        ops.last()
    );
    let last = closed;

    // Each backup taken during the load is a consistent snapshot: what it
    // holds of the finished operations is exactly the journal's.
    let journal = checkout::setup::journal_path(&shop.data);
    let (live_ops, live_pays) = rows(&journal)?;
    for (b, _) in &during {
        let (ops, pays) = rows(b)?;
        ensure!(ops.len() <= live_ops.len() && pays.len() <= live_pays.len());
        for (o, live) in ops.iter().zip(&live_ops) {
            if !o.contains("|running|") && !o.contains("|awaiting_payment|") {
                ensure!(o == live, "{o}\n!=\n{live}");
            }
        }
    }

    // The last one, restored into a new data directory: every operation and
    // payment, and Kasa serves from it.
    let restored = shop.dir.path().join("restored");
    let out = run_kasa(
        &restored,
        &shop.config,
        &["restore", last.to_str().unwrap_or("")],
    )?;
    ensure!(out.status.success(), "restore: {}", text(&out));
    let (ops, pays) = rows(&checkout::setup::journal_path(&restored))?;
    ensure!(ops == live_ops, "operations differ after the restore");
    ensure!(pays == live_pays, "payments differ after the restore");
    ensure!(
        ops.len() == 40 + 1 && pays.len() == 40 + 13,
        "{} ops, {} payments",
        ops.len(),
        pays.len()
    );
    // The audit log came along whole.
    let out = run_kasa(&restored, &shop.config, &["audit", "verify"])?;
    ensure!(out.status.success(), "audit verify: {}", text(&out));
    drop(kasa);
    let again = shop.serve(&restored)?;
    for key in [&keys[0], &keys[39]] {
        let v = again.ok("by_key", json!({ "key": key })).await?;
        ensure!(v["operation"]["state"] == "done", "{key}: {v}");
    }
    drop(again);

    // An older backup over the restored journal: refused, unless forced.
    let (older, _) = &during[0];
    let out = run_kasa(
        &restored,
        &shop.config,
        &["restore", older.to_str().unwrap_or("")],
    )?;
    ensure!(
        !out.status.success(),
        "an older backup was restored: {}",
        text(&out)
    );
    ensure!(text(&out).contains("older"), "{}", text(&out));

    // Truncated and corrupted backups are refused with a clear error.
    let bytes = std::fs::read(&last)?;
    let cut = shop.dir.path().join("cut.sqlite");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3])?;
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 4096.min(bytes.len() / 4)] {
        *b = !*b;
    }
    let corrupt = shop.dir.path().join("corrupt.sqlite");
    std::fs::write(&corrupt, &bad)?;
    for broken in [&cut, &corrupt] {
        let fresh = shop.dir.path().join(format!(
            "fresh-{}",
            broken.file_name().unwrap_or_default().to_string_lossy()
        ));
        let out = run_kasa(
            &fresh,
            &shop.config,
            &["restore", "--force", broken.to_str().unwrap_or("")],
        )?;
        let t = text(&out);
        ensure!(!out.status.success(), "a broken backup was restored: {t}");
        ensure!(
            t.contains("refused") && (t.contains("damaged") || t.contains("not a")),
            "unclear error: {t}"
        );
        ensure!(!checkout::setup::journal_path(&fresh).exists(), "{t}");
    }
    let out = run_kasa(
        &restored,
        &shop.config,
        &["restore", "--force", older.to_str().unwrap_or("")],
    )?;
    ensure!(out.status.success(), "forced: {}", text(&out));
    Ok(())
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                all.extend(files(&p));
            } else {
                all.push(p);
            }
        }
    }
    all
}

fn no_card_numbers(what: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let found = checkout::redact::find_pans(bytes);
    ensure!(
        found.is_empty(),
        "{what} holds a card number: {:?}",
        found
            .iter()
            .map(|m| String::from_utf8_lossy(&bytes[m.start..m.end]).to_string())
            .collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::test]
async fn full_card_numbers_and_the_password_stay_out_of_logs_bundles_and_backups(
) -> anyhow::Result<()> {
    // Luhn-valid numbers, sent in full: with spaces, then without.
    let shop = Shop::new(&[
        "--outcome",
        "raw-pan:5168 7500 0000 1237",
        "--outcome",
        "raw-pan:4111111111111111",
    ])?;
    // An installer's log level: the device frames too.
    std::env::set_var("KASA_LOG_FILE", "debug");
    let kasa = shop.serve(&shop.data)?;
    let mut rrns = Vec::new();
    for (i, amount) in [1250, 1999].into_iter().enumerate() {
        let op = kasa
            .ok(
                "sale",
                json!({ "key": format!("pan-{}-{i}", std::process::id()), "amount": amount }),
            )
            .await?;
        ensure!(op["state"] == "done", "{op}");
        let card = &op["payments"][0]["card"];
        rrns.push(card["rrn"].as_str().unwrap_or_default().to_string());
        ensure!(!rrns[i].is_empty(), "{op}");
    }
    drop(kasa);
    std::env::remove_var("KASA_LOG_FILE");
    // The terminal did send them in full.
    let books = terminal::emulator::load_books(&shop.terminal.state)?;
    let pans: Vec<_> = books.records.iter().map(|r| r.pan.clone()).collect();
    ensure!(
        pans == ["5168 7500 0000 1237", "4111111111111111"],
        "{pans:?}"
    );
    ensure!(shop.fiscal.receipts_with("516875******1237").len() == 1);

    let backup = backup_path(&run_kasa(&shop.data, &shop.config, &["backup"])?)?;
    let bundle = shop.dir.path().join("support.zip");
    let out = run_kasa(
        &shop.data,
        &shop.config,
        &["support-bundle", "--out", bundle.to_str().unwrap_or("")],
    )?;
    ensure!(out.status.success(), "support-bundle: {}", text(&out));

    // The logs: none, and no password; but the RRNs, the masked cards and the
    // device frames are there.
    let logs = files(&checkout::support::log_dir(&shop.data));
    ensure!(!logs.is_empty(), "no log file");
    let mut log = String::new();
    for f in &logs {
        let bytes = std::fs::read(f)?;
        no_card_numbers(&f.display().to_string(), &bytes)?;
        log.push_str(&String::from_utf8_lossy(&bytes));
    }
    ensure!(!log.contains(PASSWORD), "the password is in the log");
    for rrn in &rrns {
        ensure!(log.contains(rrn.as_str()), "the log lacks the RRN {rrn}");
    }
    for masked in ["516875******1237", "411111******1111"] {
        ensure!(log.contains(masked), "the log lacks {masked}");
    }
    for frames in [
        "kasa::device::terminal",
        "kasa::device::fiscal",
        ">>> sent",
        "<<< received",
    ] {
        ensure!(
            log.contains(frames),
            "the log lacks device frames ({frames})"
        );
    }
    for line in log.lines() {
        serde_json::from_str::<Value>(line).with_context(|| format!("not JSON: {line}"))?;
    }

    // The bundle: its every file.
    let mut ar = zip::ZipArchive::new(std::fs::File::open(&bundle)?)?;
    let mut names = Vec::new();
    for i in 0..ar.len() {
        let mut e = ar.by_index(i)?;
        let name = e.name().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut bytes)?;
        no_card_numbers(&name, &bytes)?;
        ensure!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{name} holds the password"
        );
        if name.ends_with("operations.json") {
            // The last operations, with the card data the journal keeps.
            let text = String::from_utf8_lossy(&bytes);
            for rrn in &rrns {
                ensure!(text.contains(rrn.as_str()), "{name} lacks the RRN {rrn}");
            }
            ensure!(
                text.contains("516875******1237"),
                "{name} lacks the masked card"
            );
        }
        if name.ends_with("info.json") {
            let v: Value = serde_json::from_slice(&bytes)?;
            ensure!(
                v["journal"]["schema_version"].as_u64().unwrap_or(0) >= 2,
                "{v}"
            );
        }
        names.push(name);
    }
    ensure!(
        names.iter().any(|n| n.ends_with("settings.json"))
            && names.iter().any(|n| n.ends_with("devices.json"))
            && names.iter().any(|n| n.ends_with("operations.json"))
            && names.iter().any(|n| n.contains("/logs/kasa")),
        "{names:?}"
    );

    // The backup and the journal: every value of every table; and the files
    // byte for byte (the WAL too) for the numbers the terminal sent, in any
    // form. (A SQLite file's raw bytes are no text: a record header byte
    // next to a number can read as a 13-digit run.)
    // (Runs glued to letters are hex hashes: the audit chain's, requests'.)
    for db in [backup.clone(), checkout::setup::journal_path(&shop.data)] {
        for (place, bytes) in values(&db)? {
            let found = checkout::redact::find_pans_standing(&bytes);
            ensure!(
                found.is_empty(),
                "{} {place} holds a card number: {}",
                db.display(),
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    let mut all_files = files(&shop.data);
    all_files.push(backup);
    for f in all_files {
        let bytes = std::fs::read(&f)?;
        for pan in &pans {
            for form in [
                pan.clone(),
                pan.replace(' ', ""),
                spaced(&pan.replace(' ', "")),
            ] {
                ensure!(
                    !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{} holds {form}",
                    f.display()
                );
            }
        }
    }
    Ok(())
}

/// `4111111111111111` as `4111 1111 1111 1111`.
fn spaced(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every text and blob value of every table of a SQLite file, with where it is.
fn values(db: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut all = Vec::new();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\""))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..n {
                match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        all.push((format!("{t}[{i}]"), b.to_vec()))
                    }
                    _ => {}
                }
            }
        }
    }
    ensure!(all.len() > 10, "{} holds almost nothing", db.display());
    Ok(all)
}
