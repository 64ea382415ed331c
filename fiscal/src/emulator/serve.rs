//! The emulator on a byte stream: the link rules (NAK on a bad checksum or
//! an undecodable frame, SYN every 60 ms while busy, a repeated SEQ gets the
//! last answer replayed instead of running twice), scripted link faults,
//! simulated wire and device time, and the pty / TCP servers. Bytes that are
//! not a frame never stop it: it skips them and answers the next frame.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::codec::{DatecsCodec, Packet};
use crate::frame::{Frame, Framing, NAK, SYN};
use crate::Result;

use super::{
    Counters, Device, EmulatorConfig, EmulatorStats, Faults, JournalDocument, OpenReceipt,
};

/// A handle to a running emulator: its tape, counters and faults.
#[derive(Debug, Clone)]
pub struct EmulatorHandle {
    device: Arc<Mutex<Device>>,
}

impl EmulatorHandle {
    pub fn new(config: EmulatorConfig) -> Result<Self> {
        Ok(EmulatorHandle {
            device: Arc::new(Mutex::new(Device::new(config)?)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every document printed since start, as text.
    pub fn tape(&self) -> Vec<String> {
        self.lock().tape.clone()
    }
    pub fn counters(&self) -> Counters {
        self.lock().state.counters.clone()
    }
    /// The open receipt, if any.
    pub fn open_receipt(&self) -> Option<OpenReceipt> {
        self.lock().state.receipt.clone()
    }
    pub fn stats(&self) -> EmulatorStats {
        self.lock().stats.clone()
    }
    pub fn faults(&self) -> Faults {
        self.lock().config.faults.clone()
    }
    pub fn set_faults(&self, faults: Faults) {
        self.lock().config.faults = faults;
    }
    /// Changes the faults in place.
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.lock().config.faults);
    }
    /// Loads paper after a paper-out.
    pub fn load_paper(&self) {
        self.lock().paper_out = false;
    }
    /// Answers again after `mute_after` or `mute_before`.
    pub fn unmute(&self) {
        self.lock().muted = false;
    }
    /// Characters per printed line.
    pub fn line_width(&self) -> usize {
        self.lock().config.dialect.line_width
    }
    pub fn framing(&self) -> Framing {
        self.lock().config.dialect.framing
    }
    /// The electronic journal: every numbered document as recorded.
    pub fn journal(&self) -> Vec<JournalDocument> {
        self.lock().state.journal.clone()
    }
    /// Turns the register off and on (clears the wrong-password lock).
    pub fn power_cycle(&self) {
        self.lock().power_cycle();
    }
    /// Locked by three wrong passwords.
    pub fn locked(&self) -> bool {
        self.lock().locked
    }
    /// Reads the card slots in this order from now on.
    pub fn set_slot_order(&self, order: Vec<crate::settings::SlotField>) {
        self.lock().config.slot_order = order;
    }
    /// Resets the simulated-time counter (for benchmarks).
    pub fn reset_stats(&self) {
        self.lock().stats = EmulatorStats::default();
    }

    /// Serves one byte stream until it closes.
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S) -> Result<()> {
        serve(self.clone(), stream).await
    }
}

fn wire_time(bytes: usize, baud: Option<u32>) -> Duration {
    match baud {
        Some(b) if b > 0 => Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(b)),
        _ => Duration::ZERO,
    }
}

/// Sleeps until `deadline` with sub-millisecond precision: the tokio timer
/// has 1 ms steps, so the wait runs on the blocking pool as a thread sleep
/// (nanosleep, which overshoots by the kernel's timer slack) up to a little
/// before the deadline, then a short spin to the deadline itself. Only used
/// when a baud rate or device time is simulated.
async fn sleep_until_precise(deadline: Instant) {
    const SPIN: Duration = Duration::from_micros(150);
    if deadline <= Instant::now() {
        return;
    }
    let waited = tokio::task::spawn_blocking(move || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        }
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
    })
    .await;
    if waited.is_err() {
        tokio::time::sleep_until(deadline).await;
    }
}

enum Action {
    Nothing,
    Nak,
    Send {
        bytes: Vec<u8>,
        busy: Duration,
        wire: Duration,
    },
}

/// Reads the line's current baud rate (the pty's termios), if known.
pub type LineBaud = Box<dyn Fn() -> Option<u32> + Send + Sync>;

/// Serves one byte stream until it closes (or fails).
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    handle: EmulatorHandle,
    stream: S,
) -> Result<()> {
    serve_line(handle, stream, None).await
}

