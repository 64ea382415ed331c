//! The manager's exports and day page, timed. Targets: the daily report of
//! a day with about 1 000 transactions as PDF ≤ 500 ms; a CSV of about
//! 100 000 transactions ≤ 1 s; the manager's day page (the day's report
//! and the first page of its transactions with their totals) for the
//! busiest day of the 1 000 000-operation journal ≤ 50 ms.
//!
//! Each export runs as its job does ([`checkout::export::write_export`]),
//! into a file; the journals are generated once (see `common`).
//!
//! Measured 2026-11-26 (`--quick`, the shared 2-core machine under a load
//! of 4-5): day PDF of 990 transactions 147 ms; CSV of 100 307 transactions
//! 868 ms (991 ms before its rows reused one record: the figure to watch);
//! day page of the busiest day (3 004 operations) 29-31 ms.

mod common;

use std::io::BufWriter;
use std::time::Duration;

use checkout::export::pdf::ReportFont;
use checkout::export::reports::ReportContext;
use checkout::export::{write_export, ExportKind, ExportRequest, Plan, Progress};
use checkout::generate::GenOptions;
use checkout::journal::Journal;
use checkout::queries::SearchQuery;
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};

fn context() -> ReportContext {
    ReportContext {
        shop: "Крамниця «Калина»".into(),
        tax_id: "3141592653".into(),
        till: "1".into(),
        merchants: Vec::new(),
        time_zone: checkout::clock::DEFAULT_TIME_ZONE,
        generated: chrono::Utc::now(),
        lang: Default::default(),
    }
}

fn request(kind: ExportKind, day: Option<&str>, search: Option<SearchQuery>) -> ExportRequest {
    ExportRequest {
        key: "bench".into(),
        kind,
        business_day: day.map(str::to_string),
        merchant: None,
        batch: None,
        search,
        bom: true,
        lang: None,
    }
}

/// Run one export into `file`; its size.
fn run(
    j: &Journal,
    cx: &ReportContext,
    font: &ReportFont,
    req: &ExportRequest,
    plan: &Plan,
    file: &std::path::Path,
) -> u64 {
    let mut out = BufWriter::new(std::fs::File::create(file).expect("file"));
    let done = write_export(
        j,
        cx,
        Some(font),
        req,
        plan,
        &mut out,
        &Progress::detached(),
    )
    .expect("export");
    assert!(done);
    drop(out);
    std::fs::metadata(file).expect("size").len()
}

fn exports(c: &mut Criterion) {
    let font = ReportFont::load("").expect("a system font with Cyrillic (fonts-dejavu-core)");
    let cx = context();
    let tmp = tempfile::tempdir().expect("tmp");

    // A day of about 1 000 transactions.
    let (day_j, day_s) = common::cached(
        "journal-day-1k",
        &GenOptions {
            operations: 960,
            days: 1,
            audit_rows: 100,
            last_day: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default(),
            ..GenOptions::default()
        },
    );
    let req = request(ExportKind::DayPdf, Some(&day_s.first_day), None);
    let plan = Plan::check(&day_j, &req).expect("plan");
    let file = tmp.path().join("day.pdf");
    let size = run(&day_j, &cx, &font, &req, &plan, &file);
    eprintln!(
        "day PDF: {} transactions on {}, {size} bytes",
        plan.rows, day_s.first_day
    );
    let mut g = c.benchmark_group("export");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("day_pdf_1k_transactions", |b| {
        b.iter(|| run(&day_j, &cx, &font, &req, &plan, &file))
    });

    // About 100 000 transactions as CSV.
    let (csv_j, _) = common::cached(
        "journal-100k",
        &GenOptions {
            operations: 96_000,
            days: 30,
            audit_rows: 1_000,
            ..GenOptions::default()
        },
    );
    let req = request(
        ExportKind::TransactionsCsv,
        None,
        Some(SearchQuery::default()),
    );
    let plan = Plan::check(&csv_j, &req).expect("plan");
    let file = tmp.path().join("transactions.csv");
    let size = run(&csv_j, &cx, &font, &req, &plan, &file);
    eprintln!("CSV: {} transactions, {size} bytes", plan.rows);
    g.bench_function("csv_100k_transactions", |b| {
        b.iter(|| run(&csv_j, &cx, &font, &req, &plan, &file))
    });
    g.finish();

    // The manager's day page on the 1 000 000-operation journal.
    let (j, _) = common::year();
    let (day, ops) = common::busiest_day(&j);
    eprintln!("the busiest day of the year: {day}, {ops} operations");
    let tz = checkout::clock::DEFAULT_TIME_ZONE;
    let mut g = c.benchmark_group("manager-1m");
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    g.bench_function("day_page_busiest_day", |b| {
        b.iter(|| {
            let report = j.day_report(&day, tz).expect("report");
            let page = j
                .search(&SearchQuery {
                    business_day: Some(day.clone()),
                    limit: Some(50),
                    ..SearchQuery::default()
                })
                .expect("page");
            assert!(!report.totals.is_empty() && page.rows.len() == 50);
            (report, page)
        })
    });
    g.finish();
}

criterion_group!(benches, exports);
criterion_main!(benches);
