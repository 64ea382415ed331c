//! The Ingenico ECR web service driver against its emulator over HTTP on a
//! real loopback socket and over a pty (RS232 variant), plus the request-line
//! and reply golden examples of the integration guide.

use std::time::Duration;

use terminal::emulator::Outcome;
use terminal::ingenico::frame::{parse_request_line, request_line, Command, JsonSplitter, Reply};
use terminal::ingenico::{IngenicoEmulator, IngenicoTerminal};
use terminal::transport::Endpoint;
use terminal::{
    discard_progress, CardOutcome, CardTerminal, Error, PurchaseRequest, Recovery, TxnKind,
    TxnStatus, VoidRequest,
};

// The guide's RS232 sample: the request exactly as written to the port.
const SAMPLE_REQUEST_HEX: &str = "2f 65 63 72 3f 72 71 74 3d 52 65 71 75 65 73 74 3a 30 30 31 7c 55 \
    73 65 72 4e 61 6d 65 3a 4d 61 6e 68 31 32 33 26 63 6d 64 3d 73 61 6c 65 7c 32 30 30 30 7c 31 7c 32 \
    7c 33 7c 34 7c 35";

const SAMPLE_REPLY: &str = r#"{"requestId":"Request:001","clientId":"UserName:Manh123","command":"sale","status":"DONE","transInfo":{"transType":"1","cardNo":"4720XXXXXXXX5184","amount":"2000","STAN":"000345","time":"20180305152236","expireDate":"XXXX","refNo":"054171266105","approvalCode":"107896","returnCode":"00","tid":"00000122","mid":"00000080210002","currencyCode":"704","batchNo":"000018","receiptNo":"000111","cardType":"VISA","cardHolder":"MANH/DAO XUAN","cardInput":"C","emvAppName":"STB VISA PAYWAVE","emvAID":"A000000031010","emvTC":"9C76E2E2E8AF76EB","posSerial":"171407333221017301513847","transName":"THANH TOÁN","transStatus":"APPROVE","requestId":"Request:001","clientId":"UserName:Manh123"}}"#;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).unwrap())
        .collect()
}

#[test]
fn golden_request_line_and_reply() {
    let fields = ["1", "2", "3", "4", "5"].map(String::from);
    let cmd = Command::Sale {
        amount: 2000,
        fields,
    };
    let line = request_line("Request:001", "UserName:Manh123", &cmd).unwrap();
    assert_eq!(line.as_bytes(), hex(SAMPLE_REQUEST_HEX));
    let (rid, cid, back) = parse_request_line(&line).unwrap();
    assert_eq!(
        (rid.as_str(), cid.as_str(), back),
        ("Request:001", "UserName:Manh123", cmd)
    );
    assert_eq!(
        request_line(
            "123",
            "456",
            &Command::Void {
                receipt: "61".into()
            }
        )
        .unwrap(),
        "/ecr?rqt=123|456&cmd=void|61"
    );
    assert_eq!(
        request_line("123", "456", &Command::Settle { confirm: true }).unwrap(),
        "/ecr?rqt=123|456&cmd=settle|YES"
    );
    let (_, _, c) =
        parse_request_line("GET /ecr?rqt=Request:333%7CManh222&cmd=last%20trans HTTP/1.1").unwrap();
    assert_eq!(c, Command::LastTrans);
    let (_, _, c) = parse_request_line("192.168.0.2/ecr?rgt=123|456&cmd=void|9").unwrap();
    assert_eq!(
        c,
        Command::Void {
            receipt: "9".into()
        }
    );

    let reply = Reply::decode(SAMPLE_REPLY.as_bytes()).unwrap();
    assert!(reply.approved());
    let t = reply.transaction().unwrap();
    assert_eq!(t.rrn, "054171266105");
    assert_eq!(t.auth_code, "107896");
    assert_eq!(t.terminal_id, "00000122");
    assert_eq!(t.merchant_id, "00000080210002");
    assert_eq!(t.invoice, "000111");
    assert_eq!(t.batch, "000018");
    assert_eq!(t.amount, 2000);
    assert_eq!(t.request_id, "Request:001");
    assert_eq!(t.date_time, "2018-03-05T15:22:36");
    // The first example's decline (returnCode 55) with stray spaces and a
    // line break inside the status, as the guide prints it.
    let declined = SAMPLE_REPLY
        .replace("\"status\":\"DONE\"", "\"status\":\"\nDONE\"")
        .replace("\"returnCode\":\"00\"", "\"returnCode\":\"55\"")
        .replace("\"transType\":\"1\"", "\"transType\":\" 1\"")
        .replace("APPROVE", "DECLINE");
    let reply = Reply::decode(declined.as_bytes()).unwrap();
    assert!(!reply.approved());
    assert_eq!(reply.transaction().unwrap().status, TxnStatus::Declined);
}

