//! A PrivatBank ECR JSON terminal emulator: a real peer on TCP or a pty.
//!
//! It answers the handshake, identify and the service lane at any time, runs
//! one financial operation at a time through a status timeline (9 waiting for
//! card → 1 card read → 2 chip → 6 PIN → 3 authorising → 5 printing → 7 card
//! removed), answers a competing request with `deviceBusy`, honours
//! `interrupt` (reversing an operation already authorised), and keeps its
//! books in a shared [`Bank`], so lookups, X and Z agree with what it did.
//!
//! It answers only what the protocol document (v1.0.3.1) has, and of that
//! what a checkout uses: `PingDevice`, `GetTerminalInfo`, `CheckConnection`,
//! `Purchase`, `Refund`, `Withdrawal`, `Audit`, `Verify`, `GetReceiptInfo`;
//! service messages `identify`, `getLastResult`, `getLastStatMsgCode`,
//! `getLastStatMsgDescription`, `getMaskList`, `interrupt`. Everything else
//! gets the protocol's own `methodNotImplemented`; a frame it cannot decode is
//! ignored, as a terminal ignores noise on its line.
//!
//! When the ECR's link goes while an operation runs (the cash register was
//! killed), the operation goes on as on a real terminal: it is recorded and,
//! the protocol being auto-confirmed, stays charged; the next connection
//! gets `deviceBusy` until it ends and then finds it with `GetReceiptInfo`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::FramedRead;

use super::codec::{Chunk, NulCodec};
use super::frame::{self, Message, SERVICE};
use crate::emulator::{money, Bank, Outcome, Record};
use crate::transport::ByteStream;
use crate::{BatchTotals, Error, TxnKind, TxnStatus};

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Pause between status steps (0 for benchmarks, ~300 ms for a demo).
    pub step_delay: Duration,
    pub vendor: String,
    pub model: String,
    pub version: String,
    pub merchants: u8,
    /// How long the terminal waits for a card that does not come before it
    /// gives the operation up (answering 1001).
    pub card_wait: Duration,
    /// Move to the next status step only once a `getLastStatMsgCode` poll has
    /// read the current one (besides the step delay), so that a driver sees
    /// every step whatever the machine's load: for timeline tests.
    pub lockstep: bool,
    /// Print each status step on stderr (`privatbank status 1`).
    pub trace: bool,
    /// The bank profile's "ECR prints the slip" setting. Off, the terminal
    /// prints its own slips and sends the till only `responseCode` (spec
    /// §1.6): no card data, no slip text, not even in an X or Z report or a
    /// lookup (the emulator's reading of the same setting).
    pub ecr_slip: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            step_delay: Duration::from_millis(300),
            vendor: "Kasa".into(),
            model: "emulator".into(),
            version: "TE7E132 KASA0001EMU0000001".into(),
            merchants: 3,
            card_wait: Duration::from_secs(60),
            lockstep: false,
            trace: false,
            ecr_slip: true,
        }
    }
}

/// The status code of the running operation, and whether a poll has read it.
#[derive(Debug, Clone, Copy, Default)]
struct Stat {
    code: u8,
    seen: bool,
}

#[derive(Debug)]
struct Shared {
    cfg: EmulatorConfig,
    bank: Mutex<Bank>,
    stat: watch::Sender<Stat>,
    /// `Some` while an operation runs; sending `true` interrupts it.
    running: Mutex<Option<watch::Sender<bool>>>,
    /// Set once a frame that could not be decoded was ignored.
    frames_ignored: AtomicBool,
}

/// The emulator; clones share one terminal.
#[derive(Debug, Clone)]
pub struct PrivatbankEmulator {
    shared: Arc<Shared>,
}

enum Out {
    Frame(Vec<u8>),
    Close,
}

type Tx = mpsc::UnboundedSender<Out>;

impl PrivatbankEmulator {
    /// A fresh terminal with an empty batch.
    pub fn new(cfg: EmulatorConfig) -> Self {
        let bank = Bank::new(cfg.merchants);
        Self::from_bank(cfg, bank)
    }

