//! The manager's queries on a busy shop's year: a generated journal of
//! 1 000 000 operations over 365 days, three merchants, and 1 000 000 audit
//! rows (built once and kept in `$CARGO_TARGET_DIR/kasa-bench/`, see `common`). Targets: a day's
//! report ≤ 20 ms, a search by RRN or by the card's last four digits
//! ≤ 5 ms, one page of a month's transactions ≤ 10 ms, the audit chain's
//! verification ≤ 2 s.

mod common;

use std::time::Duration;

use checkout::queries::SearchQuery;
use common::year;
use criterion::{criterion_group, criterion_main, Criterion};

fn queries(c: &mut Criterion) {
    let (j, s) = year();
    let tz = checkout::clock::DEFAULT_TIME_ZONE;
    let mut g = c.benchmark_group("journal-1m");
    g.sample_size(30).measurement_time(Duration::from_secs(5));

    g.bench_function("day_report", |b| {
        b.iter(|| j.day_report(&s.last_day, tz).expect("report"))
    });
    let mut i = 0usize;
    g.bench_function("search_rrn", |b| {
        b.iter(|| {
            i = (i + 1) % s.sample_rrns.len();
            let page = j
                .search(&SearchQuery {
                    rrn: Some(s.sample_rrns[i].clone()),
                    ..SearchQuery::default()
                })
                .expect("search");
            assert!(!page.rows.is_empty());
        })
    });
    g.bench_function("search_last4", |b| {
        b.iter(|| {
            i = (i + 1) % s.sample_last4.len();
            j.search(&SearchQuery {
                last4: Some(s.sample_last4[i].clone()),
                no_totals: true,
                ..SearchQuery::default()
            })
            .expect("search")
        })
    });
    // The last 30 days of the year, newest page first.
    let last = chrono::NaiveDate::parse_from_str(&s.last_day, "%Y-%m-%d").expect("day");
    let from = format!("{}T00:00:00Z", last - chrono::Days::new(30));
    g.bench_function("month_page", |b| {
        b.iter(|| {
            j.search(&SearchQuery {
                from: Some(from.clone()),
                limit: Some(50),
                no_totals: true,
                ..SearchQuery::default()
            })
            .expect("page")
        })
    });
    g.bench_function("month_page_with_totals", |b| {
        b.iter(|| {
            j.search(&SearchQuery {
                from: Some(from.clone()),
                limit: Some(50),
                ..SearchQuery::default()
            })
            .expect("page")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("audit-1m");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("verify", |b| {
        b.iter(|| {
            let v = j.verify_audit(None).expect("verify");
            assert!(v.ok && v.rows >= 1_000_000, "{v:?}");
        })
    });
    g.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
