//! The Ingenico ECR web service / RS232 driver.
//!
//! Over HTTP each command is one GET that stays open for the whole transaction
//! (a long, configurable time-out). Over RS232 the same request text is
//! written to the port (115200 8N1) and the reply is the next whole JSON
//! object. Every request carries a fresh `requestId`, which the terminal
//! echoes: a reply with another id is rejected, and `last trans` recovery
//! matches on it exactly. `CANCELED` also covers a lost connection, so the
//! driver checks `last trans` before it reports a cancel.
//!
//! The guide has no refund and no cancel command. [`CardTerminal::cancel`]
//! sends `ocan` where the terminal takes it (the Techcombank variant,
//! `cancel_address`); otherwise it drops the open sale request, which the
//! terminal takes as a lost connection: a sale still waiting for the card
//! ends there, one past the card goes on. Either way the driver then asks
//! `last trans` (waiting while the terminal is busy) and reports the approval
//! if the sale went through, so a late cancel never loses an approval. Over
//! RS232 there is nothing to drop, and cancel is unsupported.

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::{request_line, Command, JsonSplitter, Reply, Status};
use crate::recovery::{self, PendingOperation, Recovery};
use crate::transport::{self, millis, BoxStream, Endpoint};
use crate::{
    BatchReport, CardOutcome, CardTerminal, CardTransaction, Error, ProgressSink, PurchaseRequest,
    Result, TerminalInfo, TerminalProgress, TerminalStatus, TxnKind, TxnStatus, VoidRequest,
};

/// How often the driver asks again while the terminal answers busy.
const BUSY_POLL: Duration = Duration::from_millis(50);

/// How the driver reaches the terminal.
enum Link {
    Http {
        base: String,
        client: reqwest::Client,
    },
    Serial {
        endpoint: Endpoint,
        port: tokio::sync::Mutex<Option<BoxStream>>,
    },
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Http { base, .. } => write!(f, "Http({base})"),
            Link::Serial { endpoint, .. } => write!(f, "Serial({endpoint})"),
        }
    }
}

/// The Ingenico ECR web service / RS232 terminal.
#[derive(Debug)]
pub struct IngenicoTerminal {
    link: Link,
    client_id: String,
    /// A sale or void (card, PIN and host inside one request).
    sale_timeout: Duration,
    /// Settlement and lookups.
    request_timeout: Duration,
    connect_timeout: Duration,
    op_lock: tokio::sync::Mutex<()>,
    /// Where `ocan` goes (Techcombank uses another port); HTTP only. Without
    /// it, cancel drops the open request.
    cancel_base: Option<String>,
    /// Bumped by `cancel` to drop the sale request in flight.
    cancel: tokio::sync::watch::Sender<u64>,
}

