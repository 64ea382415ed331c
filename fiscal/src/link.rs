//! The Datecs conversation rules on one byte stream.
//!
//! - Each new command gets a new SEQ (0x20..=0x7F, wrapping).
//! - A retry after a timeout or a bad reply reuses the same SEQ and frame: a
//!   register that already ran the command replays its last answer instead of
//!   running it twice.
//! - NAK means "resend the same frame"; SYN means "still working, keep
//!   waiting" (bounded by `max_busy`).
//! - Retries are bounded (`max_attempts`); each failure is a typed error.
//! - A reply with our SEQ but another command is the register replaying an
//!   older answer (its last SEQ happened to equal ours): the link moves to a
//!   fresh SEQ and sends again.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::codec::Framed;

use crate::codec::{DatecsCodec, Packet};
use crate::frame::{Frame, Framing};
use crate::{Error, Result};

/// Timing and retry settings. The defaults are the reference's: 500 ms to
/// the first answer byte, several attempts, SYN keeps the wait alive.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// How long to wait for a reply, NAK or SYN after sending (or after the
    /// last SYN).
    pub reply_timeout: Duration,
    /// How many times one frame is written before giving up.
    pub max_attempts: u32,
    /// How long a stream of SYNs may keep one command waiting.
    pub max_busy: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            reply_timeout: Duration::from_millis(500),
            max_attempts: 6,
            max_busy: Duration::from_secs(120),
        }
    }
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub commands: u64,
    pub writes: u64,
    pub timeouts: u64,
    pub naks: u64,
    pub syns: u64,
    pub corrupt: u64,
    pub stale: u64,
}

pub use devio::{BoxStream, ByteStream};

/// One conversation with one register.
#[derive(Debug)]
pub struct Link<S> {
    framed: Framed<S, DatecsCodec>,
    framing: Framing,
    seq: u8,
    pub config: LinkConfig,
    pub stats: LinkStats,
    /// Values never written to the log (the operator password): a field of
    /// a request equal to one shows as `***`, and such a request's hex is
    /// left out.
    secrets: Vec<Vec<u8>>,
}

/// A request's data for the log: cp1251 text with every field equal to a
/// secret shown as `***`; `true` when one was hidden.
fn redacted(data: &[u8], secrets: &[Vec<u8>]) -> (String, bool) {
    let mut hidden = false;
    let fields: Vec<String> = data
        .split(|b| matches!(b, b',' | b'\t' | b';'))
        .map(|f| {
            if !f.is_empty() && secrets.iter().any(|s| s.as_slice() == f) {
                hidden = true;
                "***".to_string()
            } else {
                crate::text::from_cp1251(f)
            }
        })
        .collect();
    if !hidden {
        return (
            devio::printable(crate::text::from_cp1251(data).as_bytes()),
            false,
        );
    }
    // Put the separators back where they were.
    let mut out = String::new();
    let mut fields = fields.into_iter();
    out.push_str(&fields.next().unwrap_or_default());
    for &b in data.iter().filter(|b| matches!(b, b',' | b'\t' | b';')) {
        out.push(char::from(b));
        out.push_str(&fields.next().unwrap_or_default());
    }
    (devio::printable(out.as_bytes()), true)
}

/// The next SEQ after `seq`, in 0x20..=0x7F.
pub fn next_seq(seq: u8) -> u8 {
    if !(0x20..0x7F).contains(&seq) {
        0x20
    } else {
        seq + 1
    }
}

