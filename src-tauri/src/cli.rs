//! Command-line entry points. Each subcommand is a thin call into a domain
//! crate; this file only parses arguments and picks a runtime.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Kasa: a desktop checkout that drives a card terminal and a fiscal register.
#[derive(Debug, Parser)]
#[command(name = "kasa", version)]
struct Cli {
    /// Where the journal and device state live (default: ~/.local/share/kasa).
    #[arg(long, global = true, env = "KASA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The installer's settings file (default: ~/.config/kasa/kasa.json). With no
    /// devices configured there, Kasa runs in demo mode with emulated devices.
    #[arg(long, global = true, env = "KASA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the desktop window (the default).
    Desktop,
    /// Serve the UI and the HTTP API to a browser, without a window.
    Serve {
        /// Address to listen on; loopback unless you say otherwise.
        #[arg(long, default_value = "127.0.0.1:8640")]
        addr: SocketAddr,
        /// The built UI (default: found next to the binary or in the source tree).
        #[arg(long, env = "KASA_UI_DIR")]
        ui_dir: Option<PathBuf>,
        /// Another host name to answer to besides localhost and IP addresses
        /// (repeatable; also `access.allowed_hosts` in the settings).
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
    },
    /// Run a device emulator on a pty or TCP port: `kasa emulate fiscal|terminal ...`.
    Emulate {
        /// `fiscal` or `terminal`, then that emulator's own options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Fiscal-register tools: `kasa fiscal decode HEX...`, `kasa fiscal detect PORT`.
    Fiscal {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Card-terminal tools.
    Terminal {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Back up the journal now (safe while Kasa runs): into the settings'
    /// backup directory (default: `backups` in the data directory), checked,
    /// and backups older than the kept days removed.
    Backup {
        /// Write into this directory instead of the settings' one.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Keep backups this many days instead of the settings' number.
        #[arg(long)]
        keep_days: Option<u32>,
    },
    /// Restore the journal from a backup file into the data directory (Kasa
    /// must not be running there). A damaged file, one from a newer Kasa,
    /// or one older than the journal it replaces is refused.
    Restore {
        /// The backup file (`kasa-journal-....sqlite`).
        file: PathBuf,
        /// Restore even an older backup over a newer journal (the journal
        /// replaced is kept beside it).
        #[arg(long)]
        force: bool,
    },
    /// Pack the logs, the settings without passwords and the journal's
    /// schema version, the devices and the last operations (cards masked)
    /// into a `.zip` for support.
    SupportBundle {
        /// The archive to write (default: kasa-support-<time>.zip here).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The audit log: `kasa audit verify [--head ID:HASH]`.
    Audit {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Journal tools: `kasa journal generate --out FILE [--operations N]`.
    Journal {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The installer's check from a shell: which device answers on which
    /// port, the configured devices tested, a verdict (OK / PROBLEM) and
    /// what to do next for each; exit code 1 on a problem.
    Doctor {
        /// Probe this serial port (repeatable); with none (and no --tcp),
        /// every port the system lists.
        #[arg(long = "port", value_name = "PATH")]
        ports: Vec<String>,
        /// Probe this TCP address (repeatable).
        #[arg(long = "tcp", value_name = "HOST:PORT")]
        tcp: Vec<String>,
        /// The language of the verdicts: uk or en.
        #[arg(long, default_value = "uk")]
        lang: String,
    },
}

/// Run the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let data_dir = cli
        .data_dir
        .unwrap_or_else(checkout::setup::default_data_dir);
    let config = cli
        .config
        .unwrap_or_else(checkout::settings::default_settings_path);
    // The app itself and what changes its journal log to the data
    // directory's file too; the tools only to stderr.
    let file_log = matches!(
        cli.command,
        None | Some(Command::Desktop)
            | Some(Command::Serve { .. })
            | Some(Command::Backup { .. })
            | Some(Command::Restore { .. })
    );
    crate::logging::init(file_log.then_some(data_dir.as_path()));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %data_dir.display(), "kasa started");
    match cli.command {
        None | Some(Command::Desktop) => {
            if !has_display() {
                eprintln!("No display found: serving the UI to a browser instead.");
                return block_on(serve(data_dir, config, default_addr(), None, Vec::new()));
            }
            let settings = match checkout::settings::Settings::load(&config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kasa: {e}");
                    return 2;
                }
            };
            crate::desktop::run(data_dir, config, settings, demo_options())
        }
        Some(Command::Serve {
            addr,
            ui_dir,
            allow_hosts,
        }) => block_on(serve(data_dir, config, addr, ui_dir, allow_hosts)),
        Some(Command::Emulate { args }) => {
            let mut args = args.into_iter();
            match args.next().as_deref() {
                Some("fiscal") => {
                    block_on(async move { Ok(fiscal::cli::emulate(args.collect()).await) })
                }
                Some("terminal") => {
                    block_on(async move { Ok(terminal::cli::emulate(args.collect()).await) })
                }
                other => {
                    eprintln!("kasa emulate: expected `fiscal` or `terminal`, got {other:?}");
                    2
                }
            }
        }
        Some(Command::Fiscal { args }) => {
            block_on(async move { Ok(fiscal::cli::main(args).await) })
        }
        Some(Command::Terminal { args }) => {
            block_on(async move { Ok(terminal::cli::main(args).await) })
        }
        Some(Command::Audit { args }) => checkout::tools::audit(&data_dir, &args),
        Some(Command::Journal { args }) => checkout::tools::journal(&args),
        Some(Command::Backup { dir, keep_days }) => backup(&data_dir, &config, dir, keep_days),
        Some(Command::Restore { file, force }) => restore(&data_dir, &file, force),
        Some(Command::SupportBundle { out }) => support_bundle(&data_dir, &config, out),
        Some(Command::Doctor { ports, tcp, lang }) => block_on(async move {
            let lang = checkout::installer::doctor::Lang::parse(&lang);
            let opts = checkout::installer::doctor::DoctorOptions { ports, tcp, lang };
            Ok(checkout::installer::doctor::main(&config, opts).await)
        }),
    }
}

fn backup(data_dir: &Path, config: &Path, dir: Option<PathBuf>, keep_days: Option<u32>) -> i32 {
    let settings = match checkout::settings::Settings::load(config) {
        Ok(s) => s.backup,
        Err(e) => {
            eprintln!("kasa backup: {e}");
            return 2;
        }
    };
    let journal = checkout::setup::journal_path(data_dir);
    let dir = dir.unwrap_or_else(|| settings.dir_for(&journal));
    let keep_days = keep_days.unwrap_or(settings.keep_days);
    match checkout::backup::backup_to_dir(&journal, &dir, keep_days) {
        Ok(w) => {
            println!("{}", w.path.display());
            eprintln!(
                "kasa backup: {} operations, {} payments, journal schema {}; checked (integrity ok, masked cards only); {} old backup(s) removed",
                w.summary.operations,
                w.summary.payments,
                w.summary.schema_version,
                w.removed.len()
            );
            0
        }
        Err(e) => {
            tracing::error!("backup failed: {e}");
            eprintln!("kasa backup: {e}");
            1
        }
    }
}

fn restore(data_dir: &Path, file: &Path, force: bool) -> i32 {
    let journal = checkout::setup::journal_path(data_dir);
    match checkout::backup::restore(file, &journal, force) {
        Ok(r) => {
            println!("{}", r.journal.display());
            eprintln!(
                "kasa restore: {} operations, {} payments restored from {}{}",
                r.summary.operations,
                r.summary.payments,
                file.display(),
                r.replaced
                    .map(|p| format!("; the journal replaced is kept as {}", p.display()))
                    .unwrap_or_default()
            );
            0
        }
        Err(e) => {
            tracing::error!("restore refused: {e}");
            eprintln!("kasa restore: refused: {e}");
            1
        }
    }
}

fn support_bundle(data_dir: &Path, config: &Path, out: Option<PathBuf>) -> i32 {
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "kasa-support-{}.zip",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    let input = checkout::support::BundleInput {
        data_dir: data_dir.to_path_buf(),
        settings_path: config.to_path_buf(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    match checkout::support::write_bundle(&input, &out) {
        Ok(names) => {
            println!("{}", out.display());
            eprintln!("kasa support-bundle: {}", names.join(", "));
            0
        }
        Err(e) => {
            eprintln!("kasa support-bundle: {e}");
            1
        }
    }
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8640))
}

fn has_display() -> bool {
    if cfg!(target_os = "linux") {
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    } else {
        true
    }
}

/// How the demo devices behave: `KASA_DEMO_STEP_MS` shortens the terminal's
/// status timeline (tests use a few milliseconds); `KASA_DEMO_SCRIPT` lists
/// the demo terminal's next outcomes (`decline:51,partial,approve`; the
/// names of `kasa emulate terminal --outcome`); `KASA_DEMO_FISCAL_FAULTS`
/// the demo register's faults as JSON (`{"paper_out_at_line":1,
/// "paper_reload_ms":3000}`: paper runs out in the next receipt and is loaded
/// again 3 s later).
pub fn demo_options() -> checkout::setup::DemoOptions {
    let mut opts = checkout::setup::DemoOptions::default();
    if let Some(ms) = std::env::var("KASA_DEMO_STEP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.step = Duration::from_millis(ms);
    }
    if let Ok(script) = std::env::var("KASA_DEMO_SCRIPT") {
        for name in script.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name.parse() {
                Ok(outcome) => opts.script.push(outcome),
                Err(e) => eprintln!("KASA_DEMO_SCRIPT: {e}"),
            }
        }
    }
    if let Ok(json) = std::env::var("KASA_DEMO_FISCAL_FAULTS") {
        match serde_json::from_str(&json) {
            Ok(faults) => opts.fiscal_faults = faults,
            Err(e) => eprintln!("KASA_DEMO_FISCAL_FAULTS: {e}"),
        }
    }
    opts
}

/// The built UI: `--ui-dir`, else `../share/kasa/ui` beside the binary (an
/// installed package), else `ui` beside it (the Windows installer), else the
/// source tree's `ui/dist`.
fn ui_dir(given: Option<PathBuf>) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let installed = beside
        .iter()
        .flat_map(|d| [d.join("../share/kasa/ui"), d.join("ui")]);
    let source = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/dist"));
    installed
        .chain([source])
        .find(|d| d.join("index.html").is_file())
}

async fn serve(
    data_dir: PathBuf,
    config: PathBuf,
    addr: SocketAddr,
    ui: Option<PathBuf>,
    allow_hosts: Vec<String>,
) -> anyhow::Result<i32> {
    let settings = checkout::settings::Settings::load(&config)?;
    let running = checkout::setup::start(&data_dir, &settings, demo_options()).await?;
    running.checkout.set_settings_path(&config);
    println!(
        "Kasa in {} mode; journal {}; settings {}",
        running.checkout.info().mode,
        checkout::setup::journal_path(&data_dir).display(),
        config.display()
    );
    let opts = checkout::server::ServeOptions {
        allowed_hosts: settings
            .access
            .allowed_hosts
            .iter()
            .cloned()
            .chain(allow_hosts)
            .collect(),
        ..checkout::server::ServeOptions::default()
    };
    checkout::server::serve(
        std::sync::Arc::clone(&running.checkout),
        addr,
        ui_dir(ui),
        opts,
    )
    .await?;
    Ok(0)
}

fn block_on<F>(fut: F) -> i32
where
    F: std::future::Future<Output = anyhow::Result<i32>>,
{
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kasa: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(fut) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kasa: {e:#}");
            1
        }
    }
}
