//! The B-POS1 driver against the ECRCommX behaviour emulator: LastResult
//! polling, status codes, Confirm or auto-cancel (also across a crash of the
//! cash register), result properties, response codes, lookups and totals.
//! Money is checked in the emulator's books.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use terminal::bpos1::{bridge, Bpos1Api, Bpos1Emulator, Bpos1EmulatorConfig, Bpos1Terminal, Value};
use terminal::config::Timeouts;
use terminal::emulator::{Bank, Outcome, Reversal, RAW_PAN};
use terminal::{
    discard_progress, CardOutcome, CardTerminal, ConfirmMode, Error, PurchaseRequest, Recovery,
    RefundRequest, TerminalStatus, TxnKind, TxnStatus, VoidRequest,
};

fn timeouts() -> Timeouts {
    Timeouts {
        poll_ms: 1,
        operation_ms: 30_000,
        ..Timeouts::default()
    }
}

fn config(step_ms: u64, confirm_ms: u64) -> Bpos1EmulatorConfig {
    Bpos1EmulatorConfig {
        step_delay: Duration::from_millis(step_ms),
        confirm_timeout: Duration::from_millis(confirm_ms),
        merchants: 2,
        ..Default::default()
    }
}

fn rig(step_ms: u64, confirm_ms: u64, explicit: bool) -> (Arc<Mutex<Bank>>, Bpos1Terminal) {
    let emu = Bpos1Emulator::new(config(step_ms, confirm_ms));
    let bank = emu.bank_handle();
    (bank, Bpos1Terminal::new(emu, explicit, timeouts()))
}

fn buy(amount: i64) -> PurchaseRequest {
    PurchaseRequest {
        amount,
        merchant: 1,
    }
}

fn approved(out: CardOutcome) -> terminal::CardTransaction {
    match out {
        CardOutcome::Approved(t) => t,
        other => panic!("expected an approval, got {other:?}"),
    }
}

/// The record with `invoice` in the emulator's books.
fn record(bank: &Arc<Mutex<Bank>>, invoice: &str) -> terminal::emulator::Record {
    let n: u64 = invoice.parse().unwrap();
    bank.lock().unwrap().books().record(n).cloned().unwrap()
}

#[test]
fn the_api_object_polls_like_ecrcommx() {
    let mut emu = Bpos1Emulator::new(Bpos1EmulatorConfig {
        step_delay: Duration::ZERO,
        confirm_timeout: Duration::from_secs(60),
        merchants: 1,
        ..Default::default()
    });
    emu.call("CommOpen", &[Value::Int(3), Value::Int(115_200)])
        .unwrap();
    emu.call("Purchase", &[Value::Int(115), Value::Int(0), Value::Int(1)])
        .unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(0));
    assert_eq!(emu.get("Amount").unwrap(), Value::Int(115));
    assert_eq!(emu.get("TrnStatus").unwrap(), Value::Int(1));
    // Names are case-insensitive, as with IDispatch.
    assert_eq!(emu.get("amount").unwrap(), Value::Int(115));
    emu.call("confirm", &[]).unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(0));
    // Confirming again: already complete.
    emu.call("Confirm", &[]).unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(1));
    assert_eq!(emu.get("LastErrorCode").unwrap(), Value::Int(4));
    assert_eq!(emu.get("ResponseCode").unwrap(), Value::Int(1008));
    // A method of the list it does not emulate: a terminal error.
    emu.call("ReadCard", &[]).unwrap();
    assert_eq!(emu.get("LastResult").unwrap(), Value::Int(1));
    assert_eq!(emu.get("ResponseCode").unwrap(), Value::Int(1000));
    // Names not in the ECRCommX list do not exist at all.
    for bad in ["Ping", "CheckTerminal", "Frobnicate"] {
        assert!(
            matches!(emu.call(bad, &[]), Err(Error::Unsupported(_))),
            "{bad}"
        );
    }
    assert!(matches!(emu.get("Colour"), Err(Error::Unsupported(_))));
    emu.call("CommClose", &[]).unwrap();
    emu.call("Purchase", &[Value::Int(1), Value::Int(0), Value::Int(1)])
        .unwrap();
    assert_eq!(
        emu.get("LastErrorCode").unwrap(),
        Value::Int(2),
        "port not open"
    );
}

