//! Test rigs shared by Kasa's scenario tests, so that no test file builds
//! its own: [`Rig`] runs the engine in-process against the emulators behind
//! their real drivers (PrivatBank JSON on loopback TCP, the Datecs register
//! on a pty) on a fresh journal, and can "restart" it on the same journal;
//! [`http::Api`] drives `kasa serve` logged in as a training user;
//! [`process`] runs Kasa and the emulators as separate processes for the
//! crash and disconnect tests.

pub mod http;
pub mod process;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use checkout::api::{OperationView, SaleRequest, TenderRequest};
use checkout::clock::SystemClock;
use checkout::engine::{Devices, Engine, EngineConfig, NewRequest};
use checkout::journal::Journal;
use checkout::settings::ReceiptSettings;

/// A fresh idempotency key.
pub fn key() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "t-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The engine against both emulators, on a journal in a temporary directory.
#[derive(Debug)]
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub opts: RigOptions,
    pub terminal: terminal::demo::DemoTerminal,
    pub fiscal: fiscal::demo::DemoRegister,
    pub engine: Engine,
    /// With [`RigOptions::watch`]: what the watching devices saw.
    pub seen: Option<watch::Seen>,
}

/// How to build a rig.
#[derive(Debug, Clone)]
pub struct RigOptions {
    /// The terminal emulator's pause between status steps.
    pub step: Duration,
    pub faults: fiscal::emulator::Faults,
    pub dialect: fiscal::Dialect,
    /// The operator password the driver sends (the register's is `0000`).
    pub password: String,
    /// How long the terminal's driver waits for a status change.
    pub terminal_timeout: Duration,
    /// Wrap the drivers in devices that check the journal before each
    /// state-changing call ([`watch`]).
    pub watch: bool,
    /// The register emulator keeps its state and tape on disk (else in
    /// memory only: benchmarks).
    pub persist_register: bool,
    /// The engine's clock (default: the system's).
    pub clock: Option<Arc<checkout::clock::FixedClock>>,
    /// The merchants configured on the terminal.
    pub merchants: Vec<checkout::settings::MerchantSettings>,
    /// The shop's departments (each names a merchant).
    pub departments: Vec<checkout::settings::DepartmentSettings>,
}

impl Default for RigOptions {
    fn default() -> Self {
        Self {
            step: Duration::from_millis(1),
            faults: fiscal::emulator::Faults::default(),
            dialect: fiscal::Dialect::ua_fp_t260(),
            password: "0000".into(),
            terminal_timeout: Duration::from_secs(180),
            watch: false,
            persist_register: true,
            clock: None,
            merchants: Vec::new(),
            departments: Vec::new(),
        }
    }
}

impl Rig {
    /// A rig with fast emulators and no faults.
    pub async fn new() -> anyhow::Result<Rig> {
        Self::with(RigOptions::default()).await
    }

    /// A rig built as `opts` says.
    pub async fn with(opts: RigOptions) -> anyhow::Result<Rig> {
        let dir = tempfile::tempdir()?;
        let terminal = terminal::demo::start_with(terminal::demo::DemoOptions {
            operation_timeout: opts.terminal_timeout,
            ..terminal::demo::DemoOptions::fast(u64::try_from(opts.step.as_millis()).unwrap_or(1))
        })
        .await?;
        let mut config = fiscal::emulator::EmulatorConfig::new(opts.dialect.clone());
        config.faults = opts.faults.clone();
        let options = fiscal::DriverOptions {
            password: opts.password.clone(),
            ..fiscal::DriverOptions::default()
        };
        let fiscal = if opts.persist_register {
            fiscal::demo::start_configured(dir.path(), config, options).await?
        } else {
            fiscal::demo::start_in_memory(dir.path(), config, options).await?
        };
        let seen = opts.watch.then(watch::Seen::default);
        if let Some(clock) = &opts.clock {
            follow_clock(&fiscal, checkout::clock::Clock::now(clock.as_ref()));
        }
        let engine = engine(&dir, &terminal, &fiscal, seen.as_ref(), &opts)?;
        engine.start().await?;
        Ok(Rig {
            dir,
            opts,
            terminal,
            fiscal,
            engine,
            seen,
        })
    }

    /// A new engine on the same journal and devices, as after a restart;
    /// returns what its start-up recovery resolved.
    pub async fn restart(&mut self) -> anyhow::Result<Vec<OperationView>> {
        self.engine = engine(
            &self.dir,
            &self.terminal,
            &self.fiscal,
            self.seen.as_ref(),
            &self.opts,
        )?;
        Ok(self.engine.start().await?)
    }

    /// Move the engine's clock (the rig must have one) to `at`, and the
    /// register's clock with it, as a shop's clocks agree.
    pub fn set_time(&self, at: chrono::DateTime<chrono::Utc>) {
        if let Some(clock) = &self.opts.clock {
            clock.set(at);
        }
        follow_clock(&self.fiscal, at);
    }

    /// A card sale of `amount` (free amount).
    pub async fn card_sale(&self, amount: i64) -> checkout::Result<OperationView> {
        self.engine
            .submit(
                "test",
                NewRequest::Sale(SaleRequest {
                    key: key(),
                    items: Vec::new(),
                    amount: Some(checkout::money::Money(amount)),
                    payments: vec![TenderRequest::card(amount)],
                    merchant: None,
                }),
            )
            .await
    }

