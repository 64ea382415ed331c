//! An Ingenico ECR web service emulator: a small HTTP/1.1 server on TCP, and
//! the same text protocol on a pty (RS232 variant), over one shared [`Bank`].
//!
//! It answers the four commands of the integration guide (V201): `sale`,
//! `void`, `settle` and `last trans`. `ocan` (stop a sale waiting for the
//! card) is not in the guide; it is the Techcombank variant's, answered only
//! when the emulator is built with [`IngenicoEmulatorConfig::ocan`]. Anything
//! else is a bad request (HTTP 400 with status `CANCELED`).
//!
//! Every reply echoes `requestId|clientId`, also inside `transInfo`, and
//! `last trans` answers the last successful transaction with the request id it
//! was made under. A sale first waits for the card; the guide counts a lost
//! connection among the causes of `CANCELED`, so while nothing has been read
//! the sale ends with the link (or with `ocan`); once the card is read it goes
//! on whatever happens to the link, and is recorded, so that the next
//! connection finds it with `last trans` (busy, HTTP 503, until it is done).
//!
//! Scripted outcomes: approve, decline with a host code, customer cancel / no
//! host link / no paper (`CANCELED`), partial approval (half the amount
//! approved with return code 00: the guide has no partial-approval code),
//! time-out (no card until `ocan`, the link goes, or the card wait runs out),
//! link dropped after approval (recorded, connection closed, no reply), busy
//! (HTTP 503 with status `BUSY`), a raw card number.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::frame::{parse_request_line, Command};
use crate::emulator::{Bank, Outcome, Record};
use crate::{TxnKind, TxnStatus};

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct IngenicoEmulatorConfig {
    /// Pause per status step (waiting for card, card read, PIN, authorising).
    pub step_delay: Duration,
    /// How long the terminal waits for a card that does not come.
    pub card_wait: Duration,
    /// Answer `ocan` (the Techcombank variant's cancel); off by default, as
    /// the integration guide has no such command.
    pub ocan: bool,
    /// Print each status step on stderr (`ingenico-web status 1`).
    pub trace: bool,
}

impl Default for IngenicoEmulatorConfig {
    fn default() -> Self {
        Self {
            step_delay: Duration::from_millis(300),
            card_wait: Duration::from_secs(60),
            ocan: false,
            trace: false,
        }
    }
}

/// What the emulator does with one request.
enum Answer {
    Json(Value),
    Busy(Value),
    /// A request the terminal does not understand.
    BadRequest(Value),
    /// Close the link without a reply.
    Drop,
}

/// The emulator; clones share one terminal.
#[derive(Debug, Clone)]
pub struct IngenicoEmulator {
    bank: Arc<Mutex<Bank>>,
    cfg: IngenicoEmulatorConfig,
    busy: Arc<tokio::sync::Mutex<()>>,
    /// Bumped by `ocan` to stop the sale in progress.
    cancel: Arc<watch::Sender<u64>>,
    /// Where the running sale is, in `LastStatMsgCode` terms (9 waiting for
    /// card, 1 card read, 6 PIN, 3 authorising; 0 idle).
    status: Arc<watch::Sender<u8>>,
}

