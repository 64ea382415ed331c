//! The PrivatBank ECR JSON driver: [`CardTerminal`] on top of a [`Session`].
//!
//! Financial operations run on the operation lane while the driver asks
//! `getLastStatMsgCode` on the service lane and turns changes into progress
//! events, in the order the terminal's frames came (a status read before the
//! reply is reported before the reply). The operation time-out restarts at
//! every status change; when it runs out the driver sends `interrupt` (the
//! terminal then reverses anything it had not handed over) and reports
//! [`Error::Timeout`], so the checkout recovers with a lookup. Everything is
//! auto-confirmed by the terminal.
//!
//! `GetReceiptInfo` carries no terminal id: the driver fills it from what it
//! learnt (the terminal ids of earlier replies per merchant id, and
//! `getMaskList` per merchant index, asked at [`CardTerminal::open`]), and
//! [`CardTerminal::begin`] puts what it knows into the pending operation, so a
//! receipt printed after a lookup carries the same ids as one after a reply.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::frame::{self, Message};
use super::session::{ConnectScheme, Session, SessionConfig};
use crate::recovery::{PendingOperation, Recovery};
use crate::transport::{millis, Endpoint};
use crate::{
    response_text, BatchReport, CardOutcome, CardTerminal, CardTransaction, Error, Lang,
    ProgressSink, PurchaseRequest, RefundRequest, Result, TerminalInfo, TerminalProgress,
    TerminalStatus, TxnKind, VoidRequest,
};

/// Timing of the PrivatBank driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivatbankTimeouts {
    pub connect_ms: u64,
    /// Pause after the handshake (spec: 1000; Verifone 3000–5000).
    pub after_handshake_ms: u64,
    /// A financial operation fails after this long without a status change.
    pub operation_ms: u64,
    /// Non-financial requests (lookups, info, X, Z).
    pub request_ms: u64,
    /// Status polling period while an operation runs (spec: 500–1000).
    pub poll_ms: u64,
    /// Service-lane replies (status, interrupt, identify, keep-alive).
    pub service_ms: u64,
    /// Probe an idle link after this long (0: never).
    pub keepalive_ms: u64,
}

impl Default for PrivatbankTimeouts {
    fn default() -> Self {
        Self {
            connect_ms: 5_000,
            after_handshake_ms: 1_000,
            operation_ms: 180_000,
            request_ms: 120_000,
            poll_ms: 500,
            service_ms: 5_000,
            keepalive_ms: 20_000,
        }
    }
}

