//! Each protocol's emulator as a process of its own (`kasa-terminal emulate
//! ... --state FILE --trace`), and the cash register as another one
//! (`kasa-terminal ... purchase`), killed with SIGKILL in the middle of a
//! sale at a step the emulator's trace names. What happened to the money is
//! read from the emulator's state file, never from the killed side, and the
//! next connection (Kasa restarted) must be able to look it up:
//!
//! * PrivatBank JSON: the operation goes on, is recorded and stays charged
//!   (auto-confirmed);
//! * Ingenico web: killed while the terminal waits for the card, nothing is
//!   charged; killed after the card, the sale goes on and is recorded;
//! * B-POS1 bridge: the approval nobody confirms is cancelled by the
//!   terminal after its confirm time-out; one that a restarted Kasa finds in
//!   time is confirmed and stands.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use terminal::emulator::{load_books, Books, Reversal};
use terminal::transport::Endpoint;
use terminal::{PendingOperation, Protocol, TerminalConfig, TxnKind, TxnStatus};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_kasa-terminal");

/// Status steps slow enough for the cash register to be killed in the middle.
const STEPS: [&str; 2] = ["--step-delay-ms", "60"];

/// Every wait here is for a state; this only stops a broken run from hanging.
const GUARD: Duration = Duration::from_secs(60);

struct Emulator {
    _child: Child,
    addr: String,
    trace: mpsc::UnboundedReceiver<String>,
    state: PathBuf,
}

