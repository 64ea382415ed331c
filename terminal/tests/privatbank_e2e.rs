//! The PrivatBank JSON driver against its emulator over a real TCP socket (and
//! a pty), for every scripted outcome, plus recovery after a lost reply.

use std::time::Duration;

use terminal::emulator::Outcome;
use terminal::privatbank::emulator::parse_slip_totals;
use terminal::privatbank::{
    ConnectScheme, EmulatorConfig, PrivatbankEmulator, PrivatbankTerminal, PrivatbankTimeouts,
};
use terminal::transport::Endpoint;
use terminal::{
    discard_progress, CardOutcome, CardTerminal, Error, PurchaseRequest, Recovery, RefundRequest,
    TerminalProgress, TerminalStatus, TxnKind, TxnStatus, VoidRequest,
};
use tokio::sync::mpsc;

fn timeouts(operation_ms: u64) -> PrivatbankTimeouts {
    PrivatbankTimeouts {
        connect_ms: 2_000,
        after_handshake_ms: 0,
        operation_ms,
        request_ms: 10_000,
        poll_ms: 2,
        service_ms: 5_000,
        keepalive_ms: 20_000,
    }
}

async fn rig_with(step_ms: u64, operation_ms: u64) -> (PrivatbankEmulator, PrivatbankTerminal) {
    let emu = PrivatbankEmulator::new(EmulatorConfig {
        step_delay: Duration::from_millis(step_ms),
        ..EmulatorConfig::default()
    });
    let addr = emu.spawn_tcp("127.0.0.1:0").await.unwrap();
    let drv = PrivatbankTerminal::new(
        Endpoint::tcp(addr.to_string()),
        timeouts(operation_ms),
        ConnectScheme::Reference,
    );
    (emu, drv)
}

async fn rig() -> (PrivatbankEmulator, PrivatbankTerminal) {
    rig_with(1, 30_000).await
}

fn buy(amount: i64) -> PurchaseRequest {
    PurchaseRequest {
        amount,
        merchant: 1,
    }
}

#[tokio::test]
async fn approve_carries_the_fiscal_fields_and_progress() {
    let (emu, drv) = rig_with(5, 30_000).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let out = drv.purchase(buy(12_345), tx).await.unwrap();
    let CardOutcome::Approved(t) = out else {
        panic!("{out:?}")
    };
    assert_eq!(t.amount, 12_345);
    assert_eq!(t.rrn.len(), 12);
    assert_eq!(t.auth_code.len(), 6);
    assert!(t.masked_pan.contains('*'));
    assert_eq!(t.terminal_id, "KASA0001");
    assert_eq!(t.merchant_id, "S1KASA01");
    assert!(!t.invoice.is_empty());
    assert_eq!(t.kind, TxnKind::Purchase);
    let mut seen = Vec::new();
    while let Ok(TerminalProgress { status }) = rx.try_recv() {
        seen.push(status);
    }
    assert_eq!(seen.last(), Some(&TerminalStatus::Finished), "{seen:?}");
    assert_eq!(
        seen.first(),
        Some(&TerminalStatus::Connecting),
        "first use connects"
    );
    assert!(drv.session().is_connected());
    let info = drv.info().await.unwrap();
    assert_eq!(info.vendor, "Kasa", "identify ran during the handshake");
    assert!(info.version.starts_with("TE7E"));
    let books = emu.bank().books().clone();
    let charged = books.approved_charges();
    assert_eq!(charged.len(), 1);
    assert_eq!(
        (
            charged[0].amount,
            charged[0].rrn.as_str(),
            charged[0].auth_code.as_str()
        ),
        (12_345, t.rrn.as_str(), t.auth_code.as_str())
    );
    assert_eq!(t.issuer, charged[0].issuer);
    assert!(!t.issuer.is_empty() && !t.card_scheme.is_empty());
}

#[tokio::test]
async fn invoices_increase_and_lookups_match_what_was_processed() {
    let (emu, drv) = rig().await;
    let mut invoices = Vec::new();
    for amount in [100, 200, 300] {
        let CardOutcome::Approved(t) = drv.purchase(buy(amount), discard_progress()).await.unwrap()
        else {
            panic!()
        };
        invoices.push(t);
    }
    let n: Vec<u64> = invoices
        .iter()
        .map(|t| t.invoice.parse().unwrap())
        .collect();
    assert!(n.windows(2).all(|w| w[1] > w[0]), "{n:?}");
    let last = drv.last_transaction().await.unwrap().unwrap();
    assert_eq!(
        (last.invoice.as_str(), last.amount),
        (invoices[2].invoice.as_str(), 300)
    );
    assert_eq!(
        last.terminal_id, "KASA0001",
        "filled from the approvals seen"
    );
    let second = drv
        .find_by_invoice(&invoices[1].invoice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (second.rrn.as_str(), second.amount),
        (invoices[1].rrn.as_str(), 200)
    );
    assert!(drv.find_by_invoice("999999").await.unwrap().is_none());
    let books: Vec<(i64, String)> = emu
        .bank()
        .books()
        .approved_charges()
        .iter()
        .map(|r| (r.amount, r.rrn.clone()))
        .collect();
    let replies: Vec<(i64, String)> = invoices.iter().map(|t| (t.amount, t.rrn.clone())).collect();
    assert_eq!(
        books, replies,
        "the books hold exactly what the replies said"
    );
}

