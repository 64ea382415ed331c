//! Command lines: `kasa emulate terminal ...` runs an emulator on a real
//! transport, and `kasa terminal ...` talks to a configured terminal.
//!
//! An emulator run as a process of its own keeps its books in `--state FILE`
//! (JSON, rewritten atomically after every change, read back at start when
//! it exists; [`crate::emulator::load_books`] reads it), so a test can judge
//! the money from the terminal's side whatever happened to Kasa.

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Protocol, TerminalConfig};
use crate::emulator::Outcome;
use crate::transport::Endpoint;
use crate::{CardOutcome, PurchaseRequest, TerminalProgress};

/// Emulated protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmuProtocol {
    Privatbank,
    IngenicoWeb,
    Bpos1,
}

/// `kasa emulate terminal`.
#[derive(Debug, Parser)]
#[command(name = "kasa emulate terminal", about = "Run a card-terminal emulator")]
pub struct EmulateArgs {
    /// Protocol to emulate.
    #[arg(long, value_enum, default_value = "privatbank")]
    pub protocol: EmuProtocol,
    /// Listen on HOST:PORT (port 0 picks a free one).
    #[arg(long, conflicts_with = "pty")]
    pub tcp: Option<String>,
    /// Open a pseudo-terminal and print the path a driver opens as its serial port.
    #[arg(long)]
    pub pty: bool,
    /// Outcomes of the next operations, in order: approve, decline[:NN] (host
    /// code, default 05), cancel (customer), no-host, no-paper, partial (half
    /// approved, RC 0010), timeout (no card until interrupted), drop (link
    /// dropped after approval), busy, raw-pan[:PAN] (approved, the PAN sent
    /// unmasked with spaces, default 5168 7500 0000 1234), signature (approved,
    /// signature required).
    #[arg(long = "outcome", value_name = "OUTCOME")]
    pub outcomes: Vec<String>,
    /// Outcome once the scripted ones are used up.
    #[arg(long, default_value = "approve")]
    pub default_outcome: String,
    /// Pause between status steps, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub step_delay_ms: u64,
    /// Merchants configured on the terminal.
    #[arg(long, default_value_t = 3)]
    pub merchants: u8,
    /// Keep the books in this JSON file: written after every change, read back
    /// at start when it exists (then its records, counters, script and default
    /// outcome stand, and --outcome / --default-outcome / --merchants apply only
    /// to a new file).
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
    /// B-POS1: how long an approval waits for Confirm before the terminal
    /// cancels it, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub confirm_timeout_ms: u64,
    /// How long the terminal waits for a card that does not come, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    pub card_wait_ms: u64,
    /// Ingenico web: also answer `ocan` (the Techcombank variant's cancel,
    /// which the integration guide does not have).
    #[arg(long)]
    pub ocan: bool,
    /// Print each status step and every record made or changed on stderr
    /// (`privatbank status 1`, `bpos1 recorded Purchase invoice 3 ...`), so a
    /// test can act at an exact step of the terminal.
    #[arg(long)]
    pub trace: bool,
    /// PrivatBank: a bank profile with "ECR prints the slip" off: replies
    /// carry only `responseCode`, no card data and no slip (what `kasa
    /// doctor` must spot).
    #[arg(long)]
    pub no_ecr_slip: bool,
}

fn parse_outcomes(args: &EmulateArgs) -> Result<(Vec<Outcome>, Outcome), String> {
    let scripted = args
        .outcomes
        .iter()
        .map(|o| o.parse::<Outcome>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let default = args
        .default_outcome
        .parse::<Outcome>()
        .map_err(|e| e.to_string())?;
    Ok((scripted, default))
}

/// Run `kasa emulate terminal` with the arguments after it. Prints the bound
/// address (or the pty path) as the first line of stdout, then serves until
/// the process is killed. Returns the exit code.
pub async fn emulate(args: Vec<String>) -> i32 {
    emulate_with(args, |where_| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{where_}");
        let _ = out.flush();
    })
    .await
}

