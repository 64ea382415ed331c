//! The emulators' scripted faults against the engine: each ends consistent
//! (charged once and printed once, or not charged and nothing printed), with
//! a stable code the UI translates; the money checked in the devices' own
//! records.

use checkout::api::{ActionRequest, OperationState, PaymentState};
use fiscal::emulator::Faults;
use terminal::emulator::Outcome;
use testkit::{key, Rig, RigOptions};

async fn rig_with(faults: Faults) -> anyhow::Result<Rig> {
    Rig::with(RigOptions {
        faults,
        ..RigOptions::default()
    })
    .await
}

#[tokio::test]
async fn declines_and_refusals_charge_nothing_and_print_nothing() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    for (outcome, state, code) in [
        (
            Outcome::Decline("05".into()),
            OperationState::Declined,
            "05",
        ),
        (
            Outcome::Decline("51".into()),
            OperationState::Declined,
            "51",
        ),
        (
            Outcome::Decline("55".into()),
            OperationState::Declined,
            "55",
        ),
        (
            Outcome::CustomerCancel,
            OperationState::Cancelled,
            "terminal.cancelled",
        ),
        (
            Outcome::NoHostLink,
            OperationState::Declined,
            "terminal.device.no_host_link",
        ),
        (
            Outcome::NoPaper,
            OperationState::Declined,
            "terminal.device.no_paper",
        ),
        (
            Outcome::Busy,
            OperationState::Declined,
            "terminal.device.busy",
        ),
    ] {
        rig.terminal.script_next(outcome.clone());
        let op = rig.card_sale(1000).await?;
        assert_eq!(op.state, state, "{outcome:?}: {op:#?}");
        let problem = op.problem.clone().expect("the reason is kept");
        assert_eq!(problem.code, code, "{outcome:?}");
        assert_ne!(op.payments[0].state, PaymentState::Approved);
        assert!(!op.payments[0].partial, "a refusal is no partial approval");
    }
    assert!(rig.tape().is_empty(), "nothing printed: {:#?}", rig.tape());
    assert_eq!(rig.fiscal.emulator().counters().day_paid, [0, 0]);
    Ok(())
}

#[tokio::test]
async fn a_reply_lost_after_approval_is_found_by_the_lookup() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    rig.terminal.script_next(Outcome::DropAfterApproval);
    let op = rig.card_sale(1500).await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    let rrn = op.payments[0].card.clone().unwrap().rrn;
    assert_eq!(rig.receipts_with(&rrn), 1);
    Ok(())
}

