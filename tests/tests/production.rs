//! Production mode: Kasa reads the installer's settings and drives the
//! configured devices, here both emulators as real peers on loopback TCP (a
//! PrivatBank JSON terminal and a Datecs FP-T260 register), through the same
//! code path as the demo. A register that cannot be reached refuses sales
//! before any card is charged: the terminal's own books show no charge.

use std::time::Duration;

use checkout::api::OperationState;
use checkout::engine::NewRequest;
use checkout::settings::{FiscalSettings, Settings};
use checkout::setup::{start, DemoOptions};

async fn emulators() -> anyhow::Result<(
    Settings,
    terminal::privatbank::PrivatbankEmulator,
    fiscal::emulator::EmulatorHandle,
)> {
    let terminal_emulator =
        terminal::privatbank::PrivatbankEmulator::new(terminal::privatbank::EmulatorConfig {
            step_delay: Duration::from_millis(5),
            ..Default::default()
        });
    let terminal_addr = terminal_emulator.spawn_tcp("127.0.0.1:0").await?;
    let (register, fiscal_addr, _task) = fiscal::emulator::spawn_tcp(
        fiscal::emulator::EmulatorConfig::new(fiscal::Dialect::ua_fp_t260()),
        "127.0.0.1:0",
    )
    .await?;
    let settings = Settings {
        terminal: Some(terminal::TerminalConfig {
            endpoint: terminal::transport::Endpoint::tcp(terminal_addr.to_string()),
            timeouts: terminal::config::Timeouts {
                after_handshake_ms: 0,
                poll_ms: 10,
                ..Default::default()
            },
            ..Default::default()
        }),
        fiscal: Some(FiscalSettings {
            endpoint: fiscal::Endpoint::tcp(fiscal_addr.to_string()),
            ..FiscalSettings::default()
        }),
        ..Settings::default()
    };
    Ok((settings, terminal_emulator, register))
}

fn sale(amount: i64) -> NewRequest {
    NewRequest::Sale(checkout::api::SaleRequest {
        key: testkit::key(),
        items: Vec::new(),
        amount: Some(checkout::money::Money(amount)),
        payments: Vec::new(),
        merchant: None,
    })
}

#[tokio::test]
async fn configured_devices_are_driven_in_production_mode() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (settings, terminal_emulator, register) = emulators().await?;
    let path = dir.path().join("kasa.json");
    settings.save(&path)?;
    let settings = Settings::load(&path)?;
    let running = start(dir.path(), &settings, DemoOptions::default()).await?;
    let c = &running.checkout;
    assert_eq!(c.info().mode, "production");

    let op = c.engine.submit("test", sale(25000)).await?;
    assert_eq!(op.state, OperationState::Done, "{op:#?}");
    let card = op.payments[0].card.clone().expect("card data");
    let printed = register.tape().join("\n");
    assert!(
        printed.contains(&card.rrn),
        "the register printed the RRN: {printed}"
    );
    assert!(printed.contains(&card.auth_code), "and the auth code");
    assert_eq!(register.counters().day_paid, [0, 25000]);
    let books = terminal_emulator.bank().books().clone();
    assert_eq!(books.standing_charges().len(), 1);
    assert_eq!(books.standing_charges()[0].amount, 25000);
    assert!(
        !c.receipt_tape(5).available,
        "a real register has no virtual tape"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_fiscal_register_refuses_sales_without_charging_a_card() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let (mut settings, terminal_emulator, _register) = emulators().await?;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    settings.fiscal = Some(FiscalSettings {
        endpoint: fiscal::Endpoint::tcp(closed.to_string()),
        ..FiscalSettings::default()
    });
    let running = start(dir.path(), &settings, DemoOptions::default()).await?;
    let c = &running.checkout;
    assert_eq!(
        c.info().mode,
        "production",
        "Kasa starts with the register off"
    );
    let err = c
        .engine
        .submit("test", sale(500))
        .await
        .expect_err("the pre-flight gate cannot reach the register");
    assert_eq!(err.code(), checkout::api::ErrorCode::FiscalError, "{err}");
    assert_eq!(
        err.device_code().as_deref(),
        Some("fiscal.transport"),
        "{err}"
    );
    assert_eq!(c.engine.journal().count_operations()?, 0, "nothing written");
    let books = terminal_emulator.bank().books().clone();
    assert!(
        books.records.is_empty(),
        "the terminal was never asked to charge: {:?}",
        books.records
    );
    Ok(())
}