#[test]
fn bad_requests_and_replies_are_typed_errors() {
    let long = "x".repeat(21);
    assert!(request_line(&long, "c", &Command::LastTrans).is_err());
    assert!(request_line("a|b", "c", &Command::LastTrans).is_err());
    let huge = Command::Sale {
        amount: 12_345_678_901,
        fields: Default::default(),
    };
    assert!(request_line("a", "c", &huge).is_err());
    assert!(request_line(
        "a",
        "c",
        &Command::Void {
            receipt: "1a".into()
        }
    )
    .is_err());
    for bad in [
        "",
        "/ecr",
        "/ecr?cmd=sale|1",
        "/ecr?rqt=1&cmd=sale|1",
        "/ecr?rqt=1|2&cmd=fly",
        "/ecr?rqt=1|2&cmd=sale|-4",
    ] {
        assert!(
            matches!(parse_request_line(bad), Err(Error::Protocol(_))),
            "{bad}"
        );
    }
    for bad in [
        "",
        "nope",
        "[]",
        r#"{"requestId":"1"}"#,
        r#"{"status":"DONE","transInfo":"x"}"#,
    ] {
        assert!(
            matches!(Reply::decode(bad.as_bytes()), Err(Error::Protocol(_))),
            "{bad}"
        );
    }
    let bad_amount = r#"{"status":"DONE","transInfo":{"amount":"12,5","returnCode":"00","transStatus":"APPROVE"}}"#;
    assert!(Reply::decode(bad_amount.as_bytes())
        .unwrap()
        .transaction()
        .is_err());
}

#[test]
fn serial_splitter_finds_whole_objects() {
    let mut s = JsonSplitter::default();
    let bytes = format!("noise{SAMPLE_REPLY}{{\"a\":\"}}\"}}");
    let mut got = Vec::new();
    for chunk in bytes.as_bytes().chunks(7) {
        got.extend(s.push(chunk));
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], SAMPLE_REPLY.as_bytes());
    assert_eq!(got[1], br#"{"a":"}"}"#);
}

async fn http_rig() -> (IngenicoEmulator, IngenicoTerminal) {
    let emu = IngenicoEmulator::new(Duration::from_millis(1));
    let addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let drv = IngenicoTerminal::new(
        Endpoint::tcp(addr.to_string()),
        "kasa-test",
        Duration::from_secs(30),
        Duration::from_secs(10),
        Duration::from_secs(2),
    )
    .unwrap();
    (emu, drv)
}

fn buy(amount: i64) -> PurchaseRequest {
    PurchaseRequest {
        amount,
        merchant: 1,
    }
}

