//! Thin transports: a TCP socket or a serial port, both handed to a session as
//! one byte stream, so that a pty pair, a loopback socket or an in-memory duplex
//! can stand in for the device.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Error, Result};

/// Any duplex byte stream a session can own.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> ByteStream for T {}

/// A boxed byte stream.
pub type BoxStream = Box<dyn ByteStream>;

/// Where a terminal is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Endpoint {
    /// `host:port`; the terminal is the server (PrivatBank's default port is 2000).
    Tcp { address: String },
    /// A serial port (`/dev/ttyACM0`, `COM3`), 8N1.
    Serial {
        path: String,
        #[serde(default = "default_baud")]
        baud: u32,
    },
}

fn default_baud() -> u32 {
    115_200
}

impl Endpoint {
    /// A TCP endpoint.
    pub fn tcp(address: impl Into<String>) -> Self {
        Endpoint::Tcp {
            address: address.into(),
        }
    }

    /// A serial endpoint at 115200 baud.
    pub fn serial(path: impl Into<String>) -> Self {
        Endpoint::Serial {
            path: path.into(),
            baud: default_baud(),
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

/// Open the endpoint within `timeout`.
pub async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<BoxStream> {
    match endpoint {
        Endpoint::Tcp { address } => {
            let connect = tokio::net::TcpStream::connect(address.as_str());
            let stream = tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| Error::Timeout(millis(timeout)))??;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream))
        }
        Endpoint::Serial { path, baud } => open_serial(path, *baud),
    }
}

/// Open a serial port at `baud`, 8 data bits, no parity, 1 stop bit.
pub fn open_serial(path: &str, baud: u32) -> Result<BoxStream> {
    use tokio_serial::SerialPortBuilderExt;
    let port = tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|e| Error::Transport(std::io::Error::other(format!("{path}: {e}"))))?;
    Ok(Box::new(port))
}

/// A duration in whole milliseconds, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A pseudo-terminal pair for emulators: the master side stays with the
/// emulator, the slave path is what a driver opens as its serial port.
#[cfg(unix)]
pub fn pty_pair() -> Result<(
    tokio_serial::SerialStream,
    tokio_serial::SerialStream,
    String,
)> {
    let (master, slave) = tokio_serial::SerialStream::pair()
        .map_err(|e| Error::Transport(std::io::Error::other(format!("pty: {e}"))))?;
    let path = tokio_serial::SerialPort::name(&slave)
        .ok_or_else(|| Error::Transport(std::io::Error::other("pty has no name")))?;
    Ok((master, slave, path))
}
