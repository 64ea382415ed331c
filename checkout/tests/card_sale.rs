//! The walking skeleton's card sale, end to end through the checkout: the
//! journal rows in saga order, the card data kept, bad input refused with
//! nothing written.

use std::time::Duration;

use checkout::api::{CardSaleRequest, ErrorCode, KasaEvent, SaleState};
use checkout::setup::{start_demo, DemoOptions};
use terminal::CardTerminal;

fn opts() -> DemoOptions {
    DemoOptions {
        step: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn card_sale_writes_every_state_ahead_with_the_card_data() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let running = start_demo(dir.path(), opts()).await?;
    let c = &running.checkout;
    let mut events = c.subscribe();

    let result = c
        .pay_by_card(&CardSaleRequest {
            amount: "12.50".into(),
        })
        .await?;
    assert_eq!(
        result.state,
        SaleState::Done,
        "an approved and printed sale is done"
    );
    assert_eq!(result.amount, 1250);
    let card = result
        .card
        .clone()
        .expect("a done card sale carries its card data");
    assert_eq!(card.rrn.len(), 12, "an RRN has 12 characters: {card:?}");
    assert!(!card.auth_code.is_empty());
    assert!(
        card.masked_pan.contains('*'),
        "only a masked card number is kept"
    );
    assert!(
        result.fiscal_number.unwrap_or(0) > 0,
        "the fiscal receipt number is recorded"
    );

    let states: Vec<SaleState> = c
        .journal()
        .history(result.sale_id)?
        .into_iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        vec![
            SaleState::Intent,
            SaleState::TerminalSent,
            SaleState::Approved,
            SaleState::FiscalSent,
            SaleState::Done
        ],
        "each saga step is journalled, in order"
    );

    // The row read back from the file matches what the sale returned.
    drop(running);
    let journal = checkout::journal::Journal::open(&checkout::setup::journal_path(dir.path()))?;
    assert_eq!(journal.sale(result.sale_id)?, result);

    let mut saw_progress = false;
    let mut saw_done = false;
    while let Ok(ev) = events.try_recv() {
        match ev {
            KasaEvent::Progress { sale_id, .. } if sale_id == result.sale_id => saw_progress = true,
            KasaEvent::State {
                state: SaleState::Done,
                ..
            } => saw_done = true,
            _ => {}
        }
    }
    assert!(saw_progress, "terminal progress is forwarded as events");
    assert!(saw_done, "the final state is announced");
    Ok(())
}

#[tokio::test]
async fn bad_amounts_are_refused_and_write_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let running = start_demo(dir.path(), opts()).await?;
    let c = &running.checkout;
    let huge = "9".repeat(3000);
    for bad in [
        "",
        "abc",
        "-5",
        "0",
        "10000000.01",
        "1000000000000000",
        "1.234",
        huge.as_str(),
    ] {
        let err = c
            .pay_by_card(&CardSaleRequest { amount: bad.into() })
            .await
            .expect_err("a bad amount must be refused");
        assert_eq!(
            err.code(),
            ErrorCode::InvalidAmount,
            "{bad:?} gives invalid_amount"
        );
    }
    assert_eq!(
        c.journal().count_sales()?,
        0,
        "refused input writes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn journal_is_wal_with_full_sync_and_migrated() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = checkout::setup::journal_path(dir.path());
    let journal = checkout::journal::Journal::open(&path)?;
    assert_eq!(journal.schema_version()?, 1);
    drop(journal);
    // Opening again does not re-run migrations.
    let journal = checkout::journal::Journal::open(&path)?;
    assert_eq!(journal.schema_version()?, 1);
    let conn = rusqlite::Connection::open(&path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_eq!(mode.to_lowercase(), "wal");
    Ok(())
}

#[tokio::test]
async fn an_unmasked_card_number_is_refused_by_the_journal() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let journal = checkout::journal::Journal::open(&checkout::setup::journal_path(dir.path()))?;
    let id = journal.begin_card_sale(
        100,
        0,
        chrono::Utc::now(),
        &terminal::PendingOperation::new(terminal::TxnKind::Purchase, 100, 0, None),
    )?;
    let sim = terminal::sim::SimTerminal::new(Duration::ZERO);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = sim
        .purchase(
            terminal::PurchaseRequest {
                amount: 100,
                merchant: 0,
            },
            tx,
        )
        .await?;
    let terminal::CardOutcome::Approved(mut card) = outcome else {
        anyhow::bail!("the simulator approves every purchase");
    };
    card.masked_pan = "5168751234561234".into();
    assert!(
        journal.record_approval(id, &card, "reply").is_err(),
        "a full PAN must never be stored"
    );
    card.masked_pan = "516875******1234".into();
    journal.record_approval(id, &card, "reply")?;
    Ok(())
}
