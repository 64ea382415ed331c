//! Ingenico B-POS1, reached only through its public API, ECRCommX.BPOS1Lib.
//!
//! The wire protocol is not public, so this module works at the API level:
//! [`Bpos1Api`] is the late-bound shape of the ActiveX object (call a method
//! by name, read a property by name), implemented by the behaviour
//! [`emulator`] and, on Windows, by the COM backend (`com`). The driver
//! [`Bpos1Terminal`] owns one API object on a dedicated thread (COM objects
//! are apartment-bound), starts an operation, polls `LastResult` (0 done,
//! 1 error, 2 running) and `LastStatMsgCode`, reads the result properties, and
//! confirms: at once ([`ConfirmMode::Automatic`]) or when the caller says so
//! ([`ConfirmMode::Explicit`]); an unconfirmed operation is cancelled by the
//! terminal after its own time-out.
//!
//! Across a crash: the terminal does not tell a confirmed approval from one
//! still waiting (both read `TrnStatus` 1), so [`CardTerminal::recover`]
//! marks every approved purchase or refund it finds
//! [`CardTransaction::needs_confirm`]; the checkout then calls
//! [`CardTerminal::confirm`], which is harmless on one already confirmed
//! (the terminal answers 1008, "already complete") and reports
//! [`Error::ConfirmExpired`] when the terminal had cancelled it meanwhile.
//! An approval the terminal auto-cancelled is found with `TrnStatus` 4
//! (cancelled): not charged.

pub mod bridge;
pub mod emulator;

#[cfg(windows)]
pub mod com;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::oneshot;

pub use emulator::{Bpos1Emulator, Bpos1EmulatorConfig};

use crate::config::{TerminalConfig, Timeouts};
use crate::recovery::{PendingOperation, Recovery};
use crate::{
    BatchReport, BatchTotals, CardOutcome, CardTerminal, CardTransaction, ConfirmMode, Error,
    ProgressSink, PurchaseRequest, RefundRequest, Result, TerminalInfo, TerminalProgress,
    TerminalStatus, TxnKind, TxnStatus, VoidRequest,
};

/// An argument or a property value of the ActiveX object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(String),
}

impl Value {
    /// As an integer (strings are parsed; empty is 0).
    pub fn int(&self) -> Result<i64> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Str(s) if s.trim().is_empty() => Ok(0),
            Value::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| Error::Protocol(format!("not a number: {s:?}"))),
        }
    }

    /// As text.
    pub fn text(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Str(s) => s.trim_end_matches('\0').trim().to_string(),
        }
    }
}

/// The ECRCommX.BPOS1Lib object, late-bound: methods and properties by name,
/// as the ECRCommX document lists them (`Purchase(amount, addAmount, merchIdx)`,
/// `LastResult`, `RRN`...).
pub trait Bpos1Api: 'static {
    /// Call a method. Operation methods return at once; poll `LastResult`.
    fn call(&mut self, method: &str, args: &[Value]) -> Result<()>;
    /// Read a property.
    fn get(&mut self, property: &str) -> Result<Value>;
    /// Let time pass: an emulator moves its running operation along and
    /// cancels approvals not confirmed in time. A real object needs nothing.
    fn tick(&mut self) {}
}

type Job = Box<dyn FnOnce(&mut dyn Bpos1Api, &Worker) + Send>;

/// What the API thread knows besides the object.
struct Worker {
    cancel: Arc<AtomicBool>,
    t: Timeouts,
}

/// The B-POS1 terminal: one API object on its own thread.
#[derive(Debug)]
pub struct Bpos1Terminal {
    jobs: std_mpsc::Sender<Job>,
    cancel: Arc<AtomicBool>,
    explicit_confirm: bool,
    op_lock: tokio::sync::Mutex<()>,
    operation_ms: u64,
    poll_ms: u64,
}

impl Bpos1Terminal {
    /// Drive `api`; with `explicit_confirm` the caller must call `confirm`.
    pub fn new<A: Bpos1Api + Send>(api: A, explicit_confirm: bool, t: Timeouts) -> Self {
        Self::with_factory(move || Ok(api), explicit_confirm, t)
    }

