//! The installer's test buttons: the fiscal register's status, a
//! non-fiscal test receipt, the terminal's handshake and identity, and its
//! link to the bank. Against the running devices (held as an operation
//! holds them, so no sale runs meanwhile), or against a candidate
//! configuration not saved yet (its own short-lived drivers).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::settings::Settings;
use crate::{Checkout, Error, Result};

/// Which test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceTestKind {
    /// The register's status bytes and identity.
    FiscalStatus,
    /// A non-fiscal document with a few lines (paper, printer, code page).
    FiscalTestReceipt,
    /// The terminal's handshake (PrivatBank `PingDevice`).
    TerminalPing,
    /// What the terminal says it is.
    TerminalIdentify,
    /// The terminal's link to the bank (PrivatBank `CheckConnection`).
    HostCheck,
}

/// A test to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DeviceTestRequest {
    pub key: String,
    pub kind: DeviceTestKind,
    /// A candidate configuration (the settings screen's, not saved yet);
    /// none: the devices Kasa runs with.
    #[serde(default)]
    #[ts(type = "Record<string, unknown> | null")]
    pub settings: Option<Value>,
}

/// What a test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeviceTestResult {
    pub kind: DeviceTestKind,
    pub ok: bool,
    /// The device's error code when it failed (`fiscal.paper_out`,
    /// `terminal.transport.timeout`, `not_configured`).
    pub code: Option<String>,
    /// What the device told: `model`, `serial`, `version`, `flags`...
    pub facts: BTreeMap<String, String>,
}

fn failed(kind: DeviceTestKind, code: String) -> DeviceTestResult {
    DeviceTestResult {
        kind,
        ok: false,
        code: Some(code),
        facts: BTreeMap::new(),
    }
}

fn passed(kind: DeviceTestKind, facts: BTreeMap<String, String>) -> DeviceTestResult {
    DeviceTestResult {
        kind,
        ok: true,
        code: None,
        facts,
    }
}

/// Run a test for the installer's screen.
pub async fn run(c: &Checkout, req: &DeviceTestRequest) -> Result<DeviceTestResult> {
    match &req.settings {
        Some(candidate) => {
            let current = match c.settings_path() {
                Some(p) => Settings::load(p)?,
                None => Settings::default(),
            };
            let s = super::settings_edit::read_candidate(candidate, &current).map_err(|e| {
                Error::InvalidSettings(serde_json::to_string(&e).unwrap_or_default())
            })?;
            run_on_settings(&s, req.kind).await
        }
        None => {
            let _held = c.engine.hold_devices().await;
            let d = c.engine.devices();
            Ok(run_on(Arc::clone(&d.fiscal), Arc::clone(&d.terminal), req.kind).await)
        }
    }
}

/// Run a test against the devices `s` configures (a device it leaves out
/// fails with `not_configured`).
pub async fn run_on_settings(s: &Settings, kind: DeviceTestKind) -> Result<DeviceTestResult> {
    let fiscal_kind = matches!(
        kind,
        DeviceTestKind::FiscalStatus | DeviceTestKind::FiscalTestReceipt
    );
    if fiscal_kind {
        let Some(f) = &s.fiscal else {
            return Ok(failed(kind, "not_configured".into()));
        };
        let driver = match fiscal::DatecsDriver::connect(&f.driver_config()?).await {
            Ok(d) => d,
            Err(e) => return Ok(failed(kind, format!("fiscal.{}", e.code()))),
        };
        return Ok(fiscal_test(&driver, kind).await);
    }
    let Some(t) = &s.terminal else {
        return Ok(failed(kind, "not_configured".into()));
    };
    let terminal = match terminal::connect(t).await {
        Ok(t) => t,
        Err(e) => return Ok(failed(kind, format!("terminal.{}", e.code()))),
    };
    Ok(terminal_test(terminal.as_ref(), kind).await)
}

async fn run_on(
    fiscal: Arc<dyn fiscal::FiscalRegister>,
    terminal: Arc<dyn terminal::CardTerminal>,
    kind: DeviceTestKind,
) -> DeviceTestResult {
    match kind {
        DeviceTestKind::FiscalStatus | DeviceTestKind::FiscalTestReceipt => {
            fiscal_test(fiscal.as_ref(), kind).await
        }
        _ => terminal_test(terminal.as_ref(), kind).await,
    }
}

async fn fiscal_test(r: &dyn fiscal::FiscalRegister, kind: DeviceTestKind) -> DeviceTestResult {
    let code = |e: fiscal::Error| format!("fiscal.{}", e.code());
    let mut facts = BTreeMap::new();
    if kind == DeviceTestKind::FiscalTestReceipt {
        let lines = vec![
            "KASA".to_string(),
            "ТЕСТ ДРУКУ / PRINT TEST".to_string(),
            "АБВГҐДЕЄЖЗИІЇЙ абвгґдеєжзиіїй".to_string(),
        ];
        return match r.print_non_fiscal(&lines).await {
            Ok(()) => passed(kind, facts),
            Err(e) => failed(kind, code(e)),
        };
    }
    let status = match r.status().await {
        Ok(s) => s,
        Err(e) => return failed(kind, code(e)),
    };
    if let Ok(info) = r.info().await {
        facts.insert("model".into(), info.model);
        facts.insert("serial".into(), info.serial);
        facts.insert("firmware".into(), info.firmware);
        facts.insert("dialect".into(), info.dialect);
    }
    facts.insert("flags".into(), status.flags.join(","));
    let blocking = [
        (status.paper_out, "paper_out"),
        (status.cover_open, "cover_open"),
        (status.printer_fault, "printer_fault"),
        (status.fiscal_memory_full, "fiscal_memory_full"),
        (status.fiscal_memory_error, "fiscal_memory_error"),
        (status.shift_over_24h, "shift_over_24h"),
    ];
    match blocking.iter().find(|(set, _)| *set) {
        Some((_, name)) => DeviceTestResult {
            code: Some(format!("fiscal.{name}")),
            ok: false,
            kind,
            facts,
        },
        None => passed(kind, facts),
    }
}

async fn terminal_test(t: &dyn terminal::CardTerminal, kind: DeviceTestKind) -> DeviceTestResult {
    let code = |e: terminal::Error| format!("terminal.{}", e.code());
    let mut facts = BTreeMap::new();
    let result = match kind {
        DeviceTestKind::TerminalPing => t.open().await,
        DeviceTestKind::HostCheck => t.check_connection(0).await,
        _ => t.info().await.map(|info| {
            facts.insert("protocol".into(), info.protocol);
            facts.insert("vendor".into(), info.vendor);
            facts.insert("model".into(), info.model);
            facts.insert("version".into(), info.version);
            facts.insert("endpoint".into(), info.endpoint);
        }),
    };
    match result {
        Ok(()) => passed(kind, facts),
        Err(e) => failed(kind, code(e)),
    }
}
