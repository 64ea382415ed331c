//! The audit log's tamper evidence: `kasa audit verify` (the binary, on a
//! real journal file) names the first edited, inserted or deleted row, a
//! cut-off tail, and a chain recomputed after an edit (against the head
//! printed on the Z report); an untouched chain of 100 000 rows passes.
//! The tampering is done as someone with the file would: the append-only
//! triggers dropped, rows changed with SQL.

use std::path::{Path, PathBuf};
use std::process::Command;

use checkout::generate::{generate, GenOptions};
use checkout::journal::audit::{row_hash, Finding};
use checkout::journal::Journal;
use rusqlite::{params, Connection};

/// One audit row's content: id, at, actor, action, operation, reason, change.
type AuditLine = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// A data directory whose journal holds a generated shop with `audit_rows`
/// audit rows.
fn shop(audit_rows: u64) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = checkout::setup::journal_path(dir.path());
    generate(
        &path,
        &GenOptions {
            operations: 400,
            days: 4,
            merchants: 2,
            audit_rows,
            seed: 11,
            ..GenOptions::default()
        },
    )?;
    Ok((dir, path))
}

/// Open the journal as a tamperer: without the append-only triggers.
fn tamper(path: &Path) -> anyhow::Result<Connection> {
    let c = Connection::open(path)?;
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")?;
    Ok(c)
}

/// `kasa --data-dir DIR audit verify [args]`: exit code and output.
fn cli(dir: &Path, args: &[&str]) -> anyhow::Result<(i32, String)> {
    let out = Command::new(testkit::process::kasa_bin()?)
        .arg("--data-dir")
        .arg(dir)
        .args(["audit", "verify"])
        .args(args)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code().unwrap_or(-1), text))
}

fn verify(
    path: &Path,
    head: Option<&str>,
) -> anyhow::Result<checkout::journal::audit::Verification> {
    let j = Journal::open(path)?;
    let anchor = head
        .map(checkout::journal::audit::parse_anchor)
        .transpose()?;
    Ok(j.verify_audit(anchor.as_ref())?)
}

/// The last row as `ID:HASH`, as the paper would give it.
fn head_of(path: &Path) -> anyhow::Result<String> {
    let c = Connection::open(path)?;
    let (id, hash): (i64, String) = c.query_row(
        "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(format!("{id}:{}", &hash[..16]))
}

#[test]
fn an_untouched_chain_of_100k_rows_passes_the_cli() -> anyhow::Result<()> {
    let (dir, path) = shop(100_000)?;
    let head = head_of(&path)?;
    let (code, text) = cli(dir.path(), &["--head", &head])?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("intact"), "{text}");
    let v = verify(&path, Some(&head))?;
    assert!(v.ok && v.anchored, "{v:?}");
    assert!(v.rows >= 100_000, "{v:?}");
    // A long chain is checked in stretches: a row deleted where one
    // stretch meets the next, and an edit deep in the last, still show.
    let c = tamper(&path)?;
    c.execute("UPDATE audit SET actor = 'someone' WHERE id = 90000", [])?;
    assert_eq!(
        verify(&path, None)?.finding,
        Some(Finding::Edited { id: 90_000 })
    );
    c.execute("DELETE FROM audit WHERE id = 50001", [])?;
    assert_eq!(
        verify(&path, None)?.finding,
        Some(Finding::Deleted { before: 50_002 })
    );
    let (code, text) = cli(dir.path(), &[])?;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("50002"), "{text}");
    Ok(())
}

#[test]
fn an_edited_row_is_named() -> anyhow::Result<()> {
    let (dir, path) = shop(2_000)?;
    tamper(&path)?.execute(
        "UPDATE audit SET reason = 'nothing happened' WHERE id = 777",
        [],
    )?;
    let v = verify(&path, None)?;
    assert_eq!(v.finding, Some(Finding::Edited { id: 777 }), "{v:?}");
    let (code, text) = cli(dir.path(), &[])?;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("777"), "{text}");
    Ok(())
}