    /// Drive an API object created on the API thread itself (COM needs that).
    pub fn with_factory<A: Bpos1Api, F>(factory: F, explicit_confirm: bool, t: Timeouts) -> Self
    where
        F: FnOnce() -> Result<A> + Send + 'static,
    {
        let (jobs, rx) = std_mpsc::channel::<Job>();
        let cancel = Arc::new(AtomicBool::new(false));
        let (operation_ms, poll_ms) = (t.operation_ms, t.poll_ms);
        let worker = Worker {
            cancel: Arc::clone(&cancel),
            t,
        };
        let spawned = std::thread::Builder::new()
            .name("bpos1".into())
            .spawn(move || {
                let mut api = match factory() {
                    Ok(api) => api,
                    Err(e) => {
                        let msg = e.to_string();
                        // Answer every job with the creation error.
                        while let Ok(job) = rx.recv() {
                            let mut dead = Dead(msg.clone());
                            job(&mut dead, &worker);
                        }
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut api, &worker);
                }
            });
        // Without a thread, every job fails when its reply is dropped.
        let _ = spawned;
        Self {
            jobs,
            cancel,
            explicit_confirm,
            op_lock: tokio::sync::Mutex::new(()),
            operation_ms,
            poll_ms,
        }
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Bpos1Api, &Worker) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |api, worker| {
            let _ = tx.send(f(api, worker));
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::LinkLost("B-POS1 thread has ended".into()))?;
        rx.await
            .map_err(|_| Error::LinkLost("B-POS1 thread has ended".into()))?
    }

    async fn financial(
        &self,
        method: &'static str,
        args: Vec<Value>,
        requested: i64,
        progress: ProgressSink,
    ) -> Result<CardOutcome> {
        let _g = self.op_lock.lock().await;
        self.cancel.store(false, Ordering::SeqCst);
        let needs_confirm = method != "Void";
        let explicit = self.explicit_confirm;
        self.run(move |api, w| {
            api.call(method, &args)?;
            wait(api, w, Some(&progress))?;
            // A cancel that comes now is too late: the operation is over.
            w.cancel.store(false, Ordering::SeqCst);
            let mut outcome = outcome(api, requested)?;
            if let CardOutcome::Approved(tx) = &mut outcome {
                if needs_confirm && !explicit {
                    api.call("Confirm", &[])?;
                    wait(api, w, None)?;
                    check(api)?;
                }
                tx.needs_confirm = needs_confirm && explicit;
                if requested > 0 {
                    tx.requested_amount = requested;
                }
            }
            let _ = progress.send(TerminalProgress::new(TerminalStatus::Finished));
            Ok(outcome)
        })
        .await
    }

    async fn lookup(
        &self,
        method: &'static str,
        args: Vec<Value>,
    ) -> Result<Option<CardTransaction>> {
        let _g = self.op_lock.lock().await;
        self.run(move |api, w| {
            if method == "GetTxnDataByOrder" {
                return last_txn(api, w);
            }
            api.call(method, &args)?;
            wait(api, w, None)?;
            if api.get("LastResult")?.int()? != 0 {
                return Ok(None);
            }
            read_transaction(api, 0).map(Some)
        })
        .await
    }

    async fn totals(&self, method: &'static str, merchant: u8) -> Result<BatchReport> {
        let _g = self.op_lock.lock().await;
        self.run(move |api, w| {
            api.call(method, &[Value::Int(i64::from(merchant))])?;
            wait(api, w, None)?;
            check(api)?;
            let mut int = |p: &str| api.get(p).and_then(|v| v.int());
            let totals = BatchTotals {
                debit_count: u32::try_from(int("TotalsDebitNum")?).unwrap_or(0),
                debit_amount: int("TotalsDebitAmt")?,
                credit_count: u32::try_from(int("TotalsCreditNum")?).unwrap_or(0),
                credit_amount: int("TotalsCreditAmt")?,
                cancelled_count: u32::try_from(int("TotalsCancelledNum")?).unwrap_or(0),
                cancelled_amount: int("TotalsCancelledAmt")?,
            };
            Ok(BatchReport {
                merchant,
                totals: Some(totals),
                receipt: String::new(),
                closed: method == "Settlement",
            })
        })
        .await
    }

    async fn simple(&self, method: &'static str, args: Vec<Value>) -> Result<()> {
        let _g = self.op_lock.lock().await;
        self.run(move |api, w| {
            api.call(method, &args)?;
            wait(api, w, None)?;
            check(api)
        })
        .await
    }
}

