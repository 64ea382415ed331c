//! A register that connects when first used and again after the link fails,
//! so that Kasa starts (and says what is wrong) while the register is off or
//! unplugged, instead of refusing to start. What a driver learned (the
//! register refused the long card form) carries over to the next connection.

use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::Mutex;

use crate::health::{Health, ModemState, ShiftState};
use crate::settings::DialectSettings;
use crate::{
    CardSlip, CashTotals, DatecsDriver, DeviceInfo, DeviceStatus, DriverConfig, Error,
    FiscalRegister, Payment, PaymentResult, PrintedDocument, ReceiptKind, ReceiptLine,
    ReceiptState, ReportTotals, Result, ReturnReceipt, SaleReceipt, Subtotal,
};

/// A [`DatecsDriver`] behind a connection that is opened on demand.
#[derive(Debug)]
pub struct ReconnectingRegister {
    /// The configuration; its dialect settings take what a driver learned
    /// before the link dropped.
    config: Mutex<DriverConfig>,
    driver: Mutex<Option<Arc<DatecsDriver>>>,
}

impl ReconnectingRegister {
    /// No I/O happens until the first command.
    pub fn new(config: DriverConfig) -> Self {
        Self {
            config: Mutex::new(config),
            driver: Mutex::new(None),
        }
    }

    async fn driver(&self) -> Result<Arc<DatecsDriver>> {
        let mut slot = self.driver.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(Arc::clone(d));
        }
        let config = self.config.lock().await.clone();
        let d = Arc::new(DatecsDriver::connect(&config).await?);
        *slot = Some(Arc::clone(&d));
        Ok(d)
    }

    /// Run `op` on the connected driver (connecting first if needed); drop
    /// the connection when the link itself failed, so the next call reconnects.
    async fn with<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(Arc<DatecsDriver>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let result = match self.driver().await {
            Ok(d) => {
                let r = op(Arc::clone(&d)).await;
                // Keep what the driver learned for the next connection.
                let learned = d.settings().await;
                self.config.lock().await.dialect.settings = learned;
                r
            }
            Err(e) => Err(e),
        };
        if let Err(Error::Transport(_) | Error::Timeout(_)) = &result {
            *self.driver.lock().await = None;
        }
        result
    }
}

#[async_trait]
impl FiscalRegister for ReconnectingRegister {
    async fn print_sale(&self, receipt: &SaleReceipt) -> Result<PrintedDocument> {
        self.with(|d| async move { d.print_sale(receipt).await })
            .await
    }

    async fn last_document_number(&self) -> Result<u64> {
        self.with(|d| async move { d.last_document_number().await })
            .await
    }

    async fn print_return(&self, receipt: &ReturnReceipt) -> Result<PrintedDocument> {
        self.with(|d| async move { d.print_return(receipt).await })
            .await
    }

    async fn status(&self) -> Result<DeviceStatus> {
        self.with(|d| async move { d.status().await }).await
    }

    async fn info(&self) -> Result<DeviceInfo> {
        self.with(|d| async move { d.info().await }).await
    }

    async fn cash_in_out(&self, amount: i64) -> Result<CashTotals> {
        self.with(|d| async move { d.cash_in_out(amount).await })
            .await
    }

    async fn x_report(&self) -> Result<ReportTotals> {
        self.with(|d| async move { d.x_report().await }).await
    }

    async fn z_report(&self) -> Result<ReportTotals> {
        self.with(|d| async move { d.z_report().await }).await
    }

    async fn receipt_state(&self) -> Result<ReceiptState> {
        self.with(|d| async move { FiscalRegister::receipt_state(&*d).await })
            .await
    }

    async fn open_receipt(&self, kind: ReceiptKind) -> Result<()> {
        self.with(|d| async move { FiscalRegister::open_receipt(&*d, kind).await })
            .await
    }

    async fn open_receipt_as(&self, kind: ReceiptKind, operator: Option<u32>) -> Result<()> {
        self.with(|d| async move { FiscalRegister::open_receipt_as(&*d, kind, operator).await })
            .await
    }

    async fn add_line(&self, line: &ReceiptLine) -> Result<()> {
        self.with(|d| async move { FiscalRegister::add_line(&*d, line).await })
            .await
    }

    async fn print_text(&self, text: &str) -> Result<()> {
        self.with(|d| async move { FiscalRegister::print_text(&*d, text).await })
            .await
    }

    async fn subtotal(&self) -> Result<Subtotal> {
        self.with(|d| async move { FiscalRegister::subtotal(&*d).await })
            .await
    }

    async fn pay(&self, payment: &Payment) -> Result<PaymentResult> {
        self.with(|d| async move { FiscalRegister::pay(&*d, payment).await })
            .await
    }

    async fn close_receipt(&self) -> Result<u64> {
        self.with(|d| async move { FiscalRegister::close_receipt(&*d).await })
            .await
    }

    async fn cancel_receipt(&self) -> Result<()> {
        self.with(|d| async move { FiscalRegister::cancel_receipt(&*d).await })
            .await
    }

    async fn read_document(&self, number: u64) -> Result<Vec<String>> {
        self.with(|d| async move { FiscalRegister::read_document(&*d, number).await })
            .await
    }

    async fn check_password(&self) -> Result<()> {
        self.with(|d| async move { FiscalRegister::check_password(&*d).await })
            .await
    }

    async fn cash_totals(&self) -> Result<CashTotals> {
        self.with(|d| async move { FiscalRegister::cash_totals(&*d).await })
            .await
    }

    async fn print_non_fiscal(&self, lines: &[String]) -> Result<()> {
        self.with(|d| async move { FiscalRegister::print_non_fiscal(&*d, lines).await })
            .await
    }

    async fn shift_state(&self) -> Result<ShiftState> {
        self.with(|d| async move { FiscalRegister::shift_state(&*d).await })
            .await
    }

    async fn modem_state(&self) -> Result<ModemState> {
        self.with(|d| async move { FiscalRegister::modem_state(&*d).await })
            .await
    }

    async fn read_clock(&self) -> Result<chrono::NaiveDateTime> {
        self.with(|d| async move { FiscalRegister::read_clock(&*d).await })
            .await
    }

    async fn health(&self, now: chrono::NaiveDateTime) -> Result<Health> {
        self.with(|d| async move { FiscalRegister::health(&*d, now).await })
            .await
    }

    async fn card_cash_out(&self, amount: i64, card: &CardSlip) -> Result<PrintedDocument> {
        self.with(|d| async move { FiscalRegister::card_cash_out(&*d, amount, card).await })
            .await
    }

    async fn dialect_settings(&self) -> Result<DialectSettings> {
        Ok(self.config.lock().await.dialect.settings.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_absent_register_is_an_error_per_call_and_found_once_it_appears() {
        // Reserve a port, then free it: nothing listens there yet.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let reg = ReconnectingRegister::new(DriverConfig::tcp(addr.to_string()));
        let err = reg.status().await.expect_err("nothing listens");
        assert_eq!(err.code(), "transport", "{err}");

        let config = crate::emulator::EmulatorConfig::new(crate::Dialect::ua_fp_t260());
        let (_emu, _addr, _task) = crate::emulator::spawn_tcp(config, &addr.to_string())
            .await
            .unwrap();
        let status = reg.status().await.expect("the register is there now");
        assert!(status.ready(), "{status:?}");
        assert_eq!(reg.last_document_number().await.unwrap(), 0);
    }
}
