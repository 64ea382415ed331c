//! Device I/O shared by the card-terminal and fiscal-register crates: where a
//! device is reached ([`Endpoint`], as installers write it in settings) and a
//! byte stream to it ([`BoxStream`]) over a serial port, a TCP socket or a
//! pseudo-terminal. Transports stay thin: no protocol knowledge lives here,
//! so a pty pair, a loopback socket or an in-memory duplex can stand in for a
//! device in tests.

use std::io;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

/// Any duplex byte stream a device session can own.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + std::fmt::Debug> ByteStream for T {}

/// A boxed byte stream.
pub type BoxStream = Box<dyn ByteStream>;

/// The serial line speed when settings do not name one.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Where a device is reached.
///
/// In settings: `{"kind":"tcp","address":"192.168.1.20:2000"}` or
/// `{"kind":"serial","path":"/dev/ttyUSB0","baud":115200}`. The older
/// spelling `addr` of the fiscal settings is still read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Endpoint {
    /// `host:port`; the device is the server.
    Tcp {
        #[serde(alias = "addr")]
        address: String,
    },
    /// A serial port (`/dev/ttyUSB0`, `COM3`, a pty), 8N1, no flow control.
    Serial {
        path: String,
        #[serde(default = "default_baud")]
        baud: u32,
    },
}

fn default_baud() -> u32 {
    DEFAULT_BAUD
}

impl Endpoint {
    /// A TCP endpoint.
    pub fn tcp(address: impl Into<String>) -> Self {
        Endpoint::Tcp {
            address: address.into(),
        }
    }

    /// A serial endpoint at [`DEFAULT_BAUD`].
    pub fn serial(path: impl Into<String>) -> Self {
        Endpoint::Serial {
            path: path.into(),
            baud: DEFAULT_BAUD,
        }
    }

    /// A serial endpoint at `baud`.
    pub fn serial_at(path: impl Into<String>, baud: u32) -> Self {
        Endpoint::Serial {
            path: path.into(),
            baud,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { address } => write!(f, "tcp://{address}"),
            Endpoint::Serial { path, baud } => write!(f, "serial://{path}@{baud}"),
        }
    }
}

/// Open the endpoint. A TCP connect that takes longer than `timeout` fails
/// with [`io::ErrorKind::TimedOut`]; a serial port opens at once or not at all.
pub async fn open(endpoint: &Endpoint, timeout: Duration) -> io::Result<BoxStream> {
    match endpoint {
        Endpoint::Tcp { address } => {
            let connect = tokio::net::TcpStream::connect(address.as_str());
            let stream = tokio::time::timeout(timeout, connect).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{address}: no connection within {} ms", timeout.as_millis()),
                )
            })??;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream))
        }
        Endpoint::Serial { path, baud } => Ok(Box::new(open_serial(path, *baud)?)),
    }
}

/// Open a serial port at `baud`, 8 data bits, no parity, 1 stop bit, no flow control.
pub fn open_serial(path: &str, baud: u32) -> io::Result<tokio_serial::SerialStream> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|e| io::Error::other(format!("{path}: {e}")))
}

/// A connected pseudo-terminal pair for emulators: `(master, slave,
/// slave_path)`. The emulator keeps the master; a driver opens the slave
/// path as its serial port. Both sides are raw: every byte passes as is.
#[cfg(unix)]
pub fn pty_pair() -> io::Result<(
    tokio_serial::SerialStream,
    tokio_serial::SerialStream,
    String,
)> {
    use tokio_serial::SerialPort;
    let (master, slave) =
        tokio_serial::SerialStream::pair().map_err(|e| io::Error::other(format!("pty: {e}")))?;
    let path = slave
        .name()
        .ok_or_else(|| io::Error::other("pty has no name"))?;
    Ok((master, slave, path))
}

/// A serial port the system knows, with its USB identity when it is a USB
/// adapter (and the system tells).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPort {
    pub path: String,
    pub usb: Option<UsbIds>,
}

/// A USB serial adapter's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbIds {
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
}

/// The serial ports the system lists (none when it cannot list them).
pub fn system_ports() -> Vec<SystemPort> {
    let ports = tokio_serial::available_ports().unwrap_or_default();
    ports
        .into_iter()
        .map(|p| SystemPort {
            path: p.port_name,
            usb: match p.port_type {
                tokio_serial::SerialPortType::UsbPort(u) => Some(UsbIds {
                    vendor_id: u.vid,
                    product_id: u.pid,
                    serial_number: u.serial_number,
                    manufacturer: u.manufacturer,
                    product: u.product,
                }),
                _ => None,
            },
        })
        .collect()
}

/// A duration in whole milliseconds, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_a_tcp_address_are_read() {
        let a: Endpoint = serde_json::from_str(r#"{"kind":"tcp","address":"h:1"}"#).unwrap();
        let b: Endpoint = serde_json::from_str(r#"{"kind":"tcp","addr":"h:1"}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"kind":"tcp","address":"h:1"}"#
        );
        let s: Endpoint = serde_json::from_str(r#"{"kind":"serial","path":"/dev/x"}"#).unwrap();
        assert_eq!(s, Endpoint::serial("/dev/x"));
        assert!(
            serde_json::from_str::<Endpoint>(r#"{"kind":"tcp","adress":"h:1"}"#).is_err(),
            "a misspelt field is an error, not a silent default"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_and_an_open_one_a_stream() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let ok = open(&Endpoint::tcp(addr.to_string()), Duration::from_secs(2)).await;
        assert!(ok.is_ok());
        drop(l);
        let err = open(&Endpoint::tcp(addr.to_string()), Duration::from_secs(2)).await;
        assert!(err.is_err(), "nobody listens any more");
        assert!(open(
            &Endpoint::serial("/dev/kasa-no-such-port"),
            Duration::from_secs(1)
        )
        .await
        .is_err());
    }
}

/// Bytes of a device frame as one log-friendly line: valid UTF-8 text as it
/// is, control bytes and invalid bytes as `\xNN`. (Logs then pass through a
/// scrubber that masks card numbers: digits must stay digits for it.)
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Bytes as hex pairs joined by `:` (`01:2B:20:4A`), the form a device log
/// gives `kasa fiscal decode`; the colons keep digits of adjacent bytes
/// from reading as one long number.
pub fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod log_form_tests {
    use super::*;

    #[test]
    fn frames_print_as_text_and_hex() {
        assert_eq!(printable(b"{\"a\":1}\0\x01"), "{\"a\":1}\\u{0}\\u{1}");
        assert_eq!(printable(&[0x41, 0xFF, 0x42]), "A\\xFFB");
        assert_eq!(printable("Товари".as_bytes()), "Товари");
        assert_eq!(hex_colon(&[0x01, 0x2B, 0x30]), "01:2B:30");
    }
}
