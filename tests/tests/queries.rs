//! The manager's journal queries (day report, search with its totals and
//! pages) on a generated journal, each checked against a naive computation
//! over every payment read with plain SQL and filtered in Rust.

use std::collections::BTreeMap;

use checkout::api::{OperationKind, PaymentMethod, PaymentState};
use checkout::generate::{generate, GenOptions};
use checkout::journal::Journal;
use checkout::queries::{SearchQuery, TransactionRow};

#[derive(Debug, Clone)]
struct Pay {
    id: i64,
    kind: String,
    method: String,
    state: String,
    approved: i64,
    requested: i64,
    merchant: u8,
    rrn: Option<String>,
    pan: Option<String>,
    created_at: String,
    day: String,
}

impl Pay {
    /// Money given back, by the operation's kind (not the stored flag).
    fn returns(&self) -> bool {
        matches!(self.kind.as_str(), "refund" | "void" | "cash_refund")
    }
}

fn all_payments(path: &std::path::Path) -> anyhow::Result<Vec<Pay>> {
    let c = rusqlite::Connection::open(path)?;
    let mut stmt = c.prepare(
        "SELECT p.id, o.kind, p.method, p.state, p.approved, p.requested, p.merchant, p.rrn,
                p.masked_pan, p.created_at, o.business_day
         FROM payments p, operations o WHERE o.id = p.operation_id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Pay {
                id: r.get(0)?,
                kind: r.get(1)?,
                method: r.get(2)?,
                state: r.get(3)?,
                approved: r.get(4)?,
                requested: r.get(5)?,
                merchant: r.get(6)?,
                rrn: r.get(7)?,
                pan: r.get(8)?,
                created_at: r.get(9)?,
                day: r.get(10)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn journal() -> anyhow::Result<(tempfile::TempDir, Journal, Vec<Pay>)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal.sqlite");
    generate(
        &path,
        &GenOptions {
            operations: 3_000,
            days: 6,
            merchants: 3,
            audit_rows: 100,
            seed: 5,
            ..GenOptions::default()
        },
    )?;
    let pays = all_payments(&path)?;
    Ok((dir, Journal::open(&path)?, pays))
}

/// Every page of a search, in order.
fn every_page(j: &Journal, q: &SearchQuery) -> anyhow::Result<Vec<TransactionRow>> {
    let mut out = Vec::new();
    let mut q = q.clone();
    for _ in 0..1000 {
        let page = j.search(&q)?;
        out.extend(page.rows);
        match page.next {
            Some(n) => {
                q.after = Some(n);
                q.no_totals = true;
            }
            None => return Ok(out),
        }
    }
    anyhow::bail!("more than 1000 pages")
}

/// The naive order: newest first.
fn newest_first(mut v: Vec<&Pay>) -> Vec<i64> {
    v.sort_by(|a, b| (&b.created_at, b.id).cmp(&(&a.created_at, a.id)));
    v.into_iter().map(|p| p.id).collect()
}

#[test]
fn day_reports_match_the_payments() -> anyhow::Result<()> {
    let (_dir, j, pays) = journal()?;
    let mut days: Vec<&str> = pays.iter().map(|p| p.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    assert!(days.len() >= 6, "{days:?}");
    for day in days {
        let report = j.day_report(day, checkout::clock::DEFAULT_TIME_ZONE)?;
        // (merchant, method) -> (sales count, sales, returns count, returns)
        let mut want: BTreeMap<(u8, String), (u32, i64, u32, i64)> = BTreeMap::new();
        for p in pays
            .iter()
            .filter(|p| p.day == day && p.state == "approved")
        {
            let e = want.entry((p.merchant, p.method.clone())).or_default();
            if p.returns() {
                e.2 += 1;
                e.3 += p.approved;
            } else {
                e.0 += 1;
                e.1 += p.approved;
            }
        }
        let got: BTreeMap<(u8, String), (u32, i64, u32, i64)> = report
            .totals
            .iter()
            .map(|t| {
                let method = match t.method {
                    PaymentMethod::Card => "card",
                    PaymentMethod::Cash => "cash",
                };
                (
                    (t.merchant, method.to_string()),
                    (t.sales_count, t.sales, t.returns_count, t.returns),
                )
            })
            .collect();
        assert_eq!(got, want, "{day}");
        assert!(!want.is_empty(), "{day} had trade");
        // The hours add up to the day's approved sales.
        let hours: i64 = report.by_hour.iter().map(|h| h.card + h.cash).sum();
        let sales: i64 = want.values().map(|v| v.1).sum();
        assert_eq!(hours, sales, "{day}: by hour");
    }
    Ok(())
}

#[test]
fn searches_match_a_naive_filter_page_by_page() -> anyhow::Result<()> {
    let (_dir, j, pays) = journal()?;

    // By RRN: exactly the payments carrying it.
    let rrns: Vec<String> = pays
        .iter()
        .filter_map(|p| p.rrn.clone())
        .step_by(97)
        .collect();
    assert!(rrns.len() >= 5);
    for rrn in &rrns {
        let page = j.search(&SearchQuery {
            rrn: Some(rrn.clone()),
            ..SearchQuery::default()
        })?;
        let want = newest_first(
            pays.iter()
                .filter(|p| p.rrn.as_ref() == Some(rrn))
                .collect(),
        );
        let got: Vec<i64> = page.rows.iter().map(|r| r.payment).collect();
        assert_eq!(got, want, "rrn {rrn}");
    }

    // By last four digits and merchant, small pages, with totals.
    // The commonest card and merchant, so that it takes several pages.
    let mut counts: BTreeMap<(u8, String), usize> = BTreeMap::new();
    for p in &pays {
        if let Some(pan) = &p.pan {
            *counts
                .entry((p.merchant, pan[pan.len() - 4..].to_string()))
                .or_default() += 1;
        }
    }
    let ((merchant, last4), _) = counts.into_iter().max_by_key(|(_, n)| *n).unwrap();
    let q = SearchQuery {
        last4: Some(last4.clone()),
        merchant: Some(merchant),
        limit: Some(1),
        ..SearchQuery::default()
    };
    let matching: Vec<&Pay> = pays
        .iter()
        .filter(|p| p.merchant == merchant && p.pan.as_ref().is_some_and(|s| s.ends_with(&last4)))
        .collect();
    assert!(matching.len() > 1, "more than one page: {}", matching.len());
    let got: Vec<i64> = every_page(&j, &q)?.iter().map(|r| r.payment).collect();
    assert_eq!(got, newest_first(matching.clone()));
    let totals = j.search(&q)?.totals.unwrap();
    assert_eq!(totals.count as usize, matching.len());
    let approved = |ret: bool| -> (u32, i64) {
        let v: Vec<_> = matching
            .iter()
            .filter(|p| p.state == "approved" && p.returns() == ret)
            .collect();
        (v.len() as u32, v.iter().map(|p| p.approved).sum())
    };
    assert_eq!((totals.sales_count, totals.sales), approved(false));
    assert_eq!((totals.returns_count, totals.returns), approved(true));

    // One day's approved card sales of one kind, in pages of 50.
    let day = pays[pays.len() / 2].day.clone();
    let q = SearchQuery {
        business_day: Some(day.clone()),
        method: Some(PaymentMethod::Card),
        state: Some(PaymentState::Approved),
        kind: Some(OperationKind::Sale),
        limit: Some(50),
        ..SearchQuery::default()
    };
    let want = newest_first(
        pays.iter()
            .filter(|p| {
                p.day == day && p.method == "card" && p.state == "approved" && p.kind == "sale"
            })
            .collect(),
    );
    let got: Vec<i64> = every_page(&j, &q)?.iter().map(|r| r.payment).collect();
    assert_eq!(got, want, "{day}");

    // An amount, and a time window.
    let amount = pays[10].approved.max(pays[10].requested);
    let from = pays[200].created_at.clone();
    let to = pays[900].created_at.clone();
    let (from, to) = if from < to { (from, to) } else { (to, from) };
    let q = SearchQuery {
        from: Some(from.clone()),
        to: Some(to.clone()),
        limit: Some(200),
        ..SearchQuery::default()
    };
    let want = newest_first(
        pays.iter()
            .filter(|p| p.created_at >= from && p.created_at < to)
            .collect(),
    );
    let got: Vec<i64> = every_page(&j, &q)?.iter().map(|r| r.payment).collect();
    assert_eq!(got, want);
    let q = SearchQuery {
        amount: Some(checkout::money::Money(amount)),
        ..SearchQuery::default()
    };
    let want = newest_first(
        pays.iter()
            .filter(|p| p.approved == amount || p.requested == amount)
            .collect(),
    );
    let got: Vec<i64> = every_page(&j, &q)?.iter().map(|r| r.payment).collect();
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn bad_search_input_is_refused() -> anyhow::Result<()> {
    let (_dir, j, _pays) = journal()?;
    for q in [
        SearchQuery {
            last4: Some("12a4".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            rrn: Some("x".repeat(3000)),
            ..SearchQuery::default()
        },
        SearchQuery {
            from: Some("yesterday".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            after: Some("garbage".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            business_day: Some("2026-13-45".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            amount: Some(checkout::money::Money(-5)),
            ..SearchQuery::default()
        },
    ] {
        let e = j.search(&q).expect_err(&format!("{q:?}"));
        assert!(
            matches!(
                e,
                checkout::Error::InvalidRequest(_) | checkout::Error::InvalidAmount(_)
            ),
            "{q:?}: {e:?}"
        );
    }
    assert!(j
        .day_report("2026-02-30", checkout::clock::DEFAULT_TIME_ZONE)
        .is_err());
    Ok(())
}