/// Resolves once the ECR's link has gone (never, when it cannot tell).
async fn link_gone(mut closed: watch::Receiver<bool>) {
    if closed.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl IngenicoEmulator {
    /// A fresh terminal with the given pause per status step.
    pub fn new(step_delay: Duration) -> Self {
        Self::with_config(
            IngenicoEmulatorConfig {
                step_delay,
                ..IngenicoEmulatorConfig::default()
            },
            Bank::new(1),
        )
    }

    /// A terminal with these settings keeping its books in `bank`.
    pub fn with_config(cfg: IngenicoEmulatorConfig, mut bank: Bank) -> Self {
        if bank.books().protocol.is_empty() {
            bank.set_protocol("ingenico-web");
        }
        if cfg.trace {
            bank.set_trace(true);
        }
        Self {
            bank: Arc::new(Mutex::new(bank)),
            cfg,
            busy: Arc::new(tokio::sync::Mutex::new(())),
            cancel: Arc::new(watch::channel(0).0),
            status: Arc::new(watch::channel(0).0),
        }
    }

    /// Wait until the running sale reaches `code` (9 waiting for card, 1 card
    /// read, 6 PIN, 3 authorising, 0 idle): for tests that act at a step.
    pub async fn wait_for_status(&self, code: u8) {
        let mut rx = self.status.subscribe();
        let _ = rx.wait_for(|c| *c == code).await;
    }

    fn set_status(&self, code: u8) {
        self.status.send_replace(code);
        if self.cfg.trace {
            eprintln!("ingenico-web status {code}");
        }
    }

    /// The books. A panic that poisoned them is passed on.
    pub fn bank(&self) -> MutexGuard<'_, Bank> {
        self.bank
            .lock()
            .expect("the emulator's books were poisoned by a panic")
    }

    /// Queue the outcome of the next sale or void.
    pub fn script_next(&self, outcome: Outcome) {
        self.bank().script_next(outcome);
    }

    /// Bind `addr` and serve HTTP in the background; returns the bound address.
    pub async fn spawn_http(&self, addr: &str) -> std::io::Result<std::net::SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let this = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(this.clone().serve_http(stream));
            }
        });
        Ok(local)
    }

    /// Serve one HTTP connection (one request, then close).
    pub async fn serve_http<S: AsyncRead + AsyncWrite + Unpin + Send>(self, stream: S) {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.len() > 64 * 1024 {
                return;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let request_line = text.lines().next().unwrap_or_default();
        let target = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        // Watch the link while the request runs: the client sends nothing
        // more, so the end of its stream means it went away.
        let (closed_tx, closed_rx) = watch::channel(false);
        let watch_link = async {
            let mut scratch = [0u8; 256];
            while let Ok(n) = reader.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
            let _ = closed_tx.send(true);
            std::future::pending::<()>().await
        };
        let answer = tokio::select! {
            a = self.answer(&target, closed_rx) => a,
            () = watch_link => return,
        };
        let (status, body) = match answer {
            Answer::Json(v) => ("200 OK", v.to_string()),
            Answer::Busy(v) => ("503 Service Unavailable", v.to_string()),
            Answer::BadRequest(v) => ("400 Bad Request", v.to_string()),
            Answer::Drop => return,
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = writer.write_all(response.as_bytes()).await;
        let _ = writer.shutdown().await;
    }

    /// Serve the RS232 variant on a byte stream (a pty master): a request is
    /// the text up to a line end or a pause of 50 ms.
    pub async fn serve_serial<S: AsyncRead + AsyncWrite + Unpin + Send>(self, mut stream: S) {
        let mut pending = Vec::new();
        let mut buf = [0u8; 1024];
        // A serial line does not tell when the other end goes.
        let (_never, link) = watch::channel(false);
        loop {
            let read = if pending.is_empty() {
                Ok(stream.read(&mut buf).await)
            } else {
                tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await
            };
            let line = match read {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => {
                    pending.extend_from_slice(&buf[..n]);
                    match pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
                        Some(i) => {
                            let line: Vec<u8> = pending.drain(..=i).collect();
                            line
                        }
                        None => continue,
                    }
                }
                Err(_) => std::mem::take(&mut pending),
            };
            let line = String::from_utf8_lossy(&line).trim().to_string();
            if line.is_empty() {
                continue;
            }
            match self.answer(&line, link.clone()).await {
                Answer::Json(v) | Answer::Busy(v) | Answer::BadRequest(v) => {
                    if stream.write_all(v.to_string().as_bytes()).await.is_err() {
                        return;
                    }
                }
                Answer::Drop => {}
            }
        }
    }

    async fn answer(&self, target: &str, closed: watch::Receiver<bool>) -> Answer {
        let (rid, cid, cmd) = match parse_request_line(target) {
            Ok(parts) => parts,
            Err(e) => {
                return Answer::BadRequest(json!({"status": "CANCELED", "error": e.to_string()}))
            }
        };
        let echo = |command: &str, status: &str, info: Option<Value>| {
            let mut v =
                json!({"requestId": rid, "clientId": cid, "command": command, "status": status});
            if let (Some(obj), Some(info)) = (v.as_object_mut(), info) {
                obj.insert("transInfo".into(), info);
            }
            v
        };
        if cmd == Command::Cancel {
            if !self.cfg.ocan {
                let mut v = echo("ocan", "CANCELED", None);
                v["error"] = json!("unknown command ocan");
                return Answer::BadRequest(v);
            }
            let running = self.busy.try_lock().is_err();
            if running {
                self.cancel.send_modify(|n| *n += 1);
            }
            return Answer::Json(echo(
                "ocan",
                if running { "DONE" } else { "CANCELED" },
                None,
            ));
        }
        let Ok(_running) = self.busy.try_lock() else {
            return Answer::Busy(echo(&command_name(&cmd), "BUSY", None));
        };
        match cmd {
            Command::LastTrans => {
                let bank = self.bank();
                // The last successful transaction.
                let last = bank
                    .books()
                    .records
                    .iter()
                    .rev()
                    .find(|r| r.status == TxnStatus::Approved)
                    .cloned();
                match last {
                    Some(r) => Answer::Json(echo("last_trans", "DONE", Some(info(&r)))),
                    None => Answer::Json(echo("last_trans", "CANCELED", None)),
                }
            }
            Command::Settle { confirm } => {
                let mut bank = self.bank();
                let batch = bank.batch(1);
                if confirm {
                    let _ = bank.settle(0);
                }
                Answer::Json(echo(
                    "settle",
                    "DONE",
                    Some(
                        json!({"transType": "3", "STAN": "000000", "batchNo": format!("{batch:06}"),
                        "receiptNo": "000000", "transStatus": "APPROVE",
                        "requestId": rid, "clientId": cid}),
                    ),
                ))
            }
            Command::Sale { amount, .. } => {
                let outcome = self.bank().next_outcome();
                let rid2 = rid.clone();
                self.financial("sale", outcome, &rid, &cid, closed, move |bank, o| {
                    Some(bank.authorise_as(TxnKind::Purchase, 1, amount, o, &rid2))
                })
                .await
            }
            Command::Void { receipt } => {
                let outcome = self.bank().next_outcome();
                let invoice: u64 = receipt.parse().unwrap_or(0);
                let rid2 = rid.clone();
                self.financial("void", outcome, &rid, &cid, closed, move |bank, o| {
                    bank.void_as(invoice, &rid2, o).ok()
                })
                .await
            }
            Command::Cancel => Answer::Json(echo("ocan", "CANCELED", None)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn financial(
        &self,
        command: &str,
        outcome: Outcome,
        rid: &str,
        cid: &str,
        closed: watch::Receiver<bool>,
        apply: impl FnOnce(&mut Bank, &Outcome) -> Option<Record>,
    ) -> Answer {
        let echo = |status: &str, info: Option<Value>| {
            let mut v =
                json!({"requestId": rid, "clientId": cid, "command": command, "status": status});
            if let (Some(obj), Some(info)) = (v.as_object_mut(), info) {
                obj.insert("transInfo".into(), info);
            }
            v
        };
        let canceled = |why: &str| {
            Answer::Json(echo(
                "CANCELED",
                Some(json!({"transStatus": why, "requestId": rid, "clientId": cid})),
            ))
        };
        if outcome == Outcome::Busy {
            return Answer::Busy(echo("BUSY", None));
        }
        // Waiting for the card: `ocan` or the ECR's link going ends the sale,
        // and nothing has been read or charged.
        let mut cancel = self.cancel.subscribe();
        let wait = if outcome == Outcome::Timeout {
            self.cfg.card_wait
        } else {
            self.cfg.step_delay
        };
        self.set_status(9);
        let _idle = Idle(self);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                if outcome == Outcome::Timeout {
                    return canceled("TIMEOUT");
                }
            }
            _ = cancel.changed() => return canceled("USER CANCEL"),
            () = link_gone(closed) => return Answer::Drop,
        }
        match outcome {
            Outcome::CustomerCancel => return canceled("USER CANCEL"),
            Outcome::NoPaper => return canceled("NO PAPER"),
            _ => {}
        }
        // Card read, PIN, authorising: the sale goes on whatever the link does.
        for code in [1, 6, 3] {
            self.set_status(code);
            tokio::time::sleep(self.cfg.step_delay).await;
        }
        if outcome == Outcome::NoHostLink {
            return canceled("CONNECTION LOST");
        }
        let mut bank = self.bank();
        let Some(record) = apply(&mut bank, &outcome) else {
            return Answer::Json(echo(
                "DONE",
                Some(
                    json!({"returnCode": "12", "transStatus": "INVALID TRANSACTION",
                    "requestId": rid, "clientId": cid}),
                ),
            ));
        };
        drop(bank);
        if outcome == Outcome::DropAfterApproval {
            return Answer::Drop;
        }
        Answer::Json(echo("DONE", Some(info(&record))))
    }
}

/// Sets the status back to idle when a sale ends, however it ends.
struct Idle<'a>(&'a IngenicoEmulator);

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.0.set_status(0);
    }
}