/// The last transaction of the journal: `GetTxnNum`, then
/// `GetTxnDataByOrder(TxnNum)`.
fn last_txn(api: &mut dyn Bpos1Api, w: &Worker) -> Result<Option<CardTransaction>> {
    api.call("GetTxnNum", &[])?;
    wait(api, w, None)?;
    check(api)?;
    let n = api.get("TxnNum")?.int()?;
    if n <= 0 {
        return Ok(None);
    }
    api.call("GetTxnDataByOrder", &[Value::Int(n)])?;
    wait(api, w, None)?;
    if api.get("LastResult")?.int()? != 0 {
        return Ok(None);
    }
    read_transaction(api, 0).map(Some)
}

/// `Confirm`, made harmless on an approval already confirmed: the terminal
/// answers 1008 (already complete) for it. Any other refusal is checked
/// against the last transaction: cancelled by the terminal means
/// [`Error::ConfirmExpired`].
fn confirm_last(api: &mut dyn Bpos1Api, w: &Worker) -> Result<()> {
    api.call("Confirm", &[])?;
    wait(api, w, None)?;
    if api.get("LastResult")?.int()? == 0 {
        return Ok(());
    }
    let refused = last_error(api);
    let rc = api.get("ResponseCode").and_then(|v| v.int()).unwrap_or(0);
    let last = last_txn(api, w)?;
    match last {
        Some(tx) if matches!(tx.status, TxnStatus::Cancelled | TxnStatus::Reversed) => {
            Err(Error::ConfirmExpired {
                invoice: tx.invoice,
            })
        }
        Some(tx) if tx.status == TxnStatus::Approved && rc == 1008 => Ok(()),
        _ => Err(refused),
    }
}

/// The scheme of an EMV application id (its registered provider id).
fn scheme_of_aid(aid: &str) -> Option<&'static str> {
    let rid = aid.trim().get(..10)?.to_ascii_uppercase();
    Some(match rid.as_str() {
        "A000000003" => "VISA",
        "A000000004" => "MASTERCARD",
        "A000000025" => "AMEX",
        "A000000065" => "JCB",
        "A000000333" => "UNIONPAY",
        "A000000152" => "DISCOVER",
        _ => return None,
    })
}

/// A stand-in API object when the real one could not be created.
struct Dead(String);

impl Bpos1Api for Dead {
    fn call(&mut self, _: &str, _: &[Value]) -> Result<()> {
        Err(Error::Unsupported(self.0.clone()))
    }
    fn get(&mut self, _: &str) -> Result<Value> {
        Err(Error::Unsupported(self.0.clone()))
    }
}

/// Poll `LastResult` until it is not 2. For the financial operation itself
/// (`progress` given): report status changes, and send `Cancel` on the
/// cashier's request or when the status has not changed for the operation
/// time-out. Any other wait (`Confirm`, lookups, totals) is never cancelled:
/// a `Cancel` sent while `Confirm` runs could undo an approval.
fn wait(api: &mut dyn Bpos1Api, w: &Worker, progress: Option<&ProgressSink>) -> Result<i64> {
    let financial = progress.is_some();
    let poll = Duration::from_millis(w.t.poll_ms.clamp(1, 1000));
    let limit = Duration::from_millis(w.t.operation_ms);
    let mut last_change = Instant::now();
    let mut last_code = None;
    let mut cancel_sent = false;
    loop {
        let result = api.get("LastResult")?.int()?;
        if result != 2 {
            return Ok(result);
        }
        let code = api.get("LastStatMsgCode")?.int()?;
        if last_code != Some(code) {
            last_code = Some(code);
            last_change = Instant::now();
            if let (Some(p), Ok(c)) = (progress, u8::try_from(code)) {
                if c != 0 {
                    let _ = p.send(TerminalProgress::new(TerminalStatus::from_stat_code(c)));
                }
            }
        }
        if financial && !cancel_sent && w.cancel.swap(false, Ordering::SeqCst) {
            api.call("Cancel", &[])?;
            cancel_sent = true;
        }
        if last_change.elapsed() > limit {
            if financial {
                let _ = api.call("Cancel", &[]);
            }
            return Err(Error::Timeout(crate::transport::millis(limit)));
        }
        std::thread::sleep(poll);
    }
}

/// `LastResult` must be 0; otherwise the error as a typed [`Error`].
fn check(api: &mut dyn Bpos1Api) -> Result<()> {
    if api.get("LastResult")?.int()? == 0 {
        return Ok(());
    }
    Err(last_error(api))
}

