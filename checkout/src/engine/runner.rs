//! The one runner: it takes an operation's next step from its kind's plan,
//! writes the step ahead (with what recovery needs), makes the device call,
//! and records the result and its effects in one transaction; a step left
//! `started` (a crash, a time-out, a lost reply) is recovered through that
//! step's own `recover` before anything else happens to the operation.

use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::api::{KasaEvent, OperationState, PaymentMethod, PaymentState};
use crate::failpoint;
use crate::journal::{self, Loaded, PaymentUpdate, StepRecord, StepState};
use crate::operations::{plan, Plan, Step};
use crate::{Error, Result};

use super::steps::{self, Outcome, RunResult, StepContext};
use super::Engine;

/// How many times one drive may run a step again before a person is asked.
const MAX_RETRIES: u32 = 4;

fn ahead<T: DeserializeOwned>(row: &StepRecord) -> Option<T> {
    row.recovery
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
}

fn json<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

/// The money an operation has moved that cannot be undone by just stopping:
/// a charged card, or a fiscal step done.
fn moved_money(l: &Loaded) -> bool {
    l.payments.iter().any(|p| p.is_charged())
        || l.steps
            .iter()
            .any(|s| s.state == StepState::Done && matches!(s.name.as_str(), "open" | "close"))
        || l.steps
            .iter()
            .any(|s| s.state == StepState::Done && s.name.starts_with("pay:"))
}

impl Engine {
    /// Drive operation `id` until it is settled (done, declined, awaiting a
    /// payment, needing attention) or a device cannot be reached. The
    /// caller holds the lane.
    pub(crate) async fn drive(&self, id: i64) -> Result<()> {
        let mut retries = 0u32;
        let result = self.drive_loop(id, &mut retries).await;
        self.inner.set_step(id, None);
        self.publish(id);
        result
    }

