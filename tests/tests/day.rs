//! The shop's day in process: the business day in Kyiv time (across both
//! daylight-saving changes), the 24-hour warning, several merchants, the day
//! close with its settlement and Z checked in the devices' own books, and a
//! three-way reconciliation that names every planted difference.

use std::sync::Arc;

use checkout::api::{KeyRequest, OperationState, OperationView, SaleRequest, TenderRequest};
use checkout::clock::FixedClock;
use checkout::engine::NewRequest;
use checkout::money::Money;
use checkout::reconcile::{DifferenceKind, Reconciliation};
use checkout::settings::MerchantSettings;
use chrono::{DateTime, Utc};
use testkit::{key, Rig, RigOptions};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn merchant(index: u8) -> MerchantSettings {
    MerchantSettings {
        index,
        name: format!("ФОП {index}"),
        terminal_id: format!("KASA{index:04}"),
        merchant_id: format!("S1KASA{index:02}"),
        register: String::new(),
    }
}

async fn rig_at(now: &str, merchants: Vec<MerchantSettings>) -> anyhow::Result<Rig> {
    let rig = Rig::with(RigOptions {
        clock: Some(Arc::new(FixedClock::new(at(now)))),
        merchants,
        ..RigOptions::default()
    })
    .await?;
    Ok(rig)
}

async fn day_close(rig: &Rig) -> anyhow::Result<OperationView> {
    Ok(rig
        .engine
        .submit("manager", NewRequest::DayClose(KeyRequest { key: key() }))
        .await?)
}

/// The reconciliation the day close stored with the shift it closed.
fn reconciliation(rig: &Rig, close: &OperationView) -> Reconciliation {
    let report = rig.engine.day_report(&close.business_day).unwrap();
    report
        .shifts
        .iter()
        .find(|s| s.close_operation == Some(close.id))
        .and_then(|s| s.reconciliation.clone())
        .unwrap_or_else(|| panic!("no reconciliation for {}: {report:#?}", close.id))
}

fn kinds(r: &Reconciliation) -> Vec<DifferenceKind> {
    r.differences.iter().map(|d| d.kind).collect()
}

#[tokio::test]
async fn business_day_is_the_kyiv_date_the_shift_began_across_dst() -> anyhow::Result<()> {
    // Each pair: a minute before and a minute after local midnight, in
    // winter time (+2) and summer time (+3), on both change-over days.
    let pairs = [
        (
            "2026-03-28T21:59:00Z",
            "2026-03-28",
            "2026-03-28T22:01:00Z",
            "2026-03-29",
        ),
        (
            "2026-03-29T20:59:00Z",
            "2026-03-29",
            "2026-03-29T21:01:00Z",
            "2026-03-30",
        ),
        (
            "2026-10-24T20:59:00Z",
            "2026-10-24",
            "2026-10-24T21:01:00Z",
            "2026-10-25",
        ),
        (
            "2026-10-25T21:59:00Z",
            "2026-10-25",
            "2026-10-25T22:01:00Z",
            "2026-10-26",
        ),
    ];
    let rig = rig_at(pairs[0].0, Vec::new()).await?;
    for (before, day_before, after, day_after) in pairs {
        rig.set_time(at(before));
        assert_eq!(
            rig.engine.day_status()?.business_day,
            day_before,
            "{before}"
        );
        let sale = rig.card_sale(1000).await?;
        assert_eq!(sale.state, OperationState::Done);
        assert_eq!(sale.business_day, day_before, "sale at {before}");
        // After midnight the open shift keeps its day.
        rig.set_time(at(after));
        let late = rig.card_sale(1100).await?;
        assert_eq!(
            late.business_day, day_before,
            "the open shift's day at {after}"
        );
        let close = day_close(&rig).await?;
        assert_eq!(close.state, OperationState::Done, "{close:#?}");
        assert_eq!(close.business_day, day_before);
        // No shift open: today's local date.
        let status = rig.engine.day_status()?;
        assert!(status.shift.is_none());
        assert_eq!(status.business_day, day_after, "{after}");
        let next = rig.card_sale(1200).await?;
        assert_eq!(next.business_day, day_after, "sale at {after}");
        let close = day_close(&rig).await?;
        assert_eq!(close.state, OperationState::Done, "{close:#?}");
    }
    // Each day's report holds exactly its sales.
    let report = rig.engine.day_report("2026-03-29")?;
    let card: i64 = report
        .totals
        .iter()
        .filter(|t| t.method == checkout::api::PaymentMethod::Card)
        .map(|t| t.sales)
        .sum();
    // 03-29: the 00:01 sale (1200) and the 23:59 sale and its late one (1000 + 1100).
    assert_eq!(card, 1200 + 1000 + 1100, "{report:#?}");
    Ok(())
}

