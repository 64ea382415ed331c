//! Sales through the engine against the emulators: a card sale, a cash sale,
//! a mixed sale with change and cash rounding, a partial approval paid off
//! in cash; the money checked in the devices' own records (the terminal
//! emulator's books, the register's counters and printed lines).

use checkout::api::{OperationState, PaymentState, TenderRequest};
use testkit::Rig;

#[tokio::test]
async fn a_card_sale_is_charged_once_and_printed_once() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let op = rig.card_sale(1250).await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    assert!(!op.payments[0].partial, "approved in full");
    let card = op.payments[0].card.clone().expect("card data");
    assert_eq!(rig.receipts_with(&card.rrn), 1, "{:#?}", rig.tape());
    let receipt = rig
        .tape()
        .into_iter()
        .find(|d| d.contains(&card.rrn))
        .expect("the receipt");
    assert_eq!(printed(&receipt, "КАРТКА"), ["12.50"], "{receipt}");
    assert_eq!(printed(&receipt, "СУМА"), ["12.50"], "{receipt}");
    let c = rig.fiscal.emulator().counters();
    assert_eq!(c.day_paid, [0, 1250], "the register took 12.50 by card");
    // The ids the terminal reported are remembered for its merchant (a
    // receipt printed after a lookup that lacks them carries these).
    assert!(!card.terminal_id.is_empty() && !card.merchant_id.is_empty());
    let merchant = rig
        .engine
        .journal()
        .payment(op.payments[0].id)?
        .unwrap()
        .merchant;
    assert_eq!(
        rig.engine.journal().known_ids(merchant)?,
        Some((card.terminal_id.clone(), card.merchant_id.clone()))
    );
    assert_eq!(rig.engine.journal().known_ids(merchant + 1)?, None);
    Ok(())
}

#[tokio::test]
async fn a_mixed_sale_pays_card_exactly_and_rounds_the_cash() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    // 10.03: 6.00 by card, 4.03 due in cash, rounded to 4.00; 5.00 handed over.
    let op = rig
        .sale(
            1003,
            vec![TenderRequest::card(600), TenderRequest::cash(500)],
        )
        .await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    assert_eq!(op.change, 100, "{op:#?}");
    assert!(op.payments.iter().all(|p| !p.partial), "{op:#?}");
    Ok(())
}

#[tokio::test]
async fn a_partial_approval_waits_for_the_rest() -> anyhow::Result<()> {
    let mut rig = Rig::new().await?;
    rig.terminal
        .script_next(terminal::emulator::Outcome::PartialApproval);
    let op = rig.card_sale(1000).await?;
    assert_eq!(op.state, OperationState::AwaitingPayment, "{op:#?}");
    assert_eq!(op.payments[0].state, PaymentState::Approved);
    assert!(op.payments[0].partial);
    assert_eq!(op.payments[0].approved, 500);
    assert_eq!(op.remaining, 500);
    // Too little cash, or a card for more than is left, is refused.
    for (payment, what) in [
        (TenderRequest::cash(400), "4.00 of 5.00 in cash"),
        (TenderRequest::card(600), "6.00 by card of 5.00"),
    ] {
        let e = rig
            .engine
            .add_payment(
                "test",
                checkout::api::AddPaymentRequest {
                    key: testkit::key(),
                    operation: op.id,
                    payment,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            checkout::api::ErrorCode::InvalidAmount,
            "{what}: {e}"
        );
    }
    let k = testkit::key();
    let done = rig
        .engine
        .add_payment(
            "test",
            checkout::api::AddPaymentRequest {
                key: k.clone(),
                operation: op.id,
                payment: TenderRequest::cash(500),
            },
        )
        .await?;
    assert_eq!(done.state, OperationState::Done, "{done:#?}");
    let c = rig.fiscal.emulator().counters();
    assert_eq!(c.day_paid, [500, 500], "half by card, half in cash");
    // The terminal's own books: one charge standing, of the 5.00 approved
    // out of the 10.00 asked for.
    let card = op.payments[0].card.clone().expect("card data");
    let books = rig.terminal.emulator().bank().books().clone();
    let charges = books.standing_charges();
    assert_eq!(charges.len(), 1, "{books:#?}");
    assert_eq!(
        (
            charges[0].amount,
            charges[0].requested_amount,
            charges[0].rrn.as_str()
        ),
        (500, 1000, card.rrn.as_str())
    );
    // The register's own printed receipt: 10.00 in all, 5.00 by card, 5.00
    // in cash, once.
    let receipts: Vec<String> = rig
        .tape()
        .into_iter()
        .filter(|d| d.contains(&card.rrn) && testkit::is_fiscal(d))
        .collect();
    assert_eq!(receipts.len(), 1, "{:#?}", rig.tape());
    let receipt = &receipts[0];
    assert_eq!(printed(receipt, "КАРТКА"), ["5.00"], "{receipt}");
    assert_eq!(printed(receipt, "ГОТІВКА"), ["5.00"], "{receipt}");
    assert_eq!(printed(receipt, "СУМА"), ["10.00"], "{receipt}");
    // After a restart the journal still knows the key: for another
    // operation it is refused.
    rig.restart().await?;
    let e = rig
        .engine
        .add_payment(
            "test",
            checkout::api::AddPaymentRequest {
                key: k,
                operation: op.id + 1000,
                payment: TenderRequest::cash(500),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), checkout::api::ErrorCode::KeyReused, "{e}");
    Ok(())
}

/// The amounts on the lines of a printed document that start with `label`
/// (the register prints `LABEL      12.50`).
fn printed(doc: &str, label: &str) -> Vec<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix(label))
        .filter(|rest| rest.starts_with(' '))
        .map(|rest| rest.trim().to_string())
        .collect()
}

