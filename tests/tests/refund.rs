//! Money given back: a refund by RRN (full, partial, never more than is
//! left), a void by invoice, a cash refund, and a cancelled sale whose
//! approved card part is given back on the terminal. Each is checked in the
//! terminal emulator's books and the register's counters and return receipts.

use checkout::api::{
    ActionRequest, CashRefundRequest, ErrorCode, OperationState, PaymentState, RefundRequest,
    TenderRequest, VoidRequest,
};
use checkout::engine::NewRequest;
use testkit::{key, Rig};

async fn refund(
    rig: &Rig,
    rrn: &str,
    amount: Option<i64>,
) -> checkout::Result<checkout::api::OperationView> {
    rig.engine
        .submit(
            "test",
            NewRequest::Refund(RefundRequest {
                key: key(),
                rrn: rrn.into(),
                amount: amount.map(checkout::money::Money),
                approval: None,
            }),
        )
        .await
}

#[tokio::test]
async fn a_refund_by_rrn_prints_a_return_receipt_and_never_gives_back_more() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let sale = rig.card_sale(3000).await?;
    let rrn = sale.payments[0].card.clone().unwrap().rrn;

    let part = refund(&rig, &rrn, Some(1000)).await?;
    assert_eq!(part.state, OperationState::Done, "{part:#?}");
    assert_eq!(part.original_id, Some(sale.id));
    let refund_rrn = part.payments[0].card.clone().unwrap().rrn;
    assert_ne!(refund_rrn, rrn, "the refund has its own RRN");
    let c = rig.fiscal.emulator().counters();
    assert_eq!(
        c.day_refunded,
        [0, 1000],
        "the register gave 10.00 back by card"
    );
    let ret = rig
        .tape()
        .into_iter()
        .find(|d| d.contains(&refund_rrn))
        .expect("a return receipt");
    assert!(ret.contains("ВИДАТКОВИЙ"), "{ret}");

    let too_much = refund(&rig, &rrn, Some(2001)).await.unwrap_err();
    assert_eq!(too_much.code(), ErrorCode::NotAllowed, "{too_much}");
    let rest = refund(&rig, &rrn, None).await?;
    assert_eq!(rest.state, OperationState::Done);
    assert_eq!(rest.total, 2000, "the rest of the payment");
    let none_left = refund(&rig, &rrn, None).await.unwrap_err();
    assert_eq!(none_left.code(), ErrorCode::NotAllowed);
    assert_eq!(rig.fiscal.emulator().counters().day_refunded, [0, 3000]);
    Ok(())
}