fn last_error(api: &mut dyn Bpos1Api) -> Error {
    let code = api.get("LastErrorCode").and_then(|v| v.int()).unwrap_or(0);
    let text = api
        .get("LastErrorDescription")
        .map(|v| v.text())
        .unwrap_or_default();
    match code {
        1 | 2 => Error::Transport(std::io::Error::other(format!("B-POS1 port: {text}"))),
        3 => Error::LinkLost(format!("B-POS1 link: {text}")),
        4 => {
            let rc = api
                .get("ResponseCode")
                .and_then(|v| v.int())
                .unwrap_or(1000);
            Error::device(&rc.to_string(), &text)
        }
        _ => Error::Protocol(format!("B-POS1 error {code}: {text}")),
    }
}

/// The outcome of a finished financial operation.
fn outcome(api: &mut dyn Bpos1Api, requested: i64) -> Result<CardOutcome> {
    match api.get("LastResult")?.int()? {
        0 => Ok(CardOutcome::Approved(read_transaction(api, requested)?)),
        1 => {
            let code = api.get("LastErrorCode")?.int()?;
            if code != 4 {
                return Err(last_error(api));
            }
            let rc = api.get("ResponseCode")?.int()?;
            let text = api
                .get("LastErrorDescription")
                .map(|v| v.text())
                .unwrap_or_default();
            let message = |c: &str| {
                if text.is_empty() {
                    crate::response_text(c, crate::Lang::En).to_string()
                } else {
                    text.clone()
                }
            };
            match rc {
                1001 => Ok(CardOutcome::Cancelled),
                1002 => Ok(CardOutcome::Declined {
                    code: "1002".into(),
                    message: message("1002"),
                }),
                1000..=1999 => Err(Error::device(&rc.to_string(), &text)),
                _ => {
                    let code = format!("{rc:02}");
                    Ok(CardOutcome::Declined {
                        message: message(&code),
                        code,
                    })
                }
            }
        }
        other => Err(Error::Protocol(format!("LastResult {other}"))),
    }
}

/// The result properties as a transaction.
fn read_transaction(api: &mut dyn Bpos1Api, requested: i64) -> Result<CardTransaction> {
    let mut text = |p: &str| api.get(p).map(|v| v.text());
    let rrn = text("RRN")?;
    let auth_code = text("AuthCode")?;
    let pan = text("PAN")?;
    let issuer = text("IssuerName")?;
    let aid = text("emvAID")?;
    let terminal_id = text("TerminalID")?;
    let merchant_id = text("MerchantID")?;
    let invoice = text("InvoiceNum")?;
    let batch = text("TrnBatchNum")?;
    let date = text("DateTime")?;
    let amount = api.get("Amount")?.int()?;
    let kind = match api.get("TxnType")?.int()? {
        1 => TxnKind::Purchase,
        2 => TxnKind::Refund,
        3 => TxnKind::Void,
        _ => TxnKind::Other,
    };
    let status = match api.get("TrnStatus")?.int()? {
        1 => TxnStatus::Approved,
        2 => TxnStatus::Declined,
        3 => TxnStatus::Reversed,
        4 => TxnStatus::Cancelled,
        _ => TxnStatus::Unknown,
    };
    let rc = api.get("ResponseCode")?.int()?;
    let signature_required = api.get("SignVerif")?.int()? == 1;
    let date_time = chrono::NaiveDateTime::parse_from_str(&date, "%y%m%d%H%M%S")
        .map(|t| t.format(crate::recovery::DATE_TIME_FORMAT).to_string())
        .unwrap_or_default();
    Ok(CardTransaction {
        rrn,
        auth_code,
        // As the terminal sent it: the checkout normalises and masks.
        masked_pan: pan,
        card_scheme: scheme_of_aid(&aid)
            .map(str::to_string)
            .unwrap_or_else(|| issuer.clone()),
        terminal_id,
        merchant_id,
        invoice,
        amount: if amount > 0 { amount } else { requested },
        batch,
        kind,
        status,
        response_code: format!("{rc:02}"),
        date_time,
        request_id: String::new(),
        issuer,
        signature_required,
        needs_confirm: false,
        requested_amount: 0,
    })
}

#[async_trait]
impl CardTerminal for Bpos1Terminal {
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome> {
        if req.amount <= 0 {
            return Err(Error::InvalidRequest(format!(
                "amount {} must be positive",
                req.amount
            )));
        }
        let args = vec![
            Value::Int(req.amount),
            Value::Int(0),
            Value::Int(i64::from(req.merchant)),
        ];
        self.financial("Purchase", args, req.amount, progress).await
    }

