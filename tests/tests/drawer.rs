//! Cash in, cash out and the X report: each a fiscal document, checked in
//! the register's own counters.

use checkout::api::{CashMoveRequest, KeyRequest, OperationState};
use checkout::engine::NewRequest;
use testkit::{key, Rig};

#[tokio::test]
async fn cash_in_cash_out_and_x() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let cash_in = rig
        .engine
        .submit(
            "test",
            NewRequest::CashIn(CashMoveRequest {
                key: key(),
                amount: checkout::money::Money(50000),
            }),
        )
        .await?;
    assert_eq!(cash_in.state, OperationState::Done, "{cash_in:#?}");
    let out = rig
        .engine
        .submit(
            "test",
            NewRequest::CashOut(CashMoveRequest {
                key: key(),
                amount: checkout::money::Money(20000),
            }),
        )
        .await?;
    assert_eq!(out.state, OperationState::Done, "{out:#?}");
    let c = rig.fiscal.emulator().counters();
    assert_eq!((c.cash_in, c.cash_out), (50000, 20000));
    let x = rig
        .engine
        .submit("test", NewRequest::XReport(KeyRequest { key: key() }))
        .await?;
    assert_eq!(x.state, OperationState::Done, "{x:#?}");
    assert_eq!(x.documents.len(), 1);
    assert_eq!(out.documents[0].kind, "cash_out");
    Ok(())
}
