//! The journal itself: WAL with `synchronous=FULL` on the connection that
//! writes (a per-connection setting, so it is read there, not on a new
//! connection), numbered migrations, and the masked-PAN rule held by the
//! database on INSERT and on UPDATE, whatever the application does.

use checkout::journal::Journal;
use rusqlite::params;

#[test]
fn the_writing_connection_is_wal_with_full_sync() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let j = Journal::open(&dir.path().join("journal.sqlite"))?;
    assert_eq!(j.pragma("journal_mode")?, "wal");
    assert_eq!(
        j.pragma("synchronous")?,
        "2",
        "2 is FULL: every commit is synced"
    );
    assert_eq!(j.pragma("foreign_keys")?, "1");
    assert_eq!(j.schema_version()?, 4);
    Ok(())
}

/// The creation of an operation is written with `synchronous=OFF` (its first
/// step's synced write-ahead takes it to disk): after a sale has gone
/// through the engine, the engine's own connection is back at FULL, so the
/// write-ahead before the next device call is synced.
#[tokio::test]
async fn the_engines_connection_is_full_sync_after_a_sale() -> anyhow::Result<()> {
    use checkout::api::TenderRequest;
    let rig = testkit::Rig::new().await?;
    let sale = rig.sale(1250, vec![TenderRequest::card(1250)]).await?;
    assert_eq!(sale.state, checkout::api::OperationState::Done, "{sale:#?}");
    let j = rig.engine.journal();
    assert_eq!(j.pragma("journal_mode")?, "wal");
    assert_eq!(
        j.pragma("synchronous")?,
        "2",
        "2 is FULL: the unsynced creation must not leave the connection unsynced"
    );
    Ok(())
}

#[test]
fn the_database_refuses_an_unmasked_card_number() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal.sqlite");
    drop(Journal::open(&path)?);
    let c = rusqlite::Connection::open(&path)?;
    c.execute_batch(
        "INSERT INTO operations (key, kind, state, request, request_hash, actor, business_day,
             total, created_at, updated_at)
         VALUES ('k', 'sale', 'running', '{}', 'h', 'test', '2026-11-25', 100, 'now', 'now');",
    )?;
    let insert = |pan: &str| {
        c.execute(
            "INSERT INTO payments (operation_id, key, method, card_action, state, requested,
                 masked_pan, created_at, updated_at)
             VALUES (1, ?1, 'card', 'purchase', 'pending', 100, ?2, 'now', 'now')",
            params![format!("p-{pan}"), pan],
        )
    };
    for bad in [
        "5168750000001234",
        "5168 7500 0000 1234",
        "516875*0****1234",
        "51687500000012345678",
        "41111111111",
    ] {
        assert!(insert(bad).is_err(), "{bad:?} must be refused on INSERT");
    }
    for good in [
        "516875******1234",
        "************1234",
        "4731********9838",
        "1234",
        "",
    ] {
        insert(good).map_err(|e| anyhow::anyhow!("{good:?}: {e}"))?;
    }
    let update = c.execute(
        "UPDATE payments SET masked_pan = '5168750000001234' WHERE key = 'p-1234'",
        [],
    );
    assert!(update.is_err(), "and on UPDATE");
    Ok(())
}

/// Every state-changing device call finds its step already written to the
/// journal file as `started`, with what its recovery needs (the terminal's
/// request id; the register's document number before; what the receipt had
/// been paid).
#[tokio::test]
async fn every_device_call_is_written_ahead() -> anyhow::Result<()> {
    use checkout::api::{CashMoveRequest, KeyRequest, TenderRequest, VoidRequest};
    use checkout::engine::NewRequest;
    let rig = testkit::Rig::with(testkit::RigOptions {
        watch: true,
        ..testkit::RigOptions::default()
    })
    .await?;
    let sale = rig
        .sale(
            2500,
            vec![TenderRequest::card(1500), TenderRequest::cash(1000)],
        )
        .await?;
    assert_eq!(sale.state, checkout::api::OperationState::Done, "{sale:#?}");
    let invoice = sale.payments[0].card.clone().unwrap().invoice;
    rig.engine
        .submit(
            "t",
            NewRequest::Void(VoidRequest {
                key: testkit::key(),
                invoice,
                approval: None,
            }),
        )
        .await?;
    rig.engine
        .submit(
            "t",
            NewRequest::CashIn(CashMoveRequest {
                key: testkit::key(),
                amount: checkout::money::Money(100),
            }),
        )
        .await?;
    rig.engine
        .submit(
            "t",
            NewRequest::XReport(KeyRequest {
                key: testkit::key(),
            }),
        )
        .await?;
    let seen = rig.seen.clone().unwrap().all();
    for call in [
        "execute",
        "open_receipt",
        "pay",
        "close_receipt",
        "cash_in_out",
        "x_report",
    ] {
        assert!(
            seen.iter().any(|s| s.starts_with(&format!("{call}:"))),
            "{call} was watched: {seen:#?}"
        );
    }
    let late: Vec<_> = seen.iter().filter(|s| !s.ends_with(": ok")).collect();
    assert!(late.is_empty(), "calls not written ahead: {late:#?}");
    Ok(())
}

/// A journal written by the walking skeleton (schema 1: card sales in one
/// table) is carried over: each sale becomes an operation with its card
/// payment and its receipt; an unfinished one waits for a person.
#[test]
fn an_old_journal_is_migrated_without_losing_a_sale() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal.sqlite");
    {
        let c = rusqlite::Connection::open(&path)?;
        c.execute_batch(include_str!("../../checkout/migrations/0001_journal.sql"))?;
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 'then');
             INSERT INTO sales (created_at, business_day, kind, amount, state, rrn, auth_code,
                 masked_pan, terminal_id, invoice, approved_amount, fiscal_number, updated_at)
             VALUES ('2026-11-20T10:00:00Z', '2026-11-20', 'card', 1250, 'done', '123456789012',
                 'A1B2C3', '516875******1234', 'T1', '000001', 1250, 7, '2026-11-20T10:00:05Z');
             INSERT INTO sales (created_at, business_day, kind, amount, state, updated_at)
             VALUES ('2026-11-20T11:00:00Z', '2026-11-20', 'card', 500, 'terminal_sent',
                 '2026-11-20T11:00:01Z');",
        )?;
    }
    let j = Journal::open(&path)?;
    assert_eq!(j.schema_version()?, 4);
    let done = j.load(1)?;
    assert_eq!(done.op.state, checkout::api::OperationState::Done);
    assert_eq!(done.op.total, 1250);
    assert_eq!(done.payments[0].card.as_ref().unwrap().rrn, "123456789012");
    assert_eq!(done.documents[0].number, Some(7));
    let open = j.load(2)?;
    assert_eq!(open.op.state, checkout::api::OperationState::NeedsAttention);
    assert_eq!(j.count_operations()?, 2);
    Ok(())
}