    /// A terminal keeping its books in `bank` (e.g. one with a state file).
    pub fn from_bank(cfg: EmulatorConfig, mut bank: Bank) -> Self {
        if bank.books().protocol.is_empty() {
            bank.set_protocol("privatbank");
        }
        if cfg.trace {
            bank.set_trace(true);
        }
        let shared = Shared {
            cfg,
            bank: Mutex::new(bank),
            stat: watch::channel(Stat::default()).0,
            running: Mutex::new(None),
            frames_ignored: AtomicBool::new(false),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The books (for scripting and checks). A panic that poisoned them is
    /// passed on: an emulator whose books may be half-written is no oracle.
    pub fn bank(&self) -> MutexGuard<'_, Bank> {
        self.shared
            .bank
            .lock()
            .expect("the emulator's books were poisoned by a panic")
    }

    /// Queue the outcome of the next financial operation.
    pub fn script_next(&self, outcome: Outcome) {
        self.bank().script_next(outcome);
    }

    /// `true` once a frame that could not be decoded was ignored.
    pub fn ignored_a_frame(&self) -> bool {
        self.shared.frames_ignored.load(Ordering::SeqCst)
    }

    /// Bind `addr` (e.g. `127.0.0.1:0`), serve in a background task, and return
    /// the bound address.
    pub async fn spawn_tcp(&self, addr: &str) -> std::io::Result<std::net::SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tokio::spawn(self.clone().serve_tcp(listener));
        Ok(local)
    }

