//! Generated journals the benchmarks share, built once and kept in
//! `$KASA_BENCH_DIR`, else `$CARGO_TARGET_DIR/kasa-bench`, else
//! `target/kasa-bench`: a busy shop's year (1 000 000 operations) and
//! smaller ones for the exports.

#![allow(dead_code)]

use std::path::PathBuf;

use checkout::generate::{generate, GenOptions, GenSummary};
use checkout::journal::Journal;

/// Where the generated journals are kept.
pub fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("KASA_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("kasa-bench"))
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/kasa-bench"));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// The journal `name` generated with `opts` (once), and what the
/// generator said of it.
pub fn cached(name: &str, opts: &GenOptions) -> (Journal, GenSummary) {
    let dir = bench_dir();
    let path = dir.join(format!("{name}.sqlite"));
    let summary_path = dir.join(format!("{name}.json"));
    let summary = match std::fs::read(&summary_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<GenSummary>(&b).ok())
    {
        Some(s) if path.exists() => s,
        _ => {
            for p in [&path, &summary_path] {
                let _ = std::fs::remove_file(p);
            }
            let _ = std::fs::remove_file(dir.join(format!("{name}.sqlite-wal")));
            let _ = std::fs::remove_file(dir.join(format!("{name}.sqlite-shm")));
            eprintln!("generating {name} (once) in {}", path.display());
            let s = generate(&path, opts).expect("generate");
            std::fs::write(&summary_path, serde_json::to_vec(&s).expect("json")).expect("write");
            s
        }
    };
    (Journal::open(&path).expect("open"), summary)
}

/// A busy shop's year: 1 000 000 operations over 365 days, three
/// merchants, 1 000 000 audit rows.
pub fn year() -> (Journal, GenSummary) {
    cached("journal-1m", &GenOptions::default())
}

/// The business day with the most operations, and how many.
pub fn busiest_day(j: &Journal) -> (String, i64) {
    j.read(|c| {
        Ok(c.query_row(
            "SELECT business_day, COUNT(*) FROM operations
             GROUP BY business_day ORDER BY 2 DESC, 1 LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    })
    .expect("busiest day")
}
