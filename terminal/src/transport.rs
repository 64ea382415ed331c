//! Thin transports, shared with the fiscal crate through `devio`: a TCP socket
//! or a serial port handed to a session as one byte stream, so that a pty
//! pair, a loopback socket or an in-memory duplex can stand in for the device.
//! Only the mapping of I/O failures onto this crate's errors lives here.

use std::time::Duration;

pub use devio::{millis, printable, BoxStream, ByteStream, Endpoint};

use crate::{Error, Result};

/// Open the endpoint within `timeout`.
pub async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<BoxStream> {
    devio::open(endpoint, timeout).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            Error::Timeout(millis(timeout))
        } else {
            Error::Transport(e)
        }
    })
}

/// Open a serial port at `baud`, 8N1.
pub fn open_serial(path: &str, baud: u32) -> Result<BoxStream> {
    Ok(Box::new(devio::open_serial(path, baud)?))
}

/// A pseudo-terminal pair for emulators: the master side stays with the
/// emulator, the slave path is what a driver opens as its serial port.
#[cfg(unix)]
pub fn pty_pair() -> Result<(
    tokio_serial::SerialStream,
    tokio_serial::SerialStream,
    String,
)> {
    Ok(devio::pty_pair()?)
}
