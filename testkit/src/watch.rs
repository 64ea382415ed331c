//! Devices that watch the journal: each wraps a real driver and, just before
//! a state-changing device call (a charge on the terminal; opening, paying
//! or closing a receipt, moving cash on the register), reads the journal
//! file through a connection of its own and records whether the step was
//! already written there as `started` with what its recovery needs. A saga
//! that called the device first and wrote afterwards shows up here, where
//! the final order of journal rows would not tell.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fiscal::{
    CashTotals, DeviceInfo, DeviceStatus, FiscalRegister, Payment, PaymentResult, PrintedDocument,
    ReceiptKind, ReceiptLine, ReceiptState, ReportTotals, ReturnReceipt, SaleReceipt, Subtotal,
};
use terminal::{
    BatchReport, CardOutcome, CardTerminal, CardTransaction, ConfirmMode, PendingOperation,
    ProgressSink, PurchaseRequest, Recovery, RefundRequest, TerminalInfo, TxnKind, VoidRequest,
};

/// What the watchers saw: one line per watched call, `ok` or what was wrong.
#[derive(Debug, Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    /// Every observation so far.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The newest step row in the journal: its name, state and recovery JSON.
fn newest_step(journal: &Path) -> Option<(String, String, Option<String>)> {
    let c =
        rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    c.query_row(
        "SELECT name, state, recovery FROM steps ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .ok()
}

fn check(journal: &Path, seen: &Seen, call: &str, step: &str, needle: Option<&str>) {
    let verdict = match newest_step(journal) {
        Some((name, state, recovery)) => {
            let name_ok = name == step || name.starts_with(&format!("{step}:"));
            let needle_ok =
                needle.is_none_or(|n| recovery.as_deref().is_some_and(|r| r.contains(n)));
            if name_ok && state == "started" && recovery.is_some() && needle_ok {
                "ok".to_string()
            } else {
                format!("newest step {name} is {state}, recovery {recovery:?}")
            }
        }
        None => "no step written".to_string(),
    };
    seen.push(format!("{call}: {verdict}"));
}

/// A card terminal that checks the journal before every charge.
#[derive(Debug)]
pub struct WatchedTerminal {
    pub inner: Arc<dyn CardTerminal>,
    pub journal: PathBuf,
    pub seen: Seen,
}

#[async_trait]
impl CardTerminal for WatchedTerminal {
    async fn purchase(
        &self,
        req: PurchaseRequest,
        p: ProgressSink,
    ) -> terminal::Result<CardOutcome> {
        self.inner.purchase(req, p).await
    }
    async fn last_transaction(&self) -> terminal::Result<Option<CardTransaction>> {
        self.inner.last_transaction().await
    }
    async fn open(&self) -> terminal::Result<()> {
        self.inner.open().await
    }
    async fn refund(&self, req: RefundRequest, p: ProgressSink) -> terminal::Result<CardOutcome> {
        self.inner.refund(req, p).await
    }
    async fn void(&self, req: VoidRequest, p: ProgressSink) -> terminal::Result<CardOutcome> {
        self.inner.void(req, p).await
    }
    async fn cancel(&self) -> terminal::Result<()> {
        self.inner.cancel().await
    }
    async fn batch_totals(&self, m: u8) -> terminal::Result<BatchReport> {
        self.inner.batch_totals(m).await
    }
    async fn settle(&self, m: u8) -> terminal::Result<BatchReport> {
        self.inner.settle(m).await
    }
    async fn find_by_invoice(&self, i: &str) -> terminal::Result<Option<CardTransaction>> {
        self.inner.find_by_invoice(i).await
    }
    async fn info(&self) -> terminal::Result<TerminalInfo> {
        self.inner.info().await
    }
    async fn check_connection(&self, m: u8) -> terminal::Result<()> {
        self.inner.check_connection(m).await
    }
    fn confirm_mode(&self) -> ConfirmMode {
        self.inner.confirm_mode()
    }
    async fn confirm(&self) -> terminal::Result<()> {
        self.inner.confirm().await
    }
    async fn begin(&self, k: TxnKind, a: i64, m: u8) -> terminal::Result<PendingOperation> {
        self.inner.begin(k, a, m).await
    }
    async fn execute(
        &self,
        pending: &PendingOperation,
        p: ProgressSink,
    ) -> terminal::Result<CardOutcome> {
        let step = match pending.kind {
            TxnKind::Void => "charge|reverse",
            _ => "charge",
        };
        let ok_step = step.split('|').find(|s| {
            newest_step(&self.journal).is_some_and(|(n, _, _)| n.starts_with(&format!("{s}:")))
        });
        check(
            &self.journal,
            &self.seen,
            "execute",
            ok_step.unwrap_or("charge"),
            Some(&pending.request_id),
        );
        self.inner.execute(pending, p).await
    }
    async fn purchase_as(
        &self,
        pending: &PendingOperation,
        p: ProgressSink,
    ) -> terminal::Result<CardOutcome> {
        self.inner.purchase_as(pending, p).await
    }
    async fn recover(&self, pending: &PendingOperation) -> terminal::Result<Recovery> {
        self.inner.recover(pending).await
    }
}

/// A fiscal register that checks the journal before every document change.
#[derive(Debug)]
pub struct WatchedRegister {
    pub inner: Arc<dyn FiscalRegister>,
    pub journal: PathBuf,
    pub seen: Seen,
}

#[async_trait]
impl FiscalRegister for WatchedRegister {
    async fn print_sale(&self, r: &SaleReceipt) -> fiscal::Result<PrintedDocument> {
        self.inner.print_sale(r).await
    }
    async fn last_document_number(&self) -> fiscal::Result<u64> {
        self.inner.last_document_number().await
    }
    async fn print_return(&self, r: &ReturnReceipt) -> fiscal::Result<PrintedDocument> {
        self.inner.print_return(r).await
    }
    async fn status(&self) -> fiscal::Result<DeviceStatus> {
        self.inner.status().await
    }
    async fn info(&self) -> fiscal::Result<DeviceInfo> {
        self.inner.info().await
    }
    async fn cash_in_out(&self, amount: i64) -> fiscal::Result<CashTotals> {
        check(
            &self.journal,
            &self.seen,
            "cash_in_out",
            "drawer",
            Some("before"),
        );
        self.inner.cash_in_out(amount).await
    }
    async fn x_report(&self) -> fiscal::Result<ReportTotals> {
        check(
            &self.journal,
            &self.seen,
            "x_report",
            "report",
            Some("before"),
        );
        self.inner.x_report().await
    }
    async fn z_report(&self) -> fiscal::Result<ReportTotals> {
        self.inner.z_report().await
    }
    async fn receipt_state(&self) -> fiscal::Result<ReceiptState> {
        self.inner.receipt_state().await
    }
    async fn open_receipt(&self, kind: ReceiptKind) -> fiscal::Result<()> {
        check(
            &self.journal,
            &self.seen,
            "open_receipt",
            "receipt",
            Some("before"),
        );
        self.inner.open_receipt(kind).await
    }
    async fn open_receipt_as(
        &self,
        kind: ReceiptKind,
        operator: Option<u32>,
    ) -> fiscal::Result<()> {
        check(
            &self.journal,
            &self.seen,
            "open_receipt",
            "receipt",
            Some("before"),
        );
        self.inner.open_receipt_as(kind, operator).await
    }
    async fn add_line(&self, line: &ReceiptLine) -> fiscal::Result<()> {
        self.inner.add_line(line).await
    }
    async fn print_text(&self, text: &str) -> fiscal::Result<()> {
        self.inner.print_text(text).await
    }
    async fn subtotal(&self) -> fiscal::Result<Subtotal> {
        self.inner.subtotal().await
    }
    async fn pay(&self, payment: &Payment) -> fiscal::Result<PaymentResult> {
        check(&self.journal, &self.seen, "pay", "receipt", Some("before"));
        self.inner.pay(payment).await
    }
    async fn close_receipt(&self) -> fiscal::Result<u64> {
        check(
            &self.journal,
            &self.seen,
            "close_receipt",
            "receipt",
            Some("before"),
        );
        self.inner.close_receipt().await
    }
    async fn cancel_receipt(&self) -> fiscal::Result<()> {
        self.inner.cancel_receipt().await
    }
    async fn read_document(&self, n: u64) -> fiscal::Result<Vec<String>> {
        self.inner.read_document(n).await
    }
    async fn check_password(&self) -> fiscal::Result<()> {
        self.inner.check_password().await
    }
    async fn cash_totals(&self) -> fiscal::Result<CashTotals> {
        self.inner.cash_totals().await
    }
    async fn print_non_fiscal(&self, lines: &[String]) -> fiscal::Result<()> {
        self.inner.print_non_fiscal(lines).await
    }
    async fn shift_state(&self) -> fiscal::Result<fiscal::health::ShiftState> {
        self.inner.shift_state().await
    }
    async fn modem_state(&self) -> fiscal::Result<fiscal::health::ModemState> {
        self.inner.modem_state().await
    }
    async fn read_clock(&self) -> fiscal::Result<chrono::NaiveDateTime> {
        self.inner.read_clock().await
    }
    async fn health(&self, now: chrono::NaiveDateTime) -> fiscal::Result<fiscal::health::Health> {
        self.inner.health(now).await
    }
    async fn card_cash_out(&self, a: i64, c: &fiscal::CardSlip) -> fiscal::Result<PrintedDocument> {
        self.inner.card_cash_out(a, c).await
    }
    async fn dialect_settings(&self) -> fiscal::Result<fiscal::DialectSettings> {
        self.inner.dialect_settings().await
    }
}