    /// Accept connections for ever, one task each.
    pub async fn serve_tcp(self, listener: TcpListener) {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(self.clone().serve(stream));
        }
    }

    /// Serve one link (a TCP connection or a pty master) until it closes.
    pub async fn serve<S: ByteStream + 'static>(self, stream: S) {
        let (reader, mut writer) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
        let (closed_tx, mut closed) = watch::channel(false);
        tokio::spawn(async move {
            while let Some(out) = rx.recv().await {
                match out {
                    Out::Frame(bytes) => {
                        if writer.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Out::Close => break,
                }
            }
            let _ = writer.shutdown().await;
            let _ = closed_tx.send(true);
        });
        let mut frames = FramedRead::new(reader, NulCodec::default());
        loop {
            tokio::select! {
                item = frames.next() => match item {
                    Some(Ok(Chunk::Frame(bytes))) => self.on_frame(&bytes, &tx),
                    Some(Ok(Chunk::Dropped(_))) => {}
                    Some(Err(_)) | None => break,
                },
                _ = closed.changed() => break,
            }
        }
        let _ = tx.send(Out::Close);
    }

    fn on_frame(&self, bytes: &[u8], tx: &Tx) {
        let Ok(msg) = Message::decode(bytes) else {
            // A real terminal ignores what it cannot read.
            self.shared.frames_ignored.store(true, Ordering::SeqCst);
            return;
        };
        if msg.is_service() {
            self.on_service(&msg, tx);
            return;
        }
        if self.is_running() {
            send(tx, &service_reply(&[("msgType", "deviceBusy")]));
            return;
        }
        let method = msg.method.clone();
        let reply = match method.as_str() {
            "PingDevice" => ok(&method, &[("code", "00"), ("responseCode", "0000")]),
            "CheckConnection" => ok(&method, &[("code", "00"), ("responseCode", "0000")]),
            "GetTerminalInfo" => ok(&method, &[("version", &self.shared.cfg.version)]),
            "Purchase" | "Refund" | "Withdrawal" => {
                self.start(msg, tx.clone());
                return;
            }
            "Audit" => self.audit(&msg, false),
            "Verify" => self.audit(&msg, true),
            "GetReceiptInfo" => self.receipt_info(&msg),
            _ => service_reply(&[("msgType", " methodNotImplemented")]),
        };
        send(tx, &reply);
    }

    fn is_running(&self) -> bool {
        self.shared
            .running
            .lock()
            .map(|r| r.is_some())
            .unwrap_or(false)
    }

    fn on_service(&self, msg: &Message, tx: &Tx) {
        let stat = self.shared.stat.borrow().code;
        let reply = match msg.msg_type().unwrap_or_default() {
            "getLastStatMsgCode" => {
                let mut code = stat;
                self.shared.stat.send_modify(|s| {
                    s.seen = true;
                    code = s.code;
                });
                service_reply(&[
                    ("msgType", "getLastStatMsgCode"),
                    ("LastStatMsgCode", &code.to_string()),
                ])
            }
            "getLastStatMsgDescription" => service_reply(&[
                ("msgType", "getLastStatMsgDescription "),
                ("LastStatMsgDescription", stat_description(stat)),
            ]),
            "getLastResult" => service_reply(&[
                ("msgType", "getLastResult"),
                ("LastResult", if self.is_running() { "2" } else { "0" }),
            ]),
            "identify" => service_reply(&[
                ("msgType", "identify"),
                ("result", "true"),
                ("vendor", &self.shared.cfg.vendor),
                ("model", &self.shared.cfg.model),
            ]),
            "interrupt" => {
                if let Ok(running) = self.shared.running.lock() {
                    if let Some(stop) = running.as_ref() {
                        let _ = stop.send(true);
                    }
                }
                service_reply(&[("msgType", " interruptTransmitted")])
            }
            "getMaskList" => {
                // The spec's example lists, per merchant index, the id its X
                // slip prints after "ТЕРМ.": the terminal id.
                let bank = self.bank();
                let mut params: Vec<(String, String)> = bank
                    .merchants()
                    .iter()
                    .map(|m| (m.index.to_string(), m.terminal_id.clone()))
                    .collect();
                params.push(("msgType".into(), "getMaskList".into()));
                let pairs: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                service_reply(&pairs)
            }
            _ => service_reply(&[("msgType", " methodNotImplemented")]),
        };
        send(tx, &reply);
    }

    fn audit(&self, msg: &Message, close: bool) -> Message {
        let method = msg.method.as_str();
        let merchant: u8 = msg.text("merchantId").parse().unwrap_or(0);
        let mut bank = self.bank();
        let batch = bank.batch(merchant);
        let profile = bank.profile(merchant);
        let totals = if close {
            match bank.settle(merchant) {
                Ok(t) => t,
                Err(Error::Device { code, message }) => {
                    return failed(
                        method,
                        &[("receipt", ""), ("responseCode", &code)],
                        &message,
                    )
                }
                Err(e) => return failed(method, &[("responseCode", "1000")], &e.to_string()),
            }
        } else {
            bank.totals(merchant)
        };
        let tid = if merchant == 0 {
            "ALL".to_string()
        } else {
            profile.terminal_id
        };
        let slip = slip_totals(close, &tid, batch, &totals);
        self.to_till(ok(method, &[("receipt", &slip), ("responseCode", "0000")]))
    }

    fn receipt_info(&self, msg: &Message) -> Message {
        let method = "GetReceiptInfo";
        let invoice = msg.text("invoiceNumber");
        let number: u64 = if invoice.is_empty() {
            0
        } else {
            invoice.parse().unwrap_or(u64::MAX)
        };
        let bank = self.bank();
        let Some(r) = bank.lookup(number) else {
            return failed(
                method,
                &[("responseCode", "1000")],
                "Cannot get receipt: receipt not found",
            );
        };
        let (date, time) = date_time(r);
        let rc = record_rc(r);
        let reply = ok(
            method,
            &[
                ("amount", &money(r.amount)),
                ("approvalCode", &r.auth_code),
                ("date", &date),
                ("invoiceNumber", &format!("{:06}", r.invoice)),
                ("issuerName", &r.issuer),
                ("merchant", &r.merchant_id),
                ("pan", &r.pan),
                ("receipt", &slip(r)),
                ("rrn", &r.rrn),
                ("time", &time),
                ("bankAcquirer", "ПриватБанк"),
                ("paymentSystem", &r.scheme),
                ("signVerif", if r.signature_required { "1" } else { "0" }),
                ("txnType", txn_type(r.kind)),
                ("responseCode", &rc),
            ],
        );
        self.to_till(reply)
    }

    fn start(&self, msg: Message, tx: Tx) {
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Ok(mut running) = self.shared.running.lock() {
            *running = Some(stop_tx);
        }
        let this = self.clone();
        tokio::spawn(async move {
            let reply = this.run_operation(&msg, stop_rx).await;
            this.shared.stat.send_replace(Stat::default());
            if let Ok(mut running) = this.shared.running.lock() {
                *running = None;
            }
            match reply {
                Some(reply) => send(&tx, &reply),
                None => {
                    let _ = tx.send(Out::Close);
                }
            }
        });
    }

    /// Walk one status step; `false` when interrupted.
    async fn step(&self, code: u8, stop: &mut watch::Receiver<bool>) -> bool {
        self.shared.stat.send_replace(Stat { code, seen: false });
        if self.shared.cfg.trace {
            eprintln!("privatbank status {code} {}", stat_description(code));
        }
        if *stop.borrow() {
            return false;
        }
        let delay = self.shared.cfg.step_delay;
        let mut seen = self.shared.stat.subscribe();
        let lockstep = self.shared.cfg.lockstep;
        let done = async {
            if delay.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(delay).await;
            }
            if lockstep {
                let _ = seen.wait_for(|s| s.seen).await;
            }
        };
        tokio::select! {
            _ = done => !*stop.borrow(),
            _ = stop.changed() => false,
        }
    }

    /// The reply to a financial request, or `None` to drop the link instead.
    async fn run_operation(
        &self,
        msg: &Message,
        mut stop: watch::Receiver<bool>,
    ) -> Option<Message> {
        let method = msg.method.as_str();
        let cancelled = || failed(method, &[("responseCode", "1001")], "Операцію скасовано");
        // Parameters first, as the terminal checks them before the card.
        let merchant: u8 = msg.text("merchantId").parse().unwrap_or(0);
        let (kind, amount) = match method {
            "Withdrawal" => (TxnKind::Void, 0),
            _ => {
                if method == "Purchase" {
                    for field in ["discount", "merchantId", "facepay"] {
                        if msg.param(field).is_none() {
                            let text = format!("Введіть {field}");
                            return Some(failed(method, &[("responseCode", "1000")], &text));
                        }
                    }
                }
                let amount = msg
                    .param("amount")
                    .and_then(|a| frame::parse_amount(&a).ok());
                match amount {
                    Some(a) if a > 0 => (
                        if method == "Refund" {
                            TxnKind::Refund
                        } else {
                            TxnKind::Purchase
                        },
                        a,
                    ),
                    _ => {
                        return Some(failed(
                            method,
                            &[("responseCode", "1000")],
                            "Операція неможлива",
                        ))
                    }
                }
            }
        };
        let outcome = self.bank().next_outcome();
        match outcome {
            Outcome::Busy => return Some(service_reply(&[("msgType", "deviceBusy")])),
            Outcome::NoPaper => return Some(device_failure(method, "1005")),
            _ => {}
        }
        let timeline: &[u8] = if kind == TxnKind::Void {
            &[10]
        } else {
            &[9, 1, 2, 6]
        };
        for (i, code) in timeline.iter().enumerate() {
            if !self.step(*code, &mut stop).await {
                return Some(cancelled());
            }
            if i == 0 && outcome == Outcome::CustomerCancel {
                return Some(cancelled());
            }
            if i == 0 && outcome == Outcome::Timeout {
                // Wait for a card that never comes, until interrupted or
                // until the terminal's own card wait runs out.
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => {}
                    _ = tokio::time::sleep(self.shared.cfg.card_wait) => {}
                }
                return Some(cancelled());
            }
        }
        if !self.step(3, &mut stop).await {
            return Some(cancelled());
        }
        if outcome == Outcome::NoHostLink {
            return Some(device_failure(method, "1004"));
        }
        let record = {
            let mut bank = self.bank();
            match kind {
                TxnKind::Void => {
                    let invoice: u64 = msg.text("invoiceNumber").parse().unwrap_or(0);
                    match bank.void_as(invoice, "", &outcome) {
                        Ok(r) => r,
                        Err(e) => return Some(device_error(method, &e)),
                    }
                }
                TxnKind::Refund => {
                    match bank.refund_as(merchant, amount, &msg.text("rrn"), &outcome, "") {
                        Ok(r) => r,
                        Err(e) => return Some(device_error(method, &e)),
                    }
                }
                _ => bank.authorise_as(kind, merchant, amount, &outcome, ""),
            }
        };
        // Past authorisation: an interrupt now makes the terminal reverse it.
        for code in [5u8, 7] {
            if !self.step(code, &mut stop).await {
                if record.status == TxnStatus::Approved {
                    self.bank().reverse(record.invoice);
                }
                return Some(cancelled());
            }
        }
        if outcome == Outcome::DropAfterApproval {
            return None;
        }
        Some(self.financial_reply(method, &record))
    }

    fn financial_reply(&self, method: &str, r: &Record) -> Message {
        let (date, time) = date_time(r);
        let rc = record_rc(r);
        let approved = r.status == TxnStatus::Approved;
        let mut fields: Vec<(&str, String)> = vec![
            ("amount", money(r.amount)),
            ("approvalCode", r.auth_code.clone()),
            ("captureReference", String::new()),
            ("cardExpiryDate", "2812".into()),
            ("cardHolderName", String::new()),
            ("date", date),
            ("discount", "0.00".into()),
            ("hstFld63Sf89", String::new()),
            ("invoiceNumber", format!("{:06}", r.invoice)),
            ("issuerName", r.issuer.clone()),
            ("merchant", r.merchant_id.clone()),
            ("pan", r.pan.clone()),
            ("posConditionCode", "00".into()),
            ("posEntryMode", "071".into()),
            ("processingCode", "000000".into()),
            ("receipt", slip(r)),
            ("responseCode", rc.clone()),
            ("rrn", r.rrn.clone()),
            ("rrnExt", String::new()),
            ("terminalId", r.terminal_id.clone()),
            ("time", time),
            ("track1", String::new()),
            (
                "signVerif",
                if r.signature_required { "1" } else { "0" }.into(),
            ),
            ("txnType", txn_type(r.kind).into()),
            ("trnStatus", if approved { "1" } else { "2" }.into()),
            ("adv", "ПриватБанк".into()),
            ("adv2p", "Беремо і робимо!".into()),
            ("bankAcquirer", "ПриватБанк".into()),
            ("paymentSystem", r.scheme.clone()),
            ("subMerchant", String::new()),
        ];
        if method == "Withdrawal" || method == "Refund" {
            fields.retain(|(k, _)| *k != "signVerif");
        }
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let error = rc != "0000" && rc != "0010";
        let description = if error {
            crate::response_text(&rc, crate::Lang::Uk)
        } else {
            ""
        }
        .to_string();
        self.to_till(reply(method, &pairs, error, &description))
    }

    /// A reply as the bank profile lets it reach the till: with "ECR prints
    /// the slip" off, only its `responseCode`.
    fn to_till(&self, mut m: Message) -> Message {
        if !self.shared.cfg.ecr_slip {
            let rc = m.text("responseCode");
            m.params = Some(
                [("responseCode".to_string(), serde_json::Value::String(rc))]
                    .into_iter()
                    .collect(),
            );
        }
        m
    }
}