    async fn last_transaction(&self) -> Result<Option<CardTransaction>> {
        self.lookup("GetTxnDataByOrder", Vec::new()).await
    }

    async fn refund(&self, req: RefundRequest, progress: ProgressSink) -> Result<CardOutcome> {
        if req.amount <= 0 || req.rrn.trim().is_empty() {
            return Err(Error::InvalidRequest(
                "refund needs a positive amount and the RRN".into(),
            ));
        }
        let args = vec![
            Value::Int(req.amount),
            Value::Int(0),
            Value::Int(i64::from(req.merchant)),
            Value::Str(req.rrn.trim().into()),
        ];
        self.financial("Refund", args, req.amount, progress).await
    }

    async fn void(&self, req: VoidRequest, progress: ProgressSink) -> Result<CardOutcome> {
        let invoice: i64 = req
            .invoice
            .trim()
            .parse()
            .map_err(|_| Error::InvalidRequest(format!("invoice {:?}", req.invoice)))?;
        let args = vec![Value::Int(invoice), Value::Int(i64::from(req.merchant))];
        self.financial("Void", args, 0, progress).await
    }

    async fn cancel(&self) -> Result<()> {
        self.cancel.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn batch_totals(&self, merchant: u8) -> Result<BatchReport> {
        self.totals("GetBatchTotals", merchant).await
    }

    async fn settle(&self, merchant: u8) -> Result<BatchReport> {
        self.totals("Settlement", merchant).await
    }

    async fn find_by_invoice(&self, invoice: &str) -> Result<Option<CardTransaction>> {
        let n: i64 = invoice
            .trim()
            .parse()
            .map_err(|_| Error::InvalidRequest(format!("invoice {invoice:?}")))?;
        self.lookup("GetTxnDataByInv", vec![Value::Int(n), Value::Int(0)])
            .await
    }

    async fn info(&self) -> Result<TerminalInfo> {
        let _g = self.op_lock.lock().await;
        self.run(|api, w| {
            api.call("POSGetInfo", &[])?;
            wait(api, w, None)?;
            check(api)?;
            Ok(TerminalInfo {
                protocol: "bpos1".into(),
                vendor: "Ingenico".into(),
                model: String::new(),
                version: api.get("TerminalInfo")?.text(),
                endpoint: String::new(),
            })
        })
        .await
    }

    async fn check_connection(&self, merchant: u8) -> Result<()> {
        self.simple("CheckConnection", vec![Value::Int(i64::from(merchant))])
            .await
    }

    fn confirm_mode(&self) -> ConfirmMode {
        if self.explicit_confirm {
            ConfirmMode::Explicit
        } else {
            ConfirmMode::Automatic
        }
    }

    /// Always sends `Confirm`, in both modes: after a crash the approval a
    /// lookup found may still be waiting for it.
    async fn confirm(&self) -> Result<()> {
        let _g = self.op_lock.lock().await;
        self.run(confirm_last).await
    }

    async fn open(&self) -> Result<()> {
        let _g = self.op_lock.lock().await;
        self.run(|api, _| api.get("LastResult").map(|_| ())).await
    }

    async fn recover(&self, pending: &PendingOperation) -> Result<Recovery> {
        // Still busy with the lost operation: wait for it to end.
        let deadline = Instant::now() + Duration::from_millis(self.operation_ms);
        let last = loop {
            match self.last_transaction().await {
                Err(Error::Busy) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(self.poll_ms.max(1))).await;
                }
                other => break other?,
            }
        };
        let mut found = self.resolve(pending, last).await?;
        if let Recovery::Found(tx) = &mut found {
            tx.needs_confirm = tx.status == TxnStatus::Approved
                && matches!(tx.kind, TxnKind::Purchase | TxnKind::Refund);
        }
        Ok(found)
    }
}

/// The native B-POS1 backend for the settings: the COM object on Windows.
pub fn connect_native(cfg: &TerminalConfig) -> Result<Arc<dyn CardTerminal>> {
    #[cfg(windows)]
    {
        com::connect(cfg)
    }
    #[cfg(not(windows))]
    {
        let _ = cfg;
        Err(Error::Unsupported(
            "B-POS1 needs ECRCommX on Windows; use PrivatBank JSON or bpos1-emulator here".into(),
        ))
    }
}
