//! Recovery at start-up: sales that a crash left at each step of the saga are
//! resolved by looking at the devices, never by sending a purchase again, and
//! never with a second receipt.

use std::sync::Arc;

use checkout::api::SaleState;
use checkout::journal::Journal;
use checkout::Checkout;
use terminal::{discard_progress, CardOutcome, CardTerminal, CardTransaction, TxnKind};

/// Journal a sale the way the saga does and send its purchase to the terminal.
async fn charge(
    journal: &Journal,
    t: &Arc<dyn CardTerminal>,
    amount: i64,
) -> anyhow::Result<(i64, CardTransaction)> {
    let pending = t.begin(TxnKind::Purchase, amount, 0).await?;
    let id = journal.begin_card_sale(amount, 0, chrono::Utc::now(), &pending)?;
    journal.set_state(id, SaleState::TerminalSent, None)?;
    match t.purchase_as(&pending, discard_progress()).await? {
        CardOutcome::Approved(card) => Ok((id, card)),
        other => anyhow::bail!("the emulator approves by default: {other:?}"),
    }
}

/// Both emulators behind their drivers, and a journal in a fresh directory.
struct Rig {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
    term: terminal::demo::DemoTerminal,
    reg: fiscal::demo::DemoRegister,
    t: Arc<dyn CardTerminal>,
    journal: Journal,
}

async fn rig() -> anyhow::Result<Rig> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal.sqlite");
    let term = terminal::demo::start_with(terminal::demo::DemoOptions::fast(1)).await?;
    let reg = fiscal::demo::start(dir.path()).await?;
    let t = term.terminal();
    let journal = Journal::open(&path)?;
    Ok(Rig {
        dir,
        path,
        term,
        reg,
        t,
        journal,
    })
}

#[tokio::test]
async fn sales_left_at_each_step_are_resolved_by_looking() -> anyhow::Result<()> {
    let Rig {
        dir: _dir,
        path,
        term: _term,
        reg,
        t,
        journal,
    } = rig().await?;

    // Sent, but its purchase never ran on the terminal, and later payments did:
    // the lookup cannot see it, so its outcome stays unknown.
    let lost = t.begin(TxnKind::Purchase, 999, 0).await?;
    let hidden = journal.begin_card_sale(999, 0, chrono::Utc::now(), &lost)?;
    journal.set_state(hidden, SaleState::TerminalSent, None)?;

    // Recorded, never sent.
    let p = t.begin(TxnKind::Purchase, 100, 0).await?;
    let never_sent = journal.begin_card_sale(100, 0, chrono::Utc::now(), &p)?;

    // Approved and journalled; the receipt was never started.
    let (approved, card3) = charge(&journal, &t, 300).await?;
    journal.record_approval(approved, &card3, "reply")?;

    // The receipt was being printed: whether it printed is unknown.
    let (printing, card4) = charge(&journal, &t, 400).await?;
    journal.record_approval(printing, &card4, "reply")?;
    journal.set_state(printing, SaleState::FiscalSent, None)?;

    // The last payment: approved by the terminal, then the crash, before the
    // reply was journalled.
    let (sent, charged) = charge(&journal, &t, 250).await?;
    drop(journal);

    // The restart.
    let checkout = Checkout::new(
        Journal::open(&path)?,
        Arc::clone(&t),
        reg.register(),
        "demo",
    );
    let resolved = checkout.recover_unfinished().await?;
    let j = checkout.journal();

    assert_eq!(j.sale(never_sent)?.state, SaleState::Cancelled);

    let found = j.sale(sent)?;
    assert_eq!(found.state, SaleState::Done, "{found:?}");
    assert_eq!(found.card.map(|c| c.rrn), Some(charged.rrn.clone()));

    assert_eq!(j.sale(approved)?.state, SaleState::Done);

    let unknown = j.sale(printing)?;
    assert_eq!(unknown.state, SaleState::NeedsAttention);
    assert_eq!(
        unknown.attention.map(|a| a.device_code).as_deref(),
        Some("fiscal.outcome_unknown")
    );

    let hidden = j.sale(hidden)?;
    assert_eq!(
        hidden.state,
        SaleState::NeedsAttention,
        "never declared not charged: {hidden:?}"
    );
    assert_eq!(resolved.len(), 5, "{resolved:#?}");

    let tape = reg.tape();
    assert_eq!(
        tape.len(),
        2,
        "one receipt each for the two sales to print: {tape:#?}"
    );
    assert!(tape.iter().any(|d| d.contains(&charged.rrn)));
    assert!(tape.iter().any(|d| d.contains(&card3.rrn)));
    assert!(
        !tape.iter().any(|d| d.contains(&card4.rrn)),
        "no blind reprint"
    );

    // Running recovery again changes nothing.
    assert!(checkout.recover_unfinished().await?.is_empty());
    assert_eq!(reg.tape().len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_sale_that_never_reached_the_terminal_is_not_charged() -> anyhow::Result<()> {
    let Rig {
        dir: _dir,
        path,
        term: _term,
        reg,
        t,
        journal,
    } = rig().await?;
    // One earlier payment, then a request journalled as sent that never ran.
    let (earlier, card) = charge(&journal, &t, 120).await?;
    journal.record_approval(earlier, &card, "reply")?;
    journal.record_receipt(earlier, 1)?;
    let pending = t.begin(TxnKind::Purchase, 700, 0).await?;
    let id = journal.begin_card_sale(700, 0, chrono::Utc::now(), &pending)?;
    journal.set_state(id, SaleState::TerminalSent, None)?;
    drop(journal);

    let checkout = Checkout::new(Journal::open(&path)?, t, reg.register(), "demo");
    checkout.recover_unfinished().await?;
    let sale = checkout.journal().sale(id)?;
    assert_eq!(sale.state, SaleState::Declined, "{sale:?}");
    assert_eq!(sale.decline.map(|d| d.code).as_deref(), Some("not_found"));
    assert!(reg.tape().is_empty(), "nothing printed");
    Ok(())
}
