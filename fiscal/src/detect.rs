//! Finds a Datecs register on a port: each of 115200, 57600, 38400, 19200
//! and 9600 baud, both framings, by the diagnostic command (0x5A); reports
//! model, firmware, serial number, framing and baud.

use std::time::Duration;

use crate::dialect::Dialect;
use crate::driver::parse_diagnostic;
use crate::frame::Framing;
use crate::link::{BoxStream, Link, LinkConfig};
use crate::transport::{self, BAUD_RATES};
use crate::{DeviceInfo, Error, Result};

/// Probe timing: short, since a wrong guess just stays silent.
pub fn probe_config() -> LinkConfig {
    LinkConfig {
        reply_timeout: Duration::from_millis(250),
        max_attempts: 2,
        max_busy: Duration::from_secs(5),
    }
}

/// The dialect table that goes with a framing.
pub fn dialect_for(framing: Framing) -> Dialect {
    match framing {
        Framing::Old => Dialect::ua_fp_t260(),
        Framing::X => Dialect::x_family(),
    }
}

/// Tries both framings on one open stream. Returns what answered, and the
/// stream back for reuse.
pub async fn probe_stream(
    stream: BoxStream,
    config: &LinkConfig,
) -> (Option<DeviceInfo>, BoxStream) {
    let mut stream = stream;
    for framing in [Framing::Old, Framing::X] {
        let mut link = Link::new(stream, framing, config.clone());
        let answer = link.exchange(0x5A, b"1").await;
        stream = link.into_inner();
        if let Ok(frame) = answer {
            let d = dialect_for(framing);
            if let Ok(fields) = d.reply_fields(&frame.data, 0x5A) {
                let info = parse_diagnostic(&d, &fields);
                if !info.model.is_empty() {
                    return (Some(info), stream);
                }
            }
        }
    }
    (None, stream)
}

/// Probes a serial port at every baud rate in `bauds` (all of
/// [`BAUD_RATES`] when empty).
pub async fn detect_serial(path: &str, bauds: &[u32]) -> Result<DeviceInfo> {
    let bauds = if bauds.is_empty() {
        &BAUD_RATES[..]
    } else {
        bauds
    };
    let mut last_err = None;
    for &baud in bauds {
        let stream = match transport::open_serial(path, baud) {
            Ok(s) => Box::new(s) as BoxStream,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let (found, stream) = probe_stream(stream, &probe_config()).await;
        drop(stream);
        if let Some(mut info) = found {
            info.baud = Some(baud);
            return Ok(info);
        }
    }
    Err(match last_err {
        Some(e) => Error::NotFound(format!("{path}: {e}")),
        None => Error::NotFound(format!(
            "{path}: no answer at {bauds:?} baud, old or X framing"
        )),
    })
}

/// Probes a TCP address with both framings.
pub async fn detect_tcp(addr: &str) -> Result<DeviceInfo> {
    let stream = transport::open(&transport::Endpoint::tcp(addr)).await?;
    match probe_stream(stream, &probe_config()).await {
        (Some(info), _) => Ok(info),
        (None, _) => Err(Error::NotFound(format!(
            "{addr}: no answer, old or X framing"
        ))),
    }
}