impl IngenicoTerminal {
    /// A driver for `endpoint`: TCP means the HTTP web service at `host:port`,
    /// serial means the RS232 variant.
    pub fn new(
        endpoint: Endpoint,
        client_id: &str,
        sale_timeout: Duration,
        request_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Self> {
        let link = match &endpoint {
            Endpoint::Tcp { address } => {
                let client = reqwest::Client::builder()
                    .connect_timeout(connect_timeout)
                    .pool_max_idle_per_host(0)
                    .build()
                    .map_err(|e| Error::Transport(std::io::Error::other(e.to_string())))?;
                Link::Http {
                    base: format!("http://{address}"),
                    client,
                }
            }
            Endpoint::Serial { .. } => Link::Serial {
                endpoint,
                port: tokio::sync::Mutex::new(None),
            },
        };
        let client_id: String = client_id.chars().take(super::frame::MAX_ID).collect();
        Ok(Self {
            link,
            client_id,
            sale_timeout,
            request_timeout,
            connect_timeout,
            op_lock: tokio::sync::Mutex::new(()),
            cancel_base: None,
            cancel: tokio::sync::watch::channel(0).0,
        })
    }

    /// Send `ocan` to `host:port` instead of the web service's own address.
    pub fn with_cancel_address(mut self, address: &str) -> Self {
        self.cancel_base = Some(format!("http://{address}"));
        self
    }

    /// Send one command and check that the reply echoes `request_id`.
    pub async fn exchange(
        &self,
        request_id: &str,
        cmd: &Command,
        timeout: Duration,
    ) -> Result<Reply> {
        let line = request_line(request_id, &self.client_id, cmd)?;
        tracing::debug!(
            target: "kasa::device::terminal",
            protocol = "ingenico",
            frame = %crate::transport::printable(line.as_bytes()),
            ">>> sent"
        );
        let body = match &self.link {
            Link::Http { base, client } => {
                http_get(client, &format!("{base}{line}"), timeout).await?
            }
            Link::Serial { endpoint, port } => {
                let mut port = port.lock().await;
                let r = serial_exchange(&mut port, endpoint, &line, timeout, self.connect_timeout)
                    .await;
                if r.is_err() {
                    *port = None;
                }
                r?
            }
        };
        tracing::debug!(
            target: "kasa::device::terminal",
            protocol = "ingenico",
            frame = %crate::transport::printable(&body),
            "<<< received"
        );
        let reply = Reply::decode(&body)?;
        if reply.status == Status::Busy {
            return Err(Error::Busy);
        }
        if !reply.request_id.is_empty() && reply.request_id != request_id {
            return Err(Error::Protocol(format!(
                "reply for request {:?}, expected {request_id:?}",
                reply.request_id
            )));
        }
        Ok(reply)
    }

    /// Run a sale or a void under the request id of `pending`.
    async fn financial(
        &self,
        cmd: Command,
        pending: &PendingOperation,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        let _g = self.op_lock.lock().await;
        let first = if matches!(cmd, Command::Sale { .. }) {
            TerminalStatus::WaitingForCard
        } else {
            TerminalStatus::InProgress
        };
        let _ = progress.send(TerminalProgress::new(first));
        let mut cancelled = self.cancel.subscribe();
        let exchange = self.exchange(&pending.request_id, &cmd, self.sale_timeout);
        let reply = tokio::select! {
            r = exchange => r?,
            _ = cancelled.changed() => {
                // The request is dropped: the terminal sees its link go.
                let _ = progress.send(TerminalProgress::new(TerminalStatus::Cancelling));
                let outcome = self.after_cancel(pending).await;
                let _ = progress.send(TerminalProgress::new(TerminalStatus::Finished));
                return outcome;
            }
        };
        let _ = progress.send(TerminalProgress::new(TerminalStatus::Finished));
        let mut outcome = self.judge_reply(&reply, pending).await?;
        if let CardOutcome::Approved(tx) = &mut outcome {
            tx.fill_from(pending);
        }
        Ok(outcome)
    }

    /// After the sale request was dropped by a cancel: the approval if the
    /// terminal went through with it, else cancelled.
    async fn after_cancel(&self, pending: &PendingOperation) -> Result<CardOutcome> {
        let last = self.last_when_free().await?;
        Ok(match recovery::judge_by_request_id(pending, last) {
            Recovery::Found(tx) if tx.status == TxnStatus::Approved => CardOutcome::Approved(tx),
            _ => CardOutcome::Cancelled,
        })
    }

    async fn judge_reply(&self, reply: &Reply, pending: &PendingOperation) -> Result<CardOutcome> {
        match &reply.status {
            Status::Done if reply.approved() => Ok(CardOutcome::Approved(reply.transaction()?)),
            Status::Done => {
                let code = reply.info("returnCode");
                if code.is_empty() {
                    return Err(Error::Protocol("DONE without returnCode".into()));
                }
                let status = reply.info("transStatus");
                let message = if status.is_empty() {
                    crate::response_text(&code, crate::Lang::En).to_string()
                } else {
                    status
                };
                Ok(CardOutcome::Declined { code, message })
            }
            Status::Canceled => {
                // CANCELED includes a lost connection: make sure nothing went through.
                let found = self.lookup_last().await.ok().flatten();
                match recovery::judge_by_request_id(pending, found) {
                    Recovery::Found(tx) if tx.status == TxnStatus::Approved => {
                        Ok(CardOutcome::Approved(tx))
                    }
                    _ => Ok(CardOutcome::Cancelled),
                }
            }
            Status::Busy => Err(Error::Busy),
            Status::Other(s) => Err(Error::Protocol(format!("unknown status {s:?}"))),
        }
    }

    async fn lookup_last(&self) -> Result<Option<CardTransaction>> {
        let id = recovery::new_request_id();
        let reply = self
            .exchange(&id, &Command::LastTrans, self.request_timeout)
            .await?;
        if reply.status != Status::Done || reply.trans_info.is_none() {
            return Ok(None);
        }
        let mut tx = reply.transaction()?;
        if tx.request_id == id {
            // The terminal echoed the lookup's id, not the transaction's.
            tx.request_id.clear();
        }
        Ok(Some(tx))
    }

    /// `last trans`, asked again while the terminal is busy (still with the
    /// sale whose reply was lost), for at most the sale time-out.
    async fn last_when_free(&self) -> Result<Option<CardTransaction>> {
        let deadline = tokio::time::Instant::now() + self.sale_timeout;
        loop {
            match self.lookup_last().await {
                Err(Error::Busy) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(BUSY_POLL).await;
                }
                other => return other,
            }
        }
    }

    fn void_command(invoice: &str) -> Command {
        let invoice = invoice.trim().trim_start_matches('0');
        Command::Void {
            receipt: if invoice.is_empty() {
                "0".into()
            } else {
                invoice.into()
            },
        }
    }
}

async fn http_get(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<Vec<u8>> {
    let map = |e: reqwest::Error| {
        if e.is_timeout() {
            Error::Timeout(millis(timeout))
        } else if e.is_connect() {
            Error::Transport(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                e.to_string(),
            ))
        } else {
            Error::LinkLost(e.to_string())
        }
    };
    let resp = client.get(url).timeout(timeout).send().await.map_err(map)?;
    if resp.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return Err(Error::Busy);
    }
    if !resp.status().is_success() {
        return Err(Error::Protocol(format!("HTTP {}", resp.status())));
    }
    Ok(resp.bytes().await.map_err(map)?.to_vec())
}

