//! The journal's command-line tools, behind `kasa audit ...` and
//! `kasa journal ...`: verify the audit chain (against the head printed on
//! a Z report), and fill a journal with a generated year of a busy shop.
//! Each returns the process's exit code.

use std::path::Path;

use crate::generate::{generate, GenOptions};
use crate::journal::audit::{parse_anchor, Anchor, Finding};
use crate::journal::Journal;

const AUDIT_USAGE: &str = "usage: kasa audit verify [--head ID:HASH]
  Walks the audit log of the journal in the data directory and reports the
  first edited, inserted or deleted row, or a cut-off tail. --head is the
  line printed before the last Z report (АУДИТ ID HASH), typed as ID:HASH;
  without it the head the journal kept with its last closed shift is used.";

/// `kasa audit verify [--head ID:HASH]` on the journal in `data_dir`.
pub fn audit(data_dir: &Path, args: &[String]) -> i32 {
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("verify") {
        eprintln!("{AUDIT_USAGE}");
        return 2;
    }
    let mut head: Option<Anchor> = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--head" => match it.next().map(|h| parse_anchor(h)) {
                Some(Ok(h)) => head = Some(h),
                Some(Err(e)) => {
                    eprintln!("kasa audit verify: {e}");
                    return 2;
                }
                None => {
                    eprintln!("{AUDIT_USAGE}");
                    return 2;
                }
            },
            _ => {
                eprintln!("{AUDIT_USAGE}");
                return 2;
            }
        }
    }
    let path = crate::setup::journal_path(data_dir);
    if !path.is_file() {
        eprintln!("kasa audit verify: no journal at {}", path.display());
        return 2;
    }
    let journal = match Journal::open(&path) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("kasa audit verify: {e}");
            return 2;
        }
    };
    let from_journal = head.is_none();
    let anchor = match head {
        Some(h) => Some(h),
        None => journal
            .last_closed_shift()
            .ok()
            .flatten()
            .and_then(|s| s.audit_head)
            .and_then(|h| Anchor::from_lines(&[h])),
    };
    match journal.verify_audit(anchor.as_ref()) {
        Ok(v) => {
            let against = match (&anchor, from_journal) {
                (Some(a), false) => format!(" against the printed head {}:{}", a.id, a.hash),
                (Some(a), true) => format!(
                    " against the head kept with the last shift {}:{} (give --head from the paper to rule out a rewritten chain)",
                    a.id, a.hash
                ),
                (None, _) => String::new(),
            };
            match &v.finding {
                None => {
                    println!(
                        "audit log intact: {} rows, head {}:{}{against}",
                        v.rows, v.head_id, v.head_hash
                    );
                    0
                }
                Some(f) => {
                    let what = match f {
                        Finding::Edited { id } => format!("row {id} was changed"),
                        Finding::Inserted { before } => {
                            format!("rows were inserted before row {before}")
                        }
                        Finding::Deleted { before } => {
                            format!("rows were deleted before row {before}")
                        }
                        Finding::TailCut { last, anchor } => format!(
                            "the log ends at row {last}, before row {anchor} printed on the Z report: its tail was cut off"
                        ),
                        Finding::Rewritten { id } => format!(
                            "row {id} does not carry the hash printed on the Z report: the chain was recomputed"
                        ),
                    };
                    println!("AUDIT LOG TAMPERED: {what} ({} rows read){against}", v.rows);
                    1
                }
            }
        }
        Err(e) => {
            eprintln!("kasa audit verify: {e}");
            2
        }
    }
}

const JOURNAL_USAGE: &str = "usage: kasa journal generate --out FILE [--operations N] [--days N]
       [--merchants N] [--audit-rows N] [--seed N]
  Fills a new journal with a generated span of a busy shop (default: a year,
  1,000,000 operations, 3 merchants, 1,000,000 audit rows).";

/// `kasa journal generate ...`.
pub fn journal(args: &[String]) -> i32 {
    let mut it = args.iter();
    if it.next().map(String::as_str) != Some("generate") {
        eprintln!("{JOURNAL_USAGE}");
        return 2;
    }
    let mut o = GenOptions::default();
    let mut out = None;
    while let Some(a) = it.next() {
        let v = it.next();
        let num = || v.and_then(|v| v.parse::<u64>().ok());
        let ok = match a.as_str() {
            "--out" => {
                out = v.cloned();
                out.is_some()
            }
            "--operations" => num().map(|n| o.operations = n).is_some(),
            "--audit-rows" => num().map(|n| o.audit_rows = n).is_some(),
            "--seed" => num().map(|n| o.seed = n).is_some(),
            "--days" => num()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=3660).contains(n))
                .map(|n| o.days = n)
                .is_some(),
            "--merchants" => num()
                .and_then(|n| u8::try_from(n).ok())
                .filter(|n| (1..=9).contains(n))
                .map(|n| o.merchants = n)
                .is_some(),
            _ => false,
        };
        if !ok {
            eprintln!("kasa journal generate: bad argument {a}\n{JOURNAL_USAGE}");
            return 2;
        }
    }
    let Some(out) = out else {
        eprintln!("{JOURNAL_USAGE}");
        return 2;
    };
    let path = Path::new(&out);
    if path.exists() {
        eprintln!("kasa journal generate: {out} exists; give a new file");
        return 2;
    }
    match generate(path, &o) {
        Ok(s) => {
            println!(
                "{out}: {} operations, {} card payments approved, {} audit rows, {} to {}",
                s.operations, s.payments, s.audit_rows, s.first_day, s.last_day
            );
            0
        }
        Err(e) => {
            eprintln!("kasa journal generate: {e}");
            1
        }
    }
}