fn send(tx: &Tx, msg: &Message) {
    let _ = tx.send(Out::Frame(msg.encode(false)));
}

fn reply(method: &str, params: &[(&str, &str)], error: bool, description: &str) -> Message {
    let mut m = Message::with_params(method, params);
    m.error = Some(error);
    m.error_description = Some(description.into());
    m
}

fn ok(method: &str, params: &[(&str, &str)]) -> Message {
    reply(method, params, false, "")
}

fn failed(method: &str, params: &[(&str, &str)], description: &str) -> Message {
    reply(method, params, true, description)
}

fn service_reply(params: &[(&str, &str)]) -> Message {
    ok(SERVICE, params)
}

fn device_failure(method: &str, code: &str) -> Message {
    failed(
        method,
        &[("responseCode", code)],
        crate::response_text(code, crate::Lang::En),
    )
}

fn device_error(method: &str, e: &Error) -> Message {
    match e {
        Error::Device { code, message } => failed(method, &[("responseCode", code)], message),
        other => failed(method, &[("responseCode", "1000")], &other.to_string()),
    }
}

fn record_rc(r: &Record) -> String {
    match r.status {
        TxnStatus::Reversed | TxnStatus::Cancelled => "1001".into(),
        _ => format!("{:0>4}", r.host_code),
    }
}

