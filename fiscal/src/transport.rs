//! Thin transports, shared with the terminal crate through `devio`: a serial
//! port (8N1, no flow control) or a TCP socket as one byte stream. A pty pair
//! or an in-memory duplex stands in for either in tests.

use std::time::Duration;

pub use devio::{BoxStream, ByteStream, Endpoint};

use crate::{Error, Result};

/// The baud rates a Datecs register may use, most likely first.
pub const BAUD_RATES: [u32; 5] = [115_200, 57_600, 38_400, 19_200, 9_600];

/// How long a TCP connect to a register may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a serial port 8N1 without flow control.
pub fn open_serial(path: &str, baud: u32) -> Result<tokio_serial::SerialStream> {
    Ok(devio::open_serial(path, baud)?)
}

/// Opens the endpoint as a byte stream.
pub async fn open(endpoint: &Endpoint) -> Result<BoxStream> {
    devio::open(endpoint, CONNECT_TIMEOUT).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            Error::Timeout(devio::millis(CONNECT_TIMEOUT))
        } else {
            Error::Transport(e)
        }
    })
}

/// A connected pty pair: `(master, slave, slave_path)`. The slave side is
/// raw (no line discipline), so every byte passes as is.
#[cfg(unix)]
pub fn pty_pair() -> Result<(
    tokio_serial::SerialStream,
    tokio_serial::SerialStream,
    String,
)> {
    Ok(devio::pty_pair()?)
}
