//! The sale saga against the emulators with scripted outcomes: a decline or a
//! cancel ends the sale with nothing printed; a fault after approval leaves a
//! `needs_attention` row that keeps the card data; a lost reply is never taken
//! for a success.

use std::sync::Arc;
use std::time::Duration;

use checkout::api::{CardSaleRequest, SaleState};
use checkout::journal::Journal;
use checkout::Checkout;
use terminal::emulator::Outcome;

struct Rig {
    checkout: Checkout,
    terminal: terminal::demo::DemoTerminal,
    fiscal: fiscal::demo::DemoRegister,
    _dir: tempfile::TempDir,
}

async fn rig(faults: fiscal::emulator::Faults) -> anyhow::Result<Rig> {
    rig_with_step(faults, 2).await
}

async fn rig_with_step(faults: fiscal::emulator::Faults, step_ms: u64) -> anyhow::Result<Rig> {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(&dir.path().join("journal.sqlite"))?;
    let terminal = terminal::demo::start_with(terminal::demo::DemoOptions::fast(step_ms)).await?;
    let fiscal =
        fiscal::demo::start_with(dir.path(), fiscal::Dialect::ua_fp_t260(), faults).await?;
    let checkout = Checkout::new(journal, terminal.terminal(), fiscal.register(), "demo");
    Ok(Rig {
        checkout,
        terminal,
        fiscal,
        _dir: dir,
    })
}

fn states(c: &Checkout, id: i64) -> Vec<SaleState> {
    c.journal()
        .history(id)
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect()
}

async fn pay(c: &Checkout, amount: &str) -> checkout::Result<checkout::api::SaleResult> {
    c.pay_by_card(&CardSaleRequest {
        amount: amount.into(),
    })
    .await
}

#[tokio::test]
async fn a_decline_is_an_outcome_and_prints_nothing() -> anyhow::Result<()> {
    let r = rig(Default::default()).await?;
    let before = r.fiscal.register().last_document_number().await?;
    for code in ["05", "51", "55"] {
        r.terminal.script_next(Outcome::Decline(code.into()));
        let sale = pay(&r.checkout, "10.00").await?;
        assert_eq!(sale.state, SaleState::Declined);
        let decline = sale.decline.expect("the decline is recorded");
        assert_eq!(decline.code, code);
        assert!(sale.card.is_none() && sale.fiscal_number.is_none());
        assert_eq!(
            states(&r.checkout, sale.sale_id),
            vec![
                SaleState::Intent,
                SaleState::TerminalSent,
                SaleState::Declined
            ]
        );
    }
    assert_eq!(
        r.fiscal.register().last_document_number().await?,
        before,
        "no receipt for a declined payment"
    );
    Ok(())
}

#[tokio::test]
async fn a_customer_cancel_ends_the_sale_as_cancelled() -> anyhow::Result<()> {
    let r = rig(Default::default()).await?;
    r.terminal.script_next(Outcome::CustomerCancel);
    let sale = pay(&r.checkout, "3.00").await?;
    assert_eq!(sale.state, SaleState::Cancelled);
    assert!(r.fiscal.tape().is_empty(), "nothing printed");
    // The next sale goes through as usual.
    let next = pay(&r.checkout, "3.00").await?;
    assert_eq!(next.state, SaleState::Done);
    Ok(())
}

#[tokio::test]
async fn a_receipt_that_cannot_print_leaves_the_card_data_for_the_safe_actions(
) -> anyhow::Result<()> {
    // The paper runs out on the receipt's first sale line: after the approval.
    let faults = fiscal::emulator::Faults {
        paper_out_at_line: Some(1),
        ..Default::default()
    };
    let r = rig(faults).await?;
    let sale = pay(&r.checkout, "42.00").await?;
    assert_eq!(sale.state, SaleState::NeedsAttention, "{sale:?}");
    let card = sale.card.expect("the approval's card data is kept");
    assert_eq!(card.rrn.len(), 12);
    assert_eq!(
        states(&r.checkout, sale.sale_id),
        vec![
            SaleState::Intent,
            SaleState::TerminalSent,
            SaleState::Approved,
            SaleState::FiscalSent,
            SaleState::NeedsAttention
        ]
    );
    let attention = sale.attention.expect("the reason is recorded");
    assert_eq!(attention.device_code, "fiscal.paper_out", "{attention:?}");
    let history = r.checkout.journal().history(sale.sale_id)?;
    let detail = history
        .last()
        .and_then(|e| e.detail.clone())
        .unwrap_or_default();
    assert!(
        detail.starts_with("fiscal.paper_out"),
        "the history names it too: {detail}"
    );
    assert_eq!(r.checkout.journal().unfinished()?, vec![sale.sale_id]);
    Ok(())
}