#[tokio::test]
async fn host_declines() {
    let (emu, drv) = rig().await;
    for code in ["05", "51", "55"] {
        emu.script_next(Outcome::Decline(code.into()));
        let out = drv.purchase(buy(1000), discard_progress()).await.unwrap();
        let CardOutcome::Declined { code: got, message } = out else {
            panic!("{out:?}")
        };
        assert_eq!(got, code);
        assert!(!message.is_empty());
    }
    assert_eq!(emu.bank().totals(0).debit_count, 0);
}

#[tokio::test]
async fn customer_cancel_no_host_no_paper_busy() {
    let (emu, drv) = rig().await;
    emu.script_next(Outcome::CustomerCancel);
    assert_eq!(
        drv.purchase(buy(10), discard_progress()).await.unwrap(),
        CardOutcome::Cancelled
    );
    emu.script_next(Outcome::NoHostLink);
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "device.no_host_link", "{e}");
    emu.script_next(Outcome::NoPaper);
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "device.no_paper", "{e}");
    emu.script_next(Outcome::Busy);
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert!(matches!(e, Error::Busy), "{e}");
    // Still usable afterwards.
    assert!(matches!(
        drv.purchase(buy(10), discard_progress()).await.unwrap(),
        CardOutcome::Approved(_)
    ));
    let books = emu.bank().books().clone();
    assert_eq!(books.records.len(), 1, "only the last one reached the host");
    assert_eq!(books.approved_charges()[0].amount, 10);
}