#[tokio::test]
async fn a_void_gives_back_the_whole_payment_inside_the_batch() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let sale = rig.card_sale(4500).await?;
    let invoice = sale.payments[0].card.clone().unwrap().invoice;
    let void = rig
        .engine
        .submit(
            "test",
            NewRequest::Void(VoidRequest {
                key: key(),
                invoice: invoice.clone(),
                approval: None,
            }),
        )
        .await?;
    assert_eq!(void.state, OperationState::Done, "{void:#?}");
    assert_eq!(rig.fiscal.emulator().counters().day_refunded, [0, 4500]);
    let again = rig
        .engine
        .submit(
            "test",
            NewRequest::Void(VoidRequest {
                key: key(),
                invoice,
                approval: None,
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::NotAllowed, "{again}");
    // An invoice number is 1 to 20 digits; anything else is refused before
    // the terminal is asked, and nothing more is given back.
    for bad in ["", " ", "12a", "-1", &"1".repeat(21)] {
        let e = rig
            .engine
            .submit(
                "test",
                NewRequest::Void(VoidRequest {
                    key: key(),
                    invoice: bad.to_string(),
                    approval: None,
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest, "{bad:?}: {e}");
    }
    assert_eq!(rig.fiscal.emulator().counters().day_refunded, [0, 4500]);
    // A sale that ended well is not closed by hand.
    let e = rig
        .engine
        .resolve(
            "test",
            checkout::api::ResolveRequest {
                key: key(),
                operation: sale.id,
                resolution: checkout::api::Resolution::Cancelled,
                reason: "checked with the customer".into(),
                approval: None,
            },
        )
        .await
        .unwrap_err();
    assert_ne!(e.code(), ErrorCode::InvalidRequest, "{e}");
    assert_eq!(rig.engine.operation(sale.id)?.state, OperationState::Done);
    Ok(())
}

#[tokio::test]
async fn a_cash_refund_of_a_cash_sale() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let sale = rig.sale(1500, vec![TenderRequest::cash(2000)]).await?;
    assert_eq!(sale.state, OperationState::Done);
    let back = rig
        .engine
        .submit(
            "test",
            NewRequest::CashRefund(CashRefundRequest {
                key: key(),
                operation: Some(sale.id),
                receipt_number: None,
                amount: None,
                approval: None,
            }),
        )
        .await?;
    assert_eq!(back.state, OperationState::Done, "{back:#?}");
    assert_eq!(rig.fiscal.emulator().counters().day_refunded, [1500, 0]);
    Ok(())
}

#[tokio::test]
async fn cancelling_a_partly_paid_sale_gives_the_card_part_back() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    rig.terminal
        .script_next(terminal::emulator::Outcome::PartialApproval);
    let op = rig.card_sale(1000).await?;
    assert_eq!(op.state, OperationState::AwaitingPayment);
    let cancelled = rig
        .engine
        .cancel(
            "test",
            ActionRequest {
                key: key(),
                operation: op.id,
            },
        )
        .await?;
    assert_eq!(cancelled.state, OperationState::Cancelled, "{cancelled:#?}");
    assert_eq!(cancelled.payments[0].state, PaymentState::Reversed);
    assert!(rig.tape().is_empty(), "nothing printed: {:#?}", rig.tape());
    Ok(())
}

#[tokio::test]
async fn a_customer_copy_is_non_fiscal_and_carries_the_receipt() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let sale = rig.card_sale(1800).await?;
    let before = rig.fiscal.emulator().counters();
    let req = ActionRequest {
        key: key(),
        operation: sale.id,
    };
    rig.engine.customer_copy("test", req.clone()).await?;
    // The same key again prints nothing more.
    rig.engine.customer_copy("test", req).await?;
    let after = rig.fiscal.emulator().counters();
    assert_eq!(
        after.fiscal_receipts, before.fiscal_receipts,
        "no second fiscal receipt"
    );
    assert_eq!(after.day_paid, before.day_paid);
    let rrn = sale.payments[0].card.clone().unwrap().rrn;
    let copies: Vec<String> = rig
        .tape()
        .into_iter()
        .filter(|d| d.contains("КОПІЯ ДЛЯ ПОКУПЦЯ"))
        .collect();
    assert_eq!(copies.len(), 1, "{:#?}", rig.tape());
    assert!(copies[0].contains(&rrn), "{}", copies[0]);
    Ok(())
}

#[tokio::test]
async fn a_card_step_waiting_for_the_customer_can_be_cancelled() -> anyhow::Result<()> {
    let rig = Rig::with(testkit::RigOptions {
        step: std::time::Duration::from_millis(200),
        ..testkit::RigOptions::default()
    })
    .await?;
    let mut events = rig.engine.subscribe();
    let engine = rig.engine.clone();
    let sale = tokio::spawn(async move {
        engine
            .submit(
                "test",
                NewRequest::Sale(checkout::api::SaleRequest {
                    key: key(),
                    items: Vec::new(),
                    amount: Some(checkout::money::Money(4000)),
                    payments: Vec::new(),
                    merchant: None,
                }),
            )
            .await
    });
    // Wait until the terminal waits for the card.
    let op = loop {
        if let checkout::api::KasaEvent::Progress { operation, status } = events.recv().await? {
            if status == terminal::TerminalStatus::WaitingForCard {
                break rig.engine.operation(operation)?;
            }
        }
    };
    let cancelled = rig
        .engine
        .cancel(
            "test",
            ActionRequest {
                key: key(),
                operation: op.id,
            },
        )
        .await?;
    assert_eq!(cancelled.state, OperationState::Cancelled, "{cancelled:#?}");
    assert_eq!(sale.await??.state, OperationState::Cancelled);
    assert!(rig
        .terminal
        .emulator()
        .bank()
        .books()
        .standing_charges()
        .is_empty());
    assert!(rig.tape().is_empty());
    Ok(())
}
