//! An Ingenico ECR web service emulator: a small HTTP/1.1 server on TCP, and
//! the same text protocol on a pty (RS232 variant), over one shared [`Bank`].
//!
//! Sales and voids take a few status steps (nobody polls them: the reply comes
//! at the end of the one request); every reply echoes `requestId|clientId`,
//! also inside `transInfo`, and `last trans` answers the last successful
//! transaction with the request id it was made under. Scripted outcomes:
//! approve, decline with a host code, customer cancel / no host link / no paper
//! (`CANCELED`), partial approval (half the amount approved), time-out (no
//! answer for a minute, or until `ocan`), link dropped after approval (recorded, connection closed, no
//! reply), busy (HTTP 503 with status `BUSY`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::frame::{parse_request_line, Command};
use crate::emulator::{Bank, Outcome, Record};
use crate::TxnStatus;

/// How long the emulated terminal waits for a card before it gives up.
const CARD_WAIT: Duration = Duration::from_secs(60);

/// What the emulator does with one request.
enum Answer {
    Json(Value),
    Busy(Value),
    /// Close the link without a reply.
    Drop,
}

/// The emulator; clones share one terminal.
#[derive(Debug, Clone)]
pub struct IngenicoEmulator {
    bank: Arc<Mutex<Bank>>,
    step_delay: Duration,
    busy: Arc<tokio::sync::Mutex<()>>,
    /// Bumped by `ocan` to stop the sale in progress.
    cancel: Arc<tokio::sync::watch::Sender<u64>>,
}