    async fn drive_loop(&self, id: i64, retries: &mut u32) -> Result<()> {
        loop {
            let l = self.inner.journal.load(id)?;
            if l.op.state != OperationState::Running {
                return Ok(());
            }
            let confirm =
                self.inner.devices.terminal.confirm_mode() == terminal::ConfirmMode::Explicit;
            match plan(&l, confirm) {
                Plan::Finish(state, why) => {
                    let at = self.now();
                    self.inner.journal.write(|tx| {
                        if state != OperationState::Done {
                            // Payments never sent end with the operation.
                            for p in l
                                .payments
                                .iter()
                                .filter(|p| p.state == PaymentState::Pending)
                            {
                                if p.method == PaymentMethod::Card {
                                    journal::payments_update(
                                        tx,
                                        p.id,
                                        &PaymentUpdate::Cancelled(crate::api::Decline {
                                            code: "cancelled".into(),
                                            message: "the operation ended first".into(),
                                        }),
                                        &at,
                                    )?;
                                }
                            }
                        }
                        let why = why.as_ref().map(|(c, m)| (c.as_str(), m.as_str()));
                        journal::set_operation_state(
                            tx,
                            id,
                            &[OperationState::Running],
                            state,
                            why,
                            &at,
                        )
                    })?;
                    return Ok(());
                }
                Plan::AwaitPayment => {
                    let at = self.now();
                    self.inner.journal.write(|tx| {
                        journal::set_operation_state(
                            tx,
                            id,
                            &[OperationState::Running],
                            OperationState::AwaitingPayment,
                            None,
                            &at,
                        )
                    })?;
                    return Ok(());
                }
                Plan::Run(step) => {
                    self.inner.set_step(id, Some(step.point()));
                    self.publish(id);
                    let outcome = self.step(&l, &step).await?;
                    let stop = self.apply(&l, &step, outcome, retries)?;
                    if stop {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Run or recover one step; returns its outcome and the started row.
    async fn step(&self, l: &Loaded, step: &Step) -> Result<(Outcome, Option<i64>)> {
        let row = l.step(&step.name()).cloned();
        let lookup_again = matches!(step, Step::Charge(p)
            if l.payment(*p).is_some_and(|p| p.state == PaymentState::Unknown));
        if let Some(row) = row.filter(|r| r.state == StepState::Started || lookup_again) {
            let started = (row.state == StepState::Started).then_some(row.id);
            return Ok((self.recover(l, step, &row).await, started));
        }
        // Write ahead: ask the devices what recovery will need, then the row.
        let originals = steps::originals(&self.inner.journal, l);
        let d = &self.inner.devices;
        let ahead: std::result::Result<Option<String>, Outcome> = match step {
            Step::Charge(_) => match steps::target(l, step, &originals) {
                Some((p, original)) => {
                    match steps::prepare_charge(d.terminal.as_ref(), p, original).await {
                        Ok(a) => Ok(json(&a)),
                        Err(e) => Err(Outcome::Unresolved {
                            code: format!("terminal.{}", e.code()),
                            message: e.to_string(),
                        }),
                    }
                }
                None => Err(internal("the charge has no payment")),
            },
            Step::Confirm(_) => Ok(l
                .step(&Step::Charge(confirm_target(step)).name())
                .and_then(|r| r.recovery.clone())),
            Step::Reverse(_) => match steps::target(l, step, &originals) {
                Some((p, _)) => match steps::prepare_reverse(d.terminal.as_ref(), p).await {
                    Ok(a) => Ok(json(&a)),
                    Err(e) => Err(Outcome::Unresolved {
                        code: format!("terminal.{}", e.code()),
                        message: e.to_string(),
                    }),
                },
                None => Err(internal("the reversal has no payment")),
            },
            Step::Open => steps::prepare_open(d.fiscal.as_ref())
                .await
                .map(|a| json(&a)),
            Step::Pay(_) => steps::prepare_pay(d.fiscal.as_ref())
                .await
                .map(|a| json(&a)),
            // The close is recovered against the receipt's own start.
            Step::Close => Ok(l.step("open").and_then(|r| r.recovery.clone())),
            Step::Drawer | Step::Report => steps::prepare_counters(d.fiscal.as_ref())
                .await
                .map(|a| json(&a)),
        };
        let ahead = match ahead {
            Ok(a) => a,
            Err(outcome) => return Ok((outcome, None)),
        };
        let at = self.now();
        let name = step.name();
        let row_id = self.inner.journal.write(|tx| {
            let row = journal::start_step(tx, l.op.id, &name, ahead.as_deref(), &at)?;
            if let (Step::Charge(p), Some(a)) = (step, &ahead) {
                if let Ok(c) = serde_json::from_str::<steps::ChargeAhead>(a) {
                    journal::set_request_id(tx, *p, &c.pending.request_id)?;
                }
            }
            Ok(row)
        })?;
        let row = StepRecord {
            id: row_id,
            operation_id: l.op.id,
            name: name.clone(),
            attempt: 0,
            state: StepState::Started,
            recovery: ahead,
            result: None,
            error_code: None,
        };
        failpoint::hit(&format!("{}:before", step.point())).await;
        let result = self.run(l, step, &row).await;
        failpoint::hit(&format!("{}:after", step.point())).await;
        let outcome = match result {
            RunResult::Ended(o) => o,
            RunResult::Uncertain => self.recover(l, step, &row).await,
        };
        Ok((outcome, Some(row_id)))
    }

    fn step_context<'a>(&'a self, l: &'a Loaded) -> (StepContext<'a>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<terminal::TerminalProgress>();
        let events = self.inner.events.clone();
        let operation = l.op.id;
        let forward = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                let _ = events.send(KasaEvent::Progress {
                    operation,
                    status: p.status,
                });
            }
        });
        (
            StepContext {
                devices: &self.inner.devices,
                loaded: l,
                progress: tx,
            },
            forward,
        )
    }

    async fn run(&self, l: &Loaded, step: &Step, row: &StepRecord) -> RunResult {
        let (ctx, forward) = self.step_context(l);
        let r = match step {
            Step::Charge(p) => match ahead::<steps::ChargeAhead>(row) {
                Some(a) => steps::run_charge(&ctx, *p, &a).await,
                None => RunResult::Ended(internal("the charge was not written ahead")),
            },
            Step::Confirm(_) => steps::run_confirm(&ctx).await,
            Step::Reverse(p) => match ahead::<steps::ChargeAhead>(row) {
                Some(a) => steps::run_reverse(&ctx, *p, &a).await,
                None => RunResult::Ended(internal("the reversal was not written ahead")),
            },
            Step::Open => steps::run_open(&ctx).await,
            Step::Pay(p) => steps::run_pay(&ctx, *p).await,
            Step::Close => steps::run_close(&ctx).await,
            Step::Drawer => steps::run_drawer(&ctx).await,
            Step::Report => steps::run_report(&ctx).await,
        };
        drop(ctx);
        let _ = forward.await;
        r
    }

    async fn recover(&self, l: &Loaded, step: &Step, row: &StepRecord) -> Outcome {
        let (ctx, forward) = self.step_context(l);
        let o = match step {
            Step::Charge(p) => match ahead::<steps::ChargeAhead>(row) {
                Some(a) => steps::recover_charge(&ctx, *p, &a).await,
                // Nothing was written ahead, so nothing was sent.
                None => Outcome::Retry("the charge was never sent".into()),
            },
            Step::Confirm(p) => match ahead::<steps::ChargeAhead>(row) {
                Some(a) => steps::recover_confirm(&ctx, *p, &a).await,
                None => Outcome::Retry("nothing to look up".into()),
            },
            Step::Reverse(p) => match ahead::<steps::ChargeAhead>(row) {
                Some(a) => steps::recover_reverse(&ctx, *p, &a).await,
                None => Outcome::Retry("the reversal was never sent".into()),
            },
            Step::Open => steps::recover_open(&ctx).await,
            Step::Pay(p) => match ahead::<steps::PayAhead>(row) {
                Some(a) => steps::recover_pay(&ctx, *p, &a).await,
                None => Outcome::Retry("the payment was not written ahead".into()),
            },
            Step::Close => match ahead::<steps::ReceiptAhead>(row) {
                Some(a) => steps::recover_close(&ctx, &a).await,
                None => Outcome::RestartReceipt("the receipt's start is unknown".into()),
            },
            Step::Drawer => match ahead::<steps::CountersAhead>(row) {
                Some(a) => steps::recover_drawer(&ctx, &a).await,
                None => Outcome::Retry("not written ahead".into()),
            },
            Step::Report => match ahead::<steps::CountersAhead>(row) {
                Some(a) => steps::recover_report(&ctx, &a).await,
                None => Outcome::Retry("not written ahead".into()),
            },
        };
        drop(ctx);
        let _ = forward.await;
        o
    }

    /// Record a step's outcome and its effects in one transaction; returns
    /// whether driving stops here.
    fn apply(
        &self,
        l: &Loaded,
        step: &Step,
        (outcome, row): (Outcome, Option<i64>),
        retries: &mut u32,
    ) -> Result<bool> {
        let id = l.op.id;
        let at = self.now();
        let name = step.name();
        let j = &self.inner.journal;
        let retry = |retries: &mut u32, why: &str| -> Result<bool> {
            *retries += 1;
            if *retries > MAX_RETRIES {
                self.attention(
                    l,
                    row,
                    "internal.retries",
                    &format!("{name} ran {MAX_RETRIES} times without an answer: {why}"),
                )?;
                return Ok(true);
            }
            Ok(false)
        };
        match outcome {
            Outcome::Done {
                result,
                payment,
                document,
            } => {
                j.write(|tx| {
                    let row = match row {
                        Some(r) => r,
                        None => journal::start_step(tx, id, &name, None, &at)?,
                    };
                    journal::finish_step(
                        tx,
                        row,
                        StepState::Done,
                        Some(&result.to_string()),
                        None,
                        &at,
                    )?;
                    if let Some((p, u)) = &payment {
                        journal::payments_update(tx, *p, u, &at)?;
                    }
                    if let Some(d) = &document {
                        journal::insert_document(tx, id, d, &at)?;
                    }
                    journal::log(
                        tx,
                        id,
                        &at,
                        &format!("{name} done"),
                        Some(&result.to_string()),
                    )?;
                    clear_problem(tx, id, &at)
                })?;
                Ok(false)
            }
            Outcome::Retry(why) => {
                if let Some(r) = row {
                    j.write(|tx| {
                        journal::finish_step(tx, r, StepState::Failed, None, Some("retry"), &at)?;
                        journal::log(tx, id, &at, &format!("{name} again"), Some(&why))
                    })?;
                }
                retry(retries, &why)
            }
            Outcome::RestartReceipt(why) => {
                let names: Vec<String> = l
                    .steps
                    .iter()
                    .map(|s| s.name.clone())
                    .filter(|n| n == "open" || n == "close" || n.starts_with("pay:"))
                    .collect();
                j.write(|tx| {
                    if let Some(r) = row {
                        journal::finish_step(tx, r, StepState::Failed, None, Some("restart"), &at)?;
                    }
                    journal::supersede(tx, id, &names, &at)?;
                    journal::log(tx, id, &at, "receipt_restarted", Some(&why))
                })?;
                retry(retries, &why)
            }
            Outcome::Failed {
                code,
                message,
                payment,
            } => {
                j.write(|tx| {
                    if let Some(r) = row {
                        journal::finish_step(tx, r, StepState::Failed, None, Some(&code), &at)?;
                    }
                    if let Some((p, u)) = &payment {
                        journal::payments_update(tx, *p, u, &at)?;
                    }
                    Ok(())
                })?;
                let l = j.load(id)?;
                if moved_money(&l) || payment.is_some() {
                    self.attention(&l, None, &code, &message)?;
                } else {
                    j.write(|tx| {
                        journal::set_operation_state(
                            tx,
                            id,
                            &[OperationState::Running],
                            OperationState::Failed,
                            Some((&code, &message)),
                            &at,
                        )
                    })?;
                }
                Ok(true)
            }
            Outcome::Unresolved { code, message } => {
                // The step stays started (or was never started): it is
                // recovered when the device answers again.
                j.write(|tx| {
                    journal::set_problem(tx, id, &code, &message, &at)?;
                    journal::log(tx, id, &at, &format!("{name} unresolved"), Some(&message))
                })?;
                self.inner.note_unresolved();
                Ok(true)
            }
        }
    }

    fn attention(&self, l: &Loaded, row: Option<i64>, code: &str, message: &str) -> Result<()> {
        let at = self.now();
        self.inner.journal.write(|tx| {
            if let Some(r) = row {
                journal::finish_step(tx, r, StepState::Failed, None, Some(code), &at)?;
            }
            journal::set_operation_state(
                tx,
                l.op.id,
                &[OperationState::Running],
                OperationState::NeedsAttention,
                Some((code, message)),
                &at,
            )
        })
    }
}

fn confirm_target(step: &Step) -> i64 {
    match step {
        Step::Confirm(p) => *p,
        _ => 0,
    }
}

fn internal(message: &str) -> Outcome {
    Outcome::Failed {
        code: "internal".into(),
        message: message.into(),
        payment: None,
    }
}

fn clear_problem(tx: &rusqlite::Transaction<'_>, id: i64, at: &str) -> Result<()> {
    tx.execute(
        "UPDATE operations SET error_code = NULL, error_message = NULL, updated_at = ?2
         WHERE id = ?1 AND state = 'running' AND error_code IS NOT NULL",
        rusqlite::params![id, at],
    )?;
    Ok(())
}

impl From<Outcome> for Error {
    fn from(o: Outcome) -> Self {
        Error::Internal(format!("{o:?}"))
    }
}
