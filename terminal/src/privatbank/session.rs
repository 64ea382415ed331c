//! The PrivatBank JSON conversation: one owner task per terminal holds the
//! connection and keeps two lanes on it.
//!
//! * The **operation lane**: one non-service request at a time (Purchase,
//!   Audit, GetReceiptInfo...); its reply is the next frame with the same
//!   `method`. An unsolicited `deviceBusy` service message rejects it.
//! * The **service lane**: `ServiceMessage` requests (status polls, interrupt,
//!   identify) that may run while an operation does; replies are matched by
//!   `msgType` (trimmed), `methodNotImplemented` answers the oldest one.
//!
//! Connecting follows the spec's reference scheme: connect, handshake
//! (`PingDevice` with a leading 0x00), disconnect; connect, identify (and the
//! merchant mask list), disconnect; then connect and keep the link,
//! reconnecting when it drops. [`Session::open`] does all of that at once, so
//! that the first operation does not pay for it.
//! A reply that arrives for an operation whose caller gave up (time-out) is
//! discarded, never handed to the next operation.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;

use super::codec::{Chunk, NulCodec};
use super::frame::Message;
use crate::transport::{self, millis, BoxStream, Endpoint};
use crate::{Error, Result};

/// How the session (re)connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectScheme {
    /// The spec's reference scheme: handshake and identify each on a short
    /// connection of their own, then one persistent connection.
    #[default]
    Reference,
    /// Handshake and identify on the persistent connection itself.
    Direct,
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub endpoint: Endpoint,
    pub connect_timeout: Duration,
    /// How long to wait for the handshake and identify replies.
    pub handshake_timeout: Duration,
    /// Pause after the handshake (spec: 1 s; Verifone 3–5 s).
    pub after_handshake: Duration,
    pub scheme: ConnectScheme,
    /// When the link has been quiet this long with nothing pending, ask
    /// `getLastResult` on the service lane; no answer within the handshake
    /// time-out means the link is dead (zero disables the probe).
    pub keepalive: Duration,
}

impl SessionConfig {
    /// Defaults for a real terminal at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            after_handshake: Duration::from_secs(1),
            scheme: ConnectScheme::Reference,
            keepalive: Duration::from_secs(20),
        }
    }
}

/// What `identify` told about the terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub vendor: String,
    pub model: String,
}

type Reply = oneshot::Sender<Result<Message>>;

#[derive(Debug)]
enum Cmd {
    Open { reply: oneshot::Sender<Result<()>> },
    Operation { msg: Message, reply: Reply },
    Service { msg: Message, reply: Reply },
    Disconnect,
}

/// A handle to the session's owner task. Cloning it shares the session.
#[derive(Debug, Clone)]
pub struct Session {
    tx: mpsc::Sender<Cmd>,
    identity: Arc<Mutex<Option<Identity>>>,
    masks: Arc<Mutex<BTreeMap<u8, String>>>,
    connected: Arc<AtomicBool>,
}

impl Session {
    /// Start the owner task (it connects on the first request).
    pub fn spawn(cfg: SessionConfig) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let identity = Arc::new(Mutex::new(None));
        let masks = Arc::new(Mutex::new(BTreeMap::new()));
        let connected = Arc::new(AtomicBool::new(false));
        let owner = Owner {
            masks: Arc::clone(&masks),
            connected: Arc::clone(&connected),
            cfg,
            rx,
            conn: None,
            op: None,
            services: VecDeque::new(),
            stale: Vec::new(),
            identity: Arc::clone(&identity),
            last_traffic: tokio::time::Instant::now(),
            probe: None,
        };
        tokio::spawn(owner.run());
        Self {
            tx,
            identity,
            masks,
            connected,
        }
    }

    /// Connect now, with the handshake, identify, the mask list and the pause
    /// after the handshake, and keep the link; `Ok` at once when it is up.
    pub async fn open(&self, timeout: Duration) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Open { reply })
            .await
            .map_err(|_| Error::LinkLost("terminal session has ended".into()))?;
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(Error::Timeout(millis(timeout))),
            Ok(Err(_)) => Err(Error::LinkLost("terminal session has ended".into())),
            Ok(Ok(r)) => r,
        }
    }

    /// The terminal id of each merchant index, from `getMaskList` (empty when
    /// the terminal does not answer it).
    pub fn masks(&self) -> BTreeMap<u8, String> {
        self.masks.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Whether the persistent link is up (the next request needs no handshake).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Send an operation-lane request; the receiver yields its reply.
    pub async fn start_operation(
        &self,
        msg: Message,
    ) -> Result<oneshot::Receiver<Result<Message>>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Operation { msg, reply })
            .await
            .map_err(|_| Error::LinkLost("terminal session has ended".into()))?;
        Ok(rx)
    }

    /// Send an operation-lane request and wait for its reply.
    pub async fn operation(&self, msg: Message, timeout: Duration) -> Result<Message> {
        let rx = self.start_operation(msg).await?;
        wait(rx, timeout).await
    }

    /// Send a service message and wait for its reply.
    pub async fn service(&self, msg: Message, timeout: Duration) -> Result<Message> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Service { msg, reply })
            .await
            .map_err(|_| Error::LinkLost("terminal session has ended".into()))?;
        wait(rx, timeout).await
    }

    /// Drop the connection (the next request reconnects).
    pub async fn disconnect(&self) {
        let _ = self.tx.send(Cmd::Disconnect).await;
    }

    /// Vendor and model from the last `identify`.
    pub fn identity(&self) -> Option<Identity> {
        self.identity.lock().ok().and_then(|g| g.clone())
    }
}