fn txn_type(kind: TxnKind) -> &'static str {
    match kind {
        TxnKind::Purchase => "1",
        TxnKind::Refund => "2",
        TxnKind::Void => "3",
        TxnKind::Other => "0",
    }
}

fn date_time(r: &Record) -> (String, String) {
    (
        r.at.format("%d.%m.%Y").to_string(),
        r.at.format("%H:%M:%S").to_string(),
    )
}

fn stat_description(code: u8) -> &'static str {
    match code {
        1 => "card was read",
        2 => "used a chip card",
        3 => "authorization in progress",
        4 => "waiting for cashier action",
        5 => "printing receipt",
        6 => "pin entry is needed",
        7 => "card was removed",
        8 => "EMV multi aid's",
        9 => "waiting for card",
        10 => "in progress",
        11 => "correct transaction",
        _ => "status code is not available",
    }
}

fn slip(r: &Record) -> String {
    let title = match r.kind {
        TxnKind::Purchase => "ОПЛАТА",
        TxnKind::Refund => "ПОВЕРНЕННЯ",
        TxnKind::Void => "СКАСУВАННЯ",
        TxnKind::Other => "ОПЕРАЦІЯ",
    };
    let verdict = if r.status == TxnStatus::Approved {
        "УСПІШНО"
    } else {
        "ВІДХИЛЕНО"
    };
    format!(
        "ПРИВАТБАНК\n{title}\nСУМА {} ГРН\n{}\n{}\nТЕРМІНАЛ {} {}\nКОД АВТОРИЗАЦІЇ: {}\nЧЕК N: {:06}\nRRN: {}\n{verdict}\nKasa emulator",
        money(r.amount),
        r.scheme,
        r.pan,
        r.terminal_id,
        r.at.format("%d/%m/%Y %H:%M:%S"),
        if r.auth_code.is_empty() { "DECLINE" } else { &r.auth_code },
        r.invoice,
        r.rrn,
    )
}

fn slip_totals(close: bool, tid: &str, batch: u32, t: &BatchTotals) -> String {
    let now = chrono::Local::now().naive_local();
    let title = if close {
        "Z БАЛАНС"
    } else {
        "Х БАЛАНС"
    };
    let tail = if close {
        " ПІДСУМКИ ВИЛУЧЕНІ ========================"
    } else {
        ""
    };
    format!(
        "{} ======================== [ {title} ] ======================== ТЕРМ. {tid} В:{batch:06} \
         ОПЛАТА {} / {} ГРН ПОВЕРНЕННЯ {} / {} ГРН СКАСУВАННЯ {} / {} ГРН \
         ======================== Загальні підсумки: {} ГРН ========================{tail} \
         Kasa emulator",
        now.format("%H:%M:%S %d/%m/%Y"),
        t.debit_count,
        money(t.debit_amount),
        t.credit_count,
        money(t.credit_amount),
        t.cancelled_count,
        money(t.cancelled_amount),
        money(t.debit_amount - t.credit_amount),
    )
}

/// Parse a slip's totals back (for tests and the CLI); see [`frame::slip_totals`].
pub fn parse_slip_totals(slip: &str) -> Option<BatchTotals> {
    frame::slip_totals(slip)
}
