//! The engine's own cost: a 10-item card sale and a mixed (card + cash) sale
//! against zero-delay emulators (the PrivatBank JSON terminal on loopback
//! TCP, the Datecs register on a pty), through the real drivers, with the
//! journal's fsyncs (WAL, synchronous=FULL) on a real file. Targets: p50 ≤
//! 5 ms and p99 ≤ 20 ms per sale; the first sale after start within 20 ms of
//! the rest. Criterion reports the central figures; the percentiles and the
//! first-sale figure are printed after them.
//!
//! A sale is timed from the request to its result (what the cashier waits
//! for). The receipt's read-back from the register's electronic journal
//! runs after the result; the next sale starts once the devices are free
//! again (not timed), as sales at a till are seconds apart.

use std::time::{Duration, Instant};

use checkout::api::{ItemRequest, SaleRequest, TenderRequest};
use checkout::engine::NewRequest;
use checkout::money::Money;
use criterion::{criterion_group, criterion_main, Criterion};
use testkit::{key, Rig, RigOptions};

fn zero_delay() -> RigOptions {
    RigOptions {
        step: Duration::ZERO,
        persist_register: false,
        ..RigOptions::default()
    }
}

fn ten_items() -> Vec<ItemRequest> {
    (0..10)
        .map(|i| ItemRequest {
            name: format!("Товар {i}"),
            price: Money(1000 + i),
            quantity_milli: Some(1000 + 250 * (i % 3)),
            tax_group: Some(if i % 2 == 0 { "А" } else { "Б" }.into()),
            discount: None,
            department: None,
        })
        .collect()
}

fn total(items: &[ItemRequest]) -> i64 {
    items
        .iter()
        .map(|i| {
            let q = i.quantity_milli.unwrap_or(1000);
            (i.price.0 * q + 500) / 1000
        })
        .sum()
}

async fn card_sale(rig: &Rig) -> Duration {
    rig.engine.idle().await;
    let items = ten_items();
    let amount = total(&items);
    let t = Instant::now();
    let op = rig
        .engine
        .submit(
            "bench",
            NewRequest::Sale(SaleRequest {
                key: key(),
                items,
                amount: None,
                payments: vec![TenderRequest::card(amount)],
                merchant: None,
            }),
        )
        .await
        .expect("sale");
    let d = t.elapsed();
    assert_eq!(op.state, checkout::api::OperationState::Done, "{op:?}");
    d
}

async fn mixed_sale(rig: &Rig) -> Duration {
    rig.engine.idle().await;
    let t = Instant::now();
    let op = rig
        .sale(
            2537,
            vec![TenderRequest::card(1500), TenderRequest::cash(1100)],
        )
        .await
        .expect("sale");
    let d = t.elapsed();
    assert_eq!(op.state, checkout::api::OperationState::Done, "{op:?}");
    d
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut d: Vec<Duration>) {
    d.sort();
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        d.len(),
        percentile(&d, 0.5).as_secs_f64() * 1e3,
        percentile(&d, 0.99).as_secs_f64() * 1e3,
        d.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

fn sales(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rig = rt.block_on(Rig::with(zero_delay())).unwrap();
    let mut g = c.benchmark_group("engine");
    g.sample_size(50);
    g.bench_function("card sale, 10 items", |b| {
        b.to_async(&rt).iter_custom(|n| {
            let rig = &rig;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    total += card_sale(rig).await;
                }
                total
            }
        })
    });
    g.bench_function("mixed sale", |b| {
        b.to_async(&rt).iter_custom(|n| {
            let rig = &rig;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    total += mixed_sale(rig).await;
                }
                total
            }
        })
    });
    g.finish();

    // Percentiles over a fixed number of sales.
    let card: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..300 {
            v.push(card_sale(&rig).await);
        }
        v
    });
    report("card sale, 10 items", card);
    let mixed: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..300 {
            v.push(mixed_sale(&rig).await);
        }
        v
    });
    report("mixed sale", mixed);

    // The first sale after start against the rest: fresh rigs.
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for _ in 0..10 {
        let (f, r) = rt.block_on(async {
            let rig = Rig::with(zero_delay()).await.unwrap();
            let f = card_sale(&rig).await;
            let mut r = Vec::new();
            for _ in 0..5 {
                r.push(card_sale(&rig).await);
            }
            (f, r)
        });
        first.push(f);
        rest.extend(r);
    }
    report("first sale after start", first);
    report("later sales", rest);
}

criterion_group!(benches, sales);
criterion_main!(benches);