async fn wait(rx: oneshot::Receiver<Result<Message>>, timeout: Duration) -> Result<Message> {
    match tokio::time::timeout(timeout, rx).await {
        Err(_) => Err(Error::Timeout(millis(timeout))),
        Ok(Err(_)) => Err(Error::LinkLost("terminal session has ended".into())),
        Ok(Ok(r)) => r,
    }
}

type Conn = Framed<BoxStream, NulCodec>;

struct PendingOp {
    method: String,
    reply: Reply,
}

struct PendingService {
    expect: String,
    reply: Reply,
}

struct Owner {
    cfg: SessionConfig,
    masks: Arc<Mutex<BTreeMap<u8, String>>>,
    rx: mpsc::Receiver<Cmd>,
    conn: Option<Conn>,
    op: Option<PendingOp>,
    services: VecDeque<PendingService>,
    /// Methods of abandoned operations whose late reply must be discarded.
    stale: Vec<String>,
    identity: Arc<Mutex<Option<Identity>>>,
    connected: Arc<AtomicBool>,
    /// When a frame last went out or came in.
    last_traffic: tokio::time::Instant,
    /// A keep-alive probe in flight and its deadline.
    probe: Option<(oneshot::Receiver<Result<Message>>, tokio::time::Instant)>,
}

enum Event {
    Cmd(Option<Cmd>),
    Read(Option<Result<Chunk>>),
    Tick,
}

/// The `msgType` a service request is answered with.
fn expected_answer(request: &str) -> String {
    match request.trim() {
        "interrupt" => "interruptTransmitted".into(),
        "correctTransaction" => "correctionTransmitted".into(),
        other => other.to_string(),
    }
}

impl Owner {
    async fn run(mut self) {
        loop {
            let tick_at = self.next_tick();
            let event = match self.conn.as_mut() {
                Some(conn) => tokio::select! {
                    cmd = self.rx.recv() => Event::Cmd(cmd),
                    item = conn.next() => Event::Read(item),
                    _ = tokio::time::sleep_until(tick_at) => Event::Tick,
                },
                None => Event::Cmd(self.rx.recv().await),
            };
            match event {
                Event::Cmd(None) => return,
                Event::Cmd(Some(cmd)) => self.on_cmd(cmd).await,
                Event::Read(item) => {
                    self.last_traffic = tokio::time::Instant::now();
                    self.on_read(item);
                }
                Event::Tick => self.keepalive().await,
            }
        }
    }

    /// When the keep-alive needs attention next.
    fn next_tick(&self) -> tokio::time::Instant {
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
        if let Some((_, deadline)) = &self.probe {
            return *deadline;
        }
        let idle = self.op.is_none() && self.services.is_empty();
        if idle && !self.cfg.keepalive.is_zero() {
            self.last_traffic + self.cfg.keepalive
        } else {
            far
        }
    }

    async fn keepalive(&mut self) {
        if let Some((mut rx, deadline)) = self.probe.take() {
            match rx.try_recv() {
                Ok(Ok(_)) => {}
                _ if tokio::time::Instant::now() < deadline => self.probe = Some((rx, deadline)),
                _ => self.link_lost("no answer to the keep-alive probe"),
            }
            return;
        }
        if self.cfg.keepalive.is_zero()
            || self.op.is_some()
            || !self.services.is_empty()
            || self.last_traffic.elapsed() < self.cfg.keepalive
        {
            return;
        }
        let (reply, rx) = oneshot::channel();
        let msg = Message::service("getLastResult");
        if self.send(&msg).await.is_ok() {
            self.services.push_back(PendingService {
                expect: "getLastResult".into(),
                reply,
            });
            let deadline = tokio::time::Instant::now() + self.cfg.handshake_timeout;
            self.probe = Some((rx, deadline));
        }
    }

