//! The command lines: `kasa terminal ...` against an emulator, and the
//! argument errors of `kasa emulate terminal ...`.

use std::time::Duration;

use terminal::cli;
use terminal::privatbank::{EmulatorConfig, PrivatbankEmulator};

async fn emulator() -> (PrivatbankEmulator, String) {
    let emu = PrivatbankEmulator::new(EmulatorConfig {
        step_delay: Duration::ZERO,
        ..EmulatorConfig::default()
    });
    let addr = emu.spawn_tcp("127.0.0.1:0").await.unwrap();
    (emu, addr.to_string())
}

fn config_file(addr: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let cfg = format!(
        r#"{{"protocol":"privatbank","endpoint":{{"kind":"tcp","address":"{addr}"}},
            "timeouts":{{"after_handshake_ms":0,"poll_ms":5}}}}"#
    );
    std::fs::write(file.path(), cfg).unwrap();
    file
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn terminal_commands_against_the_emulator() {
    let (emu, addr) = emulator().await;
    let cfg = config_file(&addr);
    let path = cfg.path().to_str().unwrap();
    assert_eq!(cli::main(args(&["--config", path, "info"])).await, 0);
    assert_eq!(
        cli::main(args(&[
            "--config",
            path,
            "purchase",
            "1234",
            "--merchant",
            "2"
        ]))
        .await,
        0
    );
    assert_eq!(cli::main(args(&["--config", path, "last"])).await, 0);
    assert_eq!(cli::main(args(&["--config", path, "totals", "2"])).await, 0);
    assert_eq!(cli::main(args(&["--config", path, "settle"])).await, 0);
    assert_eq!(cli::main(args(&["--config", path, "ping"])).await, 0);
    assert!(emu.bank().journal().is_empty(), "settled");
    assert_eq!(emu.bank().lookup(0).map(|r| r.amount), Some(1234));
    let books = emu.bank().books().clone();
    let charged = books.approved_charges();
    assert_eq!(
        (
            charged.len(),
            charged[0].amount,
            charged[0].merchant,
            charged[0].settled
        ),
        (1, 1234, 2, true)
    );
}

#[tokio::test]
async fn terminal_command_errors() {
    assert_eq!(
        cli::main(args(&["--protocol", "smoke-signals", "info"])).await,
        1
    );
    assert_eq!(
        cli::main(args(&["--config", "/nonexistent/kasa.json", "info"])).await,
        1
    );
    assert_eq!(cli::main(args(&["frobnicate"])).await, 2);
    assert_eq!(
        cli::main(args(&["--protocol", "bpos1", "info"])).await,
        1,
        "no ECRCommX here"
    );
}

#[tokio::test]
async fn emulate_argument_errors() {
    assert_eq!(cli::emulate(args(&["--outcome", "explode"])).await, 2);
    assert_eq!(cli::emulate(args(&["--protocol", "telex"])).await, 2);
    assert_eq!(
        cli::emulate(args(&["--tcp", "127.0.0.1:0", "--pty"])).await,
        2
    );
    assert_eq!(cli::emulate(args(&["--tcp", "not an address"])).await, 1);
    assert_eq!(cli::emulate(args(&["--outcome", "raw-pan:12ab"])).await, 2);
    assert_eq!(
        cli::emulate(args(&["--confirm-timeout-ms", "soon"])).await,
        2
    );
    let dir = tempfile::tempdir().unwrap();
    let not_books = dir.path().join("x.json");
    std::fs::write(&not_books, "[1,2]").unwrap();
    assert_eq!(
        cli::emulate(args(&[
            "--tcp",
            "127.0.0.1:0",
            "--state",
            not_books.to_str().unwrap()
        ]))
        .await,
        1,
        "a state file that is not emulator books is refused"
    );
    let books = dir.path().join("privatbank.json");
    terminal::emulator::Bank::new(1)
        .with_store(&books)
        .unwrap()
        .set_protocol("privatbank");
    assert_eq!(
        cli::emulate(args(&[
            "--protocol",
            "bpos1",
            "--tcp",
            "127.0.0.1:0",
            "--state",
            books.to_str().unwrap()
        ]))
        .await,
        1,
        "another terminal's books are refused"
    );
}

