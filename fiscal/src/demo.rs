//! The demo register: the Datecs emulator on one end of a pty pair inside the
//! process, and the real driver on the other end, so the demo mode and the
//! checkout's tests go through the real protocol.
//!
//! Each [`DemoRegister`] has its own pty, state file and tape file (in the
//! directory it was started with), so many can run in parallel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dialect::Dialect;
use crate::driver::{DatecsDriver, DriverOptions};
use crate::emulator::{serve, EmulatorConfig, EmulatorHandle, Faults};
use crate::{FiscalRegister, Result};

/// The emulator and the driver connected over a pty.
#[derive(Debug)]
pub struct DemoRegister {
    emulator: EmulatorHandle,
    driver: Arc<DatecsDriver>,
    task: tokio::task::JoinHandle<()>,
    tape_file: PathBuf,
    state_file: PathBuf,
    pty_path: String,
}

/// Starts an FP-T260 emulator and its driver; counters are kept in
/// `state_dir/fiscal-emulator.json`, the tape in `state_dir/fiscal-tape.txt`.
pub async fn start(state_dir: &Path) -> Result<DemoRegister> {
    start_with(state_dir, Dialect::ua_fp_t260(), Faults::default()).await
}

/// Like [`start`], with a chosen dialect and initial faults.
pub async fn start_with(
    state_dir: &Path,
    dialect: Dialect,
    faults: Faults,
) -> Result<DemoRegister> {
    let mut config = EmulatorConfig::new(dialect);
    config.faults = faults;
    start_configured(state_dir, config, DriverOptions::default()).await
}

/// Like [`start`], with the emulator's whole configuration (its state and
/// tape files are set here) and the driver's options (operator, password).
pub async fn start_configured(
    state_dir: &Path,
    config: EmulatorConfig,
    options: DriverOptions,
) -> Result<DemoRegister> {
    start_files(state_dir, config, options, true).await
}

/// Like [`start_configured`], but the emulator keeps everything in memory:
/// no state or tape file (benchmarks measure the checkout, not the
/// emulator's own bookkeeping).
pub async fn start_in_memory(
    state_dir: &Path,
    config: EmulatorConfig,
    options: DriverOptions,
) -> Result<DemoRegister> {
    start_files(state_dir, config, options, false).await
}

async fn start_files(
    state_dir: &Path,
    mut config: EmulatorConfig,
    options: DriverOptions,
    persist: bool,
) -> Result<DemoRegister> {
    std::fs::create_dir_all(state_dir)?;
    let state_file = state_dir.join("fiscal-emulator.json");
    let tape_file = state_dir.join("fiscal-tape.txt");
    let dialect = config.dialect.clone();
    if persist {
        config.state_file = Some(state_file.clone());
        config.tape_file = Some(tape_file.clone());
    }
    let emulator = EmulatorHandle::new(config)?;
    // A pty where there are ptys (so `kasa fiscal` can open it too), else an
    // in-memory pipe (Windows).
    #[cfg(unix)]
    let (master, slave, pty_path) = crate::transport::pty_pair()?;
    #[cfg(not(unix))]
    let (master, slave, pty_path) = {
        let (a, b) = tokio::io::duplex(4096);
        (a, b, String::new())
    };
    let h = emulator.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = serve(h, master).await {
            eprintln!("fiscal demo emulator stopped: {e}");
        }
    });
    let driver = Arc::new(DatecsDriver::new(Box::new(slave), dialect, options));
    Ok(DemoRegister {
        emulator,
        driver,
        task,
        tape_file,
        state_file,
        pty_path,
    })
}

impl DemoRegister {
    /// The register as the checkout uses it.
    pub fn register(&self) -> Arc<dyn FiscalRegister> {
        let d: Arc<DatecsDriver> = Arc::clone(&self.driver);
        d
    }

    /// The driver with its full command set.
    pub fn driver(&self) -> Arc<DatecsDriver> {
        Arc::clone(&self.driver)
    }

    /// The emulator: faults, counters, paper.
    pub fn emulator(&self) -> &EmulatorHandle {
        &self.emulator
    }

    /// Documents printed since this demo register started, as text.
    pub fn tape(&self) -> Vec<String> {
        self.emulator.tape()
    }

    /// Every document in the tape file, oldest first (survives restarts).
    pub fn tape_history(&self) -> Vec<String> {
        let sep = "-".repeat(self.emulator.line_width());
        std::fs::read_to_string(&self.tape_file)
            .map(|text| {
                text.split(&format!("\n{sep}\n"))
                    .map(|d| d.trim_matches('\n').to_string())
                    .filter(|d| !d.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tape file (every document ever printed in this state directory).
    pub fn tape_file(&self) -> &Path {
        &self.tape_file
    }

    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    /// The pty slave path the driver talks through.
    pub fn pty_path(&self) -> &str {
        &self.pty_path
    }

    /// False once the emulator task has stopped.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

// No Drop: the emulator task ends by itself when the last handle to the
// driver goes (the pty's slave side closes), so a register taken with
// `register()` keeps working after the `DemoRegister` itself is dropped.
