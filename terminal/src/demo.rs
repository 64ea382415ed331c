//! Demo / training mode: the PrivatBank JSON emulator runs in-process on a
//! real loopback TCP socket, and the real driver talks to it, so the demo and
//! the checkout's tests go through the actual protocol.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::emulator::{Bank, Outcome};
use crate::privatbank::{
    ConnectScheme, EmulatorConfig, PrivatbankEmulator, PrivatbankTerminal, PrivatbankTimeouts,
};
use crate::transport::Endpoint;
use crate::{CardTerminal, Result};

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Pause between terminal status steps (~300 ms looks real; 0–20 ms for tests).
    pub step_delay: Duration,
    /// How often the driver polls the status.
    pub poll: Duration,
    /// Merchants configured on the emulated terminal.
    pub merchants: u8,
    /// The emulator moves to its next status step only once the driver's
    /// poll has read the current one: every step is seen, whatever the load.
    pub lockstep: bool,
    /// How long the driver waits without a status change before it gives
    /// the operation up (the driver's `operation_ms`).
    pub operation_timeout: Duration,
    /// Where the emulator keeps its books (every transaction, the open
    /// batches), so they outlive a restart as a real terminal's do; none:
    /// in memory only.
    pub state: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            step_delay: Duration::from_millis(300),
            poll: Duration::from_millis(100),
            merchants: 3,
            lockstep: false,
            operation_timeout: Duration::from_millis(PrivatbankTimeouts::default().operation_ms),
            state: None,
        }
    }
}

impl DemoOptions {
    /// Fast settings for tests (step delay `ms`, polling every 5 ms).
    pub fn fast(ms: u64) -> Self {
        Self {
            step_delay: Duration::from_millis(ms),
            poll: Duration::from_millis(5),
            ..Self::default()
        }
    }
}

/// A running demo terminal: the emulator and the driver connected to it.
#[derive(Debug, Clone)]
pub struct DemoTerminal {
    terminal: Arc<PrivatbankTerminal>,
    emulator: PrivatbankEmulator,
    address: std::net::SocketAddr,
}

/// Start the demo terminal with the default (realistic) timeline.
pub async fn start() -> Result<DemoTerminal> {
    start_with(DemoOptions::default()).await
}

/// Start the demo terminal: the emulator on `127.0.0.1:0`, the driver on it.
pub async fn start_with(opts: DemoOptions) -> Result<DemoTerminal> {
    let config = EmulatorConfig {
        step_delay: opts.step_delay,
        merchants: opts.merchants,
        lockstep: opts.lockstep,
        ..EmulatorConfig::default()
    };
    let emulator = match &opts.state {
        Some(path) => {
            PrivatbankEmulator::from_bank(config, Bank::new(opts.merchants).with_store(path)?)
        }
        None => PrivatbankEmulator::new(config),
    };
    let address = emulator.spawn_tcp("127.0.0.1:0").await?;
    let timeouts = PrivatbankTimeouts {
        connect_ms: 2_000,
        after_handshake_ms: 0,
        poll_ms: u64::try_from(opts.poll.as_millis()).unwrap_or(100).max(1),
        operation_ms: u64::try_from(opts.operation_timeout.as_millis()).unwrap_or(u64::MAX),
        ..PrivatbankTimeouts::default()
    };
    let terminal = Arc::new(PrivatbankTerminal::new(
        Endpoint::tcp(address.to_string()),
        timeouts,
        ConnectScheme::Reference,
    ));
    Ok(DemoTerminal {
        terminal,
        emulator,
        address,
    })
}

impl DemoTerminal {
    /// The driver, as the checkout uses it.
    pub fn terminal(&self) -> Arc<dyn CardTerminal> {
        Arc::clone(&self.terminal) as Arc<dyn CardTerminal>
    }

    /// The concrete driver.
    pub fn driver(&self) -> Arc<PrivatbankTerminal> {
        Arc::clone(&self.terminal)
    }

    /// The emulator (books, scripting).
    pub fn emulator(&self) -> &PrivatbankEmulator {
        &self.emulator
    }

    /// Queue the outcome of the next financial operation.
    pub fn script_next(&self, outcome: Outcome) {
        self.emulator.script_next(outcome);
    }

    /// The emulator's loopback address.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }
}