/// The PrivatBank ECR JSON terminal.
#[derive(Debug)]
pub struct PrivatbankTerminal {
    session: Session,
    endpoint: Endpoint,
    t: PrivatbankTimeouts,
    /// One operation at a time from this driver.
    op_lock: tokio::sync::Mutex<()>,
    /// Terminal ids seen per merchant id, to fill lookups that lack them.
    terminal_ids: Mutex<HashMap<String, String>>,
    /// Terminal and merchant ids seen per merchant index of a request.
    by_index: Mutex<HashMap<u8, (String, String)>>,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl PrivatbankTerminal {
    /// A driver for the terminal at `endpoint` (the link opens on first use).
    /// Call it inside a tokio runtime: it spawns the session's owner task.
    pub fn new(endpoint: Endpoint, t: PrivatbankTimeouts, scheme: ConnectScheme) -> Self {
        let mut cfg = SessionConfig::new(endpoint.clone());
        cfg.connect_timeout = ms(t.connect_ms);
        cfg.handshake_timeout = ms(t.service_ms);
        cfg.after_handshake = ms(t.after_handshake_ms);
        cfg.scheme = scheme;
        cfg.keepalive = ms(t.keepalive_ms);
        Self {
            session: Session::spawn(cfg),
            endpoint,
            t,
            op_lock: tokio::sync::Mutex::new(()),
            terminal_ids: Mutex::new(HashMap::new()),
            by_index: Mutex::new(HashMap::new()),
        }
    }

    /// The session, for protocol-level use.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// `PingDevice`: the terminal accepts the protocol and is free.
    pub async fn ping(&self) -> Result<()> {
        let _g = self.op_lock.lock().await;
        let reply = self
            .session
            .operation(Message::ping(), ms(self.t.request_ms))
            .await?;
        expect_ok(&reply).map(|_| ())
    }

    /// Run a financial request, polling status, with the restarting time-out.
    async fn financial(
        &self,
        msg: Message,
        requested: i64,
        merchant: Option<u8>,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        let _g = self.op_lock.lock().await;
        if !self.session.is_connected() {
            let _ = progress.send(TerminalProgress::new(TerminalStatus::Connecting));
        }
        let rx = self.session.start_operation(msg).await?;
        let limit = ms(self.t.operation_ms);
        let every = ms(self.t.poll_ms.max(1));
        let mut deadline = tokio::time::Instant::now() + limit;
        let mut next_poll = tokio::time::Instant::now() + every;
        let mut last_code = None;
        // The status poll in flight, if any. Polled before the reply: when
        // both are in, the status read first (it came first on the wire) is
        // reported first; a poll that hangs never holds the reply back.
        let mut poll: Option<Pin<Box<dyn Future<Output = Result<Message>> + Send + '_>>> = None;
        tokio::pin!(rx);
        let reply = loop {
            tokio::select! {
                biased;
                polled = async { poll.as_mut().expect("guarded").await }, if poll.is_some() => {
                    poll = None;
                    let code = polled.ok().and_then(|reply| {
                        reply.param("LastStatMsgCode").and_then(|c| c.parse::<u8>().ok())
                    });
                    if let Some(code) = code.filter(|c| last_code != Some(*c)) {
                        last_code = Some(code);
                        deadline = tokio::time::Instant::now() + limit;
                        if code != 0 {
                            let status = TerminalStatus::from_stat_code(code);
                            let _ = progress.send(TerminalProgress::new(status));
                        }
                    }
                    next_poll = tokio::time::Instant::now() + every;
                }
                r = &mut rx => break r.map_err(|_| Error::LinkLost("session ended".into()))?,
                _ = tokio::time::sleep_until(next_poll), if poll.is_none() => {
                    let msg = Message::service("getLastStatMsgCode");
                    poll = Some(Box::pin(self.session.service(msg, ms(self.t.service_ms))));
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = progress.send(TerminalProgress::new(TerminalStatus::Cancelling));
                    let _ = self.session.service(Message::service("interrupt"), ms(self.t.service_ms)).await;
                    return Err(Error::Timeout(millis(limit)));
                }
            }
        }?;
        let outcome = self.outcome(&reply, requested, merchant);
        let _ = progress.send(TerminalProgress::new(TerminalStatus::Finished));
        outcome
    }

    fn outcome(
        &self,
        reply: &Message,
        requested: i64,
        merchant: Option<u8>,
    ) -> Result<CardOutcome> {
        let mut outcome = outcome(reply, requested)?;
        if let CardOutcome::Approved(tx) = &mut outcome {
            if requested > 0 {
                tx.requested_amount = requested;
            }
            self.remember(tx, merchant);
            *tx = self.fill(tx.clone());
        }
        Ok(outcome)
    }

    fn remember(&self, tx: &CardTransaction, merchant: Option<u8>) {
        if tx.terminal_id.is_empty() || tx.merchant_id.is_empty() {
            return;
        }
        if let Ok(mut ids) = self.terminal_ids.lock() {
            ids.insert(tx.merchant_id.clone(), tx.terminal_id.clone());
        }
        if let (Some(index), Ok(mut ids)) = (merchant, self.by_index.lock()) {
            ids.insert(index, (tx.terminal_id.clone(), tx.merchant_id.clone()));
        }
    }

    fn fill(&self, mut tx: CardTransaction) -> CardTransaction {
        if tx.terminal_id.is_empty() {
            if let Ok(ids) = self.terminal_ids.lock() {
                tx.terminal_id = ids.get(&tx.merchant_id).cloned().unwrap_or_default();
            }
        }
        tx
    }

    /// The terminal and merchant ids known for a merchant index: from an
    /// earlier reply for that index, else the terminal id of `getMaskList`.
    fn known_ids(&self, merchant: u8) -> (String, String) {
        if let Some(ids) = self
            .by_index
            .lock()
            .ok()
            .and_then(|m| m.get(&merchant).cloned())
        {
            return ids;
        }
        let tid = if merchant == 0 {
            String::new()
        } else {
            self.session.masks().remove(&merchant).unwrap_or_default()
        };
        (tid, String::new())
    }

    /// The last receipt, waiting while the terminal answers `deviceBusy`
    /// (still busy with the operation whose reply was lost).
    async fn last_when_free(&self) -> Result<Option<CardTransaction>> {
        let deadline = tokio::time::Instant::now() + ms(self.t.operation_ms);
        loop {
            match self.last_transaction().await {
                Err(Error::Busy) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(ms(self.t.poll_ms.max(1))).await;
                }
                other => return other,
            }
        }
    }