    fn sweep(&mut self) {
        if self.op.as_ref().is_some_and(|op| op.reply.is_closed()) {
            if let Some(op) = self.op.take() {
                self.stale.push(op.method);
            }
        }
        self.services.retain(|s| !s.reply.is_closed());
    }

    async fn on_cmd(&mut self, cmd: Cmd) {
        self.sweep();
        match cmd {
            Cmd::Disconnect => self.link_lost("disconnected by the driver"),
            Cmd::Open { reply } => {
                let r = if self.conn.is_some() {
                    Ok(())
                } else {
                    self.connect().await
                };
                let _ = reply.send(r);
            }
            Cmd::Operation { msg, reply } => {
                if self.op.is_some() {
                    let _ = reply.send(Err(Error::Busy));
                    return;
                }
                if let Err(e) = self.send(&msg).await {
                    let _ = reply.send(Err(e));
                    return;
                }
                self.op = Some(PendingOp {
                    method: msg.method.clone(),
                    reply,
                });
            }
            Cmd::Service { msg, reply } => {
                if let Err(e) = self.send(&msg).await {
                    let _ = reply.send(Err(e));
                    return;
                }
                let expect = expected_answer(msg.msg_type().unwrap_or_default());
                self.services.push_back(PendingService { expect, reply });
            }
        }
    }