/// Issue 14, point 2: the automatic confirm is put to the test. The confirm
/// time-out is short, and the test waits until the terminal has cancelled a
/// later approval left unconfirmed (a state, not a sleep): by then the time-out
/// of ours has passed too, and ours must still stand.
#[tokio::test]
async fn approve_with_automatic_confirm_and_status_timeline() {
    let confirm_ms = 100;
    let (bank, drv) = rig(2, confirm_ms, false);
    assert_eq!(drv.confirm_mode(), ConfirmMode::Automatic);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let t = approved(drv.purchase(buy(11_500), tx).await.unwrap());
    assert_eq!((t.amount, t.rrn.len(), t.auth_code.len()), (11_500, 12, 6));
    assert_eq!(
        (t.terminal_id.as_str(), t.batch.as_str()),
        ("KASA0001", "1")
    );
    assert!(!t.needs_confirm, "the driver confirmed it");
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

    // A witness approved after ours and never confirmed.
    let witness = {
        let mut b = bank.lock().unwrap();
        let w = b.authorise(TxnKind::Purchase, 2, 1, "00", "");
        let until = chrono::Local::now().naive_local()
            + chrono::Duration::milliseconds(i64::try_from(confirm_ms).unwrap());
        b.await_confirm(w.invoice, until);
        w.invoice.to_string()
    };
    loop {
        let w = drv.find_by_invoice(&witness).await.unwrap().unwrap();
        if w.status == TxnStatus::Cancelled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Ours, confirmed, still stands on the terminal and in its books.
    let ours = drv.find_by_invoice(&t.invoice).await.unwrap().unwrap();
    assert_eq!(ours.status, TxnStatus::Approved);
    let r = record(&bank, &t.invoice);
    assert_eq!(
        (r.status, r.reversal, r.confirm_by, r.amount),
        (TxnStatus::Approved, None, None, 11_500)
    );
    assert_eq!(bank.lock().unwrap().totals(1).debit_amount, 11_500);
}

#[tokio::test]
async fn explicit_confirm_or_the_terminal_cancels() {
    let (bank, drv) = rig(0, 0, true);
    assert_eq!(drv.confirm_mode(), ConfirmMode::Explicit);
    // Confirm at once: it holds (a zero time-out is checked at the next call).
    let (bank2, drv2) = rig(0, 60_000, true);
    let a = approved(drv2.purchase(buy(100), discard_progress()).await.unwrap());
    assert!(a.needs_confirm, "the caller must confirm");
    assert!(record(&bank2, &a.invoice).awaiting_confirm());
    drv2.confirm().await.unwrap();
    drv2.confirm().await.unwrap(); // harmless on one already confirmed
    assert_eq!(
        drv2.last_transaction().await.unwrap().unwrap().status,
        TxnStatus::Approved
    );
    assert!(!record(&bank2, &a.invoice).awaiting_confirm());

    // No Confirm: past the terminal's confirm time-out it is cancelled.
    let b = approved(drv.purchase(buy(200), discard_progress()).await.unwrap());
    let found = drv.find_by_invoice(&b.invoice).await.unwrap().unwrap();
    assert_eq!(found.status, TxnStatus::Cancelled);
    let e = drv.confirm().await.unwrap_err();
    assert!(matches!(e, Error::ConfirmExpired { .. }), "{e}");
    let r = record(&bank, &b.invoice);
    assert_eq!(
        (r.status, r.reversal),
        (TxnStatus::Cancelled, Some(Reversal::NotConfirmed))
    );
    let totals = bank.lock().unwrap().totals(0);
    assert_eq!((totals.debit_count, totals.debit_amount), (0, 0));
}

/// The emulator behind the bridge on TCP, as `kasa emulate terminal
/// --protocol bpos1` serves it: one terminal for every connection, its clock
/// ticking whether anyone polls or not.
async fn bridge_rig(confirm_ms: u64) -> (Arc<Mutex<Bank>>, String) {
    let emu = Bpos1Emulator::new(config(1, confirm_ms));
    let bank = emu.bank_handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(bridge::serve_tcp(Arc::new(Mutex::new(emu)), listener));
    (bank, addr)
}

async fn bridge_driver(addr: &str, explicit: bool) -> Arc<dyn CardTerminal> {
    let cfg = terminal::TerminalConfig {
        protocol: terminal::Protocol::Bpos1Bridge,
        endpoint: terminal::transport::Endpoint::tcp(addr.to_string()),
        timeouts: timeouts(),
        explicit_confirm: explicit,
        ..Default::default()
    };
    let drv = terminal::connect(&cfg).await.unwrap();
    drv.open().await.unwrap();
    drv
}

/// Wait until the record with `invoice` has `status` in the books.
async fn wait_for_status(bank: &Arc<Mutex<Bank>>, invoice: &str, status: TxnStatus) {
    while record(bank, invoice).status != status {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn explicit_confirm_across_a_crash() {
    let (bank, addr) = bridge_rig(60_000).await;
    // The approval is journalled, then Kasa dies before Confirm.
    let before = bridge_driver(&addr, true).await;
    let pending = before.begin(TxnKind::Purchase, 4_200, 1).await.unwrap();
    let t = approved(before.execute(&pending, discard_progress()).await.unwrap());
    assert!(t.needs_confirm);
    drop(before);
    // After the restart: recovery finds it approved and still to be confirmed.
    let after = bridge_driver(&addr, true).await;
    let r = after.recover(&pending).await.unwrap();
    let found = r.approved().expect("found approved").clone();
    assert_eq!((found.rrn.as_str(), found.amount), (t.rrn.as_str(), 4_200));
    assert!(found.needs_confirm);
    assert!(record(&bank, &t.invoice).awaiting_confirm());
    after.confirm().await.unwrap();
    // A second confirm (a crash right after the first) is harmless.
    after.confirm().await.unwrap();
    let r = record(&bank, &t.invoice);
    assert_eq!(
        (r.status, r.confirm_by, r.reversal),
        (TxnStatus::Approved, None, None)
    );
    // And recovering again still reports it approved.
    assert!(after.recover(&pending).await.unwrap().approved().is_some());
}

#[tokio::test]
async fn unconfirmed_after_a_crash_is_cancelled_by_the_terminal() {
    let (bank, addr) = bridge_rig(150).await;
    let before = bridge_driver(&addr, true).await;
    let pending = before.begin(TxnKind::Purchase, 900, 1).await.unwrap();
    let t = approved(before.execute(&pending, discard_progress()).await.unwrap());
    drop(before);
    // Nobody confirms: the terminal cancels it on its own clock.
    wait_for_status(&bank, &t.invoice, TxnStatus::Cancelled).await;
    let after = bridge_driver(&addr, true).await;
    let r = after.recover(&pending).await.unwrap();
    let Recovery::Found(found) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(found.status, TxnStatus::Cancelled);
    assert!(!found.needs_confirm, "nothing to confirm");
    assert!(r.approved().is_none(), "not charged");
    assert!(matches!(
        after.confirm().await,
        Err(Error::ConfirmExpired { .. })
    ));
    let books = bank.lock().unwrap().books().clone();
    assert!(books.approved_charges().is_empty());
    assert_eq!(books.reversals().len(), 1);
}

#[tokio::test]
async fn declines_cancels_partial_and_card_data() {
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
    assert!(bank.lock().unwrap().books().approved_charges().is_empty());

    bank.lock().unwrap().script_next(Outcome::PartialApproval);
    let p = approved(drv.purchase(buy(1_001), discard_progress()).await.unwrap());
    assert_eq!((p.amount, p.requested_amount), (500, 1_001));
    assert!(p.is_partial());
    let looked_up = drv.find_by_invoice(&p.invoice).await.unwrap().unwrap();
    assert_eq!(looked_up.amount, 500, "lookups report the approved amount");
    assert!(looked_up.is_partial());
    assert_eq!(record(&bank, &p.invoice).amount, 500);

    bank.lock()
        .unwrap()
        .script_next(Outcome::RawPan(RAW_PAN.into()));
    let raw = approved(drv.purchase(buy(7), discard_progress()).await.unwrap());
    assert_eq!(raw.masked_pan, RAW_PAN, "passed on as the terminal sent it");
    bank.lock().unwrap().script_next(Outcome::SignatureRequired);
    let s = approved(drv.purchase(buy(8), discard_progress()).await.unwrap());
    assert!(s.signature_required);
    assert_eq!(
        (s.card_scheme.is_empty(), s.issuer.is_empty()),
        (false, false)
    );
    assert!(!raw.signature_required);
    let again = drv.find_by_invoice(&s.invoice).await.unwrap().unwrap();
    assert_eq!(
        (again.terminal_id.as_str(), again.merchant_id.as_str()),
        (s.terminal_id.as_str(), s.merchant_id.as_str()),
        "a lookup carries the same card data as the reply"
    );
    assert!(again.signature_required);
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
    assert!(bank.lock().unwrap().books().records.is_empty());

    // Approved on the terminal, link lost before Confirm: the terminal cancels
    // it, and the lookup says so.
    bank.lock().unwrap().script_next(Outcome::DropAfterApproval);
    let pending = drv.begin(TxnKind::Purchase, 900, 1).await.unwrap();
    let e = drv.execute(&pending, discard_progress()).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    let r = drv.recover(&pending).await.unwrap();
    match &r {
        Recovery::Found(tx) => assert_eq!(tx.status, TxnStatus::Cancelled),
        other => panic!("{other:?}"),
    }
    assert!(r.approved().is_none());
    assert!(bank.lock().unwrap().books().approved_charges().is_empty());
}

#[tokio::test]
async fn refund_void_totals_and_settlement() {
    let (bank, drv) = rig(0, 60_000, false);
    let a = approved(drv.purchase(buy(1_000), discard_progress()).await.unwrap());
    let b = approved(
        drv.purchase(
            PurchaseRequest {
                amount: 400,
                merchant: 2,
            },
            discard_progress(),
        )
        .await
        .unwrap(),
    );
    let refund = RefundRequest {
        amount: 250,
        rrn: a.rrn.clone(),
        merchant: 1,
    };
    let r = approved(drv.refund(refund, discard_progress()).await.unwrap());
    assert_eq!((r.kind, r.amount), (TxnKind::Refund, 250));
    let void = VoidRequest {
        invoice: b.invoice.clone(),
        merchant: 2,
    };
    let v = approved(drv.void(void, discard_progress()).await.unwrap());
    assert_eq!((v.kind, v.amount), (TxnKind::Void, 400));
    let x = drv.batch_totals(0).await.unwrap();
    let t = x.totals.unwrap();
    assert_eq!((t.debit_count, t.debit_amount), (1, 1_000));
    assert_eq!((t.credit_count, t.credit_amount), (1, 250));
    assert_eq!((t.cancelled_count, t.cancelled_amount), (1, 400));
    assert_eq!(bank.lock().unwrap().totals(0), t, "the books agree");
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
async fn refunds_and_voids_are_executed_and_recovered_as_what_they_are() {
    let (bank, drv) = rig(0, 60_000, false);
    let sale = approved(drv.purchase(buy(3_000), discard_progress()).await.unwrap());

    let refund = drv
        .begin(TxnKind::Refund, 1_200, 1)
        .await
        .unwrap()
        .refund_of(&sale.rrn);
    let r = approved(drv.execute(&refund, discard_progress()).await.unwrap());
    assert_eq!((r.kind, r.amount), (TxnKind::Refund, 1_200));
    let found = drv.recover(&refund).await.unwrap();
    let f = found.approved().expect("the refund is found");
    assert_eq!((f.kind, f.rrn.as_str()), (TxnKind::Refund, r.rrn.as_str()));
    assert!(f.needs_confirm, "a refund is confirmed too");
    drv.confirm().await.unwrap();

    let void = drv
        .begin(TxnKind::Void, 3_000, 1)
        .await
        .unwrap()
        .voiding(&sale.invoice);
    let v = approved(drv.execute(&void, discard_progress()).await.unwrap());
    assert_eq!((v.kind, v.amount), (TxnKind::Void, 3_000));
    let found = drv.recover(&void).await.unwrap();
    let f = found.approved().expect("the void is found");
    assert_eq!((f.kind, f.needs_confirm), (TxnKind::Void, false));

    // A purchase pending of the same amount is never matched by the void.
    let purchase = terminal::PendingOperation {
        kind: TxnKind::Purchase,
        ..void.clone()
    };
    assert!(drv.recover(&purchase).await.unwrap().approved().is_none());
    let books = bank.lock().unwrap().books().clone();
    assert_eq!(books.refunds().len(), 1);
    assert_eq!(books.voids().len(), 1);
    assert!(books.standing_charges().is_empty());
    // Execute checks what the operation needs before anything is sent.
    let bare = drv.begin(TxnKind::Refund, 5, 1).await.unwrap();
    let e = drv.execute(&bare, discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "request.invalid");
}

#[tokio::test]
async fn over_the_api_bridge_on_tcp() {
    let (bank, addr) = bridge_rig(60_000).await;
    let drv = bridge_driver(&addr, false).await;
    let t = approved(drv.purchase(buy(777), discard_progress()).await.unwrap());
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
    let last = drv.last_transaction().await.unwrap().unwrap();
    assert_eq!(last.amount, 2);
    assert_eq!(
        drv.batch_totals(0)
            .await
            .unwrap()
            .totals
            .unwrap()
            .debit_amount,
        777 + 2
    );
    assert_eq!(bank.lock().unwrap().books().approved_charges().len(), 2);
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
        r#"{"op":"call","name":"Ping"}"#,
    ] {
        let a: serde_json::Value = serde_json::from_str(&answer(&mut emu, bad)).unwrap();
        assert_eq!(a["ok"], false, "{bad}");
    }
    let a = answer(&mut emu, r#"{"op":"get","name":"LastResult"}"#);
    assert_eq!(a, r#"{"ok":true,"value":0}"#);
}

/// A cancel that comes after the host approved never undoes the approval:
/// the driver sends `Cancel` only while the operation itself runs, never
/// during `Confirm`.
#[tokio::test]
async fn a_cancel_after_the_approval_keeps_it() {
    let (bank, drv) = rig(0, 60_000, true);
    let t = approved(drv.purchase(buy(640), discard_progress()).await.unwrap());
    assert!(t.needs_confirm);
    drv.cancel().await.unwrap(); // the cashier, a moment too late
    drv.confirm().await.unwrap();
    let r = record(&bank, &t.invoice);
    assert_eq!(
        (r.status, r.reversal, r.confirm_by),
        (TxnStatus::Approved, None, None)
    );
    // And the next operation is not cancelled by the stale request either.
    let next = approved(drv.purchase(buy(1), discard_progress()).await.unwrap());
    drv.confirm().await.unwrap();
    assert_eq!(record(&bank, &next.invoice).status, TxnStatus::Approved);
}