/// Like [`serve`]; with `line_baud`, frames that arrive while the line is set
/// to another baud rate than the emulator's are ignored, as a real register
/// sees only framing errors then.
pub async fn serve_line<S: AsyncRead + AsyncWrite + Unpin>(
    handle: EmulatorHandle,
    stream: S,
    line_baud: Option<LineBaud>,
) -> Result<()> {
    let framing = handle.framing();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut codec = DatecsCodec::new(Some(framing));
    let mut buf = BytesMut::with_capacity(1024);
    let mut last: Option<(u8, Vec<u8>)> = None;
    let mut replies = 0u64;
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A pty master reads EIO once the other side is closed.
            Err(e) if e.raw_os_error() == Some(5) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        while let Some(packet) = codec.next_packet(&mut buf) {
            let received = Instant::now();
            let action = {
                let mut dev = handle.lock();
                match packet {
                    Packet::Corrupt(_) => {
                        dev.stats.naks_sent += 1;
                        if dev.muted {
                            Action::Nothing
                        } else {
                            Action::Nak
                        }
                    }
                    Packet::Nak | Packet::Syn => Action::Nothing,
                    Packet::Frame(f) if f.is_reply() => Action::Nothing,
                    Packet::Frame(req) => {
                        let want = dev.config.baud;
                        let have = line_baud.as_ref().and_then(|f| f());
                        match (want, have) {
                            (Some(w), Some(h)) if w != h => Action::Nothing,
                            _ => decide(&mut dev, &req, &mut last, &mut replies),
                        }
                    }
                }
            };
            match action {
                Action::Nothing => {}
                Action::Nak => wr.write_all(&[NAK]).await?,
                Action::Send { bytes, busy, wire } => {
                    let mut deadline = received + wire + busy;
                    // SYN every 60 ms while busy.
                    while deadline.saturating_duration_since(Instant::now())
                        > Duration::from_millis(60)
                    {
                        tokio::time::sleep(Duration::from_millis(60)).await;
                        wr.write_all(&[SYN]).await?;
                        wr.flush().await?;
                        if Instant::now() > deadline {
                            deadline = Instant::now();
                        }
                    }
                    sleep_until_precise(deadline).await;
                    wr.write_all(&bytes).await?;
                    wr.flush().await?;
                }
            }
        }
    }
}

fn decide(
    dev: &mut Device,
    req: &Frame,
    last: &mut Option<(u8, Vec<u8>)>,
    replies: &mut u64,
) -> Action {
    dev.stats.frames += 1;
    if dev.muted {
        return Action::Nothing;
    }
    let resent = matches!(last, Some((seq, _)) if *seq == req.seq);
    let muting = [dev.config.faults.mute_before, dev.config.faults.mute_after];
    let mut mute_after = false;
    if !resent && muting.contains(&Some(req.cmd)) {
        if dev.config.faults.mute_skip > 0 {
            dev.config.faults.mute_skip -= 1;
        } else if dev.config.faults.mute_before == Some(req.cmd) {
            dev.config.faults.mute_before = None;
            dev.muted = true;
            dev.stats.dropped += 1;
            return Action::Nothing;
        } else {
            mute_after = true;
        }
    }
    let baud = dev.config.baud;
    let faults = dev.config.faults.clone();
    let req_len = req.encode().map(|b| b.len()).unwrap_or(0);
    if faults.nak_every > 0 && dev.stats.frames % u64::from(faults.nak_every) == 0 {
        dev.stats.naks_sent += 1;
        return Action::Nak;
    }
    let (bytes, busy) = match last {
        Some((seq, bytes)) if *seq == req.seq => {
            dev.stats.replays += 1;
            (bytes.clone(), Duration::ZERO)
        }
        _ => {
            let reply = dev.execute(req);
            let bytes = reply.encode().unwrap_or_default();
            *last = Some((req.seq, bytes.clone()));
            let busy = Duration::from_millis(faults.syn_ms)
                + dev.config.line_time * dev.printed_now as u32;
            if mute_after {
                dev.config.faults.mute_after = None;
                dev.muted = true;
                dev.stats.dropped += 1;
                return Action::Nothing;
            }
            let executed = dev.stats.executed;
            let drop_nth =
                faults.drop_reply_every > 0 && executed % u64::from(faults.drop_reply_every) == 0;
            if drop_nth || faults.drop_reply_on == Some(req.cmd) {
                if faults.drop_reply_on == Some(req.cmd) {
                    dev.config.faults.drop_reply_on = None;
                }
                dev.stats.dropped += 1;
                return Action::Nothing;
            }
            (bytes, busy)
        }
    };
    *replies += 1;
    let mut bytes = bytes;
    if faults.corrupt_every > 0 && *replies % u64::from(faults.corrupt_every) == 0 {
        let i = bytes.len().saturating_sub(2);
        if let Some(b) = bytes.get_mut(i) {
            *b = 0x30 + ((*b - 0x30 + 1) & 0x0F);
        }
    }
    let wire = wire_time(req_len + bytes.len(), baud);
    dev.stats.simulated += wire + busy;
    Action::Send { bytes, busy, wire }
}

/// Runs an emulator on a fresh pty pair. Returns its handle and the slave
/// path a driver (or `kasa fiscal ...`) can open; the task holds the slave
/// open so the pty stays usable between clients.
#[cfg(unix)]
pub fn spawn_pty(
    config: EmulatorConfig,
) -> Result<(EmulatorHandle, String, tokio::task::JoinHandle<Result<()>>)> {
    let handle = EmulatorHandle::new(config)?;
    let (master, slave, path) = crate::transport::pty_pair()?;
    let h = handle.clone();
    let task = tokio::spawn(async move {
        use tokio_serial::SerialPort;
        let line: LineBaud = Box::new(move || slave.baud_rate().ok());
        serve_line(h, master, Some(line)).await
    });
    Ok((handle, path, task))
}

/// Runs an emulator on a TCP listener, one client at a time.
pub async fn spawn_tcp(
    config: EmulatorConfig,
    addr: &str,
) -> Result<(
    EmulatorHandle,
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<()>>,
)> {
    let handle = EmulatorHandle::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let h = handle.clone();
    let task = tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await?;
            sock.set_nodelay(true)?;
            if let Err(e) = serve(h.clone(), sock).await {
                eprintln!("fiscal emulator: client ended: {e}");
            }
        }
    });
    Ok((handle, local, task))
}