fn command_name(cmd: &Command) -> String {
    match cmd {
        Command::Sale { .. } => "sale",
        Command::Void { .. } => "void",
        Command::Settle { .. } => "settle",
        Command::LastTrans => "last_trans",
        Command::Cancel => "ocan",
    }
    .into()
}

/// The `transInfo` of a record.
fn info(r: &Record) -> Value {
    let approved = r.status == TxnStatus::Approved;
    // This protocol has no partial-approval code: a partial approval is an
    // approval (00) of a smaller amount.
    let code = if approved {
        "00".to_string()
    } else {
        r.host_code.clone()
    };
    json!({
        "transType": match r.kind { TxnKind::Void => "2", _ => "1" },
        "cardNo": r.pan.clone(),
        "amount": r.amount.to_string(),
        "STAN": format!("{:06}", r.invoice),
        "time": r.at.format("%Y%m%d%H%M%S").to_string(),
        "expireDate": "XXXX",
        "refNo": r.rrn,
        "approvalCode": r.auth_code,
        "returnCode": code,
        "tid": r.terminal_id,
        "mid": format!("{:0>15}", r.merchant_id),
        "currencyCode": "980",
        "batchNo": format!("{:06}", r.batch),
        "receiptNo": format!("{:06}", r.invoice),
        "cardType": r.scheme,
        "cardHolder": "",
        "cardInput": "C",
        "emvAID": r.aid,
        "posSerial": "00000001",
        "transName": match r.kind { TxnKind::Void => "VOID", _ => "SALE" },
        "transStatus": if approved { "APPROVE" } else { "DECLINE" },
        "requestId": r.request_id,
        "clientId": "",
    })
}
