//! A small in-process fiscal register for the walking skeleton: it numbers
//! documents and keeps the text it "printed". The Datecs emulator behind the
//! real driver replaces it in the demo mode.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::{
    DeviceInfo, DeviceStatus, Error, FiscalRegister, Payment, PrintedDocument, Result, SaleReceipt,
};

/// An in-process register that prints to memory.
#[derive(Debug, Default)]
pub struct SimRegister {
    state: Mutex<SimState>,
}

#[derive(Debug, Default)]
struct SimState {
    last_number: u64,
    tape: Vec<String>,
}

impl SimRegister {
    /// Everything printed so far, one string per document.
    pub fn tape(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.tape.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl FiscalRegister for SimRegister {
    async fn print_sale(&self, receipt: &SaleReceipt) -> Result<PrintedDocument> {
        if receipt.lines.is_empty() {
            return Err(Error::InvalidRequest(
                "a receipt needs at least one line".into(),
            ));
        }
        let total: i64 = receipt
            .lines
            .iter()
            .map(|l| l.price * l.quantity_milli / 1000)
            .sum();
        let paid: i64 = receipt
            .payments
            .iter()
            .map(|p| match p {
                Payment::Cash { amount } | Payment::Card { amount, .. } => *amount,
            })
            .sum();
        if paid < total {
            return Err(Error::InvalidRequest(format!("paid {paid} of {total}")));
        }
        let mut st = self
            .state
            .lock()
            .map_err(|_| Error::Protocol("state poisoned".into()))?;
        st.last_number += 1;
        let mut text = format!("ФІСКАЛЬНИЙ ЧЕК №{}\n", st.last_number);
        for l in &receipt.lines {
            text.push_str(&format!("{} {} {}\n", l.name, l.tax_group, l.price));
        }
        for p in &receipt.payments {
            if let Payment::Card { amount, card } = p {
                text.push_str(&format!(
                    "КАРТКА {amount} RRN {} КОД {} {}\n",
                    card.rrn, card.auth_code, card.masked_pan
                ));
            }
        }
        st.tape.push(text);
        Ok(PrintedDocument::numbered(st.last_number))
    }

    async fn last_document_number(&self) -> Result<u64> {
        let st = self
            .state
            .lock()
            .map_err(|_| Error::Protocol("state poisoned".into()))?;
        Ok(st.last_number)
    }

    async fn status(&self) -> Result<DeviceStatus> {
        Ok(DeviceStatus {
            fiscalised: true,
            ..DeviceStatus::default()
        })
    }

    async fn info(&self) -> Result<DeviceInfo> {
        Ok(DeviceInfo {
            model: "SIM".into(),
            firmware: "0".into(),
            dialect: "sim".into(),
            ..DeviceInfo::default()
        })
    }
}
