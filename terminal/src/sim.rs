//! A small in-process card terminal for the walking skeleton: it approves every
//! purchase after a short scripted status timeline. The protocol emulators
//! (PrivatBank JSON over TCP, ...) replace it in the demo mode.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::{
    CardOutcome, CardTerminal, CardTransaction, Error, ProgressSink, PurchaseRequest, Result,
    TerminalProgress, TerminalStatus,
};

/// An in-process terminal that approves everything.
#[derive(Debug)]
pub struct SimTerminal {
    step_delay: Duration,
    state: Mutex<SimState>,
}

#[derive(Debug, Default)]
struct SimState {
    invoice: u32,
    last: Option<CardTransaction>,
}

impl SimTerminal {
    /// A terminal that waits `step_delay` between status events.
    pub fn new(step_delay: Duration) -> Self {
        Self {
            step_delay,
            state: Mutex::new(SimState::default()),
        }
    }
}

#[async_trait]
impl CardTerminal for SimTerminal {
    async fn purchase(&self, req: PurchaseRequest, progress: ProgressSink) -> Result<CardOutcome> {
        if req.amount <= 0 {
            return Err(Error::InvalidRequest(format!(
                "amount {} must be positive",
                req.amount
            )));
        }
        for status in [
            TerminalStatus::WaitingForCard,
            TerminalStatus::CardRead,
            TerminalStatus::EnterPin,
            TerminalStatus::Authorising,
        ] {
            let _ = progress.send(TerminalProgress { status });
            tokio::time::sleep(self.step_delay).await;
        }
        let mut st = self
            .state
            .lock()
            .map_err(|_| Error::Protocol("state poisoned".into()))?;
        st.invoice += 1;
        let n = st.invoice;
        let tx = CardTransaction {
            rrn: format!("{:012}", 600_000_000_000u64 + u64::from(n) * 7919),
            auth_code: format!("{:06}", (n * 104_729) % 1_000_000),
            masked_pan: "516875******1234".into(),
            card_scheme: "MASTERCARD".into(),
            terminal_id: "S1A00001".into(),
            merchant_id: format!("M{:03}", req.merchant),
            invoice: format!("{n:06}"),
            amount: req.amount,
            date_time: chrono::Local::now()
                .naive_local()
                .format(crate::recovery::DATE_TIME_FORMAT)
                .to_string(),
            ..CardTransaction::default()
        };
        st.last = Some(tx.clone());
        let _ = progress.send(TerminalProgress {
            status: TerminalStatus::Finished,
        });
        Ok(CardOutcome::Approved(tx))
    }

    async fn last_transaction(&self) -> Result<Option<CardTransaction>> {
        let st = self
            .state
            .lock()
            .map_err(|_| Error::Protocol("state poisoned".into()))?;
        Ok(st.last.clone())
    }
}