fn initial_seq() -> u8 {
    // A varied start makes it unlikely that a restarted host's first SEQ
    // equals the register's last one; the stale-replay rule covers the rest.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    0x20 + (nanos % 0x5F) as u8
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    pub fn new(stream: S, framing: Framing, config: LinkConfig) -> Self {
        Link {
            framed: Framed::new(stream, DatecsCodec::new(Some(framing))),
            framing,
            seq: initial_seq(),
            config,
            stats: LinkStats::default(),
            secrets: Vec::new(),
        }
    }

    /// Values to keep out of the debug log of frames (the operator password).
    pub fn set_secrets(&mut self, secrets: impl IntoIterator<Item = Vec<u8>>) {
        self.secrets = secrets.into_iter().filter(|s| !s.is_empty()).collect();
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The SEQ the last command used.
    pub fn last_seq(&self) -> u8 {
        self.seq
    }

    /// Makes the next command use `seq` (0x20..=0x7F).
    pub fn set_next_seq(&mut self, seq: u8) {
        self.seq = if seq <= 0x20 { 0x7F } else { seq - 1 };
    }

    /// Gives back the stream (e.g. to probe it with another framing).
    pub fn into_inner(self) -> S {
        self.framed.into_inner()
    }

    /// Sends one command and returns the register's reply frame.
    pub async fn exchange(&mut self, cmd: u16, data: &[u8]) -> Result<Frame> {
        self.seq = next_seq(self.seq);
        self.stats.commands += 1;
        let mut frame = Frame::request(self.framing, self.seq, cmd, data.to_vec());
        let wire = frame.encode().map_err(Error::InvalidRequest)?;
        if tracing::enabled!(target: "kasa::device::fiscal", tracing::Level::DEBUG) {
            let (text, hidden) = redacted(data, &self.secrets);
            let hex = if hidden {
                "(left out: holds the password)".to_string()
            } else {
                devio::hex_colon(&wire)
            };
            tracing::debug!(
                target: "kasa::device::fiscal",
                seq = frame.seq,
                cmd = %format!("{cmd:02X}"),
                data = %text,
                hex = %hex,
                ">>> sent"
            );
        }
        // Whatever is left from an earlier, abandoned exchange is stale.
        self.framed.read_buffer_mut().clear();

        let mut attempts = 0u32;
        let mut naks = 0u32;
        let mut last_failure = Failure::Timeout;
        'attempt: loop {
            if attempts >= self.config.max_attempts {
                return Err(match last_failure {
                    Failure::Nak => Error::Nak(naks),
                    Failure::Corrupt(why) => {
                        Error::Protocol(format!("no valid reply after {attempts} attempts: {why}"))
                    }
                    Failure::Timeout => Error::Timeout(
                        self.config.reply_timeout.as_millis() as u64 * u64::from(attempts),
                    ),
                });
            }
            attempts += 1;
            self.stats.writes += 1;
            self.framed.send(frame.clone()).await?;
            let busy_since = Instant::now();
            let mut deadline = Instant::now() + self.config.reply_timeout;
            loop {
                let next = tokio::time::timeout_at(deadline, self.framed.next()).await;
                match next {
                    Err(_) => {
                        self.stats.timeouts += 1;
                        last_failure = Failure::Timeout;
                        continue 'attempt;
                    }
                    Ok(None) => {
                        return Err(Error::Transport(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the fiscal register closed the link",
                        )))
                    }
                    Ok(Some(Err(e))) => return Err(e),
                    Ok(Some(Ok(Packet::Syn))) => {
                        self.stats.syns += 1;
                        if busy_since.elapsed() > self.config.max_busy {
                            return Err(Error::Busy(self.config.max_busy.as_millis() as u64));
                        }
                        deadline = Instant::now() + self.config.reply_timeout;
                    }
                    Ok(Some(Ok(Packet::Nak))) => {
                        self.stats.naks += 1;
                        naks += 1;
                        last_failure = Failure::Nak;
                        continue 'attempt;
                    }
                    Ok(Some(Ok(Packet::Corrupt(why)))) => {
                        self.stats.corrupt += 1;
                        last_failure = Failure::Corrupt(why);
                        continue 'attempt;
                    }
                    Ok(Some(Ok(Packet::Frame(reply)))) => {
                        if !reply.is_reply() || reply.seq != frame.seq {
                            // An echo or a late answer to an older command.
                            self.stats.stale += 1;
                            continue;
                        }
                        if reply.cmd != frame.cmd {
                            // The register replayed an older command's answer
                            // (same SEQ): ours has not run. Use a fresh SEQ.
                            self.stats.stale += 1;
                            self.seq = next_seq(self.seq);
                            frame.seq = self.seq;
                            continue 'attempt;
                        }
                        if tracing::enabled!(target: "kasa::device::fiscal", tracing::Level::DEBUG)
                        {
                            let (text, _) = redacted(&reply.data, &self.secrets);
                            tracing::debug!(
                                target: "kasa::device::fiscal",
                                seq = reply.seq,
                                cmd = %format!("{:02X}", reply.cmd),
                                data = %text,
                                status = %devio::hex_colon(reply.status.as_deref().unwrap_or_default()),
                                hex = %reply.encode().map(|w| devio::hex_colon(&w)).unwrap_or_default(),
                                "<<< received"
                            );
                        }
                        return Ok(reply);
                    }
                }
            }
        }
    }
}

