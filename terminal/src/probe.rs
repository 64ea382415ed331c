//! Which card-terminal protocol answers on a line, for the installer's port
//! scanner and `kasa doctor`: each protocol's harmless request (nothing that
//! moves money, opens a batch or prints), with a short time-out each.
//!
//! - PrivatBank ECR JSON: the `PingDevice` handshake (with its leading 0x00,
//!   which also ends whatever noise an earlier probe left in the terminal's
//!   buffer), then `identify` and `GetTerminalInfo` for the identity;
//! - B-POS1 over Kasa's line bridge: a read of the `TerminalID` property
//!   (an empty line first, so that noise before it is a line of its own);
//! - Ingenico ECR web service: `last trans` (a lookup), as a line on a
//!   serial port or an HTTP GET on TCP; the reply must echo the request id.
//!
//! [`privatbank_card_data`] asks a PrivatBank terminal whether its bank
//! profile sends the slip and card data to the till (the "ECR prints the
//! slip" setting): without it a purchase reply carries only `responseCode`
//! and the fiscal receipt would lack the RRN and card number.
//!
//! Results are codes and data, never sentences: the checkout says the words.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::config::Protocol;
use crate::privatbank::frame::Message;
use crate::transport::{BoxStream, Endpoint};
use crate::Result;

/// How long each protocol's request waits for its answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(600);

/// What a terminal says about itself in answer to a probe (empty when the
/// protocol does not tell).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub vendor: String,
    pub model: String,
    /// Software version (PrivatBank: version, merchant and serial number).
    pub version: String,
    pub terminal_id: String,
}

/// A protocol that answered, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeAnswer {
    pub protocol: Protocol,
    pub identity: Identity,
}

/// Whether a PrivatBank terminal sends the slip and the card data to the till.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardDataCheck {
    /// The reply carried the slip (or a transaction with its RRN).
    Sent,
    /// The terminal answered with `responseCode` only: the bank profile has
    /// "ECR prints the slip" off, and receipts would have no card data.
    Missing,
    /// Nothing told either way (no answer, an error reply).
    Unknown,
}

/// The protocols tried on a serial line, in order.
pub const SERIAL_PROTOCOLS: [Protocol; 3] = [
    Protocol::Privatbank,
    Protocol::Bpos1Bridge,
    Protocol::IngenicoWeb,
];