#[tokio::test]
async fn a_shift_near_24_hours_warns() -> anyhow::Result<()> {
    let rig = rig_at("2026-11-25T08:00:00Z", Vec::new()).await?;
    rig.card_sale(500).await?;
    let s = rig.engine.day_status()?;
    assert!(!s.z_due_soon && !s.z_overdue, "{s:#?}");
    rig.set_time(at("2026-11-26T07:30:00Z"));
    let s = rig.engine.day_status()?;
    assert!(s.z_due_soon && !s.z_overdue, "{s:#?}");
    assert_eq!(s.business_day, "2026-11-25");
    rig.set_time(at("2026-11-26T08:01:00Z"));
    assert!(rig.engine.day_status()?.z_overdue);
    Ok(())
}

#[tokio::test]
async fn a_clean_day_closes_with_settlement_z_and_no_difference() -> anyhow::Result<()> {
    let rig = rig_at("2026-11-25T09:00:00Z", vec![merchant(1), merchant(2)]).await?;
    let one = rig.card_sale(12_345).await?;
    let cash = rig.sale(5_000, vec![TenderRequest::cash(5_000)]).await?;
    let two = rig
        .engine
        .submit(
            "test",
            NewRequest::Sale(SaleRequest {
                key: key(),
                items: Vec::new(),
                amount: Some(Money(7_700)),
                payments: vec![TenderRequest::card(7_700)],
                merchant: Some(2),
            }),
        )
        .await?;
    for op in [&one, &cash, &two] {
        assert_eq!(op.state, OperationState::Done, "{op:#?}");
    }
    let merchant_of = |id: i64| -> i64 {
        let db = rusqlite::Connection::open(rig.dir.path().join("journal.sqlite")).unwrap();
        db.query_row(
            "SELECT merchant FROM payments WHERE operation_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        merchant_of(two.id),
        2,
        "the sale's merchant is stored with its payment"
    );
    assert_eq!(
        merchant_of(one.id),
        1,
        "default: the first configured merchant"
    );
    let refund = rig
        .engine
        .submit(
            "test",
            NewRequest::Refund(checkout::api::RefundRequest {
                key: key(),
                rrn: one.payments[0].card.as_ref().unwrap().rrn.clone(),
                amount: Some(Money(2_345)),
                approval: None,
            }),
        )
        .await?;
    assert_eq!(refund.state, OperationState::Done, "{refund:#?}");

    // An X at any time: the register's X and the terminal's batch totals
    // of each merchant, nothing settled.
    let x = rig
        .engine
        .submit("test", NewRequest::XReport(KeyRequest { key: key() }))
        .await?;
    assert_eq!(x.state, OperationState::Done, "{x:#?}");
    let detail = rig.engine.operation_detail(x.id)?;
    let survey = detail
        .steps
        .iter()
        .find(|s| s.name == "survey")
        .and_then(|s| s.result.clone())
        .expect("the X's survey");
    let debit = |m: u8| {
        survey["merchants"]
            .as_array()
            .and_then(|a| a.iter().find(|b| b["merchant"] == m))
            .map(|b| b["totals"]["debit_amount"].clone())
    };
    assert_eq!(debit(1), Some(serde_json::json!(12_345)), "{survey:#}");
    assert_eq!(debit(2), Some(serde_json::json!(7_700)), "{survey:#}");
    let batch = |m: u8| rig.terminal.emulator().bank().batch(m);
    let batches_before = [batch(1), batch(2)];
    let z_before = rig.fiscal.emulator().counters().z_count;
    rig.set_time(at("2026-11-25T18:00:00Z"));
    let close = day_close(&rig).await?;
    assert_eq!(close.state, OperationState::Done, "{close:#?}");

    // The devices' own books: each merchant's batch settled once, one Z.
    let books = rig.terminal.emulator().bank().books().clone();
    for (i, m) in [1u8, 2].into_iter().enumerate() {
        assert_eq!(batch(m), batches_before[i] + 1, "merchant {m} settled once");
    }
    assert!(
        books.open_batch().is_empty(),
        "nothing left in the terminal's batch"
    );
    assert_eq!(rig.fiscal.emulator().counters().z_count, z_before + 1);
    let tape = rig.tape();
    let z_docs: Vec<_> = tape.iter().filter(|d| d.starts_with("Z-ЗВІТ")).collect();
    assert_eq!(z_docs.len(), 1, "{tape:#?}");

    let r = reconciliation(&rig, &close);
    assert!(r.clean(), "{r:#?}");
    let card_rows: Vec<_> = r
        .rows
        .iter()
        .filter(|row| row.method == checkout::api::PaymentMethod::Card && row.merchant.is_some())
        .collect();
    let of = |m: u8| {
        card_rows
            .iter()
            .find(|row| row.merchant == Some(m))
            .unwrap()
    };
    assert_eq!(
        (of(1).journal.sales, of(1).journal.returns),
        (12_345, 2_345),
        "{r:#?}"
    );
    assert_eq!(of(2).journal.sales, 7_700);
    assert_eq!(of(1).terminal.unwrap().sales, 12_345);
    assert_eq!(of(2).terminal.unwrap().sales, 7_700);

    // Both sets of totals are stored with the shift.
    let report = rig.engine.day_report("2026-11-25")?;
    let shift = report
        .shifts
        .iter()
        .find(|s| s.close_operation == Some(close.id))
        .unwrap();
    assert!(
        shift.closed_at.is_some() && shift.z_number.is_some(),
        "{shift:#?}"
    );
    assert_eq!(shift.settlements.len(), 2, "{shift:#?}");
    let audit_head = shift.audit_head.clone().expect("audit head with the shift");
    // The chain's head is printed on paper with the Z.
    assert!(audit_head.starts_with("АУДИТ "), "{audit_head}");
    assert!(
        tape.iter().any(|d| d.contains(&audit_head)),
        "audit head {audit_head} not on the tape: {tape:#?}"
    );
    assert!(
        rig.engine.audit_verify(None)?.ok,
        "the untouched chain verifies"
    );
    Ok(())
}

#[tokio::test]
async fn reconciliation_names_each_planted_difference() -> anyhow::Result<()> {
    let mut rig = rig_at("2026-11-25T09:00:00Z", vec![merchant(1)]).await?;
    let sale = rig.card_sale(10_000).await?;
    let edited = rig.card_sale(20_000).await?;
    assert_eq!(sale.state, OperationState::Done);
    assert_eq!(edited.state, OperationState::Done);

    // A card charged on the terminal directly, with no receipt.
    let outside = rig
        .terminal
        .terminal()
        .purchase(
            terminal::PurchaseRequest {
                amount: 3_300,
                merchant: 1,
            },
            terminal::discard_progress(),
        )
        .await?;
    let terminal::CardOutcome::Approved(outside) = outside else {
        panic!("{outside:?}")
    };
    // A receipt printed on the register directly, paid by no operation.
    let stray = rig
        .fiscal
        .register()
        .print_sale(&testkit::stray_receipt(4_400))
        .await?;

    // The journal's amount of one payment edited while Kasa is stopped.
    let path = rig.dir.path().join("journal.sqlite");
    rig.engine.idle().await;
    {
        let db = rusqlite::Connection::open(&path)?;
        let n = db.execute(
            "UPDATE payments SET requested = 25000, approved = 25000 WHERE operation_id = ?1",
            [edited.id],
        )?;
        assert_eq!(n, 1);
        db.execute(
            "UPDATE operations SET total = 25000 WHERE id = ?1",
            [edited.id],
        )?;
    }
    rig.restart().await?;

    let close = day_close(&rig).await?;
    assert_eq!(close.state, OperationState::Done, "{close:#?}");
    let r = reconciliation(&rig, &close);
    let k = kinds(&r);
    assert!(!r.clean());
    let card_without = r
        .differences
        .iter()
        .find(|d| d.kind == DifferenceKind::CardPaymentWithoutReceipt)
        .unwrap_or_else(|| panic!("no card payment without receipt: {r:#?}"));
    assert_eq!(
        card_without.rrn.as_deref(),
        Some(outside.rrn.as_str()),
        "{r:#?}"
    );
    let stray_d = r
        .differences
        .iter()
        .find(|d| d.kind == DifferenceKind::ReceiptWithoutPayment)
        .unwrap_or_else(|| panic!("no receipt without payment: {r:#?}"));
    assert_eq!(
        stray_d.receipt,
        Some(i64::try_from(stray.number)?),
        "{r:#?}"
    );
    let amount = r
        .differences
        .iter()
        .find(|d| d.kind == DifferenceKind::AmountDiffers)
        .unwrap_or_else(|| panic!("no amount difference: {r:#?}"));
    assert_eq!(amount.operation, Some(edited.id));
    assert_eq!(
        (amount.expected, amount.found),
        (Some(25_000), Some(20_000)),
        "{r:#?}"
    );
    // The terminal's totals (10 000 + 20 000 + 3 300) disagree with the journal's.
    assert!(k.contains(&DifferenceKind::TerminalTotalsDiffer), "{k:?}");
    // The untouched sale is not named.
    assert!(
        !r.differences.iter().any(|d| d.operation == Some(sale.id)),
        "{r:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_void_after_the_batch_was_settled_becomes_a_refund() -> anyhow::Result<()> {
    let rig = rig_at("2026-11-25T09:00:00Z", vec![merchant(1)]).await?;
    let sale = rig.card_sale(8_800).await?;
    let card = sale.payments[0].card.clone().unwrap();
    // The terminal settles its batch by itself (as many do at night).
    rig.terminal.emulator().bank().settle(1)?;
    let void = rig
        .engine
        .submit(
            "test",
            NewRequest::Void(checkout::api::VoidRequest {
                key: key(),
                invoice: card.invoice.clone(),
                approval: None,
            }),
        )
        .await?;
    assert_eq!(void.state, OperationState::Done, "{void:#?}");
    let books = rig.terminal.emulator().bank().books().clone();
    assert!(books.voids().is_empty(), "no void went through");
    let refunds = books.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:#?}");
    assert_eq!(refunds[0].amount, 8_800);
    assert_eq!(rig.receipts_with(&refunds[0].rrn), 1, "one return receipt");
    // The customer's money is back once: the original stands, refunded.
    assert_eq!(books.net_charged(), 0);
    Ok(())
}

#[tokio::test]
async fn no_day_close_while_a_sale_is_unresolved() -> anyhow::Result<()> {
    let rig = rig_at("2026-11-25T09:00:00Z", Vec::new()).await?;
    rig.terminal
        .script_next(terminal::emulator::Outcome::PartialApproval);
    let sale = rig.card_sale(10_000).await?;
    assert_eq!(sale.state, OperationState::AwaitingPayment, "{sale:#?}");
    let z_before = rig.fiscal.emulator().counters().z_count;
    let refused = rig
        .engine
        .submit("manager", NewRequest::DayClose(KeyRequest { key: key() }))
        .await
        .expect_err("a day close with a sale awaiting payment");
    let refused = checkout::api::ApiError::from(&refused);
    assert_eq!(
        refused.code,
        checkout::api::ErrorCode::Unresolved,
        "{refused:?}"
    );
    assert_eq!(refused.operation, Some(sale.id), "{refused:?}");
    assert_eq!(rig.fiscal.emulator().counters().z_count, z_before, "no Z");
    let paid = rig
        .engine
        .add_payment(
            "test",
            checkout::api::AddPaymentRequest {
                key: key(),
                operation: sale.id,
                payment: TenderRequest::cash(sale.cash_due),
            },
        )
        .await?;
    assert_eq!(paid.state, OperationState::Done, "{paid:#?}");
    let close = day_close(&rig).await?;
    assert_eq!(close.state, OperationState::Done, "{close:#?}");
    assert_eq!(rig.fiscal.emulator().counters().z_count, z_before + 1);
    let r = reconciliation(&rig, &close);
    assert!(r.clean(), "{r:#?}");
    Ok(())
}

#[tokio::test]
async fn the_merchant_comes_from_the_department_and_another_register_is_refused(
) -> anyhow::Result<()> {
    let mut other = merchant(2);
    other.register = "shop-2".into();
    let rig = Rig::with(RigOptions {
        clock: Some(Arc::new(FixedClock::new(at("2026-11-25T09:00:00Z")))),
        merchants: vec![merchant(1), other, merchant(3)],
        departments: vec![
            checkout::settings::DepartmentSettings {
                id: 5,
                name: "Кава".into(),
                merchant: 3,
            },
            checkout::settings::DepartmentSettings {
                id: 6,
                name: "Вино".into(),
                merchant: 2,
            },
        ],
        ..RigOptions::default()
    })
    .await?;
    let item = |department: Option<u16>| checkout::api::ItemRequest {
        name: "Товар".into(),
        price: Money(4_000),
        quantity_milli: None,
        tax_group: None,
        discount: None,
        department,
    };
    let sale = |items: Vec<checkout::api::ItemRequest>, merchant: Option<u8>| {
        rig.engine.submit(
            "test",
            NewRequest::Sale(SaleRequest {
                key: key(),
                items,
                amount: None,
                payments: vec![TenderRequest::card(4_000)],
                merchant,
            }),
        )
    };
    let code = |e: checkout::Error| checkout::api::ApiError::from(&e).code;
    let records = || rig.terminal.emulator().bank().books().records.len();

    // The department names the merchant.
    let coffee = sale(vec![item(Some(5))], None).await?;
    assert_eq!(coffee.state, OperationState::Done, "{coffee:#?}");
    let db = rusqlite::Connection::open(rig.dir.path().join("journal.sqlite"))?;
    let merchant_of = |id: i64| -> rusqlite::Result<i64> {
        db.query_row(
            "SELECT merchant FROM payments WHERE operation_id = ?1",
            [id],
            |r| r.get(0),
        )
    };
    assert_eq!(merchant_of(coffee.id)?, 3);
    let tape = rig.tape();
    assert!(
        tape.last().is_some_and(|d| d.contains("S1KASA03")),
        "the receipt names merchant 3: {tape:#?}"
    );

    // Refused before any charge: another register's merchant (by the
    // request or by the department), an unknown merchant, a department
    // that disagrees with the merchant asked for.
    let before = records();
    let printed = rig.tape().len();
    let e = sale(vec![item(None)], Some(2))
        .await
        .expect_err("other register");
    assert_eq!(code(e), checkout::api::ErrorCode::NotAllowed);
    let e = sale(vec![item(Some(6))], None)
        .await
        .expect_err("wine's register");
    assert_eq!(code(e), checkout::api::ErrorCode::NotAllowed);
    let e = sale(vec![item(None)], Some(9)).await.expect_err("unknown");
    assert_eq!(code(e), checkout::api::ErrorCode::InvalidRequest);
    let e = sale(vec![item(Some(5))], Some(1))
        .await
        .expect_err("disagree");
    assert_eq!(code(e), checkout::api::ErrorCode::InvalidRequest);
    let e = sale(vec![item(Some(77))], None)
        .await
        .expect_err("no department");
    assert_eq!(code(e), checkout::api::ErrorCode::InvalidRequest);
    assert_eq!(records(), before, "nothing reached the terminal");
    assert_eq!(rig.tape().len(), printed, "nothing printed");
    Ok(())
}