    async fn request(&self, msg: Message) -> Result<Message> {
        let _g = self.op_lock.lock().await;
        self.session.operation(msg, ms(self.t.request_ms)).await
    }

    async fn receipt_info(&self, invoice: &str) -> Result<Option<CardTransaction>> {
        let reply = self.request(Message::receipt_info(invoice)).await?;
        if reply.is_error() {
            // `error` is about the lookup: nothing to find (empty batch, no such receipt).
            return Ok(None);
        }
        let tx = frame::transaction(&reply, 0)?;
        Ok(Some(self.fill(tx)))
    }
}

/// A non-financial reply must carry `0000`; anything else is a device error.
fn expect_ok(reply: &Message) -> Result<&Message> {
    let rc = reply.response_code().unwrap_or_default();
    if rc == "0000" || (rc.is_empty() && !reply.is_error()) {
        return Ok(reply);
    }
    let code = if rc.is_empty() {
        "1000".to_string()
    } else {
        rc
    };
    Err(Error::device(&code, reply.description()))
}

/// The two-digit host code of a `00xx` response code.
fn host_code(rc: &str) -> String {
    if rc.len() == 4 && rc.starts_with("00") {
        rc[2..].to_string()
    } else {
        rc.to_string()
    }
}

/// Map a financial reply onto an outcome (pure; see the protocol notes §1.3).
pub fn outcome(reply: &Message, requested: i64) -> Result<CardOutcome> {
    if reply.is_service() {
        return Err(Error::Protocol(format!(
            "unexpected service message {:?}",
            reply.msg_type()
        )));
    }
    let Some(rc) = reply.response_code() else {
        return Err(Error::Protocol(format!(
            "{} reply has no responseCode",
            reply.method
        )));
    };
    if rc.len() != 4 || !rc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Protocol(format!("bad responseCode {rc:?}")));
    }
    let message = || {
        let d = reply.description();
        if d.is_empty() {
            response_text(&rc, Lang::En).to_string()
        } else {
            d.to_string()
        }
    };
    match rc.as_str() {
        "0000" | "0010" => {
            if reply.is_error() {
                return Err(Error::Protocol(format!(
                    "responseCode {rc} with error: true"
                )));
            }
            Ok(CardOutcome::Approved(frame::transaction(reply, requested)?))
        }
        "1001" => Ok(CardOutcome::Cancelled),
        "1002" => Ok(CardOutcome::Declined {
            code: rc.clone(),
            message: message(),
        }),
        c if c.starts_with('1') => Err(Error::device(c, reply.description())),
        c => Ok(CardOutcome::Declined {
            code: host_code(c),
            message: message(),
        }),
    }
}

fn positive(amount: i64) -> Result<()> {
    if amount <= 0 || amount > 9_999_999_999 {
        return Err(Error::InvalidRequest(format!(
            "amount {amount} is out of range"
        )));
    }
    Ok(())
}

#[async_trait]
impl CardTerminal for PrivatbankTerminal {
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome> {
        positive(req.amount)?;
        self.financial(
            Message::purchase(req.amount, req.merchant),
            req.amount,
            Some(req.merchant),
            progress,
        )
        .await
    }

    async fn last_transaction(&self) -> Result<Option<CardTransaction>> {
        self.receipt_info("0").await
    }