async fn serial_exchange(
    port: &mut Option<BoxStream>,
    endpoint: &Endpoint,
    line: &str,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<Vec<u8>> {
    if port.is_none() {
        *port = Some(transport::open(endpoint, connect_timeout).await?);
    }
    let Some(stream) = port.as_mut() else {
        return Err(Error::LinkLost("port not open".into()));
    };
    stream.write_all(line.as_bytes()).await?;
    stream.flush().await?;
    let mut splitter = JsonSplitter::default();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .map_err(|_| Error::Timeout(millis(timeout)))??;
        if n == 0 {
            return Err(Error::LinkLost("port closed".into()));
        }
        if let Some(obj) = splitter.push(&buf[..n]).into_iter().next() {
            return Ok(obj);
        }
    }
}

#[async_trait]
impl CardTerminal for IngenicoTerminal {
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome> {
        let pending = PendingOperation::new(TxnKind::Purchase, req.amount, req.merchant, None);
        self.purchase_as(&pending, progress).await
    }

    async fn purchase_as(
        &self,
        pending: &PendingOperation,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        if pending.amount <= 0 {
            return Err(Error::InvalidRequest(format!(
                "amount {} must be positive",
                pending.amount
            )));
        }
        let cmd = Command::Sale {
            amount: pending.amount,
            fields: Default::default(),
        };
        self.financial(cmd, pending, progress).await
    }

    async fn execute(
        &self,
        pending: &PendingOperation,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        pending.validate()?;
        match pending.kind {
            TxnKind::Purchase => self.purchase_as(pending, progress).await,
            TxnKind::Void => {
                let invoice = pending.original_invoice.as_deref().unwrap_or_default();
                self.financial(Self::void_command(invoice), pending, progress)
                    .await
            }
            TxnKind::Refund => Err(Error::Unsupported(
                "refund: the Ingenico web service has none".into(),
            )),
            TxnKind::Other => Err(Error::Unsupported("operation kind other".into())),
        }
    }

    async fn open(&self) -> Result<()> {
        // HTTP: one connection per request, nothing to keep. RS232: open the port.
        if let Link::Serial { endpoint, port } = &self.link {
            let mut port = port.lock().await;
            if port.is_none() {
                *port = Some(transport::open(endpoint, self.connect_timeout).await?);
            }
        }
        Ok(())
    }

    async fn last_transaction(&self) -> Result<Option<CardTransaction>> {
        let _g = self.op_lock.lock().await;
        self.lookup_last().await
    }

    async fn void(&self, req: VoidRequest, progress: ProgressSink) -> Result<CardOutcome> {
        let pending = PendingOperation::new(TxnKind::Void, 0, req.merchant, None);
        self.financial(Self::void_command(&req.invoice), &pending, progress)
            .await
    }

    async fn cancel(&self) -> Result<()> {
        // Not under the operation lock: the sale's request is still open.
        let Link::Http { client, .. } = &self.link else {
            return Err(Error::Unsupported("cancel over RS232".into()));
        };
        let Some(base) = self.cancel_base.as_deref() else {
            self.cancel.send_modify(|n| *n += 1);
            return Ok(());
        };
        let id = recovery::new_request_id();
        let line = request_line(&id, &self.client_id, &Command::Cancel)?;
        let body = http_get(client, &format!("{base}{line}"), self.request_timeout).await?;
        Reply::decode(&body).map(|_| ())
    }

    async fn settle(&self, merchant: u8) -> Result<BatchReport> {
        let _g = self.op_lock.lock().await;
        let id = recovery::new_request_id();
        let reply = self
            .exchange(&id, &Command::Settle { confirm: true }, self.sale_timeout)
            .await?;
        if reply.status != Status::Done
            || !reply.info("transStatus").eq_ignore_ascii_case("APPROVE")
        {
            return Err(Error::device(
                "1000",
                &format!("settlement not done: {:?}", reply.status),
            ));
        }
        Ok(BatchReport {
            merchant,
            totals: None,
            receipt: String::new(),
            closed: true,
        })
    }

    async fn info(&self) -> Result<TerminalInfo> {
        let endpoint = match &self.link {
            Link::Http { base, .. } => base.clone(),
            Link::Serial { endpoint, .. } => endpoint.to_string(),
        };
        Ok(TerminalInfo {
            protocol: "ingenico-web".into(),
            vendor: "Ingenico".into(),
            model: String::new(),
            version: String::new(),
            endpoint,
        })
    }

    async fn recover(&self, pending: &PendingOperation) -> Result<Recovery> {
        let last = {
            let _g = self.op_lock.lock().await;
            self.last_when_free().await?
        };
        // `last trans` is the only lookup: no scan by invoice; the echoed id
        // decides.
        Ok(recovery::judge_by_request_id(pending, last))
    }
}
