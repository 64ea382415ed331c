//! The B-POS1 driver against the ECRCommX behaviour emulator: LastResult
//! polling, status codes, Confirm or auto-cancel, result properties, response
//! codes, lookups and totals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use terminal::bpos1::{Bpos1Api, Bpos1Emulator, Bpos1EmulatorConfig, Bpos1Terminal, Value};
use terminal::config::Timeouts;
use terminal::emulator::{Bank, Outcome};
use terminal::{
    discard_progress, CardOutcome, CardTerminal, ConfirmMode, PurchaseRequest, RefundRequest,
    TerminalStatus, TxnKind, TxnStatus, VoidRequest,
};

fn timeouts() -> Timeouts {
    Timeouts {
        poll_ms: 1,
        operation_ms: 30_000,
        ..Timeouts::default()
    }
}

fn rig(step_ms: u64, confirm_ms: u64, explicit: bool) -> (Arc<Mutex<Bank>>, Bpos1Terminal) {
    let emu = Bpos1Emulator::new(Bpos1EmulatorConfig {
        step_delay: Duration::from_millis(step_ms),
        confirm_timeout: Duration::from_millis(confirm_ms),
        merchants: 2,
    });
    let bank = emu.bank_handle();
    (bank, Bpos1Terminal::new(emu, explicit, timeouts()))
}

fn buy(amount: i64) -> PurchaseRequest {
    PurchaseRequest {
        amount,
        merchant: 1,
    }
}

#[test]
fn the_api_object_polls_like_ecrcommx() {
    let mut emu = Bpos1Emulator::new(Bpos1EmulatorConfig {
        step_delay: Duration::ZERO,
        confirm_timeout: Duration::from_secs(60),
        merchants: 1,
    });
    emu.call("CommOpen", &[Value::Int(3), Value::Int(115_200)])
        .unwrap();
    emu.call("Purchase", &[Value::Int(115), Value::Int(0), Value::Int(1)])
        .unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(0));
    assert_eq!(emu.get("Amount").unwrap(), Value::Int(115));
    assert_eq!(emu.get("TrnStatus").unwrap(), Value::Int(1));
    emu.call("Confirm", &[]).unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(0));
    // Confirming again: nothing to confirm.
    emu.call("Confirm", &[]).unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(1));
    assert_eq!(emu.get("LastErrorCode").unwrap(), Value::Int(4));
    assert_eq!(emu.get("ResponseCode").unwrap(), Value::Int(1008));
    emu.call("CommClose", &[]).unwrap();
    emu.call("Purchase", &[Value::Int(1), Value::Int(0), Value::Int(1)])
        .unwrap();
    assert_eq!(
        emu.get("LastErrorCode").unwrap(),
        Value::Int(2),
        "port not open"
    );
}

#[tokio::test]
async fn approve_with_automatic_confirm_and_status_timeline() {
    let (bank, drv) = rig(2, 60_000, false);
    assert_eq!(drv.confirm_mode(), ConfirmMode::Automatic);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let CardOutcome::Approved(t) = drv.purchase(buy(11_500), tx).await.unwrap() else {
        panic!()
    };
    assert_eq!((t.amount, t.rrn.len(), t.auth_code.len()), (11_500, 12, 6));
    assert_eq!(
        (t.terminal_id.as_str(), t.batch.as_str()),
        ("KASA0001", "000001")
    );
    let mut seen = Vec::new();
    while let Ok(p) = rx.try_recv() {
        seen.push(p.status);
    }
    assert_eq!(
        seen.first(),
        Some(&TerminalStatus::WaitingForCard),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&TerminalStatus::Finished));
    // Confirmed: still approved however long we wait.
    let last = drv.last_transaction().await.unwrap().unwrap();
    assert_eq!(
        (last.status, last.invoice.as_str()),
        (TxnStatus::Approved, t.invoice.as_str())
    );
    assert_eq!(bank.lock().unwrap().totals(1).debit_amount, 11_500);
}

#[tokio::test]
async fn explicit_confirm_or_the_terminal_cancels() {
    let (bank, drv) = rig(0, 0, true);
    assert_eq!(drv.confirm_mode(), ConfirmMode::Explicit);
    let CardOutcome::Approved(a) = drv.purchase(buy(100), discard_progress()).await.unwrap() else {
        panic!()
    };
    drv.confirm().await.unwrap();
    assert_eq!(
        drv.last_transaction().await.unwrap().unwrap().status,
        TxnStatus::Approved
    );
    let CardOutcome::Approved(b) = drv.purchase(buy(200), discard_progress()).await.unwrap() else {
        panic!()
    };
    // No Confirm: past the terminal's confirm time-out it is cancelled.
    let found = drv.find_by_invoice(&b.invoice).await.unwrap().unwrap();
    assert_eq!(found.status, TxnStatus::Cancelled);
    assert!(drv.confirm().await.is_err(), "too late to confirm");
    let totals = bank.lock().unwrap().totals(0);
    assert_eq!((totals.debit_count, totals.debit_amount), (1, 100));
    assert_ne!(a.invoice, b.invoice);
}