enum Failure {
    Timeout,
    Nak,
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_all;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn quick() -> LinkConfig {
        LinkConfig {
            reply_timeout: Duration::from_millis(100),
            max_attempts: 3,
            max_busy: Duration::from_secs(5),
        }
    }

    async fn read_request(peer: &mut tokio::io::DuplexStream) -> Frame {
        let mut buf = vec![0u8; 512];
        let mut got = Vec::new();
        loop {
            let n = peer.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let (p, _) = decode_all(&got, Some(Framing::Old));
            if let Some(Packet::Frame(f)) = p.into_iter().next() {
                return f;
            }
        }
    }

    fn reply_to(req: &Frame, data: &[u8]) -> Vec<u8> {
        Frame::reply(req.framing, req.seq, req.cmd, data.to_vec(), vec![0x80; 6])
            .encode()
            .unwrap()
    }

    #[tokio::test]
    async fn timeout_retry_reuses_the_seq_and_nak_resends() {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut link = Link::new(a, Framing::Old, quick());
        let peer = tokio::spawn(async move {
            let first = read_request(&mut b).await; // ignore: timeout
            let second = read_request(&mut b).await;
            assert_eq!(first, second, "retry must resend the same frame and SEQ");
            b.write_all(&[0x15]).await.unwrap(); // NAK
            let third = read_request(&mut b).await;
            assert_eq!(first, third);
            b.write_all(&[0x16, 0x16]).await.unwrap(); // SYN
            b.write_all(&reply_to(&third, b"ok")).await.unwrap();
            b
        });
        let reply = link.exchange(0x4A, b"").await.unwrap();
        assert_eq!(reply.data, b"ok");
        assert_eq!(link.stats.timeouts, 1);
        assert_eq!(link.stats.naks, 1);
        assert_eq!(link.stats.syns, 2);
        let _ = peer.await.unwrap();
    }

    #[tokio::test]
    async fn silence_gives_a_timeout_and_naks_a_nak_error() {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut link = Link::new(a, Framing::Old, quick());
        let err = link.exchange(0x4A, b"").await.unwrap_err();
        assert!(matches!(err, Error::Timeout(300)), "{err:?}");
        let peer = tokio::spawn(async move {
            for _ in 0..3 {
                let _ = read_request(&mut b).await;
                b.write_all(&[0x15]).await.unwrap();
            }
            b
        });
        let err = link.exchange(0x4A, b"").await.unwrap_err();
        assert!(matches!(err, Error::Nak(3)), "{err:?}");
        let _ = peer.await.unwrap();
    }

    #[tokio::test]
    async fn a_replayed_answer_for_another_command_moves_the_seq() {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut link = Link::new(a, Framing::Old, quick());
        let peer = tokio::spawn(async move {
            let first = read_request(&mut b).await;
            let mut stale = first.clone();
            stale.cmd = 0x38;
            b.write_all(&reply_to(&stale, b"old")).await.unwrap();
            let second = read_request(&mut b).await;
            assert_ne!(first.seq, second.seq);
            b.write_all(&reply_to(&second, b"new")).await.unwrap();
            b
        });
        let reply = link.exchange(0x4A, b"").await.unwrap();
        assert_eq!(reply.data, b"new");
        let _ = peer.await.unwrap();
    }

    #[test]
    fn the_password_never_reaches_the_frame_log() {
        let secrets = vec![b"7391".to_vec()];
        assert_eq!(
            redacted(b"1,7391,1", &secrets),
            ("1,***,1".to_string(), true)
        );
        assert_eq!(
            redacted(b"1\t7391\t", &secrets),
            ("1\\t***\\t".to_string(), true)
        );
        assert_eq!(
            redacted(b"17391,1", &secrets),
            ("17391,1".to_string(), false)
        );
        assert_eq!(redacted(b"R,12", &[]), ("R,12".to_string(), false));
    }

    #[test]
    fn seq_wraps_inside_its_range() {
        assert_eq!(next_seq(0x7F), 0x20);
        assert_eq!(next_seq(0x20), 0x21);
        assert_eq!(next_seq(0x00), 0x20);
        assert!((0x20..=0x7F).contains(&initial_seq()));
    }
}