#[test]
fn a_deleted_row_is_named() -> anyhow::Result<()> {
    let (dir, path) = shop(2_000)?;
    tamper(&path)?.execute("DELETE FROM audit WHERE id = 1234", [])?;
    assert_eq!(
        verify(&path, None)?.finding,
        Some(Finding::Deleted { before: 1235 })
    );
    let (code, text) = cli(dir.path(), &[])?;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("1235"), "{text}");
    Ok(())
}

#[test]
fn an_inserted_row_with_a_good_hash_is_named() -> anyhow::Result<()> {
    let (_dir, path) = shop(2_000)?;
    let c = tamper(&path)?;
    // Make room after row 500 and slip in a row that chains to it.
    c.execute_batch(
        "UPDATE audit SET id = -(id + 1) WHERE id > 500;
         UPDATE audit SET id = -id WHERE id < 0;",
    )?;
    let (prev, at): (String, String) =
        c.query_row("SELECT hash, at FROM audit WHERE id = 500", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let hash = row_hash(
        &prev,
        &at,
        "intruder",
        "override",
        None,
        Some("cover"),
        None,
    );
    c.execute(
        "INSERT INTO audit (id, at, actor, action, operation_id, reason, change, prev_hash, hash)
         VALUES (501, ?1, 'intruder', 'override', NULL, 'cover', NULL, ?2, ?3)",
        params![at, prev, hash],
    )?;
    assert_eq!(
        verify(&path, None)?.finding,
        Some(Finding::Inserted { before: 502 })
    );
    Ok(())
}

#[test]
fn a_cut_tail_and_a_recomputed_chain_show_against_the_printed_head() -> anyhow::Result<()> {
    let (dir, path) = shop(2_000)?;
    let printed = head_of(&path)?;
    let last: i64 = printed.split(':').next().unwrap().parse()?;

    // Cut the tail: without the paper the rest looks whole; with it, not.
    let c = tamper(&path)?;
    c.execute("DELETE FROM audit WHERE id > ?1", [last - 3])?;
    assert!(
        verify(&path, None)?.ok,
        "without an anchor a cut tail cannot show"
    );
    assert_eq!(
        verify(&path, Some(&printed))?.finding,
        Some(Finding::TailCut {
            last: last - 3,
            anchor: last
        })
    );
    let (code, text) = cli(dir.path(), &["--head", &printed])?;
    assert_eq!(code, 1, "{text}");

    // Edit row 100 and recompute every hash after it: the chain holds
    // together, but not the head on paper.
    let (dir2, path2) = shop(2_000)?;
    let printed2 = head_of(&path2)?;
    let c = tamper(&path2)?;
    c.execute("UPDATE audit SET reason = 'rewritten' WHERE id = 100", [])?;
    let rows: Vec<AuditLine> = c
        .prepare(
            "SELECT id, at, actor, action, operation_id, reason, change FROM audit
             WHERE id >= 100 ORDER BY id",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut prev: String = c.query_row("SELECT hash FROM audit WHERE id = 99", [], |r| r.get(0))?;
    let tx = c.unchecked_transaction()?;
    for (id, at, actor, action, op, reason, change) in rows {
        let h = row_hash(
            &prev,
            &at,
            &actor,
            &action,
            op,
            reason.as_deref(),
            change.as_deref(),
        );
        tx.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
            params![prev, h, id],
        )?;
        prev = h;
    }
    tx.commit()?;
    assert!(
        verify(&path2, None)?.ok,
        "a recomputed chain is consistent in itself"
    );
    let id2: i64 = printed2.split(':').next().unwrap().parse()?;
    assert_eq!(
        verify(&path2, Some(&printed2))?.finding,
        Some(Finding::Rewritten { id: id2 })
    );
    let (code, text) = cli(dir2.path(), &["--head", &printed2])?;
    assert_eq!(code, 1, "{text}");
    drop(dir);
    Ok(())
}

#[test]
fn bad_cli_input_is_refused_with_usage() -> anyhow::Result<()> {
    let (dir, _path) = shop(10)?;
    for args in [&["--head", "abc"][..], &["--head", "12:zz"], &["--what"]] {
        let (code, text) = cli(dir.path(), args)?;
        assert_eq!(code, 2, "{args:?}: {text}");
    }
    let empty = tempfile::tempdir()?;
    let (code, text) = cli(empty.path(), &[])?;
    assert_eq!(code, 2, "no journal: {text}");
    Ok(())
}

/// The `settings_changed` rows: (changed parts, after).
fn settings_rows(path: &Path) -> anyhow::Result<Vec<(Vec<String>, serde_json::Value)>> {
    let c = Connection::open(path)?;
    let mut stmt =
        c.prepare("SELECT change FROM audit WHERE action = 'settings_changed' ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let v: serde_json::Value = serde_json::from_str(&c).unwrap();
            let changed = v["changed"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (changed, v["after"].clone())
        })
        .collect())
}