async fn start_emulator(list: &[&str]) -> String {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let argv = args(list);
    tokio::spawn(async move {
        cli::emulate_with(argv, move |addr| {
            let _ = tx.send(addr);
        })
        .await
    });
    rx.await.unwrap()
}

#[tokio::test]
async fn emulate_serves_each_protocol_on_tcp_and_keeps_its_books() {
    use terminal::emulator::{load_books, RAW_PAN};
    use terminal::transport::Endpoint;
    use terminal::{discard_progress, CardOutcome, Protocol, PurchaseRequest, TerminalConfig};
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("privatbank", Protocol::Privatbank),
        ("ingenico-web", Protocol::IngenicoWeb),
        ("bpos1", Protocol::Bpos1Bridge),
    ];
    for (name, protocol) in cases {
        let state = dir.path().join(format!("{name}.json"));
        let addr = start_emulator(&[
            "--protocol",
            name,
            "--tcp",
            "127.0.0.1:0",
            "--step-delay-ms",
            "0",
            "--state",
            state.to_str().unwrap(),
            "--outcome",
            "decline:51",
            "--outcome",
            "raw-pan",
            "--confirm-timeout-ms",
            "60000",
        ])
        .await;
        let mut cfg = TerminalConfig {
            protocol,
            endpoint: Endpoint::tcp(addr),
            ..Default::default()
        };
        cfg.timeouts.after_handshake_ms = 0;
        cfg.timeouts.poll_ms = 2;
        let term = terminal::connect(&cfg).await.unwrap();
        let req = || PurchaseRequest {
            amount: 321,
            merchant: 1,
        };
        let out = term.purchase(req(), discard_progress()).await.unwrap();
        assert!(
            matches!(&out, CardOutcome::Declined { code, .. } if code == "51"),
            "{name}: {out:?}"
        );
        let out = term.purchase(req(), discard_progress()).await.unwrap();
        let CardOutcome::Approved(t) = out else {
            panic!("{name}: {out:?}")
        };
        assert_eq!((t.amount, t.masked_pan.as_str()), (321, RAW_PAN), "{name}");
        let books = load_books(&state).unwrap();
        assert_eq!(books.protocol, name);
        assert_eq!(books.declines().len(), 1, "{name}");
        let charged = books.approved_charges();
        assert_eq!(
            (charged.len(), charged[0].amount, charged[0].rrn.as_str()),
            (1, 321, t.rrn.as_str()),
            "{name}"
        );
        assert!(books.script.is_empty(), "{name}: both outcomes used");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn emulate_serves_privatbank_and_ingenico_on_a_pty() {
    use terminal::transport::Endpoint;
    use terminal::{discard_progress, CardOutcome, Protocol, PurchaseRequest, TerminalConfig};
    for (name, protocol) in [
        ("privatbank", Protocol::Privatbank),
        ("ingenico-web", Protocol::IngenicoWeb),
    ] {
        let path = start_emulator(&["--protocol", name, "--pty", "--step-delay-ms", "0"]).await;
        let mut cfg = TerminalConfig {
            protocol,
            endpoint: Endpoint::serial(path),
            ..Default::default()
        };
        cfg.timeouts.after_handshake_ms = 0;
        cfg.timeouts.poll_ms = 2;
        cfg.connect_scheme = terminal::privatbank::ConnectScheme::Direct;
        let term = terminal::connect(&cfg).await.unwrap();
        let out = term
            .purchase(
                PurchaseRequest {
                    amount: 55,
                    merchant: 1,
                },
                discard_progress(),
            )
            .await
            .unwrap();
        assert!(
            matches!(&out, CardOutcome::Approved(t) if t.amount == 55),
            "{name}: {out:?}"
        );
    }
}