/// [`emulate`], handing the bound address (or pty path) to `announce`
/// instead of printing it.
pub async fn emulate_with(args: Vec<String>, announce: impl FnOnce(String) + Send) -> i32 {
    let argv = std::iter::once("kasa emulate terminal".to_string()).chain(args);
    let args = match EmulateArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let (scripted, default) = match parse_outcomes(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let step = Duration::from_millis(args.step_delay_ms);
    let result = match args.protocol {
        EmuProtocol::Privatbank => run_privatbank(&args, step, scripted, default, announce).await,
        EmuProtocol::IngenicoWeb => run_ingenico(&args, step, scripted, default, announce).await,
        EmuProtocol::Bpos1 => run_bpos1(&args, step, scripted, default, announce).await,
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// The emulator's books: from the state file when it exists, else new ones
/// with the default outcome and the scripted ones queued.
fn books(
    args: &EmulateArgs,
    protocol: &str,
    merchants: u8,
    default: Outcome,
    scripted: Vec<Outcome>,
) -> Result<crate::emulator::Bank, String> {
    let fresh = args.state.as_ref().is_none_or(|p| !p.exists());
    let mut bank = crate::emulator::Bank::new(merchants);
    if let Some(path) = &args.state {
        bank = bank
            .with_store(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let kept = &bank.books().protocol;
        if !kept.is_empty() && kept != protocol {
            return Err(format!(
                "{}: the books of a {kept} terminal, not {protocol}",
                path.display()
            ));
        }
    }
    bank.set_protocol(protocol);
    if fresh {
        bank.set_default(default);
        for o in scripted {
            bank.script_next(o);
        }
    }
    Ok(bank)
}

/// Serve an emulator on a fresh pty pair, announcing the path the driver opens.
#[cfg(unix)]
async fn on_pty<F, Fut>(announce: impl FnOnce(String), serve: F) -> Result<(), String>
where
    F: FnOnce(tokio_serial::SerialStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (master, slave, path) = crate::transport::pty_pair().map_err(|e| e.to_string())?;
    announce(path);
    let _keep = slave;
    serve(master).await;
    Ok(())
}

#[cfg(not(unix))]
async fn on_pty<F, Fut>(_announce: impl FnOnce(String), _serve: F) -> Result<(), String>
where
    F: FnOnce(tokio_serial::SerialStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    Err("--pty needs a Unix system".into())
}

async fn run_privatbank(
    args: &EmulateArgs,
    step: Duration,
    scripted: Vec<Outcome>,
    default: Outcome,
    announce: impl FnOnce(String),
) -> Result<(), String> {
    use crate::privatbank::{EmulatorConfig, PrivatbankEmulator};
    let bank = books(args, "privatbank", args.merchants, default, scripted)?;
    let emu = PrivatbankEmulator::from_bank(
        EmulatorConfig {
            step_delay: step,
            merchants: args.merchants,
            card_wait: Duration::from_millis(args.card_wait_ms),
            trace: args.trace,
            ecr_slip: !args.no_ecr_slip,
            ..EmulatorConfig::default()
        },
        bank,
    );
    if args.pty {
        return on_pty(announce, |master| emu.serve(master)).await;
    }
    let addr = args.tcp.clone().unwrap_or_else(|| "127.0.0.1:2000".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    announce(local.to_string());
    emu.serve_tcp(listener).await;
    Ok(())
}

async fn run_ingenico(
    args: &EmulateArgs,
    step: Duration,
    scripted: Vec<Outcome>,
    default: Outcome,
    announce: impl FnOnce(String),
) -> Result<(), String> {
    use crate::ingenico::emulator::IngenicoEmulatorConfig;
    use crate::ingenico::IngenicoEmulator;
    let bank = books(args, "ingenico-web", 1, default, scripted)?;
    let emu = IngenicoEmulator::with_config(
        IngenicoEmulatorConfig {
            step_delay: step,
            card_wait: Duration::from_millis(args.card_wait_ms),
            ocan: args.ocan,
            trace: args.trace,
        },
        bank,
    );
    if args.pty {
        return on_pty(announce, |master| emu.serve_serial(master)).await;
    }
    let addr = args.tcp.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
    let local = emu
        .spawn_http(&addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    announce(local.to_string());
    std::future::pending::<()>().await;
    Ok(())
}

async fn run_bpos1(
    args: &EmulateArgs,
    step: Duration,
    scripted: Vec<Outcome>,
    default: Outcome,
    announce: impl FnOnce(String),
) -> Result<(), String> {
    use crate::bpos1::{bridge, Bpos1Emulator, Bpos1EmulatorConfig};
    let bank = books(args, "bpos1", args.merchants, default, scripted)?;
    let emu = Bpos1Emulator::with_bank(
        Bpos1EmulatorConfig {
            step_delay: step,
            confirm_timeout: Duration::from_millis(args.confirm_timeout_ms),
            merchants: args.merchants,
            card_wait: Duration::from_millis(args.card_wait_ms),
            trace: args.trace,
        },
        std::sync::Arc::new(std::sync::Mutex::new(bank)),
    );
    let api = std::sync::Arc::new(std::sync::Mutex::new(emu));
    if args.pty {
        // B-POS1 has no public wire protocol: on a pty too it is Kasa's
        // API bridge, one JSON object per line.
        return on_pty(announce, |master| bridge::serve_line(api, master)).await;
    }
    let addr = args.tcp.clone().unwrap_or_else(|| "127.0.0.1:2050".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    announce(local.to_string());
    bridge::serve_tcp(api, listener).await;
    Ok(())
}

/// `kasa terminal`.
#[derive(Debug, Parser)]
#[command(name = "kasa terminal", about = "Talk to a card terminal")]
pub struct TerminalArgs {
    /// Settings file (JSON `TerminalConfig`); the options below override it.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// privatbank, ingenico-web, bpos1, bpos1-emulator, bpos1-bridge, sim.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Terminal at HOST:PORT.
    #[arg(long, conflicts_with = "serial")]
    pub tcp: Option<String>,
    /// Terminal on a serial port.
    #[arg(long)]
    pub serial: Option<String>,
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    #[command(subcommand)]
    pub command: TerminalCommand,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum TerminalCommand {
    /// Terminal information (checks the link).
    Info,
    /// Test the terminal's link to the bank.
    Ping,
    /// The last transaction.
    Last,
    /// X report.
    Totals {
        #[arg(default_value_t = 0)]
        merchant: u8,
    },
    /// Settlement (Z).
    Settle {
        #[arg(default_value_t = 0)]
        merchant: u8,
    },
    /// Charge AMOUNT minor units.
    Purchase {
        amount: i64,
        #[arg(long, default_value_t = 0)]
        merchant: u8,
    },
}

/// Run `kasa terminal` with the arguments after it; prints JSON; returns the exit code.
pub async fn main(args: Vec<String>) -> i32 {
    let argv = std::iter::once("kasa terminal".to_string()).chain(args);
    let args = match TerminalArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run_terminal(args).await {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn run_terminal(args: TerminalArgs) -> Result<String, String> {
    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path:?}: {e}"))?;
            serde_json::from_str::<TerminalConfig>(&text).map_err(|e| format!("{path:?}: {e}"))?
        }
        None => TerminalConfig::default(),
    };
    if let Some(p) = &args.protocol {
        cfg.protocol = p.parse::<Protocol>().map_err(|e| e.to_string())?;
    }
    if let Some(addr) = &args.tcp {
        cfg.endpoint = Endpoint::tcp(addr.clone());
    }
    if let Some(path) = &args.serial {
        cfg.endpoint = Endpoint::Serial {
            path: path.clone(),
            baud: args.baud,
        };
    }
    let term = crate::connect(&cfg).await.map_err(|e| e.to_string())?;
    let json = |v: serde_json::Result<String>| v.map_err(|e| e.to_string());
    let fail = |e: crate::Error| format!("{}: {e}", e.code());
    match args.command {
        TerminalCommand::Info => json(serde_json::to_string(&term.info().await.map_err(fail)?)),
        TerminalCommand::Ping => {
            term.check_connection(0).await.map_err(fail)?;
            Ok("ok".into())
        }
        TerminalCommand::Last => json(serde_json::to_string(
            &term.last_transaction().await.map_err(fail)?,
        )),
        TerminalCommand::Totals { merchant } => json(serde_json::to_string(
            &term.batch_totals(merchant).await.map_err(fail)?,
        )),
        TerminalCommand::Settle { merchant } => json(serde_json::to_string(
            &term.settle(merchant).await.map_err(fail)?,
        )),
        TerminalCommand::Purchase { amount, merchant } => {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<TerminalProgress>();
            let printer = tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    eprintln!("{}", p.status.text(crate::Lang::Uk));
                }
            });
            let outcome = term
                .purchase(PurchaseRequest { amount, merchant }, tx)
                .await;
            let _ = printer.await;
            match outcome.map_err(fail)? {
                CardOutcome::Approved(t) => json(serde_json::to_string(&t)),
                CardOutcome::Declined { code, message } => {
                    Err(format!("declined {code}: {message}"))
                }
                CardOutcome::Cancelled => Err("cancelled".into()),
            }
        }
    }
}