async fn every_outcome(emu: &IngenicoEmulator, drv: &IngenicoTerminal) {
    let CardOutcome::Approved(a) = drv.purchase(buy(2_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (a.amount, a.rrn.len(), a.kind),
        (2_000, 12, TxnKind::Purchase)
    );
    for code in ["05", "51", "55"] {
        emu.script_next(Outcome::Decline(code.into()));
        let out = drv.purchase(buy(100), discard_progress()).await.unwrap();
        assert!(
            matches!(&out, CardOutcome::Declined { code: c, .. } if c == code),
            "{out:?}"
        );
    }
    for o in [
        Outcome::CustomerCancel,
        Outcome::NoHostLink,
        Outcome::NoPaper,
    ] {
        emu.script_next(o);
        assert_eq!(
            drv.purchase(buy(100), discard_progress()).await.unwrap(),
            CardOutcome::Cancelled
        );
    }
    emu.script_next(Outcome::PartialApproval);
    let CardOutcome::Approved(p) = drv.purchase(buy(3_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(p.amount, 1_500);
    emu.script_next(Outcome::Busy);
    assert!(matches!(
        drv.purchase(buy(1), discard_progress()).await,
        Err(Error::Busy)
    ));
    let void = VoidRequest {
        invoice: a.invoice.clone(),
        merchant: 1,
    };
    let CardOutcome::Approved(v) = drv.void(void, discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!((v.kind, v.amount), (TxnKind::Void, 2_000));
    let t = emu.bank().totals(0);
    assert_eq!((t.debit_amount, t.cancelled_amount), (1_500, 2_000));
    assert!(drv.settle(0).await.unwrap().closed);
    assert_eq!(emu.bank().totals(0), Default::default());
}

#[tokio::test]
async fn http_every_outcome() {
    let (emu, drv) = http_rig().await;
    every_outcome(&emu, &drv).await;
}

#[tokio::test]
async fn http_time_out() {
    let emu = IngenicoEmulator::new(Duration::from_millis(1));
    let addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let drv = IngenicoTerminal::new(
        Endpoint::tcp(addr.to_string()),
        "kasa",
        Duration::from_millis(200),
        Duration::from_secs(5),
        Duration::from_secs(2),
    )
    .unwrap();
    emu.script_next(Outcome::Timeout);
    let e = drv.purchase(buy(10), discard_progress()).await.unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e}");
}

#[tokio::test]
async fn http_reply_lost_after_approval_is_matched_by_request_id() {
    let (emu, drv) = http_rig().await;
    // An unrelated earlier sale of the same amount.
    let CardOutcome::Approved(older) = drv.purchase(buy(5_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    emu.script_next(Outcome::DropAfterApproval);
    let pending = drv.begin(TxnKind::Purchase, 5_000, 1).await.unwrap();
    let e = drv
        .purchase_as(&pending, discard_progress())
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    let r = drv.recover(&pending).await.unwrap();
    let tx = r.approved().expect("ours").clone();
    assert_eq!(tx.request_id, pending.request_id);
    assert_ne!(tx.rrn, older.rrn);
    let books = emu.bank().books().clone();
    assert_eq!(
        books
            .by_request_id(&pending.request_id)
            .map(|r| r.rrn.clone()),
        Some(tx.rrn.clone())
    );
    assert_eq!(books.approved_charges().len(), 2);
    // A request that never reached the terminal: the last one is someone else's.
    let other = drv.begin(TxnKind::Purchase, 5_000, 1).await.unwrap();
    let r = drv.recover(&other).await.unwrap();
    assert!(matches!(r, Recovery::NotFound { .. }), "{r:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn rs232_over_a_pty() {
    let emu = IngenicoEmulator::new(Duration::from_millis(1));
    let (master, slave, path) = terminal::transport::pty_pair().unwrap();
    tokio::spawn(emu.clone().serve_serial(master));
    let drv = IngenicoTerminal::new(
        Endpoint::serial(path),
        "kasa",
        Duration::from_secs(30),
        Duration::from_secs(10),
        Duration::from_secs(2),
    )
    .unwrap();
    every_outcome(&emu, &drv).await;
    let last = drv.last_transaction().await.unwrap();
    assert!(last.is_some());
    drop(slave);
}

mod fuzz {
    use proptest::prelude::*;
    use terminal::ingenico::frame::{parse_request_line, JsonSplitter, Reply};

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,120}") {
            let _ = parse_request_line(&text);
            if let Ok(r) = Reply::decode(text.as_bytes()) {
                let _ = r.transaction();
                let _ = r.approved();
            }
            let mut s = JsonSplitter::default();
            let _ = s.push(text.as_bytes());
        }

        #[test]
        fn request_lines_round_trip(id in "[A-Za-z0-9:]{1,20}", amount in 1i64..9_999_999_999) {
            use terminal::ingenico::frame::{request_line, Command};
            let cmd = Command::Sale { amount, fields: Default::default() };
            let line = request_line(&id, "kasa", &cmd).unwrap();
            let (rid, cid, back) = parse_request_line(&line).unwrap();
            prop_assert_eq!(rid, id);
            prop_assert_eq!(cid, "kasa");
            prop_assert_eq!(back, cmd);
        }
    }
}

/// The guide has no cancel command: the driver drops the sale's request,
/// which the terminal takes as a lost connection while it waits for the card.
#[tokio::test]
async fn http_cashier_cancel_while_waiting_for_the_card() {
    let (emu, drv) = http_rig().await;
    let drv = std::sync::Arc::new(drv);
    emu.script_next(Outcome::Timeout); // the card never comes
    let pending = drv.begin(TxnKind::Purchase, 100, 1).await;
    // (`last trans` on an empty terminal: nothing before)
    let pending = pending.unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let running = {
        let (drv, pending) = (std::sync::Arc::clone(&drv), pending.clone());
        tokio::spawn(async move { drv.execute(&pending, tx).await })
    };
    emu.wait_for_status(9).await;
    drv.cancel().await.unwrap();
    assert_eq!(running.await.unwrap().unwrap(), CardOutcome::Cancelled);
    assert!(emu.bank().books().records.is_empty(), "nothing charged");
    emu.wait_for_status(0).await;
    assert!(matches!(
        drv.recover(&pending).await.unwrap(),
        Recovery::NotFound { .. }
    ));
}

/// A cancel once the card is read does not stop the sale: the driver reports
/// the approval the terminal went on with.
#[tokio::test]
async fn http_cancel_after_the_card_was_read_keeps_the_approval() {
    let emu = IngenicoEmulator::new(Duration::from_millis(40));
    let addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let drv = std::sync::Arc::new(
        IngenicoTerminal::new(
            Endpoint::tcp(addr.to_string()),
            "kasa",
            Duration::from_secs(30),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .unwrap(),
    );
    let pending = drv.begin(TxnKind::Purchase, 2_500, 1).await.unwrap();
    let running = {
        let (drv, pending) = (std::sync::Arc::clone(&drv), pending.clone());
        tokio::spawn(async move { drv.execute(&pending, discard_progress()).await })
    };
    emu.wait_for_status(1).await; // card read
    drv.cancel().await.unwrap();
    let out = running.await.unwrap().unwrap();
    let CardOutcome::Approved(t) = out else {
        panic!("the approval was lost: {out:?}")
    };
    assert_eq!(
        (t.amount, t.request_id.as_str()),
        (2_500, pending.request_id.as_str())
    );
    let books = emu.bank().books().clone();
    let r = books.by_request_id(&pending.request_id).unwrap();
    assert_eq!(
        (r.status, r.amount, r.rrn.as_str()),
        (TxnStatus::Approved, 2_500, t.rrn.as_str())
    );
}

/// Kasa killed in the middle of a sale, after the card: the terminal goes on,
/// records it, answers busy meanwhile, and the next connection finds it.
#[tokio::test]
async fn the_sale_goes_on_when_the_cash_register_goes_after_the_card() {
    let emu = IngenicoEmulator::new(Duration::from_millis(40));
    let addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let driver = || {
        IngenicoTerminal::new(
            Endpoint::tcp(addr.to_string()),
            "kasa",
            Duration::from_secs(30),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .unwrap()
    };
    let before = driver();
    let pending = before.begin(TxnKind::Purchase, 7_700, 1).await.unwrap();
    let sale = {
        let pending = pending.clone();
        tokio::spawn(async move { before.execute(&pending, discard_progress()).await })
    };
    emu.wait_for_status(6).await; // PIN entry
    sale.abort(); // the request and its connection go with the task
    assert!(sale.await.unwrap_err().is_cancelled());
    // Kasa restarts: its lookup waits while the terminal is busy, then finds ours.
    let after = driver();
    let found = after.recover(&pending).await.unwrap();
    let t = found.approved().expect("recorded and found").clone();
    assert_eq!(
        (t.amount, t.request_id.as_str()),
        (7_700, pending.request_id.as_str())
    );
    let books = emu.bank().books().clone();
    assert_eq!(books.approved_charges().len(), 1);
    assert_eq!(
        books
            .by_request_id(&pending.request_id)
            .map(|r| r.rrn.clone()),
        Some(t.rrn)
    );
}

/// `ocan` where the terminal takes it (the Techcombank variant, on its own
/// address): the sale waiting for the card ends as cancelled.
#[tokio::test]
async fn http_cancel_with_ocan_on_the_techcombank_variant() {
    use terminal::emulator::Bank;
    use terminal::ingenico::emulator::IngenicoEmulatorConfig;
    let emu = IngenicoEmulator::with_config(
        IngenicoEmulatorConfig {
            step_delay: Duration::from_millis(1),
            ocan: true,
            ..Default::default()
        },
        Bank::new(1),
    );
    let addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let ocan_addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let drv = std::sync::Arc::new(
        IngenicoTerminal::new(
            Endpoint::tcp(addr.to_string()),
            "kasa",
            Duration::from_secs(30),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .unwrap()
        .with_cancel_address(&ocan_addr.to_string()),
    );
    emu.script_next(Outcome::Timeout);
    let running = {
        let drv = std::sync::Arc::clone(&drv);
        tokio::spawn(async move { drv.purchase(buy(100), discard_progress()).await })
    };
    emu.wait_for_status(9).await;
    drv.cancel().await.unwrap();
    assert_eq!(running.await.unwrap().unwrap(), CardOutcome::Cancelled);
    assert!(emu.bank().books().records.is_empty());
}

/// The emulator answers the guide's four commands and nothing else.
#[tokio::test]
async fn the_emulator_answers_only_the_guides_commands() {
    let (emu, _drv) = http_rig().await;
    let emu_addr = emu.spawn_http("127.0.0.1:0").await.unwrap();
    let client = reqwest::Client::new();
    let get = |cmd: &str| {
        let url = format!("http://{emu_addr}/ecr?rqt=R1|kasa&cmd={cmd}");
        let client = client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    for unknown in ["ocan", "refund|100", "balance", "qr_p|100"] {
        let resp = get(unknown).await;
        assert_eq!(resp.status(), reqwest::StatusCode::BAD_REQUEST, "{unknown}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "CANCELED", "{unknown}");
    }
    let resp = get("last trans").await;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (body["requestId"].as_str(), body["status"].as_str()),
        (Some("R1"), Some("CANCELED")),
        "nothing done yet"
    );
    assert!(emu.bank().books().records.is_empty());
}

#[tokio::test]
async fn voids_are_recovered_as_voids_and_there_is_no_refund() {
    let (emu, drv) = http_rig().await;
    let CardOutcome::Approved(sale) = drv.purchase(buy(4_000), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    emu.script_next(Outcome::DropAfterApproval);
    let void = drv
        .begin(TxnKind::Void, 4_000, 1)
        .await
        .unwrap()
        .voiding(&sale.invoice);
    let e = drv.execute(&void, discard_progress()).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    let found = drv.recover(&void).await.unwrap();
    let v = found.approved().expect("the void").clone();
    assert_eq!(
        (v.kind, v.amount, v.request_id.as_str()),
        (TxnKind::Void, 4_000, void.request_id.as_str())
    );
    // The same lookup never passes for the purchase.
    let as_purchase = terminal::PendingOperation {
        kind: TxnKind::Purchase,
        ..void.clone()
    };
    assert!(drv
        .recover(&as_purchase)
        .await
        .unwrap()
        .approved()
        .is_none());
    // No refund in this protocol: refused before anything is sent, and a
    // refund is never found.
    let refund = drv
        .begin(TxnKind::Refund, 100, 1)
        .await
        .unwrap()
        .refund_of(&sale.rrn);
    let e = drv.execute(&refund, discard_progress()).await.unwrap_err();
    assert_eq!(e.code(), "protocol.unsupported");
    assert!(drv.recover(&refund).await.unwrap().approved().is_none());
    let books = emu.bank().books().clone();
    assert_eq!(books.voids().len(), 1);
    assert!(books.refunds().is_empty());
    assert!(books.standing_charges().is_empty());
}

/// The guide has no partial-approval code: an approval of less than asked is
/// still reported as partial, on the reply and on the lookup.
#[tokio::test]
async fn partial_approval_and_raw_pan() {
    let (emu, drv) = http_rig().await;
    emu.script_next(Outcome::PartialApproval);
    let pending = drv.begin(TxnKind::Purchase, 3_001, 1).await.unwrap();
    let CardOutcome::Approved(t) = drv.execute(&pending, discard_progress()).await.unwrap() else {
        panic!()
    };
    assert_eq!((t.amount, t.requested_amount), (1_500, 3_001));
    assert!(t.is_partial());
    let found = drv.recover(&pending).await.unwrap();
    let f = found.approved().unwrap();
    assert_eq!(
        f.amount, 1_500,
        "the approved amount, not the requested one"
    );
    assert!(f.is_partial());
    assert_eq!(emu.bank().books().approved_charges()[0].amount, 1_500);

    emu.script_next(Outcome::RawPan("4149 6200 0000 0042".into()));
    let CardOutcome::Approved(raw) = drv.purchase(buy(10), discard_progress()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(raw.masked_pan, "4149 6200 0000 0042");
}
