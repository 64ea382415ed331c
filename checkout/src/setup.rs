//! Assembling a running checkout: where its files live, and which devices it
//! drives. With nothing configured Kasa runs in demo mode, driving emulated
//! devices through the same code path as real ones.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fiscal::FiscalRegister;
use terminal::CardTerminal;

use crate::clock::SystemClock;
use crate::engine::{Devices, Engine, EngineConfig};
use crate::journal::Journal;
use crate::settings::Settings;
use crate::{Checkout, Result};

/// A running checkout plus whatever must stay alive for its devices to work
/// (emulator tasks, open ports).
#[derive(Debug)]
pub struct Running {
    pub checkout: Arc<Checkout>,
    /// Dropped together with the checkout.
    pub guards: Vec<Guard>,
}

/// Something kept alive for the devices' sake.
pub struct Guard(#[allow(dead_code)] Box<dyn Any + Send + Sync>);

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard")
    }
}

/// Where Kasa keeps its journal and state when not told otherwise:
/// `$KASA_DATA_DIR`, else `$XDG_DATA_HOME/kasa`, else `~/.local/share/kasa`.
pub fn default_data_dir() -> PathBuf {
    user_path("KASA_DATA_DIR", "XDG_DATA_HOME", ".local/share", "kasa")
}

/// `$own` if set; else `$xdg/rest`; on Windows `%LOCALAPPDATA%/rest`;
/// else `~/home_rel/rest`; else `./rest`.
pub(crate) fn user_path(own: &str, xdg: &str, home_rel: &str, rest: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(own) {
        return PathBuf::from(p);
    }
    if let Some(d) = std::env::var_os(xdg) {
        return PathBuf::from(d).join(rest);
    }
    if cfg!(windows) {
        if let Some(d) = std::env::var_os("LOCALAPPDATA") {
            return PathBuf::from(d).join(rest);
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(home_rel).join(rest);
    }
    PathBuf::from(rest)
}

/// The demo terminal's books inside a data directory (every transaction it
/// made, its open batches), kept like a real terminal's across restarts.
pub const DEMO_TERMINAL_BOOKS: &str = "demo-terminal-books.json";

/// The journal file inside a data directory.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("journal.sqlite")
}

/// How the demo devices behave.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Delay between the terminal's status steps (the "insert card" timeline).
    pub step: Duration,
    /// Outcomes of the demo terminal's next operations, in order (training
    /// and browser tests: a decline, a partial approval...).
    pub script: Vec<terminal::emulator::Outcome>,
    /// Faults of the demo fiscal register from its start (training and
    /// browser tests: paper running out in the middle of a receipt...).
    pub fiscal_faults: fiscal::emulator::Faults,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            step: Duration::from_millis(400),
            script: Vec::new(),
            fiscal_faults: fiscal::emulator::Faults::default(),
        }
    }
}

/// Start a checkout in demo mode on `data_dir`: see [`start`] with nothing configured.
pub async fn start_demo(data_dir: &Path, opts: DemoOptions) -> Result<Running> {
    start(data_dir, &Settings::default(), opts).await
}

/// Start a checkout on `data_dir` with the configured devices. A device that
/// is not configured is emulated: the PrivatBank JSON terminal emulator on a
/// loopback TCP socket (its books in [`DEMO_TERMINAL_BOOKS`]), the Datecs FP-T260 emulator on a pty pair (its
/// counters and virtual tape kept in `data_dir`), each behind its real driver.
/// Configured devices are reached when first used, so Kasa starts (and the
/// pre-flight gate says what is wrong) while a device is off or unplugged.
pub async fn start(data_dir: &Path, settings: &Settings, opts: DemoOptions) -> Result<Running> {
    let journal = Journal::open(&journal_path(data_dir))?;
    // Settings changed since the last start (kasa.json edited) are audited.
    journal.audit_settings(&settings.audited(), &chrono::Utc::now().to_rfc3339())?;
    let mut guards = Vec::new();
    let terminal: Arc<dyn CardTerminal> = match &settings.terminal {
        Some(cfg) => terminal::connect(cfg).await?,
        None => {
            let poll = (opts.step / 3).clamp(Duration::from_millis(5), Duration::from_millis(100));
            let demo = terminal::demo::start_with(terminal::demo::DemoOptions {
                step_delay: opts.step,
                poll,
                state: Some(data_dir.join(DEMO_TERMINAL_BOOKS)),
                ..terminal::demo::DemoOptions::default()
            })
            .await?;
            for outcome in &opts.script {
                demo.script_next(outcome.clone());
            }
            let t = demo.terminal();
            guards.push(Guard(Box::new(demo)));
            t
        }
    };
    let (fiscal, tape): (Arc<dyn FiscalRegister>, _) = match &settings.fiscal {
        Some(cfg) => (
            Arc::new(fiscal::ReconnectingRegister::new(cfg.driver_config()?)),
            None,
        ),
        None => {
            let demo = fiscal::demo::start_with(
                data_dir,
                fiscal::dialect::Dialect::ua_fp_t260(),
                opts.fiscal_faults.clone(),
            )
            .await?;
            (demo.register(), Some(demo))
        }
    };
    let mode = if settings.is_production() {
        "production"
    } else {
        "demo"
    };
    let config = EngineConfig {
        receipt: settings.receipt.clone(),
        time_zone: settings.shop.time_zone()?,
        merchants: settings.merchants.clone(),
        departments: settings.departments.clone(),
        backup: Some(crate::engine::DayCloseBackup {
            journal: journal_path(data_dir),
            settings: settings.backup.clone(),
        }),
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        journal,
        Devices { terminal, fiscal },
        Arc::new(SystemClock),
        config,
    );
    // Resolve what an earlier run left unfinished before the first sale.
    if let Err(e) = engine.start().await {
        tracing::warn!("recovery at start-up failed: {e}");
    }
    let mut checkout = Checkout::with_access(engine, mode, settings.access.clone())
        .with_quick_items(settings.shop.quick_items.clone())
        .with_shop(&settings.shop);
    if let Some(tape) = tape {
        checkout = checkout.with_virtual_tape(tape);
    }
    Ok(Running {
        checkout: Arc::new(checkout),
        guards,
    })
}