#[tokio::test]
async fn items_with_quantities_and_discounts_print_as_lines() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let op = rig
        .engine
        .submit(
            "test",
            checkout::engine::NewRequest::Sale(checkout::api::SaleRequest {
                key: testkit::key(),
                items: vec![
                    checkout::api::ItemRequest {
                        name: "Хліб білий".into(),
                        price: checkout::money::Money(2500),
                        quantity_milli: Some(2000),
                        tax_group: Some("А".into()),
                        discount: Some(checkout::money::Money(200)),
                        department: None,
                    },
                    checkout::api::ItemRequest {
                        name: "Вино".into(),
                        price: checkout::money::Money(15000),
                        quantity_milli: None,
                        tax_group: Some("Б".into()),
                        discount: None,
                        department: None,
                    },
                ],
                amount: None,
                payments: vec![TenderRequest::cash(20000)],
                merchant: None,
            }),
        )
        .await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    assert_eq!(op.total, 19800);
    assert_eq!(op.change, 200);
    let c = rig.fiscal.emulator().counters();
    assert_eq!(c.day_sales[0], 4800, "group А: 2 × 25.00 − 2.00");
    assert_eq!(c.day_sales[1], 15000, "group Б");
    assert_eq!(c.day_paid, [19800, 0]);
    let printed = rig.tape().join("\n");
    assert!(
        printed.contains("Хліб білий") && printed.contains("Вино"),
        "{printed}"
    );
    Ok(())
}

#[tokio::test]
async fn cash_is_paid_rounded_as_the_register_rounds_it() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    // 3.33 in cash is 3.30; 3.30 handed over is enough, and the next sale is fine.
    let op = rig.sale(333, vec![TenderRequest::cash(330)]).await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    assert_eq!(op.change, 0);
    let next = rig.sale(336, vec![TenderRequest::cash(500)]).await?;
    assert_eq!(next.state, OperationState::Done, "{next:#?}");
    assert_eq!(next.change, 160, "3.36 is 3.40 in cash");
    assert!(rig.fiscal.emulator().open_receipt().is_none());
    Ok(())
}

/// A partial approval the cashier gives up on is voided on the terminal;
/// when the void's reply is lost, the lookup finds it done and nothing is
/// given back twice: the terminal's books hold the charge, voided, and one
/// void, no refund.
#[tokio::test]
async fn a_cancelled_partial_approval_is_voided_once_even_when_the_reply_is_lost(
) -> anyhow::Result<()> {
    use terminal::emulator::Outcome;
    let rig = Rig::new().await?;
    rig.terminal.script_next(Outcome::PartialApproval);
    let op = rig.card_sale(1000).await?;
    assert_eq!(op.state, OperationState::AwaitingPayment, "{op:#?}");
    rig.terminal.script_next(Outcome::DropAfterApproval);
    let cancelled = rig
        .engine
        .cancel(
            "test",
            checkout::api::ActionRequest {
                key: testkit::key(),
                operation: op.id,
            },
        )
        .await?;
    assert_eq!(cancelled.state, OperationState::Cancelled, "{cancelled:#?}");
    assert_eq!(cancelled.payments[0].state, PaymentState::Reversed);
    let books = rig.terminal.emulator().bank().books().clone();
    assert!(books.standing_charges().is_empty(), "{books:#?}");
    let kinds: Vec<_> = books
        .records
        .iter()
        .filter(|r| r.status == terminal::TxnStatus::Approved)
        .map(|r| (r.kind, r.amount))
        .collect();
    assert_eq!(
        kinds,
        [
            (terminal::TxnKind::Purchase, 500),
            (terminal::TxnKind::Void, 500)
        ],
        "{books:#?}"
    );
    assert!(
        rig.tape().iter().all(|d| !testkit::is_fiscal(d)),
        "nothing printed"
    );
    Ok(())
}
