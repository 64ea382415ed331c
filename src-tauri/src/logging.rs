//! Where Kasa's logs go: short lines on stderr (`KASA_LOG`, default `warn`)
//! and, for the app itself (`kasa`, `kasa serve`, backups), structured JSON
//! lines to a file rotated daily in `logs/` of the data directory
//! (`KASA_LOG_FILE`, default `info`; `debug` adds the device frames for an
//! installer), the last 14 days kept.
//!
//! Every line goes through [`checkout::redact::scrub`] before it is
//! written: a full card number is masked and a password's value blanked,
//! whichever crate logged it.

use std::io::Write;
use std::path::Path;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How many daily log files are kept.
pub const KEEP_FILES: usize = 14;

/// A writer that holds one event's bytes and writes them scrubbed when
/// dropped (the formatter writes each event through a writer of its own).
pub struct ScrubWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for ScrubWriter<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = checkout::redact::scrub(&String::from_utf8_lossy(&self.buf));
        let _ = self.inner.write_all(text.as_bytes());
        let _ = self.inner.flush();
    }
}

/// [`MakeWriter`] of [`ScrubWriter`]s over another one.
#[derive(Debug, Clone)]
pub struct Scrubbed<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

fn filter(var: &str, default: &str) -> EnvFilter {
    EnvFilter::try_from_env(var).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Start logging: stderr always, and the daily file in `data_dir/logs`
/// when `data_dir` is given. A log directory that cannot be made is said on
/// stderr and skipped: Kasa runs without its file log rather than not at all.
pub fn init(data_dir: Option<&Path>) {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(Scrubbed(std::io::stderr))
        .with_target(false)
        .with_filter(filter("KASA_LOG", "warn"));
    let file = data_dir.and_then(|dir| {
        let logs = checkout::support::log_dir(dir);
        let appender = std::fs::create_dir_all(&logs)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                tracing_appender::rolling::Builder::new()
                    .rotation(tracing_appender::rolling::Rotation::DAILY)
                    .filename_prefix("kasa")
                    .filename_suffix("log")
                    .max_log_files(KEEP_FILES)
                    .build(&logs)
                    .map_err(|e| e.to_string())
            });
        match appender {
            Ok(a) => Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(Scrubbed(a))
                    .with_filter(filter("KASA_LOG_FILE", "info")),
            ),
            Err(e) => {
                eprintln!("kasa: no log file in {}: {e}", logs.display());
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn what_is_logged_is_scrubbed_whatever_the_field() {
        let sink = Sink::default();
        let out = sink.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(Scrubbed(move || sink.clone()))
                .with_filter(EnvFilter::new("debug")),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(frame = r#"{"pan":"4111 1111 1111 1111"}"#, "received");
            tracing::info!(rrn = "123456789012", card = "411111******1111", "approved");
            tracing::warn!("settings FiscalSettings {{ password: \"7391\" }} and 4111111111111111");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            checkout::redact::find_pans(text.as_bytes()).is_empty(),
            "{text}"
        );
        assert!(!text.contains("7391"), "{text}");
        assert!(text.contains("123456789012") && text.contains("411111******1111"));
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
}