#[tokio::test]
async fn a_noisy_register_link_still_prints_exactly_once() -> anyhow::Result<()> {
    for faults in [
        Faults {
            nak_every: 3,
            ..Faults::default()
        },
        Faults {
            corrupt_every: 3,
            ..Faults::default()
        },
        Faults {
            drop_reply_every: 4,
            ..Faults::default()
        },
        Faults {
            syn_ms: 150,
            ..Faults::default()
        },
    ] {
        let rig = rig_with(faults.clone()).await?;
        let op = rig.card_sale(2000).await?;
        assert_eq!(op.state, OperationState::Done, "{faults:?}: {op:#?}");
        let rrn = op.payments[0].card.clone().unwrap().rrn;
        assert_eq!(rig.receipts_with(&rrn), 1, "{faults:?}: {:#?}", rig.tape());
        assert_eq!(
            rig.fiscal.emulator().counters().day_paid,
            [0, 2000],
            "{faults:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn paper_out_mid_receipt_then_reloaded_and_printed_again() -> anyhow::Result<()> {
    let mut rig = rig_with(Faults {
        paper_out_at_line: Some(1),
        ..Faults::default()
    })
    .await?;
    let op = rig.card_sale(3300).await?;
    assert_eq!(op.state, OperationState::NeedsAttention, "{op:#?}");
    let problem = op.problem.clone().unwrap();
    assert_eq!(problem.code, "fiscal.paper_out");
    assert!(problem
        .actions
        .contains(&checkout::api::SafeAction::PrintAgain));
    assert_eq!(
        op.payments[0].state,
        PaymentState::Approved,
        "the card stays charged"
    );
    // A new card sale waits until this one is resolved.
    let blocked = rig.card_sale(100).await.unwrap_err();
    assert_eq!(blocked.code(), checkout::api::ErrorCode::Unresolved);

    rig.fiscal.emulator().load_paper();
    let k = key();
    let again = rig
        .engine
        .print_again(
            "test",
            ActionRequest {
                key: k.clone(),
                operation: op.id,
            },
        )
        .await?;
    assert_eq!(again.state, OperationState::Done, "{again:#?}");
    let rrn = again.payments[0].card.clone().unwrap().rrn;
    assert_eq!(rig.receipts_with(&rrn), 1, "{:#?}", rig.tape());
    assert_eq!(rig.fiscal.emulator().counters().day_paid, [0, 3300]);
    // The same request again (a retried click) gets the same answer and
    // prints nothing more; the key used for another action or operation is
    // refused, also after a restart, when only the journal remembers it.
    let twice = rig
        .engine
        .print_again(
            "test",
            ActionRequest {
                key: k.clone(),
                operation: op.id,
            },
        )
        .await?;
    assert_eq!(twice.state, OperationState::Done, "{twice:#?}");
    assert_eq!(rig.receipts_with(&rrn), 1, "{:#?}", rig.tape());
    rig.restart().await?;
    let other = rig
        .engine
        .retry_lookup(
            "test",
            ActionRequest {
                key: k.clone(),
                operation: op.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        other.code(),
        checkout::api::ErrorCode::KeyReused,
        "{other:?}"
    );
    let elsewhere = rig
        .engine
        .print_again(
            "test",
            ActionRequest {
                key: k,
                operation: op.id + 1000,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        elsewhere.code(),
        checkout::api::ErrorCode::KeyReused,
        "{elsewhere:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_register_that_stops_answering_at_the_close_is_resolved_when_it_is_back(
) -> anyhow::Result<()> {
    closed_behind_a_lost_link(fiscal::Dialect::ua_fp_t260()).await
}

/// The register closes a 27.00 card receipt, then the cable is pulled; when
/// it answers again the engine finds the receipt closed and prints nothing
/// more.
async fn closed_behind_a_lost_link(dialect: fiscal::Dialect) -> anyhow::Result<()> {
    let rig = Rig::with(RigOptions {
        dialect,
        faults: Faults {
            mute_after: Some(0x38),
            ..Faults::default()
        },
        ..RigOptions::default()
    })
    .await?;
    let op = rig.card_sale(2700).await?;
    assert_eq!(
        op.state,
        OperationState::Running,
        "waiting for the register: {op:#?}"
    );
    let problem = op.problem.clone().expect("it says what it waits for");
    assert!(problem.code.starts_with("fiscal."), "{problem:?}");
    rig.fiscal.emulator().unmute();
    let done = rig.resolved(op.id).await?;
    assert_eq!(done.state, OperationState::Done, "{done:#?}");
    let rrn = done.payments[0].card.clone().unwrap().rrn;
    assert_eq!(
        rig.receipts_with(&rrn),
        1,
        "printed once: {:#?}",
        rig.tape()
    );
    assert_eq!(done.documents.len(), 1);
    assert_eq!(rig.fiscal.emulator().counters().fiscal_receipts, 1);
    Ok(())
}

#[tokio::test]
async fn a_wrong_operator_password_refuses_card_sales_before_any_charge() -> anyhow::Result<()> {
    let rig = Rig::with(RigOptions {
        password: "1234".into(),
        ..RigOptions::default()
    })
    .await?;
    for _ in 0..3 {
        let e = rig.card_sale(1000).await.unwrap_err();
        assert_eq!(
            e.device_code().as_deref(),
            Some("fiscal.wrong_password"),
            "{e}"
        );
    }
    assert!(
        !rig.fiscal.emulator().locked(),
        "checked once at start, never retried by itself: the register is not locked"
    );
    let health = rig.engine.health().await;
    assert!(health
        .blocking
        .contains(&"fiscal.wrong_password".to_string()));
    assert!(
        rig.terminal
            .emulator()
            .bank()
            .books()
            .approved_charges()
            .is_empty(),
        "no card was charged"
    );
    assert!(rig.tape().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_register_power_cycled_mid_receipt_finishes_it_once() -> anyhow::Result<()> {
    let rig = rig_with(Faults {
        // The register takes the card payment, then goes dark.
        mute_after: Some(0x35),
        ..Faults::default()
    })
    .await?;
    let op = rig.card_sale(2100).await?;
    assert_eq!(op.state, OperationState::Running, "{op:#?}");
    rig.fiscal.emulator().power_cycle();
    rig.fiscal.emulator().unmute();
    let done = rig.resolved(op.id).await?;
    assert_eq!(done.state, OperationState::Done, "{done:#?}");
    let rrn = done.payments[0].card.clone().unwrap().rrn;
    assert_eq!(rig.receipts_with(&rrn), 1, "{:#?}", rig.tape());
    assert_eq!(
        rig.fiscal.emulator().counters().day_paid,
        [0, 2100],
        "paid once"
    );
    Ok(())
}

#[tokio::test]
async fn whatever_card_number_the_terminal_sends_only_a_masked_one_is_kept() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    rig.terminal.script_next("raw-pan".parse()?);
    let op = rig.card_sale(1200).await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    let card = op.payments[0].card.clone().unwrap();
    assert_eq!(card.masked_pan, "516875******1234");
    let printed = rig.tape().join("\n");
    assert!(!printed.contains("5168 7500"), "{printed}");
    assert!(!printed.contains("5168750000001234"), "{printed}");
    Ok(())
}

#[tokio::test]
async fn a_terminal_that_never_gets_a_card_is_given_up_and_charges_nothing() -> anyhow::Result<()> {
    let rig = Rig::with(RigOptions {
        terminal_timeout: std::time::Duration::from_millis(300),
        ..RigOptions::default()
    })
    .await?;
    rig.terminal.script_next(Outcome::Timeout);
    let op = rig.card_sale(900).await?;
    assert_eq!(op.state, OperationState::Cancelled, "{op:#?}");
    assert_ne!(op.payments[0].state, PaymentState::Approved);
    assert!(rig
        .terminal
        .emulator()
        .bank()
        .books()
        .standing_charges()
        .is_empty());
    assert!(rig.tape().is_empty());
    // The next sale goes through.
    let next = rig.card_sale(900).await?;
    assert_eq!(next.state, OperationState::Done, "{next:#?}");
    Ok(())
}

#[tokio::test]
async fn a_card_that_asks_for_a_signature_gets_a_signature_line_and_a_merchant_copy(
) -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    rig.terminal.script_next("signature".parse()?);
    let op = rig.card_sale(5000).await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    assert!(op.payments[0].card.clone().unwrap().signature_required);
    let tape = rig.tape();
    let rrn = op.payments[0].card.clone().unwrap().rrn;
    assert_eq!(rig.receipts_with(&rrn), 1, "one fiscal receipt: {tape:#?}");
    assert!(
        tape.iter()
            .any(|d| d.contains("КОПІЯ ТОРГОВЦЯ") && d.contains(&rrn)),
        "{tape:#?}"
    );
    assert_eq!(
        rig.fiscal.emulator().counters().fiscal_receipts,
        1,
        "one fiscal receipt"
    );
    Ok(())
}

/// The same on a register whose electronic journal cannot be read: the
/// receipt closed while the link was down is known by the document number
/// alone (the next one after the receipt began), and not printed again.
#[tokio::test]
async fn a_register_without_journal_reading_is_resolved_by_the_document_number(
) -> anyhow::Result<()> {
    let mut dialect = fiscal::Dialect::ua_fp_t260();
    dialect.cmd.journal_read = None;
    closed_behind_a_lost_link(dialect).await
}

/// A receipt stopped by paper out, then cancelled at the register while a
/// cash-in was printed there: printed again, the engine does not take the
/// cash-in's document for its receipt; it prints the receipt, once.
#[tokio::test]
async fn a_foreign_document_since_the_receipt_began_is_not_taken_for_it() -> anyhow::Result<()> {
    use fiscal::FiscalRegister;
    let rig = rig_with(Faults {
        paper_out_at_line: Some(1),
        ..Faults::default()
    })
    .await?;
    let op = rig.card_sale(3100).await?;
    assert_eq!(op.state, OperationState::NeedsAttention, "{op:#?}");
    rig.fiscal.emulator().load_paper();
    let driver = rig.fiscal.driver();
    driver.cancel_receipt().await?;
    driver.cash_in_out(1000).await?;
    let again = rig
        .engine
        .print_again(
            "test",
            ActionRequest {
                key: key(),
                operation: op.id,
            },
        )
        .await?;
    let again = rig.resolved(again.id).await?;
    assert_eq!(again.state, OperationState::Done, "{again:#?}");
    let rrn = again.payments[0].card.clone().unwrap().rrn;
    assert_eq!(rig.receipts_with(&rrn), 1, "{:#?}", rig.tape());
    assert_eq!(rig.fiscal.emulator().counters().day_paid, [0, 3100]);
    Ok(())
}