#[tokio::test]
async fn a_settings_change_between_starts_is_audited() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = checkout::setup::journal_path(dir.path());
    let fast = || checkout::setup::DemoOptions {
        step: std::time::Duration::from_millis(1),
        ..Default::default()
    };
    let mut settings = checkout::settings::Settings::default();
    drop(checkout::setup::start(dir.path(), &settings, fast()).await?);
    drop(checkout::setup::start(dir.path(), &settings, fast()).await?);
    assert_eq!(
        settings_rows(&path)?.len(),
        1,
        "the first start records, the same settings do not"
    );

    settings.shop.time_zone = "Europe/Warsaw".into();
    drop(checkout::setup::start(dir.path(), &settings, fast()).await?);
    let rows = settings_rows(&path)?;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].0, vec!["shop".to_string()]);
    assert_eq!(rows[1].1["shop"]["time_zone"], "Europe/Warsaw");
    let v = verify(&path, None)?;
    assert!(v.ok, "{v:?}");
    Ok(())
}

#[test]
fn kasa_journal_generate_writes_a_journal_the_tools_read() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = checkout::setup::journal_path(dir.path());
    let run = |args: &[&str]| -> anyhow::Result<(i32, String)> {
        let o = Command::new(testkit::process::kasa_bin()?)
            .args(["journal", "generate"])
            .args(args)
            .output()?;
        Ok((
            o.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ))
    };
    let out_s = out.to_string_lossy().to_string();
    let (code, text) = run(&[
        "--out",
        &out_s,
        "--operations",
        "600",
        "--days",
        "3",
        "--merchants",
        "2",
        "--audit-rows",
        "300",
        "--seed",
        "3",
    ])?;
    assert_eq!(code, 0, "{text}");
    let pays = {
        let c = Connection::open(&out)?;
        let ops: i64 = c.query_row("SELECT COUNT(*) FROM operations", [], |r| r.get(0))?;
        let kinds: i64 = c.query_row("SELECT COUNT(DISTINCT kind) FROM operations", [], |r| {
            r.get(0)
        })?;
        let merchants: i64 = c.query_row(
            "SELECT COUNT(DISTINCT merchant) FROM payments WHERE method = 'card'",
            [],
            |r| r.get(0),
        )?;
        assert!(ops >= 600, "{ops}");
        assert!(kinds >= 5, "sales, refunds, voids, cash in/out...: {kinds}");
        assert_eq!(merchants, 2);
        ops
    };
    assert!(pays > 0);
    let (code, text) = cli(dir.path(), &[])?;
    assert_eq!(code, 0, "{text}");
    // An existing file is not overwritten; bad numbers are refused.
    let (code, text) = run(&["--out", &out_s])?;
    assert_eq!(code, 2, "{text}");
    let other = dir
        .path()
        .join("other.sqlite")
        .to_string_lossy()
        .to_string();
    for bad in [
        &["--operations", "abc"][..],
        &["--days", "-5"],
        &["--merchants", "0"],
    ] {
        let mut args = vec!["--out", other.as_str()];
        args.extend_from_slice(bad);
        let (code, text) = run(&args)?;
        assert_eq!(code, 2, "{bad:?}: {text}");
    }
    Ok(())
}