impl IngenicoEmulator {
    /// A fresh terminal.
    pub fn new(step_delay: Duration) -> Self {
        Self {
            bank: Arc::new(Mutex::new(Bank::new(1))),
            step_delay,
            busy: Arc::new(tokio::sync::Mutex::new(())),
            cancel: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// The books.
    pub fn bank(&self) -> MutexGuard<'_, Bank> {
        match self.bank.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
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
    pub async fn serve_http<S: AsyncRead + AsyncWrite + Unpin + Send>(self, mut stream: S) {
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
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
        let answer = self.answer(&target).await;
        let (status, body) = match answer {
            Answer::Json(v) => ("200 OK", v.to_string()),
            Answer::Busy(v) => ("503 Service Unavailable", v.to_string()),
            Answer::Drop => return,
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    /// Serve the RS232 variant on a byte stream (a pty master): a request is
    /// the text up to a line end or a pause of 50 ms.
    pub async fn serve_serial<S: AsyncRead + AsyncWrite + Unpin + Send>(self, mut stream: S) {
        let mut pending = Vec::new();
        let mut buf = [0u8; 1024];
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
            match self.answer(&line).await {
                Answer::Json(v) | Answer::Busy(v) => {
                    if stream.write_all(v.to_string().as_bytes()).await.is_err() {
                        return;
                    }
                }
                Answer::Drop => {}
            }
        }
    }

    async fn answer(&self, target: &str) -> Answer {
        let (rid, cid, cmd) = match parse_request_line(target) {
            Ok(parts) => parts,
            Err(e) => return Answer::Json(json!({"status": "CANCELED", "error": e.to_string()})),
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
            return Answer::Busy(echo("sale", "BUSY", None));
        };
        match cmd {
            Command::LastTrans => {
                let bank = self.bank();
                let last = bank
                    .lookup(0)
                    .filter(|r| r.status == TxnStatus::Approved)
                    .or_else(|| {
                        bank.journal()
                            .iter()
                            .rev()
                            .find(|r| r.status == TxnStatus::Approved)
                    })
                    .cloned();
                match last {
                    Some(r) => Answer::Json(echo("last_trans", "DONE", Some(self.info(&bank, &r)))),
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
                self.financial("sale", outcome, &rid, &cid, |bank, code| {
                    Some(bank.authorise(crate::TxnKind::Purchase, 1, amount, code, &rid))
                })
                .await
            }
            Command::Cancel => Answer::Json(echo("ocan", "CANCELED", None)),
            Command::Void { receipt } => {
                let outcome = self.bank().next_outcome();
                let invoice: u64 = receipt.parse().unwrap_or(0);
                self.financial("void", outcome, &rid, &cid, |bank, _| {
                    bank.void(invoice, &rid).ok()
                })
                .await
            }
        }
    }

    async fn financial(
        &self,
        command: &str,
        outcome: Outcome,
        rid: &str,
        cid: &str,
        apply: impl FnOnce(&mut Bank, &str) -> Option<Record>,
    ) -> Answer {
        let echo = |status: &str, info: Option<Value>| {
            let mut v =
                json!({"requestId": rid, "clientId": cid, "command": command, "status": status});
            if let (Some(obj), Some(info)) = (v.as_object_mut(), info) {
                obj.insert("transInfo".into(), info);
            }
            v
        };
        let mut cancel = self.cancel.subscribe();
        let user_cancel = || {
            Answer::Json(echo(
                "CANCELED",
                Some(json!({"transStatus": "USER CANCEL", "requestId": rid, "clientId": cid})),
            ))
        };
        for _ in 0..4 {
            tokio::select! {
                _ = tokio::time::sleep(self.step_delay) => {}
                _ = cancel.changed() => return user_cancel(),
            }
        }
        let code = match &outcome {
            Outcome::Busy => return Answer::Busy(echo("BUSY", None)),
            Outcome::Timeout => {
                // Waits for a card until `ocan`, or gives up after its own minute.
                tokio::select! {
                    _ = cancel.changed() => return user_cancel(),
                    _ = tokio::time::sleep(CARD_WAIT) => {
                        return Answer::Json(echo(
                            "CANCELED",
                            Some(json!({"transStatus": "TIMEOUT", "requestId": rid, "clientId": cid})),
                        ));
                    }
                }
            }
            Outcome::CustomerCancel | Outcome::NoHostLink | Outcome::NoPaper => {
                let why = match outcome {
                    Outcome::CustomerCancel => "USER CANCEL",
                    Outcome::NoHostLink => "CONNECTION LOST",
                    _ => "NO PAPER",
                };
                return Answer::Json(echo(
                    "CANCELED",
                    Some(json!({"transStatus": why, "requestId": rid, "clientId": cid})),
                ));
            }
            Outcome::Decline(c) => c.clone(),
            Outcome::PartialApproval => "10".into(),
            Outcome::Approve | Outcome::DropAfterApproval => "00".into(),
        };
        let mut bank = self.bank();
        let Some(mut record) = apply(&mut bank, &code) else {
            return Answer::Json(echo(
                "DONE",
                Some(
                    json!({"returnCode": "12", "transStatus": "INVALID TRANSACTION",
                    "requestId": rid, "clientId": cid}),
                ),
            ));
        };
        if record.host_code == "10" {
            // This protocol has no partial-approval code: a smaller approved amount.
            record.host_code = "00".into();
        }
        let info = self.info(&bank, &record);
        drop(bank);
        if outcome == Outcome::DropAfterApproval {
            return Answer::Drop;
        }
        Answer::Json(echo("DONE", Some(info)))
    }

    fn info(&self, bank: &Bank, r: &Record) -> Value {
        let p = bank.profile(r.merchant);
        let approved = r.status == TxnStatus::Approved;
        let code = if approved {
            "00".to_string()
        } else {
            r.host_code.clone()
        };
        json!({
            "transType": match r.kind { crate::TxnKind::Void => "2", _ => "1" },
            "cardNo": r.pan.clone(),
            "amount": r.amount.to_string(),
            "STAN": format!("{:06}", r.invoice),
            "time": r.at.format("%Y%m%d%H%M%S").to_string(),
            "expireDate": "XXXX",
            "refNo": r.rrn,
            "approvalCode": r.auth_code,
            "returnCode": code,
            "tid": p.terminal_id,
            "mid": format!("{:0>15}", p.merchant_id),
            "currencyCode": "980",
            "batchNo": format!("{:06}", r.batch),
            "receiptNo": format!("{:06}", r.invoice),
            "cardType": r.scheme,
            "cardHolder": "",
            "cardInput": "C",
            "posSerial": "00000001",
            "transName": match r.kind { crate::TxnKind::Void => "VOID", _ => "SALE" },
            "transStatus": if approved { "APPROVE" } else { "DECLINE" },
            "requestId": r.request_id,
            "clientId": "",
        })
    }
}