    async fn send(&mut self, msg: &Message) -> Result<()> {
        if self.conn.is_none() {
            self.connect().await?;
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::LinkLost("not connected".into()));
        };
        let bytes = msg.encode(false);
        tracing::debug!(
            target: "kasa::device::terminal",
            protocol = "privatbank",
            frame = %crate::transport::printable(&bytes),
            ">>> sent"
        );
        if let Err(e) = conn.send(bytes).await {
            let what = e.to_string();
            self.link_lost(&what);
            return Err(Error::LinkLost(what));
        }
        self.last_traffic = tokio::time::Instant::now();
        Ok(())
    }

    async fn open(&self) -> Result<Conn> {
        let stream = transport::open(&self.cfg.endpoint, self.cfg.connect_timeout).await?;
        Ok(Framed::new(stream, NulCodec::default()))
    }

    async fn connect(&mut self) -> Result<()> {
        self.stale.clear();
        match self.cfg.scheme {
            ConnectScheme::Reference => {
                let mut c = self.open().await?;
                self.handshake(&mut c).await?;
                drop(c);
                let mut c = self.open().await?;
                self.identify(&mut c).await;
                self.mask_list(&mut c).await;
                drop(c);
                self.conn = Some(self.open().await?);
            }
            ConnectScheme::Direct => {
                let mut c = self.open().await?;
                self.handshake(&mut c).await?;
                self.identify(&mut c).await;
                self.mask_list(&mut c).await;
                self.conn = Some(c);
            }
        }
        if !self.cfg.after_handshake.is_zero() {
            tokio::time::sleep(self.cfg.after_handshake).await;
        }
        self.connected.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Read frames until one satisfies `want`, within the handshake timeout.
    async fn read_until(&self, c: &mut Conn, want: impl Fn(&Message) -> bool) -> Result<Message> {
        let timeout = self.cfg.handshake_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let item = tokio::time::timeout_at(deadline, c.next())
                .await
                .map_err(|_| Error::Timeout(millis(timeout)))?;
            match item {
                None => return Err(Error::LinkLost("closed during the handshake".into())),
                Some(Err(e)) => return Err(e),
                Some(Ok(Chunk::Dropped(_))) => {}
                Some(Ok(Chunk::Frame(bytes))) => {
                    let msg = Message::decode(&bytes)?;
                    if msg.is_service() && msg.msg_type() == Some("deviceBusy") {
                        return Err(Error::Busy);
                    }
                    if want(&msg) {
                        return Ok(msg);
                    }
                }
            }
        }
    }

    async fn handshake(&self, c: &mut Conn) -> Result<()> {
        c.send(Message::ping().encode(true)).await?;
        let reply = self.read_until(c, |m| m.method == "PingDevice").await?;
        let rc = reply.response_code().unwrap_or_default();
        let code = reply.text("code");
        if reply.is_error() || !(rc == "0000" || (rc.is_empty() && code == "00")) {
            return Err(Error::device(
                if rc.is_empty() { "1000" } else { &rc },
                reply.description(),
            ));
        }
        Ok(())
    }

    async fn identify(&self, c: &mut Conn) {
        if c.send(Message::service("identify").encode(false))
            .await
            .is_err()
        {
            return;
        }
        let want = |m: &Message| {
            m.is_service() && matches!(m.msg_type(), Some("identify" | "methodNotImplemented"))
        };
        if let Ok(reply) = self.read_until(c, want).await {
            if reply.msg_type() == Some("identify") {
                let id = Identity {
                    vendor: reply.text("vendor"),
                    model: reply.text("model"),
                };
                if let Ok(mut g) = self.identity.lock() {
                    *g = Some(id);
                }
            }
        }
    }

    /// `getMaskList`: the terminal id of each merchant index. Optional: a
    /// terminal that does not answer it leaves the list empty.
    async fn mask_list(&self, c: &mut Conn) {
        if c.send(Message::service("getMaskList").encode(false))
            .await
            .is_err()
        {
            return;
        }
        let want = |m: &Message| {
            m.is_service() && matches!(m.msg_type(), Some("getMaskList" | "methodNotImplemented"))
        };
        let Ok(reply) = self.read_until(c, want).await else {
            return;
        };
        let list: BTreeMap<u8, String> = reply
            .params
            .iter()
            .flatten()
            .filter_map(|(k, _)| {
                let index = k.trim().parse::<u8>().ok()?;
                let id = reply.text(k.trim());
                (!id.is_empty()).then_some((index, id))
            })
            .collect();
        if let Ok(mut m) = self.masks.lock() {
            *m = list;
        }
    }

    fn link_lost(&mut self, why: &str) {
        self.conn = None;
        self.connected.store(false, Ordering::SeqCst);
        self.stale.clear();
        self.probe = None;
        if let Some(op) = self.op.take() {
            let _ = op.reply.send(Err(Error::LinkLost(why.to_string())));
        }
        for s in self.services.drain(..) {
            let _ = s.reply.send(Err(Error::LinkLost(why.to_string())));
        }
    }

    fn on_read(&mut self, item: Option<Result<Chunk>>) {
        match item {
            None => self.link_lost("the terminal closed the connection"),
            Some(Err(e)) => self.link_lost(&e.to_string()),
            Some(Ok(Chunk::Dropped(_))) => {}
            Some(Ok(Chunk::Frame(bytes))) => {
                tracing::debug!(
                    target: "kasa::device::terminal",
                    protocol = "privatbank",
                    frame = %crate::transport::printable(&bytes),
                    "<<< received"
                );
                match Message::decode(&bytes) {
                    Ok(msg) => self.dispatch(msg),
                    Err(e) => self.bad_frame(e),
                }
            }
        }
    }

    fn bad_frame(&mut self, e: Error) {
        self.sweep();
        if let Some(op) = self.op.take() {
            let _ = op.reply.send(Err(e));
        } else if let Some(s) = self.services.pop_front() {
            let _ = s.reply.send(Err(e));
        }
    }

    fn dispatch(&mut self, msg: Message) {
        self.sweep();
        if msg.is_service() {
            let kind = msg.msg_type().unwrap_or_default().to_string();
            if kind.eq_ignore_ascii_case("deviceBusy") {
                if let Some(op) = self.op.take() {
                    let _ = op.reply.send(Err(Error::Busy));
                }
                return;
            }
            if kind.eq_ignore_ascii_case("methodNotImplemented") {
                let what = if let Some(s) = self.services.pop_front() {
                    Some((s.reply, s.expect))
                } else {
                    self.op.take().map(|op| (op.reply, op.method))
                };
                if let Some((reply, name)) = what {
                    let _ = reply.send(Err(Error::Unsupported(name)));
                }
                return;
            }
            let found = self
                .services
                .iter()
                .position(|s| s.expect.eq_ignore_ascii_case(&kind));
            if let Some(i) = found {
                if let Some(s) = self.services.remove(i) {
                    let _ = s.reply.send(Ok(msg));
                }
            }
            return;
        }
        let matches_op = self.op.as_ref().is_some_and(|op| op.method == msg.method);
        if let Some(i) = self.stale.iter().position(|m| *m == msg.method) {
            // A late reply to an abandoned operation: never the current one's.
            self.stale.remove(i);
            return;
        }
        if let Some(op) = self.op.take() {
            if matches_op {
                let _ = op.reply.send(Ok(msg));
            } else {
                // Non-service frames are only ever replies: another method
                // while ours is pending breaks the protocol.
                let why = format!(
                    "reply to {:?} while waiting for {:?}",
                    msg.method, op.method
                );
                let _ = op.reply.send(Err(Error::Protocol(why)));
            }
        }
    }
}