/// Try each protocol of [`SERIAL_PROTOCOLS`] on an open line; the first that
/// answers, or `None`.
pub async fn probe_stream(stream: &mut BoxStream, timeout: Duration) -> Option<ProbeAnswer> {
    for protocol in SERIAL_PROTOCOLS {
        drain(stream).await;
        let found = match protocol {
            Protocol::Privatbank => privatbank(stream, timeout).await,
            Protocol::Bpos1Bridge => bpos1(stream, timeout).await,
            _ => ingenico_line(stream, timeout).await,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Open the serial port `path` at `baud` and probe it.
pub async fn probe_serial(path: &str, baud: u32, timeout: Duration) -> Result<Option<ProbeAnswer>> {
    let mut stream = crate::transport::open_serial(path, baud)?;
    Ok(probe_stream(&mut stream, timeout).await)
}

/// Probe a TCP `host:port`: each protocol on a connection of its own (a
/// PrivatBank terminal takes one connection at a time).
pub async fn probe_tcp(address: &str, timeout: Duration) -> Result<Option<ProbeAnswer>> {
    let endpoint = Endpoint::tcp(address);
    let mut reached = false;
    let mut last_err = None;
    for protocol in SERIAL_PROTOCOLS {
        let mut stream = match crate::transport::open(&endpoint, timeout).await {
            Ok(s) => s,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        reached = true;
        let found = match protocol {
            Protocol::Privatbank => privatbank(&mut stream, timeout).await,
            Protocol::Bpos1Bridge => bpos1(&mut stream, timeout).await,
            _ => ingenico_http(&mut stream, address, timeout).await,
        };
        let _ = stream.shutdown().await;
        if found.is_some() {
            return Ok(found);
        }
    }
    match (reached, last_err) {
        (false, Some(e)) => Err(e),
        _ => Ok(None),
    }
}

/// Ask a PrivatBank terminal on `endpoint` whether it sends card data to the
/// till (see [`privatbank_card_data_on`]).
pub async fn privatbank_card_data(endpoint: &Endpoint, timeout: Duration) -> Result<CardDataCheck> {
    let mut stream = crate::transport::open(endpoint, timeout).await?;
    let check = privatbank_card_data_on(&mut stream, timeout).await;
    let _ = stream.shutdown().await;
    Ok(check)
}

/// Whether the PrivatBank terminal on this line sends card data to the
/// till: the X report (`Audit`, all merchants; read-only, nothing printed
/// but in the reply) must come with its slip text. A profile that keeps the
/// slip on the terminal answers with `responseCode` alone.
pub async fn privatbank_card_data_on(stream: &mut BoxStream, timeout: Duration) -> CardDataCheck {
    drain(stream).await;
    if privatbank(stream, timeout).await.is_none() {
        return CardDataCheck::Unknown;
    }
    match exchange_privatbank(stream, &Message::audit(0), "Audit", timeout).await {
        Some(m) if !m.is_error() => {
            if m.text("receipt").trim().is_empty() {
                CardDataCheck::Missing
            } else {
                CardDataCheck::Sent
            }
        }
        _ => CardDataCheck::Unknown,
    }
}

/// Drop whatever an earlier probe's late answer left on the line.
async fn drain(stream: &mut BoxStream) {
    let mut buf = [0u8; 512];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(30), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
    }
}

/// Read until `done` finds its answer in what arrived, or `timeout` passes.
async fn read_until<T>(
    stream: &mut BoxStream,
    timeout: Duration,
    mut done: impl FnMut(&[u8]) -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = match tokio::time::timeout_at(end, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return None,
        };
        got.extend_from_slice(&buf[..n]);
        if got.len() > 64 * 1024 {
            return None;
        }
        if let Some(found) = done(&got) {
            return Some(found);
        }
    }
}

/// Send a PrivatBank request and wait for the reply naming `method` (or, for
/// a service message, its `msgType`).
async fn exchange_privatbank(
    stream: &mut BoxStream,
    msg: &Message,
    answer: &str,
    timeout: Duration,
) -> Option<Message> {
    let handshake = msg.method == "PingDevice";
    stream.write_all(&msg.encode(handshake)).await.ok()?;
    stream.flush().await.ok()?;
    read_until(stream, timeout, |got| {
        got.split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .filter_map(|f| Message::decode(f).ok())
            .find(|m| m.method == answer || m.msg_type().map(str::trim) == Some(answer.trim()))
    })
    .await
}

async fn privatbank(stream: &mut BoxStream, timeout: Duration) -> Option<ProbeAnswer> {
    let ping = exchange_privatbank(stream, &Message::ping(), "PingDevice", timeout).await?;
    if ping.is_error() && ping.response_code().is_none() {
        return None;
    }
    let mut identity = Identity::default();
    if let Some(m) =
        exchange_privatbank(stream, &Message::service("identify"), "identify", timeout).await
    {
        identity.vendor = m.text("vendor");
        identity.model = m.text("model");
    }
    if let Some(m) = exchange_privatbank(
        stream,
        &Message::bare("GetTerminalInfo"),
        "GetTerminalInfo",
        timeout,
    )
    .await
    {
        identity.version = m.text("version");
    }
    Some(ProbeAnswer {
        protocol: Protocol::Privatbank,
        identity,
    })
}

async fn bpos1(stream: &mut BoxStream, timeout: Duration) -> Option<ProbeAnswer> {
    let request = "\n{\"op\":\"get\",\"name\":\"TerminalID\"}\n";
    stream.write_all(request.as_bytes()).await.ok()?;
    stream.flush().await.ok()?;
    let value = read_until(stream, timeout, |got| {
        got.split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
            .find(|v| v.get("ok").and_then(serde_json::Value::as_bool) == Some(true))
            .map(|v| v.get("value").cloned().unwrap_or(serde_json::Value::Null))
    })
    .await?;
    Some(ProbeAnswer {
        protocol: Protocol::Bpos1Bridge,
        identity: Identity {
            terminal_id: value.as_str().unwrap_or_default().trim().to_string(),
            ..Identity::default()
        },
    })
}

/// The request id a probe sends, so that its echo proves the protocol.
const PROBE_ID: &str = "kasaprobe";

fn ingenico_request() -> String {
    crate::ingenico::frame::request_line(
        PROBE_ID,
        "kasa",
        &crate::ingenico::frame::Command::LastTrans,
    )
    .unwrap_or_default()
}

fn ingenico_reply(got: &[u8]) -> Option<ProbeAnswer> {
    let mut splitter = crate::ingenico::frame::JsonSplitter::default();
    splitter
        .push(got)
        .iter()
        .filter_map(|o| crate::ingenico::frame::Reply::decode(o).ok())
        .find(|r| r.request_id == PROBE_ID)
        .map(|r| ProbeAnswer {
            protocol: Protocol::IngenicoWeb,
            identity: Identity {
                terminal_id: r.info("terminalId"),
                ..Identity::default()
            },
        })
}

async fn ingenico_line(stream: &mut BoxStream, timeout: Duration) -> Option<ProbeAnswer> {
    let line = format!("{}\r\n", ingenico_request());
    stream.write_all(line.as_bytes()).await.ok()?;
    stream.flush().await.ok()?;
    read_until(stream, timeout, ingenico_reply).await
}

async fn ingenico_http(
    stream: &mut BoxStream,
    address: &str,
    timeout: Duration,
) -> Option<ProbeAnswer> {
    let target = ingenico_request().replace(' ', "%20").replace('|', "%7C");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    stream.flush().await.ok()?;
    read_until(stream, timeout, |got| {
        let text = String::from_utf8_lossy(got);
        let body = text.split_once("\r\n\r\n")?.1;
        ingenico_reply(body.as_bytes())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privatbank::{EmulatorConfig, PrivatbankEmulator};

    #[cfg(unix)]
    #[tokio::test]
    async fn a_privatbank_emulator_on_a_pty_is_named_with_its_identity() {
        let (master, slave, path) = crate::transport::pty_pair().unwrap();
        let emu = PrivatbankEmulator::new(EmulatorConfig::default());
        tokio::spawn(emu.serve(master));
        let found = probe_serial(&path, 115_200, PROBE_TIMEOUT)
            .await
            .unwrap()
            .expect("the emulator answers the handshake");
        drop(slave);
        assert_eq!(found.protocol, Protocol::Privatbank);
        assert_eq!(found.identity.vendor, "Kasa");
        assert!(found.identity.version.starts_with("TE7E"), "{found:?}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_silent_line_is_nothing() {
        let (_master, _slave, path) = crate::transport::pty_pair().unwrap();
        let found = probe_serial(&path, 115_200, Duration::from_millis(150))
            .await
            .unwrap();
        assert_eq!(found, None, "a line that answers nothing is no terminal");
    }

    #[tokio::test]
    async fn card_data_is_missing_when_the_profile_keeps_the_slip() {
        for (slip, want) in [(true, CardDataCheck::Sent), (false, CardDataCheck::Missing)] {
            let emu = PrivatbankEmulator::new(EmulatorConfig {
                ecr_slip: slip,
                ..EmulatorConfig::default()
            });
            let addr = emu.spawn_tcp("127.0.0.1:0").await.unwrap();
            let check = privatbank_card_data(&Endpoint::tcp(addr.to_string()), PROBE_TIMEOUT)
                .await
                .unwrap();
            assert_eq!(check, want, "ECR slip {slip}");
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_ingenico_terminal_on_rs232_answers_last_trans() {
        let (master, _slave, path) = crate::transport::pty_pair().unwrap();
        let emu = crate::ingenico::IngenicoEmulator::new(Duration::from_millis(1));
        tokio::spawn(emu.serve_serial(master));
        let found = probe_serial(&path, 115_200, PROBE_TIMEOUT).await.unwrap();
        assert_eq!(
            found.map(|f| f.protocol),
            Some(Protocol::IngenicoWeb),
            "the RS232 variant echoes the probe's request id"
        );
    }

    #[tokio::test]
    async fn each_protocol_is_named_on_tcp() {
        let ingenico = crate::ingenico::IngenicoEmulator::new(Duration::from_millis(1));
        let web = ingenico.spawn_http("127.0.0.1:0").await.unwrap();
        let found = probe_tcp(&web.to_string(), PROBE_TIMEOUT).await.unwrap();
        assert_eq!(found.map(|f| f.protocol), Some(Protocol::IngenicoWeb));

        let api = std::sync::Arc::new(std::sync::Mutex::new(crate::bpos1::Bpos1Emulator::new(
            Default::default(),
        )));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bridge = listener.local_addr().unwrap();
        tokio::spawn(crate::bpos1::bridge::serve_tcp(api, listener));
        let found = probe_tcp(&bridge.to_string(), PROBE_TIMEOUT).await.unwrap();
        assert_eq!(found.map(|f| f.protocol), Some(Protocol::Bpos1Bridge));

        let privat = PrivatbankEmulator::new(EmulatorConfig::default());
        let addr = privat.spawn_tcp("127.0.0.1:0").await.unwrap();
        let found = probe_tcp(&addr.to_string(), PROBE_TIMEOUT).await.unwrap();
        assert_eq!(found.map(|f| f.protocol), Some(Protocol::Privatbank));
    }
}
