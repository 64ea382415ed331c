//! The port scanner: the serial ports the system lists (with their USB
//! vendor and product where it tells), the extra paths the caller and the
//! settings name, and TCP addresses; on each, the fiscal register's
//! diagnostic request first (every baud, both framings), then each card
//! terminal protocol's identify. Ports are probed at the same time, each on
//! its own; what answered is reported as codes (`x`, `privatbank`), never
//! as sentences.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What to scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct ScanPortsQuery {
    /// Serial paths to probe besides the system's (a pty, a port the system
    /// does not list).
    pub paths: Vec<String>,
    /// TCP `host:port` addresses to probe.
    pub tcp: Vec<String>,
    /// Leave out the ports the system lists: probe only `paths`, `tcp` and
    /// the settings' extra ports.
    pub only_given: bool,
    /// Fiscal baud rates to try (empty: all the register supports).
    pub bauds: Vec<u32>,
}

/// A USB serial adapter's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UsbInfo {
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
}

/// What answered on a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Found {
    /// A Datecs fiscal register.
    Fiscal {
        /// The dialect table that reads it: `ua-fp-t260` or `x`.
        dialect: String,
        /// `old` or `x`.
        framing: String,
        baud: Option<u32>,
        model: String,
        serial: String,
        firmware: String,
    },
    /// A card terminal.
    Terminal {
        /// As the settings name it: `privatbank`, `bpos1-bridge`, `ingenico-web`.
        protocol: String,
        baud: Option<u32>,
        vendor: String,
        model: String,
        version: String,
        terminal_id: String,
        /// PrivatBank: whether the bank profile sends the card data to the
        /// till (`sent`, `missing`, `unknown`).
        card_data: Option<String>,
    },
    /// Nothing answered.
    Nothing,
}

/// One port and what answered on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PortReport {
    /// The serial path, or `tcp://host:port`.
    pub path: String,
    pub usb: Option<UsbInfo>,
    pub found: Found,
    /// Why the port could not be probed: `port.busy` (another program holds
    /// it), `port.permission_denied`, `port.open_failed`,
    /// `tcp.unreachable`.
    pub error: Option<String>,
    /// The device the settings put on this port: `fiscal` or `terminal`.
    pub configured_as: Option<String>,
}

/// Every port scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ScanReport {
    pub ports: Vec<PortReport>,
}

/// The serial speed the terminal protocols are probed at (PrivatBank's and
/// Ingenico's; a pty takes any).
pub const TERMINAL_BAUD: u32 = 115_200;

/// Scan what `q` names, plus `extra` paths from the settings.
pub async fn scan(q: &ScanPortsQuery, extra: &[String]) -> ScanReport {
    let mut serial: Vec<(String, Option<UsbInfo>)> = Vec::new();
    if !q.only_given {
        for p in devio::system_ports() {
            serial.push((
                p.path,
                p.usb.map(|u| UsbInfo {
                    vendor_id: u.vendor_id,
                    product_id: u.product_id,
                    serial_number: u.serial_number,
                    manufacturer: u.manufacturer,
                    product: u.product,
                }),
            ));
        }
    }
    for p in q.paths.iter().chain(extra) {
        let p = p.trim();
        if !p.is_empty() && !serial.iter().any(|(s, _)| s == p) {
            serial.push((p.to_string(), None));
        }
    }
    let serial_jobs = serial
        .into_iter()
        .map(|(path, usb)| scan_serial(path, usb, q.bauds.clone()));
    let tcp_jobs = q.tcp.iter().map(|a| scan_tcp(a.trim().to_string()));
    let (mut ports, tcp) = futures::join!(
        futures::future::join_all(serial_jobs),
        futures::future::join_all(tcp_jobs)
    );
    ports.extend(tcp);
    ScanReport { ports }
}

/// Name the ports the settings put a device on (`configured_as`).
pub fn mark_configured(report: &mut ScanReport, settings: &crate::settings::Settings) {
    let path_of = |e: &devio::Endpoint| match e {
        devio::Endpoint::Serial { path, .. } => path.clone(),
        devio::Endpoint::Tcp { address } => format!("tcp://{address}"),
    };
    let fiscal = settings.fiscal.as_ref().map(|f| path_of(&f.endpoint));
    let terminal = settings.terminal.as_ref().map(|t| path_of(&t.endpoint));
    for p in &mut report.ports {
        if fiscal.as_deref() == Some(p.path.as_str()) {
            p.configured_as = Some("fiscal".into());
        } else if terminal.as_deref() == Some(p.path.as_str()) {
            p.configured_as = Some("terminal".into());
        }
    }
}