#[tokio::test]
async fn a_register_that_cannot_print_stops_the_sale_before_the_card_is_charged(
) -> anyhow::Result<()> {
    for (faults, code) in [
        (
            fiscal::emulator::Faults {
                cover_open: true,
                ..Default::default()
            },
            "fiscal.cover_open",
        ),
        (
            fiscal::emulator::Faults {
                fm_full: true,
                ..Default::default()
            },
            "fiscal.fiscal_memory_full",
        ),
        (
            fiscal::emulator::Faults {
                shift_over_24h: true,
                ..Default::default()
            },
            "fiscal.shift_over_24h",
        ),
    ] {
        let r = rig(faults).await?;
        let err = pay(&r.checkout, "20.00")
            .await
            .expect_err("the gate refuses");
        assert_eq!(err.device_code().as_deref(), Some(code), "{err}");
        assert_eq!(r.checkout.journal().count_sales()?, 0, "nothing written");
        assert_eq!(
            r.terminal.terminal().last_transaction().await?,
            None,
            "the card was never charged"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_reply_lost_after_approval_is_found_by_lookup_and_printed_once() -> anyhow::Result<()> {
    let r = rig(Default::default()).await?;
    r.terminal.script_next(Outcome::DropAfterApproval);
    let sale = pay(&r.checkout, "15.00").await?;
    assert_eq!(sale.state, SaleState::Done, "{sale:?}");
    let card = sale.card.expect("the lookup's card data");
    assert_eq!(card.amount, 1500);
    let history = r.checkout.journal().history(sale.sale_id)?;
    let approved = history
        .iter()
        .find(|e| e.state == SaleState::Approved)
        .expect("approved");
    assert!(
        approved.detail.as_deref().unwrap_or("").contains("lookup"),
        "the approval says it came from the lookup: {approved:?}"
    );
    let receipts: Vec<String> = r
        .fiscal
        .tape()
        .into_iter()
        .filter(|d| d.contains(&card.rrn))
        .collect();
    assert_eq!(receipts.len(), 1, "exactly one receipt carries the RRN");
    let pending = r.checkout.journal().terminal_request(sale.sale_id)?;
    assert_eq!(
        pending.map(|p| p.amount),
        Some(1500),
        "the request was journalled first"
    );
    Ok(())
}

#[tokio::test]
async fn a_terminal_that_refuses_outright_is_a_decline_with_its_code() -> anyhow::Result<()> {
    let r = rig(Default::default()).await?;
    for outcome in [Outcome::NoHostLink, Outcome::NoPaper] {
        r.terminal.script_next(outcome.clone());
        let sale = pay(&r.checkout, "9.00").await?;
        assert_eq!(sale.state, SaleState::Declined, "{outcome:?}: {sale:?}");
        let code = sale.decline.map(|d| d.code).unwrap_or_default();
        assert!(!code.is_empty(), "{outcome:?} carries its code");
        assert!(sale.card.is_none());
    }
    assert!(r.fiscal.tape().is_empty(), "nothing printed");
    assert!(
        r.checkout.journal().unfinished()?.is_empty(),
        "nothing left to resolve"
    );
    Ok(())
}

#[tokio::test]
async fn one_sale_at_a_time() -> anyhow::Result<()> {
    // A slow terminal (100 ms a status step), so the first sale is surely still
    // running when the second is asked for.
    let r = Arc::new(rig_with_step(Default::default(), 100).await?);
    let slow = {
        let r = Arc::clone(&r);
        tokio::spawn(async move { pay(&r.checkout, "1.00").await })
    };
    // Wait until the first sale has reached the terminal.
    for _ in 0..500 {
        let first = r.checkout.journal().unfinished()?;
        if first.len() == 1 && r.checkout.journal().sale(first[0])?.state == SaleState::TerminalSent
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let second = pay(&r.checkout, "2.00").await;
    assert!(matches!(second, Err(checkout::Error::Busy)), "{second:?}");
    assert_eq!(slow.await??.state, SaleState::Done);
    assert_eq!(
        r.checkout.journal().count_sales()?,
        1,
        "the refused sale wrote nothing"
    );
    Ok(())
}
