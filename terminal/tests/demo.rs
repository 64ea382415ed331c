//! The demo terminal: the PrivatBank JSON emulator on a real loopback socket,
//! driven by the real driver; started many times in parallel.

use terminal::demo::{self, DemoOptions};
use terminal::emulator::Outcome;
use terminal::{discard_progress, CardOutcome, PurchaseRequest, TerminalStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_demo_terminals_in_parallel() {
    let mut tasks = Vec::new();
    for i in 0..12i64 {
        tasks.push(tokio::spawn(async move {
            let demo = demo::start_with(DemoOptions::fast(0)).await.unwrap();
            let term = demo.terminal();
            let out = term
                .purchase(
                    PurchaseRequest {
                        amount: 100 + i,
                        merchant: 1,
                    },
                    discard_progress(),
                )
                .await
                .unwrap();
            let CardOutcome::Approved(t) = out else {
                panic!("{out:?}")
            };
            assert_eq!(t.amount, 100 + i);
            demo.script_next(Outcome::Decline("51".into()));
            let out = term
                .purchase(
                    PurchaseRequest {
                        amount: 5,
                        merchant: 1,
                    },
                    discard_progress(),
                )
                .await
                .unwrap();
            assert!(matches!(out, CardOutcome::Declined { .. }), "{out:?}");
            demo.address()
        }));
    }
    let mut addrs = Vec::new();
    for t in tasks {
        addrs.push(t.await.unwrap());
    }
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 12, "each demo has its own socket");
}

#[tokio::test]
async fn demo_shows_the_status_timeline() {
    let demo = demo::start_with(DemoOptions::fast(15)).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let term = demo.terminal();
    let out = term
        .purchase(
            PurchaseRequest {
                amount: 4_200,
                merchant: 0,
            },
            tx,
        )
        .await
        .unwrap();
    assert!(matches!(out, CardOutcome::Approved(_)));
    let mut seen = Vec::new();
    while let Ok(p) = rx.try_recv() {
        seen.push(p.status);
    }
    assert!(seen.contains(&TerminalStatus::Finished), "{seen:?}");
    let texts: Vec<&str> = seen.iter().map(|s| s.text(terminal::Lang::En)).collect();
    assert!(texts.iter().all(|t| !t.is_empty()));
}