/// The code of a port that would not open.
fn open_error(e: &std::io::Error) -> &'static str {
    let text = e.to_string().to_ascii_lowercase();
    if e.kind() == std::io::ErrorKind::PermissionDenied || text.contains("permission denied") {
        "port.permission_denied"
    } else if text.contains("busy") || text.contains("locked") {
        "port.busy"
    } else {
        "port.open_failed"
    }
}

fn fiscal_found(info: fiscal::DeviceInfo) -> Found {
    let framing = if info.framing.is_empty() {
        "old".to_string()
    } else {
        info.framing.clone()
    };
    let dialect = if info.dialect.is_empty() {
        let f = if framing == "x" {
            fiscal::frame::Framing::X
        } else {
            fiscal::frame::Framing::Old
        };
        fiscal::detect::dialect_for(f).name.to_string()
    } else {
        info.dialect.clone()
    };
    Found::Fiscal {
        dialect,
        framing,
        baud: info.baud,
        model: info.model,
        serial: info.serial,
        firmware: info.firmware,
    }
}

fn terminal_found(
    a: terminal::probe::ProbeAnswer,
    baud: Option<u32>,
    card_data: Option<terminal::probe::CardDataCheck>,
) -> Found {
    Found::Terminal {
        protocol: protocol_code(a.protocol),
        baud,
        vendor: a.identity.vendor,
        model: a.identity.model,
        version: a.identity.version,
        terminal_id: a.identity.terminal_id,
        card_data: card_data.map(card_data_code),
    }
}

/// A terminal protocol as the settings name it.
pub fn protocol_code(p: terminal::Protocol) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A card-data check as a code.
pub fn card_data_code(c: terminal::probe::CardDataCheck) -> String {
    match c {
        terminal::probe::CardDataCheck::Sent => "sent",
        terminal::probe::CardDataCheck::Missing => "missing",
        terminal::probe::CardDataCheck::Unknown => "unknown",
    }
    .to_string()
}

async fn scan_serial(path: String, usb: Option<UsbInfo>, bauds: Vec<u32>) -> PortReport {
    let report = |found, error: Option<&str>| PortReport {
        path: path.clone(),
        usb: usb.clone(),
        found,
        error: error.map(str::to_string),
        configured_as: None,
    };
    // Can it be opened at all (held by another program, no permission)?
    match devio::open_serial(&path, TERMINAL_BAUD) {
        Ok(s) => drop(s),
        Err(e) => return report(Found::Nothing, Some(open_error(&e))),
    }
    if let Ok(info) = fiscal::detect::detect_serial(&path, &bauds).await {
        return report(fiscal_found(info), None);
    }
    let mut stream = match terminal::transport::open_serial(&path, TERMINAL_BAUD) {
        Ok(s) => s,
        Err(_) => return report(Found::Nothing, Some("port.open_failed")),
    };
    let timeout = terminal::probe::PROBE_TIMEOUT;
    match terminal::probe::probe_stream(&mut stream, timeout).await {
        Some(a) => {
            let card_data = if a.protocol == terminal::Protocol::Privatbank {
                Some(terminal::probe::privatbank_card_data_on(&mut stream, timeout).await)
            } else {
                None
            };
            report(terminal_found(a, Some(TERMINAL_BAUD), card_data), None)
        }
        None => report(Found::Nothing, None),
    }
}

async fn scan_tcp(address: String) -> PortReport {
    let path = format!("tcp://{address}");
    let report = |found, error: Option<&str>| PortReport {
        path: path.clone(),
        usb: None,
        found,
        error: error.map(str::to_string),
        configured_as: None,
    };
    let reach = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address.as_str()),
    )
    .await;
    match reach {
        Ok(Ok(s)) => drop(s),
        _ => return report(Found::Nothing, Some("tcp.unreachable")),
    }
    if let Ok(info) = fiscal::detect::detect_tcp(&address).await {
        return report(fiscal_found(info), None);
    }
    let timeout = terminal::probe::PROBE_TIMEOUT;
    if let Ok(Some(a)) = terminal::probe::probe_tcp(&address, timeout).await {
        let card_data = if a.protocol == terminal::Protocol::Privatbank {
            let endpoint = terminal::transport::Endpoint::tcp(&address);
            terminal::probe::privatbank_card_data(&endpoint, timeout)
                .await
                .ok()
        } else {
            None
        };
        return report(terminal_found(a, None, card_data), None);
    }
    report(Found::Nothing, None)
}
