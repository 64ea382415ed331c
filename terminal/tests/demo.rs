//! The demo terminal: the PrivatBank JSON emulator on a real loopback socket,
//! driven by the real driver; started many times in parallel. Every sale is
//! checked in the emulator's books, and the status timeline is checked step
//! by step (the emulator runs in lockstep with the driver's polls, so the
//! timeline does not depend on the machine's load).

use terminal::demo::{self, DemoOptions};
use terminal::emulator::Outcome;
use terminal::{
    discard_progress, CardOutcome, PurchaseRequest, TerminalStatus, TxnKind, TxnStatus,
};

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
            assert!(
                matches!(&out, CardOutcome::Declined { code, .. } if code == "51"),
                "{out:?}"
            );
            // Each demo's own books: one charge of this amount, one decline.
            let books = demo.emulator().bank().books().clone();
            let charged: Vec<(i64, &str)> = books
                .approved_charges()
                .iter()
                .map(|r| (r.amount, r.rrn.as_str()))
                .collect();
            assert_eq!(charged, vec![(100 + i, t.rrn.as_str())]);
            assert_eq!(books.declines().len(), 1);
            assert_eq!(books.declines()[0].host_code, "51");
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

/// Issue 14, point 9: the whole timeline, in order, and the money in the
/// emulator's books.
#[tokio::test]
async fn demo_shows_the_status_timeline() {
    let demo = demo::start_with(DemoOptions {
        lockstep: true,
        ..DemoOptions::fast(0)
    })
    .await
    .unwrap();
    let term = demo.terminal();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
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
    let CardOutcome::Approved(t) = out else {
        panic!("{out:?}")
    };
    let mut seen = Vec::new();
    while let Ok(p) = rx.try_recv() {
        seen.push(p.status);
    }
    use TerminalStatus::*;
    assert_eq!(
        seen,
        vec![
            Connecting,
            WaitingForCard,
            CardRead,
            ChipProcessing,
            EnterPin,
            Authorising,
            Printing,
            RemoveCard,
            Finished
        ]
    );
    assert_eq!(t.amount, 4_200);
    let books = demo.emulator().bank().books().clone();
    assert_eq!(books.records.len(), 1, "one operation, no more");
    let r = &books.records[0];
    assert_eq!(
        (r.kind, r.status, r.amount, r.merchant),
        (TxnKind::Purchase, TxnStatus::Approved, 4_200, 1)
    );
    assert_eq!(
        (r.rrn.as_str(), r.auth_code.as_str(), r.terminal_id.as_str()),
        (t.rrn.as_str(), t.auth_code.as_str(), t.terminal_id.as_str())
    );
    assert_eq!(format!("{:06}", r.invoice), t.invoice);

    // Once the session is open, a sale starts with the card, not a connection.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _ = term
        .purchase(
            PurchaseRequest {
                amount: 1,
                merchant: 0,
            },
            tx,
        )
        .await
        .unwrap();
    assert_eq!(rx.recv().await.map(|p| p.status), Some(WaitingForCard));
    assert_eq!(
        demo.emulator().bank().books().net_charged(),
        4_201,
        "the two charges, in kopiykas"
    );
}
