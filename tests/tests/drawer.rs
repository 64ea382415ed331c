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

/// Where the link to the register breaks during a cash move.
#[derive(Debug, Clone, Copy)]
enum Break {
    /// Just before the cash command: the register never got it.
    Before,
    /// Just after the register ran it: its reply is lost.
    After,
}

/// A cash move (in, then out) whose link breaks before or after the
/// register runs it waits for the register and, when it is back, ends done
/// with the counters moved exactly once: redone when it never arrived, not
/// redone when only the reply was lost.
#[tokio::test]
async fn a_cash_move_cut_off_is_made_exactly_once_when_the_register_is_back() -> anyhow::Result<()>
{
    let code = fiscal::Dialect::ua_fp_t260().cmd.cash_in_out;
    for brk in [Break::Before, Break::After] {
        let rig = Rig::new().await?;
        let emu = rig.fiscal.emulator();
        let before = emu.counters();
        for (amount, out) in [(30000, false), (12000, true)] {
            // The counters query (the same command with a zero amount) runs
            // first; the break comes at the move itself.
            emu.update_faults(|f| {
                match brk {
                    Break::Before => f.mute_before = Some(code),
                    Break::After => f.mute_after = Some(code),
                }
                f.mute_skip = 1;
            });
            let req = CashMoveRequest {
                key: key(),
                amount: checkout::money::Money(amount),
            };
            let op = rig
                .engine
                .submit(
                    "test",
                    if out {
                        NewRequest::CashOut(req)
                    } else {
                        NewRequest::CashIn(req)
                    },
                )
                .await?;
            assert_eq!(op.state, OperationState::Running, "{brk:?}: {op:#?}");
            let moved = emu.counters();
            assert_eq!(
                (moved.cash_in, moved.cash_out),
                match (brk, out) {
                    (Break::Before, false) => (before.cash_in, before.cash_out),
                    (Break::Before, true) => (before.cash_in + 30000, before.cash_out),
                    (Break::After, false) => (before.cash_in + 30000, before.cash_out),
                    (Break::After, true) => (before.cash_in + 30000, before.cash_out + 12000),
                },
                "{brk:?}: what the register ran before the break"
            );
            emu.unmute();
            let done = rig.resolved(op.id).await?;
            assert_eq!(done.state, OperationState::Done, "{brk:?}: {done:#?}");
            assert_eq!(done.documents.len(), 1, "{brk:?}: {done:#?}");
        }
        let c = emu.counters();
        assert_eq!(
            (c.cash_in - before.cash_in, c.cash_out - before.cash_out),
            (30000, 12000),
            "{brk:?}: each move counted once by the register"
        );
    }
    Ok(())
}

/// A register that refuses (its cover open) ends a cash move or an X report
/// at once, failed with the register's reason, not left running or retried:
/// nothing was counted or printed, and the next one works once it is shut.
#[tokio::test]
async fn a_refusing_register_fails_cash_moves_and_reports_at_once() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let emu = rig.fiscal.emulator();
    emu.update_faults(|f| f.cover_open = true);
    let documents = rig.tape().len();
    let requests = [
        NewRequest::CashIn(CashMoveRequest {
            key: key(),
            amount: checkout::money::Money(10000),
        }),
        NewRequest::XReport(KeyRequest { key: key() }),
    ];
    for req in requests {
        let op = match rig.engine.submit("test", req).await {
            Ok(op) => op,
            Err(e) => panic!("refused before it began: {e:?}"),
        };
        assert_eq!(op.state, OperationState::Failed, "{op:#?}");
        let problem = op.problem.clone().expect("the register's reason");
        assert_eq!(problem.code, "fiscal.cover_open", "{op:#?}");
        assert!(op.documents.is_empty(), "{op:#?}");
    }
    let c = emu.counters();
    assert_eq!((c.cash_in, c.cash_out), (0, 0));
    assert_eq!(rig.tape().len(), documents, "nothing printed");
    emu.update_faults(|f| f.cover_open = false);
    let x = rig
        .engine
        .submit("test", NewRequest::XReport(KeyRequest { key: key() }))
        .await?;
    assert_eq!(x.state, OperationState::Done, "{x:#?}");
    Ok(())
}