impl Emulator {
    /// `extra` must name `--step-delay-ms`.
    async fn start(protocol: &str, state: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["emulate", "--protocol", protocol, "--tcp", "127.0.0.1:0"])
            .arg("--state")
            .arg(state)
            .arg("--trace")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = out.next_line().await.unwrap().expect("the bound address");
        let (tx, trace) = mpsc::unbounded_channel();
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let _ = tx.send(line);
            }
        });
        Self {
            _child: child,
            addr,
            trace,
            state: state.to_path_buf(),
        }
    }

    /// Wait until the emulator's trace shows `needle`.
    async fn reaches(&mut self, needle: &str) {
        let found = tokio::time::timeout(GUARD, async {
            while let Some(line) = self.trace.recv().await {
                if line.contains(needle) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "the emulator never reached {needle:?}");
    }

    /// Wait until the books in the state file satisfy `done`.
    async fn books_when(&self, done: impl Fn(&Books) -> bool) -> Books {
        tokio::time::timeout(GUARD, async {
            loop {
                if let Ok(books) = load_books(&self.state) {
                    if done(&books) {
                        return books;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the books never reached the state")
    }

    fn config(&self, protocol: Protocol) -> TerminalConfig {
        let mut cfg = TerminalConfig {
            protocol,
            endpoint: Endpoint::tcp(self.addr.clone()),
            ..Default::default()
        };
        cfg.timeouts.after_handshake_ms = 0;
        cfg.timeouts.poll_ms = 5;
        cfg
    }
}

/// The cash register as a process: `kasa-terminal --config ... purchase AMOUNT`.
fn kasa(dir: &Path, cfg: &TerminalConfig, amount: i64) -> Child {
    let path = dir.join("kasa.json");
    std::fs::write(&path, serde_json::to_string(cfg).unwrap()).unwrap();
    Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .args(["purchase", &amount.to_string(), "--merchant", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// SIGKILL, and make sure it is gone.
async fn kill(mut child: Child) {
    child.kill().await.unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed, not finished");
}

/// What the restarted Kasa had journalled before the request: a pending
/// purchase of `amount` with the prior invoice it knew.
fn pending(amount: i64, prior: Option<u64>) -> PendingOperation {
    let mut p = PendingOperation::new(TxnKind::Purchase, amount, 1, prior.map(|n| n.to_string()));
    // Begun a moment ago, by the process that was killed.
    p.started_at = (chrono::Local::now().naive_local() - chrono::Duration::seconds(5))
        .format(terminal::recovery::DATE_TIME_FORMAT)
        .to_string();
    p
}

#[tokio::test]
async fn privatbank_goes_on_and_is_found_after_the_cash_register_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut emu = Emulator::start("privatbank", &dir.path().join("books.json"), &STEPS).await;
    let cfg = emu.config(Protocol::Privatbank);
    let register = kasa(dir.path(), &cfg, 1_234);
    emu.reaches("privatbank status 1").await; // card read
    kill(register).await;
    let books = emu.books_when(|b| !b.approved_charges().is_empty()).await;
    let charge = books.approved_charges()[0].clone();
    assert_eq!((charge.amount, charge.reversal), (1_234, None));
    // Kasa restarts and looks it up.
    let term = terminal::connect(&cfg).await.unwrap();
    // The terminal may still be finishing the operation: the handshake is
    // answered deviceBusy then, and recovery waits for it.
    match term.open().await {
        Ok(()) | Err(terminal::Error::Busy) => {}
        Err(e) => panic!("{e}"),
    }
    let found = term.recover(&pending(1_234, None)).await.unwrap();
    let tx = found.approved().expect("found approved").clone();
    assert_eq!(
        (tx.rrn.as_str(), tx.amount, tx.terminal_id.as_str()),
        (charge.rrn.as_str(), 1_234, charge.terminal_id.as_str())
    );
    assert!(!tx.needs_confirm, "auto-confirmed");
}

#[tokio::test]
async fn privatbank_state_survives_an_emulator_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("books.json");
    let first = Emulator::start("privatbank", &state, &["--step-delay-ms", "0"]).await;
    let term = terminal::connect(&first.config(Protocol::Privatbank))
        .await
        .unwrap();
    let req = terminal::PurchaseRequest {
        amount: 300,
        merchant: 1,
    };
    let _ = term
        .purchase(req, terminal::discard_progress())
        .await
        .unwrap();
    drop(first);
    let second = Emulator::start("privatbank", &state, &["--step-delay-ms", "0"]).await;
    let term = terminal::connect(&second.config(Protocol::Privatbank))
        .await
        .unwrap();
    let last = term.last_transaction().await.unwrap().unwrap();
    assert_eq!(last.amount, 300, "the books were read back");
    let req = terminal::PurchaseRequest {
        amount: 400,
        merchant: 1,
    };
    let terminal::CardOutcome::Approved(next) = term
        .purchase(req, terminal::discard_progress())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(next.invoice.parse::<u64>().unwrap() > last.invoice.parse::<u64>().unwrap());
    assert_eq!(load_books(&state).unwrap().approved_charges().len(), 2);
}

#[tokio::test]
async fn ingenico_before_the_card_nothing_after_it_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut emu = Emulator::start("ingenico-web", &dir.path().join("books.json"), &STEPS).await;
    let cfg = emu.config(Protocol::IngenicoWeb);
    // Killed while the terminal waits for the card: the sale ends there.
    let register = kasa(dir.path(), &cfg, 500);
    emu.reaches("ingenico-web status 9").await;
    kill(register).await;
    emu.reaches("ingenico-web status 0").await;
    assert!(load_books(&emu.state).unwrap().records.is_empty());
    // Killed after the card: the sale goes on and is recorded.
    let register = kasa(dir.path(), &cfg, 700);
    emu.reaches("ingenico-web status 6").await; // PIN
    kill(register).await;
    let books = emu.books_when(|b| !b.approved_charges().is_empty()).await;
    let charge = books.approved_charges()[0].clone();
    assert_eq!(charge.amount, 700);
    // Kasa restarts: `last trans` carries the request id it was made under.
    let term = terminal::connect(&cfg).await.unwrap();
    let last = term.last_transaction().await.unwrap().unwrap();
    assert_eq!(
        (last.request_id.as_str(), last.rrn.as_str()),
        (charge.request_id.as_str(), charge.rrn.as_str())
    );
}

#[tokio::test]
async fn bpos1_unconfirmed_is_cancelled_and_a_restarted_kasa_can_confirm_in_time() {
    let dir = tempfile::tempdir().unwrap();
    // A short confirm time-out: the approval the killed Kasa never confirmed
    // is cancelled by the terminal on its own.
    let mut emu = Emulator::start(
        "bpos1",
        &dir.path().join("books.json"),
        &["--confirm-timeout-ms", "300", "--step-delay-ms", "60"],
    )
    .await;
    let cfg = emu.config(Protocol::Bpos1Bridge);
    let register = kasa(dir.path(), &cfg, 900);
    emu.reaches("bpos1 status 1").await;
    kill(register).await;
    let books = emu
        .books_when(|b| b.records.iter().any(|r| r.status == TxnStatus::Cancelled))
        .await;
    let r = books.records[0].clone();
    assert_eq!((r.amount, r.reversal), (900, Some(Reversal::NotConfirmed)));
    assert!(books.approved_charges().is_empty(), "not charged");
    let term = terminal::connect(&cfg).await.unwrap();
    let found = term.recover(&pending(900, None)).await.unwrap();
    assert!(found.approved().is_none(), "{found:?}");

    // A long confirm time-out: the restarted Kasa finds the approval still
    // waiting and confirms it.
    let mut emu = Emulator::start(
        "bpos1",
        &dir.path().join("books2.json"),
        &["--confirm-timeout-ms", "60000", "--step-delay-ms", "60"],
    )
    .await;
    let mut cfg = emu.config(Protocol::Bpos1Bridge);
    cfg.explicit_confirm = true;
    let register = kasa(dir.path(), &cfg, 1_100);
    emu.reaches("bpos1 status 3").await; // authorising
    kill(register).await;
    emu.books_when(|b| !b.awaiting_confirm().is_empty()).await;
    let term = terminal::connect(&cfg).await.unwrap();
    let found = term.recover(&pending(1_100, None)).await.unwrap();
    let tx = found.approved().expect("approved, waiting").clone();
    assert!(tx.needs_confirm);
    term.confirm().await.unwrap();
    let books = load_books(&emu.state).unwrap();
    let charge = books.approved_charges()[0].clone();
    assert_eq!(
        (charge.amount, charge.confirm_by, charge.rrn.as_str()),
        (1_100, None, tx.rrn.as_str())
    );
}
