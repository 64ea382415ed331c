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
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::NotAllowed, "{again}");
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
