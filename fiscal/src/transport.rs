//! Thin transports that give the link a byte stream: a serial port (8N1, no
//! flow control, via `tokio-serial`) or a TCP socket. A pty pair or an
//! in-memory duplex stands in for either in tests.

use serde::{Deserialize, Serialize};

use crate::link::BoxStream;
use crate::{Error, Result};

/// Where a register is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Endpoint {
    /// A serial port (or pty) path and its baud rate.
    Serial { path: String, baud: u32 },
    /// A `host:port` TCP address.
    Tcp { addr: String },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Serial { path, baud } => write!(f, "{path}@{baud}"),
            Endpoint::Tcp { addr } => write!(f, "tcp://{addr}"),
        }
    }
}

/// The baud rates a Datecs register may use, most likely first.
pub const BAUD_RATES: [u32; 5] = [115_200, 57_600, 38_400, 19_200, 9_600];

/// Opens a serial port 8N1 without flow control.
pub fn open_serial(path: &str, baud: u32) -> Result<tokio_serial::SerialStream> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|e| Error::Transport(std::io::Error::other(format!("{path}: {e}"))))
}

/// Opens the endpoint as a byte stream.
pub async fn open(endpoint: &Endpoint) -> Result<BoxStream> {
    match endpoint {
        Endpoint::Serial { path, baud } => Ok(Box::new(open_serial(path, *baud)?)),
        Endpoint::Tcp { addr } => {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(Box::new(s))
        }
    }
}

/// A connected pty pair: `(master, slave, slave_path)`. The slave side is
/// raw (no line discipline), so every byte passes as is.
pub fn pty_pair() -> Result<(
    tokio_serial::SerialStream,
    tokio_serial::SerialStream,
    String,
)> {
    use tokio_serial::SerialPort;
    let (master, slave) = tokio_serial::SerialStream::pair()
        .map_err(|e| Error::Transport(std::io::Error::other(format!("pty: {e}"))))?;
    let path = slave.name().unwrap_or_default();
    Ok((master, slave, path))
}