#[tokio::test]
async fn partial_approval() {
    let (emu, drv) = rig().await;
    emu.script_next(Outcome::PartialApproval);
    let CardOutcome::Approved(t) = drv.purchase(buy(2_001), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!((t.amount, t.requested_amount), (1_000, 2_001));
    assert!(t.is_partial());
    assert_eq!(t.response_code, "0010");
    // A lookup reports the approved amount, not the requested one.
    let last = drv.last_transaction().await.unwrap().unwrap();
    assert_eq!(last.amount, 1_000);
    assert!(last.is_partial());
    let r = emu.bank().books().approved_charges()[0].clone();
    assert_eq!((r.amount, r.requested_amount), (1_000, 2_001));
    // A reply lost after a partial approval: recovery finds the partial amount.
    emu.script_next(Outcome::PartialApproval);
    emu.script_next(Outcome::DropAfterApproval);
    let _ = drv.purchase(buy(10), discard_progress()).await.unwrap();
    let pending = drv.begin(TxnKind::Purchase, 3_000, 1).await.unwrap();
    assert!(drv.execute(&pending, discard_progress()).await.is_err());
    // (the drop outcome approves in full: the partial one was the purchase before)
    let found = drv.recover(&pending).await.unwrap();
    assert_eq!(found.approved().map(|t| t.amount), Some(3_000));
}

#[tokio::test]
async fn raw_pan_and_signature_are_passed_on_as_the_terminal_sent_them() {
    let (emu, drv) = rig().await;
    emu.script_next(Outcome::RawPan(terminal::emulator::RAW_PAN.into()));
    emu.script_next(Outcome::SignatureRequired);
    let CardOutcome::Approved(raw) = drv.purchase(buy(100), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(raw.masked_pan, "5168 7500 0000 1234");
    assert_eq!(
        drv.last_transaction().await.unwrap().unwrap().masked_pan,
        "5168 7500 0000 1234"
    );
    let CardOutcome::Approved(signed) = drv.purchase(buy(200), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert!(signed.signature_required && !raw.signature_required);
    assert!(
        drv.last_transaction()
            .await
            .unwrap()
            .unwrap()
            .signature_required
    );
    let books = emu.bank().books().clone();
    assert_eq!(books.records[0].pan, "5168 7500 0000 1234");
    assert!(books.records[1].signature_required);
    assert!(
        books.records[1].pan.contains('*'),
        "no unmasked PAN unless scripted"
    );
}

#[tokio::test]
async fn cashier_cancels_while_waiting_for_the_card() {
    let (emu, drv) = rig().await;
    emu.script_next(Outcome::Timeout); // the card never comes
    let drv = std::sync::Arc::new(drv);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = {
        let drv = std::sync::Arc::clone(&drv);
        tokio::spawn(async move { drv.purchase(buy(500), tx).await })
    };
    while let Some(p) = rx.recv().await {
        if p.status == TerminalStatus::WaitingForCard {
            break;
        }
    }
    drv.cancel().await.unwrap();
    assert_eq!(running.await.unwrap().unwrap(), CardOutcome::Cancelled);
    assert!(emu.bank().journal().is_empty());
}

#[tokio::test]
async fn time_out_interrupts_and_a_late_reply_is_never_taken_for_the_next() {
    let (emu, drv) = rig_with(1, 150).await;
    emu.script_next(Outcome::Timeout);
    let pending = drv.begin(TxnKind::Purchase, 700, 1).await.unwrap();
    let e = drv
        .purchase_as(&pending, discard_progress())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e}");
    assert!(e.outcome_unknown());
    // The interrupt made the terminal give up: recovery finds nothing of ours.
    let r = drv.recover(&pending).await.unwrap();
    assert!(matches!(r, Recovery::NotFound { .. }), "{r:?}");
    // The next purchase gets its own reply, not the stale 1001.
    let out = drv.purchase(buy(800), discard_progress()).await.unwrap();
    let CardOutcome::Approved(t) = out else {
        panic!("{out:?}")
    };
    assert_eq!(t.amount, 800);
    let books = emu.bank().books().clone();
    assert_eq!(
        books.records.len(),
        1,
        "the timed-out one never reached the host"
    );
    assert_eq!(
        (books.records[0].amount, books.records[0].rrn.as_str()),
        (800, t.rrn.as_str())
    );
}

#[tokio::test]
async fn reply_lost_after_approval_is_recovered_and_matched() {
    let (emu, drv) = rig().await;
    // An older, unrelated transaction of the same amount.
    let CardOutcome::Approved(older) = drv.purchase(buy(4_200), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    emu.script_next(Outcome::DropAfterApproval);
    let pending = drv.begin(TxnKind::Purchase, 4_200, 1).await.unwrap();
    assert_eq!(
        pending.prior_invoice.as_deref(),
        Some(older.invoice.as_str())
    );
    let e = drv
        .purchase_as(&pending, discard_progress())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LinkLost(_)), "{e}");
    let r = drv.recover(&pending).await.unwrap();
    let tx = r.approved().expect("found ours").clone();
    assert_eq!(tx.amount, 4_200);
    assert!(tx.invoice.parse::<u64>().unwrap() > older.invoice.parse::<u64>().unwrap());
    assert_eq!(tx.rrn, emu.bank().lookup(0).unwrap().rrn);
    // Had the request never reached the terminal, the same lookup finds only the
    // older transaction, which must not be taken for ours.
    let never_sent = drv.begin(TxnKind::Purchase, 4_200, 1).await.unwrap();
    let r = drv.recover(&never_sent).await.unwrap();
    assert!(matches!(r, Recovery::NotFound { .. }), "{r:?}");
    let other_amount = terminal::PendingOperation {
        amount: 4_201,
        ..pending.clone()
    };
    assert!(matches!(
        drv.recover(&other_amount).await.unwrap(),
        Recovery::NotFound { .. }
    ));
}

#[tokio::test]
async fn refund_void_x_and_z_per_merchant() {
    let (emu, drv) = rig().await;
    let CardOutcome::Approved(a) = drv
        .purchase(
            PurchaseRequest {
                amount: 1_000,
                merchant: 1,
            },
            discard_progress(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let CardOutcome::Approved(_b) = drv
        .purchase(
            PurchaseRequest {
                amount: 2_500,
                merchant: 2,
            },
            discard_progress(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let CardOutcome::Approved(c) = drv
        .purchase(
            PurchaseRequest {
                amount: 700,
                merchant: 1,
            },
            discard_progress(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let refund = RefundRequest {
        amount: 300,
        rrn: a.rrn.clone(),
        merchant: 1,
    };
    let CardOutcome::Approved(r) = drv.refund(refund, discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!(r.kind, TxnKind::Refund);
    let void = VoidRequest {
        invoice: c.invoice.clone(),
        merchant: 1,
    };
    let CardOutcome::Approved(v) = drv.void(void.clone(), discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!((v.kind, v.amount), (TxnKind::Void, 700));
    // Voiding twice is refused by the terminal.
    assert_eq!(
        drv.void(void, discard_progress()).await.unwrap_err().code(),
        "device.general"
    );
    // Refunding more than is left is refused too.
    let too_much = RefundRequest {
        amount: 800,
        rrn: a.rrn.clone(),
        merchant: 1,
    };
    assert!(drv.refund(too_much, discard_progress()).await.is_err());

    let x1 = drv.batch_totals(1).await.unwrap();
    let t1 = parse_slip_totals(&x1.receipt).unwrap();
    assert_eq!((t1.debit_count, t1.debit_amount), (1, 1_000));
    assert_eq!((t1.credit_count, t1.credit_amount), (1, 300));
    assert_eq!((t1.cancelled_count, t1.cancelled_amount), (1, 700));
    assert_eq!(
        parse_slip_totals(&drv.batch_totals(2).await.unwrap().receipt)
            .unwrap()
            .debit_amount,
        2_500
    );

    let z1 = drv.settle(1).await.unwrap();
    assert!(z1.closed);
    assert_eq!(parse_slip_totals(&z1.receipt).unwrap(), t1);
    assert_eq!(emu.bank().totals(1), Default::default());
    assert_eq!(
        emu.bank().totals(2).debit_amount,
        2_500,
        "merchant 2 is still open"
    );
    // An empty batch settles to nothing.
    assert!(drv.settle(1).await.unwrap().receipt.is_empty());
    let z_all = drv.settle(0).await.unwrap();
    assert_eq!(
        parse_slip_totals(&z_all.receipt).unwrap().debit_amount,
        2_500
    );
    // A void after settlement finds nothing.
    let late = VoidRequest {
        invoice: a.invoice.clone(),
        merchant: 1,
    };
    assert!(drv.void(late, discard_progress()).await.is_err());
    assert!(drv.check_connection(1).await.is_ok());
}

#[tokio::test]
async fn link_drop_reconnects_for_the_next_request() {
    let (emu, drv) = rig().await;
    emu.script_next(Outcome::DropAfterApproval);
    assert!(drv.purchase(buy(10), discard_progress()).await.is_err());
    assert!(matches!(
        drv.purchase(buy(20), discard_progress()).await.unwrap(),
        CardOutcome::Approved(_)
    ));
    let journal: Vec<(i64, TxnStatus)> = emu
        .bank()
        .journal()
        .iter()
        .map(|r| (r.amount, r.status))
        .collect();
    assert_eq!(
        journal,
        vec![(10, TxnStatus::Approved), (20, TxnStatus::Approved)]
    );
}

#[tokio::test]
async fn invalid_requests_are_refused_before_the_wire() {
    let (emu, drv) = rig().await;
    for amount in [0, -5] {
        let e = drv
            .purchase(buy(amount), discard_progress())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "request.invalid");
    }
    let e = drv.refund(
        RefundRequest {
            amount: 5,
            rrn: " ".into(),
            merchant: 1,
        },
        discard_progress(),
    );
    assert_eq!(e.await.unwrap_err().code(), "request.invalid");
    assert!(emu.bank().journal().is_empty());
}

#[tokio::test]
async fn unreachable_terminal_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let drv = PrivatbankTerminal::new(
        Endpoint::tcp(addr.to_string()),
        timeouts(1_000),
        ConnectScheme::Direct,
    );
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "transport.io", "{e}");
}

#[cfg(unix)]
#[tokio::test]
async fn over_a_pty_with_the_direct_scheme() {
    let emu = PrivatbankEmulator::new(EmulatorConfig {
        step_delay: Duration::from_millis(1),
        ..EmulatorConfig::default()
    });
    let (master, slave, path) = terminal::transport::pty_pair().unwrap();
    tokio::spawn(emu.clone().serve(master));
    let drv = PrivatbankTerminal::new(
        Endpoint::serial(path),
        timeouts(30_000),
        ConnectScheme::Direct,
    );
    let CardOutcome::Approved(t) = drv.purchase(buy(999), discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!(t.amount, 999);
    emu.script_next(Outcome::Decline("51".into()));
    let out = drv.purchase(buy(999), discard_progress()).await.unwrap();
    assert!(
        matches!(out, CardOutcome::Declined { ref code, .. } if code == "51"),
        "{out:?}"
    );
    assert_eq!(
        drv.last_transaction().await.unwrap().unwrap().status,
        TxnStatus::Declined
    );
    let books = emu.bank().books().clone();
    assert_eq!(
        (
            books.approved_charges().len(),
            books.approved_charges()[0].rrn.as_str()
        ),
        (1, t.rrn.as_str())
    );
    assert_eq!(books.declines()[0].host_code, "51");
    drop(slave);
}

#[tokio::test]
async fn keepalive_drops_a_silent_link_and_the_next_request_reconnects() {
    use futures::{SinkExt, StreamExt};
    use terminal::privatbank::codec::{Chunk, NulCodec};
    use terminal::privatbank::frame::Message;
    use tokio_util::codec::Framed;

    // A peer that answers PingDevice but ignores every service message, so the
    // keep-alive probe goes unanswered.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let closed = closed_tx.clone();
            tokio::spawn(async move {
                let mut f = Framed::new(stream, NulCodec::default());
                while let Some(Ok(chunk)) = f.next().await {
                    let Chunk::Frame(b) = chunk else { continue };
                    let m = Message::decode(&b).unwrap();
                    if m.method == "PingDevice" {
                        let reply = r#"{"method":"PingDevice","step":0,"params":{"code":"00","responseCode":"0000"},"error":false,"errorDescription":""}"#;
                        let mut bytes = reply.as_bytes().to_vec();
                        bytes.push(0);
                        f.send(bytes).await.unwrap();
                    }
                }
                let _ = closed.send(());
            });
        }
    });
    let t = PrivatbankTimeouts {
        keepalive_ms: 20,
        service_ms: 50,
        ..timeouts(1_000)
    };
    let drv = PrivatbankTerminal::new(Endpoint::tcp(addr.to_string()), t, ConnectScheme::Direct);
    drv.ping().await.unwrap();
    // The driver gives the silent link up: the peer sees it closed.
    closed_rx.recv().await.unwrap();
    // And reconnects for the next request.
    drv.ping().await.unwrap();
}

#[tokio::test]
async fn unknown_methods_and_wrong_replies_are_typed_errors() {
    use futures::{SinkExt, StreamExt};
    use terminal::privatbank::codec::{Chunk, NulCodec};
    use terminal::privatbank::frame::Message;
    use tokio_util::codec::Framed;

    // The emulator answers an unknown method with methodNotImplemented.
    let (_emu, drv) = rig().await;
    let e = drv
        .session()
        .operation(Message::bare("Frobnicate"), Duration::from_secs(5))
        .await;
    assert!(matches!(e, Err(Error::Unsupported(_))), "{e:?}");
    let e = drv
        .session()
        .service(Message::service("teleport"), Duration::from_secs(5))
        .await;
    assert!(matches!(e, Err(Error::Unsupported(_))), "{e:?}");

    // A peer that answers Purchase with some other method, then garbage.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut f = Framed::new(stream, NulCodec::default());
                let mut purchases = 0;
                while let Some(Ok(chunk)) = f.next().await {
                    let Chunk::Frame(b) = chunk else { continue };
                    let m = Message::decode(&b).unwrap();
                    let reply: &[u8] = match m.method.as_str() {
                        "PingDevice" => br#"{"method":"PingDevice","step":0,"params":{"responseCode":"0000"},"error":false}"#,
                        "Purchase" => {
                            purchases += 1;
                            match purchases {
                                1 => br#"{"method":"Refund","step":0,"params":{"responseCode":"0000"},"error":false}"#,
                                2 => b"{not json at all",
                                _ => br#"{"method":"Purchase","step":0,"params":{"responseCode":"0000","amount":[1]},"error":false}"#,
                            }
                        }
                        _ => continue,
                    };
                    let mut bytes = reply.to_vec();
                    bytes.push(0);
                    if f.send(bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let t = PrivatbankTimeouts {
        service_ms: 50,
        ..timeouts(5_000)
    };
    let drv = PrivatbankTerminal::new(Endpoint::tcp(addr.to_string()), t, ConnectScheme::Direct);
    for _ in 0..3 {
        let e = drv
            .purchase(buy(100), discard_progress())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e}");
        assert!(e.outcome_unknown());
    }
}

#[tokio::test]
async fn a_terminal_busy_with_another_operation_answers_device_busy() {
    let (emu, a) = rig().await;
    let addr = {
        // A second ECR on the same terminal.
        let listener_addr = emu.spawn_tcp("127.0.0.1:0").await.unwrap();
        listener_addr.to_string()
    };
    let b = PrivatbankTerminal::new(Endpoint::tcp(addr), timeouts(30_000), ConnectScheme::Direct);
    b.ping().await.unwrap();
    emu.script_next(Outcome::Timeout);
    let a = std::sync::Arc::new(a);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = {
        let a = std::sync::Arc::clone(&a);
        tokio::spawn(async move { a.purchase(buy(100), tx).await })
    };
    while let Some(p) = rx.recv().await {
        if p.status == TerminalStatus::WaitingForCard {
            break;
        }
    }
    let e = b.purchase(buy(200), discard_progress()).await.unwrap_err();
    assert!(matches!(e, Error::Busy), "{e}");
    assert_eq!(e.code(), "device.busy");
    // The service lane still works while the terminal is busy.
    let info = b.session().service(
        terminal::privatbank::frame::Message::service("getLastResult"),
        Duration::from_secs(5),
    );
    assert_eq!(info.await.unwrap().text("LastResult"), "2");
    a.cancel().await.unwrap();
    assert_eq!(running.await.unwrap().unwrap(), CardOutcome::Cancelled);
    assert!(matches!(
        b.purchase(buy(200), discard_progress()).await.unwrap(),
        CardOutcome::Approved(_)
    ));
    let books = emu.bank().books().clone();
    let charged: Vec<i64> = books.approved_charges().iter().map(|r| r.amount).collect();
    assert_eq!(
        charged,
        vec![200],
        "the cancelled one and the refused one cost nothing"
    );
}

/// Issue 14, point 3: garbage and undecodable frames go to the emulator on the
/// very link the test then talks on, and the test waits until they were
/// handled: the next request on that link is answered, the emulator says it
/// ignored what it could not read, and the link's task ends cleanly when the
/// link closes. An emulator that panics on an undecodable frame fails here.
#[tokio::test]
async fn the_emulator_survives_garbage_and_keeps_serving() {
    use futures::StreamExt;
    use terminal::privatbank::codec::{Chunk, NulCodec};
    use terminal::privatbank::frame::Message;
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::FramedRead;

    let (emu, drv) = rig().await;
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut link = tokio::spawn(emu.clone().serve(server));
    let (reader, mut writer) = tokio::io::split(client);
    let mut junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    junk.extend_from_slice(
        b"\0{\"method\":7}\0{\"method\":\"Frobnicate\",\"params\":{\"amount\":\"1,2,3\"}}\0",
    );
    junk.extend_from_slice(
        b"{\"method\":\"ServiceMessage\",\"params\":{\"msgType\":[1]}}\0\xff\xfe\0{\"method\":\"Purch",
    );
    junk.push(0);
    writer.write_all(&junk).await.unwrap();
    // Then a real request on the same link.
    writer
        .write_all(&Message::ping().encode(true))
        .await
        .unwrap();
    let mut frames = FramedRead::new(reader, NulCodec::default());
    let answered = async {
        while let Some(item) = frames.next().await {
            let Ok(Chunk::Frame(bytes)) = item else {
                continue;
            };
            let msg = Message::decode(&bytes).expect("the emulator sends valid frames");
            if msg.method == "PingDevice" {
                return msg;
            }
        }
        panic!("the emulator closed the link instead of answering")
    };
    let reply = tokio::select! {
        reply = answered => reply,
        ended = &mut link => panic!("the emulator stopped serving the link: {ended:?}"),
    };
    assert_eq!(reply.response_code().as_deref(), Some("0000"));
    assert!(emu.ignored_a_frame(), "the undecodable frames were handled");
    drop(writer);
    drop(frames);
    link.await
        .expect("the emulator's link task must end without a panic");
    // The terminal still does business, and its books say so.
    let out = drv.purchase(buy(42), discard_progress()).await.unwrap();
    let CardOutcome::Approved(t) = out else {
        panic!("{out:?}")
    };
    let books = emu.bank().books().clone();
    assert_eq!(books.approved_charges().len(), 1);
    assert_eq!(
        (
            books.approved_charges()[0].amount,
            books.approved_charges()[0].rrn.as_str()
        ),
        (42, t.rrn.as_str())
    );
}

#[tokio::test]
async fn the_emulator_checks_purchase_params_like_a_terminal() {
    use terminal::privatbank::frame::Message;
    let (_emu, drv) = rig().await;
    let t = Duration::from_secs(5);
    let bad_amount = Message::with_params(
        "Purchase",
        &[
            ("amount", "1,2,3"),
            ("discount", ""),
            ("merchantId", "0"),
            ("facepay", "false"),
        ],
    );
    let reply = drv.session().operation(bad_amount, t).await.unwrap();
    assert_eq!(reply.response_code().as_deref(), Some("1000"));
    assert_eq!(reply.description(), "Операція неможлива");
    let no_discount = Message::with_params("Purchase", &[("amount", "1.00"), ("merchantId", "0")]);
    let reply = drv.session().operation(no_discount, t).await.unwrap();
    assert_eq!(reply.description(), "Введіть discount");
    assert_eq!(
        terminal::privatbank::driver::outcome(&reply, 100)
            .unwrap_err()
            .code(),
        "device.general"
    );
}

#[tokio::test]
async fn open_does_the_handshake_and_learns_the_merchants_terminal_ids() {
    let (_emu, drv) = rig().await;
    assert!(!drv.session().is_connected());
    drv.open().await.unwrap();
    assert!(drv.session().is_connected(), "the link is kept");
    let masks = drv.session().masks();
    assert_eq!(masks.get(&2).map(String::as_str), Some("KASA0002"));
    // The first sale after open() does not connect.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ = drv.purchase(buy(10), tx).await.unwrap();
    let first = rx.recv().await.unwrap().status;
    assert_ne!(first, TerminalStatus::Connecting);
    // open() again is a no-op on a live link.
    drv.open().await.unwrap();
}

#[tokio::test]
async fn a_lookup_after_a_restart_carries_the_terminal_and_merchant_ids() {
    let (emu, before) = rig().await;
    emu.script_next(Outcome::DropAfterApproval);
    let pending = before.begin(TxnKind::Purchase, 5_500, 2).await.unwrap();
    assert_eq!(pending.terminal_id, "KASA0002", "known from the mask list");
    assert!(before
        .execute(&pending, discard_progress())
        .await
        .unwrap_err()
        .outcome_unknown());
    drop(before);
    // A new driver (Kasa restarted): GetReceiptInfo has no terminalId, the
    // pending operation does.
    let addr = match emu.spawn_tcp("127.0.0.1:0").await {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    let after = PrivatbankTerminal::new(
        Endpoint::tcp(addr.to_string()),
        timeouts(30_000),
        ConnectScheme::Reference,
    );
    let found = after.recover(&pending).await.unwrap();
    let tx = found.approved().expect("ours").clone();
    let record = emu.bank().books().approved_charges()[0].clone();
    assert_eq!(
        (
            tx.terminal_id.as_str(),
            tx.merchant_id.as_str(),
            tx.rrn.as_str()
        ),
        (
            record.terminal_id.as_str(),
            record.merchant_id.as_str(),
            record.rrn.as_str()
        )
    );
    assert_eq!(tx.amount, 5_500);
    // A pending operation written before the ids were kept: the driver fills
    // the terminal id from what it learnt at its own handshake.
    let old_row = terminal::PendingOperation {
        terminal_id: String::new(),
        merchant_id: String::new(),
        ..pending.clone()
    };
    let found = after.recover(&old_row).await.unwrap();
    assert_eq!(found.approved().unwrap().terminal_id, "KASA0002");
}

#[tokio::test]
async fn refunds_and_voids_are_executed_and_recovered_as_what_they_are() {
    let (emu, drv) = rig().await;
    let CardOutcome::Approved(sale) = drv.purchase(buy(3_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    // A refund whose reply is lost.
    emu.script_next(Outcome::DropAfterApproval);
    let refund = drv
        .begin(TxnKind::Refund, 1_000, 1)
        .await
        .unwrap()
        .refund_of(&sale.rrn);
    assert!(drv.execute(&refund, discard_progress()).await.is_err());
    let found = drv.recover(&refund).await.unwrap();
    let r = found.approved().expect("the refund").clone();
    assert_eq!((r.kind, r.amount), (TxnKind::Refund, 1_000));
    assert!(!r.needs_confirm, "auto-confirmed");
    // A void whose reply is lost.
    emu.script_next(Outcome::DropAfterApproval);
    let void = drv
        .begin(TxnKind::Void, 3_000, 1)
        .await
        .unwrap()
        .voiding(&sale.invoice);
    assert!(drv.execute(&void, discard_progress()).await.is_err());
    let found = drv.recover(&void).await.unwrap();
    let v = found.approved().expect("the void").clone();
    assert_eq!((v.kind, v.amount), (TxnKind::Void, 3_000));
    // Never a purchase taken for a void, nor a refund for a purchase.
    let as_purchase = terminal::PendingOperation {
        kind: TxnKind::Purchase,
        ..void.clone()
    };
    assert!(matches!(
        drv.recover(&as_purchase).await.unwrap(),
        Recovery::NotFound { .. }
    ));
    // A void executed normally carries what was asked.
    let CardOutcome::Approved(other) = drv.purchase(buy(700), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    let void2 = drv
        .begin(TxnKind::Void, 700, 1)
        .await
        .unwrap()
        .voiding(&other.invoice);
    let CardOutcome::Approved(v2) = drv.execute(&void2, discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        (v2.kind, v2.amount, v2.requested_amount),
        (TxnKind::Void, 700, 700)
    );
    let books = emu.bank().books().clone();
    assert_eq!(books.refunds().len(), 1);
    assert_eq!(books.voids().len(), 2);
    assert!(books.standing_charges().is_empty());
    assert_eq!(
        books.net_charged(),
        -1_000,
        "the refund is money given back"
    );
}

#[tokio::test]
async fn an_operation_the_terminal_did_after_ours_does_not_hide_it() {
    let (emu, drv) = rig().await;
    let _ = drv.purchase(buy(2_000), discard_progress()).await.unwrap();
    let pending = drv.begin(TxnKind::Purchase, 2_000, 1).await.unwrap();
    emu.script_next(Outcome::DropAfterApproval);
    assert!(drv.execute(&pending, discard_progress()).await.is_err());
    // Someone ran another sale on the terminal before Kasa came back.
    let _ = drv.purchase(buy(99), discard_progress()).await.unwrap();
    let found = drv.recover(&pending).await.unwrap();
    let tx = found.approved().expect("found behind the later one");
    assert_eq!(tx.amount, 2_000);
    let books = emu.bank().books().clone();
    assert_eq!(books.approved_charges().len(), 3);
    assert_eq!(
        books.record(tx.invoice.parse().unwrap()).unwrap().rrn,
        tx.rrn
    );
    // Without a prior invoice there is nothing to scan from: the later
    // operation is not taken for ours, and ours stays unknown to the lookup.
    let blind = terminal::PendingOperation {
        prior_invoice: None,
        ..pending.clone()
    };
    assert!(drv.recover(&blind).await.unwrap().approved().is_none());
}

/// A cancel that comes once the host has approved never loses the approval:
/// the terminal either hands the approval over, or reverses it by itself (the
/// spec's rule for an interrupt before the reply reached the ECR), and the
/// result and the terminal's books agree either way.
#[tokio::test]
async fn a_cancel_after_the_host_approved_never_loses_the_approval() {
    let emu = PrivatbankEmulator::new(EmulatorConfig {
        step_delay: Duration::from_millis(150),
        lockstep: true,
        ..EmulatorConfig::default()
    });
    let addr = emu.spawn_tcp("127.0.0.1:0").await.unwrap();
    let drv = std::sync::Arc::new(PrivatbankTerminal::new(
        Endpoint::tcp(addr.to_string()),
        timeouts(30_000),
        ConnectScheme::Reference,
    ));
    let pending = drv.begin(TxnKind::Purchase, 800, 1).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = {
        let (drv, pending) = (std::sync::Arc::clone(&drv), pending.clone());
        tokio::spawn(async move { drv.execute(&pending, tx).await })
    };
    while let Some(p) = rx.recv().await {
        if p.status == TerminalStatus::Printing {
            break; // past authorisation
        }
    }
    drv.cancel().await.unwrap();
    let out = running.await.unwrap().unwrap();
    let books = emu.bank().books().clone();
    let record = books.records.last().unwrap().clone();
    let recovered = drv.recover(&pending).await.unwrap();
    match out {
        CardOutcome::Approved(t) => {
            assert_eq!(
                (record.status, record.rrn.as_str()),
                (TxnStatus::Approved, t.rrn.as_str())
            );
            assert!(recovered.approved().is_some());
        }
        CardOutcome::Cancelled => {
            assert_eq!(
                (record.status, record.reversal),
                (
                    TxnStatus::Reversed,
                    Some(terminal::emulator::Reversal::Interrupted)
                )
            );
            assert!(recovered.approved().is_none(), "{recovered:?}");
            assert!(books.approved_charges().is_empty());
        }
        other => panic!("{other:?}"),
    }
    // A cancel after the reply changes nothing.
    let CardOutcome::Approved(t) = drv.purchase(buy(5), discard_progress()).await.unwrap() else {
        panic!()
    };
    drv.cancel().await.unwrap();
    assert_eq!(
        emu.bank().books().by_rrn(&t.rrn).map(|r| r.status),
        Some(TxnStatus::Approved)
    );
}

#[tokio::test]
async fn a_declined_void_leaves_the_charge_standing() {
    let (emu, drv) = rig().await;
    let CardOutcome::Approved(sale) = drv.purchase(buy(1_500), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    emu.script_next(Outcome::Decline("12".into()));
    let void = drv
        .begin(TxnKind::Void, 1_500, 1)
        .await
        .unwrap()
        .voiding(&sale.invoice);
    let out = drv.execute(&void, discard_progress()).await.unwrap();
    assert!(
        matches!(&out, CardOutcome::Declined { code, .. } if code == "12"),
        "{out:?}"
    );
    let found = drv.recover(&void).await.unwrap();
    let Recovery::Found(tx) = &found else {
        panic!("{found:?}")
    };
    assert_eq!((tx.kind, tx.status), (TxnKind::Void, TxnStatus::Declined));
    let books = emu.bank().books().clone();
    assert_eq!(books.standing_charges().len(), 1, "the charge stands");
    assert!(books.voids().is_empty());
}