    /// A sale of `amount` with these payments.
    pub async fn sale(
        &self,
        amount: i64,
        payments: Vec<TenderRequest>,
    ) -> checkout::Result<OperationView> {
        self.engine
            .submit(
                "test",
                NewRequest::Sale(SaleRequest {
                    key: key(),
                    items: Vec::new(),
                    amount: Some(checkout::money::Money(amount)),
                    payments,
                    merchant: None,
                }),
            )
            .await
    }

    /// Serve the engine over HTTP on a free loopback port, as `kasa serve`
    /// does; returns the base URL (`http://127.0.0.1:PORT`).
    pub async fn serve(&self) -> anyhow::Result<String> {
        self.serve_with(checkout::server::ServeOptions::default())
            .await
    }

    /// [`Rig::serve`] with these guards (short time-outs for the tests of
    /// slow clients).
    pub async fn serve_with(&self, opts: checkout::server::ServeOptions) -> anyhow::Result<String> {
        let checkout = Arc::new(checkout::Checkout::new(self.engine.clone(), "demo"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let header_timeout = opts.header_timeout;
        let app = checkout::server::router_with(checkout, None, opts);
        tokio::spawn(checkout::server::serve_with(listener, app, header_timeout));
        Ok(format!("http://{addr}"))
    }

    /// [`Rig::serve`] with the installer's commands reading and writing the
    /// settings file `settings` (as `kasa serve --config` does).
    pub async fn serve_installer(&self, settings: &std::path::Path) -> anyhow::Result<String> {
        let checkout = Arc::new(checkout::Checkout::new(self.engine.clone(), "demo"));
        checkout.set_settings_path(settings);
        checkout.set_downloads_dir(&self.dir.path().join("downloads"));
        let opts = checkout::server::ServeOptions::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let header_timeout = opts.header_timeout;
        let app = checkout::server::router_with(checkout, None, opts);
        tokio::spawn(checkout::server::serve_with(listener, app, header_timeout));
        Ok(format!("http://{addr}"))
    }

    /// Operation `id` once it is no longer running (the engine resolves it
    /// in the background, e.g. when the register is back); fails loudly
    /// after 20 s.
    pub async fn resolved(&self, id: i64) -> anyhow::Result<OperationView> {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.engine.operation(id)?;
            if v.state != checkout::api::OperationState::Running {
                return Ok(v);
            }
            anyhow::ensure!(std::time::Instant::now() < end, "not resolved: {v:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The register's printed documents since the rig started.
    pub fn tape(&self) -> Vec<String> {
        self.fiscal.tape()
    }

    /// The printed documents that are fiscal receipts carrying `needle`
    /// (an RRN): not cancelled ones, not non-fiscal copies.
    pub fn receipts_with(&self, needle: &str) -> usize {
        self.tape()
            .iter()
            .filter(|d| d.contains(needle) && is_fiscal(d))
            .count()
    }
}

/// A printed document that counts as a fiscal receipt: not cancelled, not a
/// non-fiscal copy (a customer's or a merchant's).
pub fn is_fiscal(doc: &str) -> bool {
    !doc.contains("АНУЛЬОВАНО") && !doc.contains("КОПІЯ")
}

fn engine(
    dir: &tempfile::TempDir,
    terminal: &terminal::demo::DemoTerminal,
    fiscal: &fiscal::demo::DemoRegister,
    seen: Option<&watch::Seen>,
    opts: &RigOptions,
) -> anyhow::Result<Engine> {
    let path = dir.path().join("journal.sqlite");
    let journal = Journal::open(&path)?;
    let devices = match seen {
        None => Devices {
            terminal: terminal.terminal(),
            fiscal: fiscal.register(),
        },
        Some(seen) => Devices {
            terminal: Arc::new(watch::WatchedTerminal {
                inner: terminal.terminal(),
                journal: path.clone(),
                seen: seen.clone(),
            }),
            fiscal: Arc::new(watch::WatchedRegister {
                inner: fiscal.register(),
                journal: path,
                seen: seen.clone(),
            }),
        },
    };
    Ok(Engine::new(
        journal,
        devices,
        match &opts.clock {
            Some(c) => Arc::clone(c) as Arc<dyn checkout::clock::Clock>,
            None => Arc::new(SystemClock),
        },
        EngineConfig {
            receipt: ReceiptSettings::default(),
            retry_every: Duration::from_millis(200),
            merchants: opts.merchants.clone(),
            departments: opts.departments.clone(),
            ..EngineConfig::default()
        },
    ))
}

/// Set the register emulator's clock to the shop-local time of `at`.
fn follow_clock(fiscal: &fiscal::demo::DemoRegister, at: chrono::DateTime<chrono::Utc>) {
    let emulator = fiscal.emulator();
    let target = at
        .with_timezone(&checkout::clock::DEFAULT_TIME_ZONE)
        .naive_local();
    let host = emulator.counters().clock_offset_s;
    let offset = (target - fiscal::emulator::register_local_now()).num_seconds() - host;
    emulator.update_faults(|f| f.clock_offset_s = offset);
}

/// A cash receipt of one line, as printed on the register by someone else
/// than Kasa (a reconciliation must name it).
pub fn stray_receipt(amount: i64) -> fiscal::SaleReceipt {
    fiscal::SaleReceipt {
        lines: vec![fiscal::ReceiptLine {
            name: "Поза касою".into(),
            tax_group: 'А',
            price: amount,
            quantity_milli: 1000,
            discount: 0,
        }],
        payments: vec![fiscal::Payment::Cash { amount }],
    }
}