#[tokio::test]
async fn declines_cancels_and_device_errors() {
    let (bank, drv) = rig(0, 60_000, false);
    for code in ["05", "51", "55"] {
        bank.lock()
            .unwrap()
            .script_next(Outcome::Decline(code.into()));
        let out = drv.purchase(buy(10), discard_progress()).await.unwrap();
        assert!(
            matches!(&out, CardOutcome::Declined { code: c, .. } if c == code),
            "{out:?}"
        );
    }
    bank.lock().unwrap().script_next(Outcome::CustomerCancel);
    assert_eq!(
        drv.purchase(buy(10), discard_progress()).await.unwrap(),
        CardOutcome::Cancelled
    );
    bank.lock().unwrap().script_next(Outcome::NoHostLink);
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "device.no_host_link");
    bank.lock().unwrap().script_next(Outcome::NoPaper);
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "device.no_paper");
    bank.lock().unwrap().script_next(Outcome::PartialApproval);
    let CardOutcome::Approved(p) = drv.purchase(buy(1_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(p.amount, 500);
}

#[tokio::test]
async fn cashier_cancel_and_link_drop_before_confirm() {
    let (bank, drv) = rig(1, 0, false);
    let drv = Arc::new(drv);
    bank.lock().unwrap().script_next(Outcome::Timeout);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running = {
        let drv = Arc::clone(&drv);
        tokio::spawn(async move { drv.purchase(buy(300), tx).await })
    };
    while let Some(p) = rx.recv().await {
        if p.status == TerminalStatus::WaitingForCard {
            break;
        }
    }
    drv.cancel().await.unwrap();
    assert_eq!(running.await.unwrap().unwrap(), CardOutcome::Cancelled);

    // Approved on the terminal, link lost before Confirm: the terminal cancels
    // it, and the lookup says so.
    bank.lock().unwrap().script_next(Outcome::DropAfterApproval);
    let pending = drv.begin(TxnKind::Purchase, 900, 1).await.unwrap();
    let e = drv
        .purchase_as(&pending, discard_progress())
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    let r = drv.recover(&pending).await.unwrap();
    match r {
        terminal::Recovery::Found(tx) => assert_eq!(tx.status, TxnStatus::Cancelled),
        other => panic!("{other:?}"),
    }
    assert!(r_is_not_approved(&drv, &pending).await);
}

async fn r_is_not_approved(drv: &Bpos1Terminal, p: &terminal::PendingOperation) -> bool {
    drv.recover(p).await.unwrap().approved().is_none()
}

#[tokio::test]
async fn refund_void_totals_and_settlement() {
    let (_bank, drv) = rig(0, 60_000, false);
    let CardOutcome::Approved(a) = drv.purchase(buy(1_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    let CardOutcome::Approved(b) = drv
        .purchase(
            PurchaseRequest {
                amount: 400,
                merchant: 2,
            },
            discard_progress(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let refund = RefundRequest {
        amount: 250,
        rrn: a.rrn.clone(),
        merchant: 1,
    };
    assert!(matches!(
        drv.refund(refund, discard_progress()).await.unwrap(),
        CardOutcome::Approved(_)
    ));
    let void = VoidRequest {
        invoice: b.invoice.clone(),
        merchant: 2,
    };
    assert!(matches!(
        drv.void(void, discard_progress()).await.unwrap(),
        CardOutcome::Approved(_)
    ));
    let x = drv.batch_totals(0).await.unwrap();
    let t = x.totals.unwrap();
    assert_eq!((t.debit_count, t.debit_amount), (1, 1_000));
    assert_eq!((t.credit_count, t.credit_amount), (1, 250));
    assert_eq!((t.cancelled_count, t.cancelled_amount), (1, 400));
    let z = drv.settle(0).await.unwrap();
    assert!(z.closed);
    assert_eq!(z.totals.unwrap(), t);
    assert_eq!(
        drv.batch_totals(0).await.unwrap().totals.unwrap(),
        Default::default()
    );
    assert!(drv.info().await.unwrap().version.contains("BPOS1"));
    assert!(drv.check_connection(1).await.is_ok());
}

#[tokio::test]
async fn over_the_api_bridge_on_tcp() {
    use terminal::bpos1::bridge;
    let emu = Bpos1Emulator::new(Bpos1EmulatorConfig {
        step_delay: Duration::from_millis(1),
        confirm_timeout: Duration::from_secs(60),
        merchants: 2,
    });
    let bank = emu.bank_handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(bridge::serve_tcp(Arc::new(Mutex::new(emu)), listener));
    let cfg = terminal::TerminalConfig {
        protocol: terminal::Protocol::Bpos1Bridge,
        endpoint: terminal::transport::Endpoint::tcp(addr),
        timeouts: timeouts(),
        ..Default::default()
    };
    let drv = terminal::connect(&cfg).await.unwrap();
    let CardOutcome::Approved(t) = drv.purchase(buy(777), discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!(t.amount, 777);
    bank.lock()
        .unwrap()
        .script_next(Outcome::Decline("55".into()));
    let out = drv.purchase(buy(1), discard_progress()).await.unwrap();
    assert!(
        matches!(&out, CardOutcome::Declined { code, .. } if code == "55"),
        "{out:?}"
    );
    bank.lock().unwrap().script_next(Outcome::DropAfterApproval);
    let e = drv.purchase(buy(2), discard_progress()).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert_eq!(drv.last_transaction().await.unwrap().unwrap().amount, 2);
    assert_eq!(
        drv.batch_totals(0)
            .await
            .unwrap()
            .totals
            .unwrap()
            .debit_amount,
        777 + 2
    );
}

#[test]
fn bridge_answers_bad_lines_with_typed_errors() {
    use terminal::bpos1::bridge::answer;
    let mut emu = Bpos1Emulator::new(Bpos1EmulatorConfig::default());
    for bad in [
        "",
        "{",
        "[]",
        r#"{"op":"call"}"#,
        r#"{"op":"jump","name":"x"}"#,
        r#"{"op":"call","name":"Purchase","args":"x"}"#,
    ] {
        let a: serde_json::Value = serde_json::from_str(&answer(&mut emu, bad)).unwrap();
        assert_eq!(a["ok"], false, "{bad}");
    }
    let a = answer(&mut emu, r#"{"op":"get","name":"LastResult"}"#);
    assert_eq!(a, r#"{"ok":true,"value":0}"#);
}