    async fn refund(&self, req: RefundRequest, progress: ProgressSink) -> Result<CardOutcome> {
        positive(req.amount)?;
        if req.rrn.trim().is_empty() {
            return Err(Error::InvalidRequest("refund needs the RRN".into()));
        }
        let msg = Message::refund(req.amount, req.merchant, req.rrn.trim());
        self.financial(msg, req.amount, Some(req.merchant), progress)
            .await
    }

    async fn void(&self, req: VoidRequest, progress: ProgressSink) -> Result<CardOutcome> {
        if req.invoice.trim().is_empty() {
            return Err(Error::InvalidRequest(
                "void needs the invoice number".into(),
            ));
        }
        self.financial(Message::withdrawal(req.invoice.trim()), 0, None, progress)
            .await
    }

    async fn cancel(&self) -> Result<()> {
        self.session
            .service(Message::service("interrupt"), ms(self.t.service_ms))
            .await
            .map(|_| ())
    }

    async fn batch_totals(&self, merchant: u8) -> Result<BatchReport> {
        let reply = self.request(Message::audit(merchant)).await?;
        let reply = expect_ok(&reply)?;
        let receipt = reply.text("receipt");
        Ok(BatchReport {
            merchant,
            totals: frame::slip_totals(&receipt),
            receipt,
            closed: false,
        })
    }

    async fn settle(&self, merchant: u8) -> Result<BatchReport> {
        let reply = self.request(Message::verify(merchant)).await?;
        if reply.response_code().as_deref() == Some("0001") {
            // Empty batch: nothing to settle.
            return Ok(BatchReport {
                merchant,
                totals: Some(crate::BatchTotals::default()),
                receipt: String::new(),
                closed: true,
            });
        }
        let reply = expect_ok(&reply)?;
        let receipt = reply.text("receipt");
        Ok(BatchReport {
            merchant,
            totals: frame::slip_totals(&receipt),
            receipt,
            closed: true,
        })
    }

    async fn find_by_invoice(&self, invoice: &str) -> Result<Option<CardTransaction>> {
        let inv = invoice.trim();
        if inv.is_empty() || inv == "0" {
            return Err(Error::InvalidRequest("an invoice number is needed".into()));
        }
        self.receipt_info(inv).await
    }

    async fn info(&self) -> Result<TerminalInfo> {
        let reply = self.request(Message::bare("GetTerminalInfo")).await?;
        let reply = expect_ok(&reply)?;
        let id = self.session.identity().unwrap_or_default();
        Ok(TerminalInfo {
            protocol: "privatbank".into(),
            vendor: id.vendor,
            model: id.model,
            version: reply.text("version"),
            endpoint: self.endpoint.to_string(),
        })
    }

    async fn check_connection(&self, _merchant: u8) -> Result<()> {
        let reply = self.request(Message::bare("CheckConnection")).await?;
        expect_ok(&reply).map(|_| ())
    }

    async fn open(&self) -> Result<()> {
        let t = &self.t;
        let budget = t.connect_ms * 3 + t.service_ms * 3 + t.after_handshake_ms;
        self.session.open(ms(budget)).await
    }

    async fn begin(&self, kind: TxnKind, amount: i64, merchant: u8) -> Result<PendingOperation> {
        let last = self.last_transaction().await?;
        let (tid, mid) = self.known_ids(merchant);
        Ok(
            PendingOperation::new(kind, amount, merchant, last.map(|t| t.invoice))
                .with_ids(&tid, &mid),
        )
    }

    async fn recover(&self, pending: &PendingOperation) -> Result<Recovery> {
        // A terminal still busy with the lost operation answers deviceBusy: wait.
        let last = self.last_when_free().await?;
        // A pending operation from an older journal may lack the ids: what
        // this driver knows now (the mask list of the handshake) fills them.
        let (tid, mid) = self.known_ids(pending.merchant);
        let pending = pending.clone().with_ids(
            if pending.terminal_id.is_empty() {
                &tid
            } else {
                ""
            },
            if pending.merchant_id.is_empty() {
                &mid
            } else {
                ""
            },
        );
        self.resolve(&pending, last).await
    }
}
