//! Terminal settings (protocol, transport, time-outs) and [`connect`], which
//! turns them into a driver behind the [`CardTerminal`] trait.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::privatbank::{ConnectScheme, PrivatbankTerminal};
use crate::transport::Endpoint;
use crate::{CardTerminal, Result};

pub use crate::privatbank::PrivatbankTimeouts as Timeouts;

/// Which protocol the terminal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// PrivatBank ECR JSON (TCP port 2000 or serial 115200 8N1).
    #[default]
    Privatbank,
    /// Ingenico ECR web service (HTTP) or its RS232 variant.
    IngenicoWeb,
    /// Ingenico B-POS1 through ECRCommX (Windows only).
    Bpos1,
    /// The B-POS1 behaviour emulator, in-process (training and tests).
    Bpos1Emulator,
    /// The B-POS1 API over Kasa's line bridge (`kasa emulate terminal
    /// --protocol bpos1 --tcp ...`, or a 32-bit helper hosting ECRCommX).
    Bpos1Bridge,
    /// The protocol-less in-process simulator.
    Sim,
}

impl std::str::FromStr for Protocol {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "privatbank" | "privat" | "privatbank-json" => Protocol::Privatbank,
            "ingenico-web" | "ingenico" | "ingenico-rs232" => Protocol::IngenicoWeb,
            "bpos1" | "b-pos1" => Protocol::Bpos1,
            "bpos1-emulator" => Protocol::Bpos1Emulator,
            "bpos1-bridge" => Protocol::Bpos1Bridge,
            "sim" => Protocol::Sim,
            other => {
                return Err(crate::Error::InvalidRequest(format!(
                    "unknown protocol {other:?}"
                )))
            }
        })
    }
}

/// Everything needed to reach a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TerminalConfig {
    pub protocol: Protocol,
    /// TCP `host:port` (PrivatBank: the terminal's port 2000; Ingenico: the web
    /// service) or a serial port.
    pub endpoint: Endpoint,
    pub timeouts: Timeouts,
    /// PrivatBank: how to (re)connect.
    pub connect_scheme: ConnectScheme,
    /// Ingenico: the clientId sent with every request (at most 20 characters).
    pub client_id: String,
    /// Ingenico: `host:port` for `ocan` (cancel) when it differs from the
    /// web service's (Techcombank); none = the same address.
    pub cancel_address: Option<String>,
    /// B-POS1: leave Confirm to the caller (`true`) or confirm at once (`false`).
    pub explicit_confirm: bool,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Privatbank,
            endpoint: Endpoint::tcp("127.0.0.1:2000"),
            timeouts: Timeouts::default(),
            connect_scheme: ConnectScheme::Reference,
            client_id: "kasa".into(),
            cancel_address: None,
            explicit_confirm: false,
        }
    }
}

impl TerminalConfig {
    /// A PrivatBank JSON terminal at `endpoint` with default time-outs.
    pub fn privatbank(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            ..Self::default()
        }
    }

    /// An Ingenico web service terminal at `endpoint`.
    pub fn ingenico(endpoint: Endpoint) -> Self {
        Self {
            protocol: Protocol::IngenicoWeb,
            endpoint,
            ..Self::default()
        }
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Build the driver the settings describe. No I/O happens here: the link opens
/// (with the protocol's handshake) on the first request, and reopens after a
/// drop; use [`CardTerminal::info`] to test it.
pub async fn connect(cfg: &TerminalConfig) -> Result<Arc<dyn CardTerminal>> {
    let t = &cfg.timeouts;
    Ok(match cfg.protocol {
        Protocol::Privatbank => Arc::new(PrivatbankTerminal::new(
            cfg.endpoint.clone(),
            t.clone(),
            cfg.connect_scheme,
        )),
        Protocol::IngenicoWeb => {
            let drv = crate::ingenico::IngenicoTerminal::new(
                cfg.endpoint.clone(),
                &cfg.client_id,
                ms(t.operation_ms),
                ms(t.request_ms),
                ms(t.connect_ms),
            )?;
            match &cfg.cancel_address {
                Some(addr) => Arc::new(drv.with_cancel_address(addr)),
                None => Arc::new(drv),
            }
        }
        Protocol::Bpos1 => crate::bpos1::connect_native(cfg)?,
        Protocol::Bpos1Emulator => {
            let emu = crate::bpos1::Bpos1Emulator::new(Default::default());
            Arc::new(crate::bpos1::Bpos1Terminal::new(
                emu,
                cfg.explicit_confirm,
                t.clone(),
            ))
        }
        Protocol::Bpos1Bridge => {
            let crate::transport::Endpoint::Tcp { address } = &cfg.endpoint else {
                return Err(crate::Error::InvalidRequest(
                    "bpos1-bridge needs a TCP address".into(),
                ));
            };
            let api = crate::bpos1::bridge::Bpos1Bridge::new(address, ms(t.service_ms));
            Arc::new(crate::bpos1::Bpos1Terminal::new(
                api,
                cfg.explicit_confirm,
                t.clone(),
            ))
        }
        Protocol::Sim => Arc::new(crate::sim::SimTerminal::new(ms(300))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_json() {
        let cfg = TerminalConfig {
            protocol: Protocol::IngenicoWeb,
            endpoint: Endpoint::Serial {
                path: "/dev/ttyACM0".into(),
                baud: 115_200,
            },
            ..TerminalConfig::default()
        };
        let text = serde_json::to_string(&cfg).unwrap();
        assert!(text.contains("\"protocol\":\"ingenico-web\""), "{text}");
        let back: TerminalConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cfg);
        let minimal: TerminalConfig =
            serde_json::from_str(r#"{"endpoint":{"kind":"tcp","address":"10.0.0.5:2000"}}"#)
                .unwrap();
        assert_eq!(minimal.protocol, Protocol::Privatbank);
        assert_eq!(minimal.timeouts.after_handshake_ms, 1000);
    }
}
