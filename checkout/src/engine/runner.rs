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

use super::day;
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
/// a charged card, or a fiscal document printed.
fn moved_money(l: &Loaded) -> bool {
    l.payments.iter().any(|p| p.is_charged())
        || l.steps
            .iter()
            .any(|s| s.state == StepState::Done && s.name == "receipt")
}

/// What the runner does after a step's outcome is recorded.
enum Next {
    /// Stop driving (settled, or waiting for a device or a person).
    Stop,
    /// Go on; a step the same transaction already wrote ahead, if any.
    Continue(Option<StepRecord>),
}

fn lookup_again(l: &Loaded, step: &Step) -> bool {
    matches!(step, Step::Charge(p)
        if l.payment(*p).is_some_and(|p| p.state == PaymentState::Unknown))
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

    fn explicit_confirm(&self) -> bool {
        self.inner.devices.terminal.confirm_mode() == terminal::ConfirmMode::Explicit
    }

    async fn drive_loop(&self, id: i64, retries: &mut u32) -> Result<()> {
        // A step the previous transaction wrote ahead together with the
        // end of the step before it; it has not run yet.
        let mut fresh: Option<StepRecord> = None;
        loop {
            let l = self.inner.journal.load(id)?;
            if l.op.state != OperationState::Running {
                return Ok(());
            }
            let next = plan(&l, self.explicit_confirm());
            if let Some(f) = &fresh {
                if !matches!(&next, Plan::Run(s) if s.name() == f.name) {
                    // Planned ahead differently from what the journal says
                    // now: the step never ran; let the plan decide again.
                    let at = self.now();
                    self.inner.journal.write(|tx| {
                        journal::finish_step(
                            tx,
                            f.id,
                            StepState::Failed,
                            None,
                            Some("replanned"),
                            &at,
                        )
                    })?;
                    fresh = None;
                    continue;
                }
            }
            match next {
                Plan::Finish(state, why) => {
                    let at = self.now();
                    self.inner
                        .journal
                        .write(|tx| finish_operation(tx, &l, state, why.as_ref(), &at))?;
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
                    self.publish_loaded(&l);
                    let (outcome, row) = match fresh.take() {
                        Some(row) => (self.run_started(&l, &step, &row).await, Some(row.id)),
                        None => self.step(&l, &step).await?,
                    };
                    match self.apply(&l, &step, outcome, row, retries).await? {
                        Next::Stop => return Ok(()),
                        Next::Continue(f) => fresh = f,
                    }
                }
            }
        }
    }

    /// Run or recover one step; returns its outcome and the started row.
    async fn step(&self, l: &Loaded, step: &Step) -> Result<(Outcome, Option<i64>)> {
        let row = l.step(&step.name()).cloned();
        let again = lookup_again(l, step);
        if let Some(row) = row.filter(|r| r.state == StepState::Started || again) {
            let started = (row.state == StepState::Started).then_some(row.id);
            return Ok((self.recover(l, step, &row).await, started));
        }
        let ahead = match self.prepare(l, step).await {
            Ok(a) => a,
            Err(outcome) => return Ok((outcome, None)),
        };
        let at = self.now();
        let day = self.local_day();
        let row = self
            .inner
            .journal
            .write(|tx| start(tx, l.op.id, step, ahead, &at, &day))?;
        let id = row.id;
        Ok((self.run_started(l, step, &row).await, Some(id)))
    }

    /// Ask the devices what a step's recovery will need (read-only questions).
    async fn prepare(
        &self,
        l: &Loaded,
        step: &Step,
    ) -> std::result::Result<Option<String>, Outcome> {
        let originals = steps::originals(&self.inner.journal, l);
        let d = &self.inner.devices;
        let unreachable = |e: terminal::Error| Outcome::Unresolved {
            code: format!("terminal.{}", e.code()),
            message: e.to_string(),
        };
        match step {
            Step::Charge(_) => match steps::target(l, step, &originals) {
                Some((p, original)) => {
                    let void_refused = l.step(&step.name()).and_then(|r| r.error_code.as_deref())
                        == Some(steps::VOID_REFUSED);
                    steps::prepare_charge(d.terminal.as_ref(), p, original, void_refused)
                        .await
                        .map(|a| json(&self.with_known_ids(a, p.merchant)))
                        .map_err(unreachable)
                }
                None => Err(internal("the charge has no payment")),
            },
            Step::Confirm(p) => Ok(l
                .step(&Step::Charge(*p).name())
                .and_then(|r| r.recovery.clone())),
            Step::Reverse(_) => match steps::target(l, step, &originals) {
                Some((p, _)) => {
                    let by_refund = l.step(&step.name()).and_then(|r| r.error_code.as_deref())
                        == Some(steps::VOID_REFUSED);
                    steps::prepare_reverse(d.terminal.as_ref(), p, by_refund)
                        .await
                        .map(|a| json(&self.with_known_ids(a, p.merchant)))
                        .map_err(unreachable)
                }
                None => Err(internal("the reversal has no payment")),
            },
            Step::Receipt => steps::prepare_receipt(d.fiscal.as_ref())
                .await
                .map(|a| json(&a)),
            Step::Drawer | Step::Report => steps::prepare_counters(d.fiscal.as_ref())
                .await
                .map(|a| json(&a)),
            Step::Survey | Step::Settle(_) | Step::Reconcile => Ok(None),
            Step::ZReport => day::prepare_z(d.fiscal.as_ref(), &self.inner.journal)
                .await
                .map(|a| json(&a)),
        }
    }

    /// Fill the ids a pending operation lacks with what the terminal last
    /// reported for the merchant, else the installer's settings, so a
    /// receipt printed after a lookup carries them.
    fn with_known_ids(&self, mut a: steps::ChargeAhead, merchant: u8) -> steps::ChargeAhead {
        if a.pending.terminal_id.is_empty() || a.pending.merchant_id.is_empty() {
            let known = self.inner.journal.known_ids(merchant).ok().flatten();
            let configured = self
                .inner
                .config
                .merchants
                .iter()
                .find(|m| m.index == merchant)
                .map(|m| (m.terminal_id.clone(), m.merchant_id.clone()));
            for (tid, mid) in known.into_iter().chain(configured) {
                let tid = if a.pending.terminal_id.is_empty() {
                    tid
                } else {
                    String::new()
                };
                let mid = if a.pending.merchant_id.is_empty() {
                    mid
                } else {
                    String::new()
                };
                a.pending = a.pending.with_ids(&tid, &mid);
            }
        }
        a
    }

    /// Run a step whose row is written ahead; an uncertain outcome is
    /// recovered at once, as after a crash.
    async fn run_started(&self, l: &Loaded, step: &Step, row: &StepRecord) -> Outcome {
        failpoint::hit(&format!("{}:before", step.point())).await;
        if let Step::Charge(p) = step {
            // The cashier cancelled while the charge was being prepared: it
            // is never sent.
            let cancelled = self
                .inner
                .journal
                .cancel_requested(l.op.id)
                .unwrap_or(false);
            if cancelled {
                return Outcome::Done {
                    result: serde_json::json!({ "how": "cancelled before it was sent" }),
                    payment: vec![(
                        *p,
                        PaymentUpdate::Cancelled(crate::api::Decline {
                            code: "terminal.cancelled".into(),
                            message: "cancelled by the cashier before it was sent".into(),
                        }),
                    )],
                    document: None,
                };
            }
        }
        let result = self.run(l, step, row).await;
        failpoint::hit(&format!("{}:after", step.point())).await;
        match result {
            RunResult::Ended(o) => o,
            RunResult::Uncertain => self.recover(l, step, row).await,
        }
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
            Step::Confirm(p) => steps::run_confirm(&ctx, *p).await,
            Step::Reverse(p) => match ahead::<steps::ChargeAhead>(row) {
                Some(a) => steps::run_reverse(&ctx, *p, &a).await,
                None => RunResult::Ended(internal("the reversal was not written ahead")),
            },
            Step::Receipt => steps::run_receipt(&ctx).await,
            Step::Drawer => steps::run_drawer(&ctx).await,
            Step::Report => steps::run_report(&ctx).await,
            Step::Survey => day::run_survey(&ctx).await,
            Step::Settle(m) => day::run_settle(&ctx, *m).await,
            Step::ZReport => match ahead::<day::ZAhead>(row) {
                Some(a) => day::run_z(&ctx, &a).await,
                None => RunResult::Ended(internal("the Z report was not written ahead")),
            },
            Step::Reconcile => day::run_reconcile(&ctx, &self.inner.journal).await,
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
            Step::Receipt => match ahead::<steps::ReceiptAhead>(row) {
                Some(a) => steps::recover_receipt(&ctx, &a).await,
                None => Outcome::Retry("the receipt was not written ahead".into()),
            },
            Step::Drawer => match ahead::<steps::CountersAhead>(row) {
                Some(a) => steps::recover_drawer(&ctx, &a).await,
                None => Outcome::Retry("not written ahead".into()),
            },
            Step::Report => match ahead::<steps::CountersAhead>(row) {
                Some(a) => steps::recover_report(&ctx, &a).await,
                None => Outcome::Retry("not written ahead".into()),
            },
            // They only read: they run again.
            Step::Survey | Step::Reconcile => Outcome::Retry("read again".into()),
            Step::Settle(m) => day::recover_settle(&ctx, *m).await,
            Step::ZReport => match ahead::<day::ZAhead>(row) {
                Some(a) => day::recover_z(&ctx, &a).await,
                None => Outcome::Retry("the Z report was not written ahead".into()),
            },
        };
        drop(ctx);
        let _ = forward.await;
        o
    }

    /// Record a step's outcome and its effects in one transaction, together
    /// with what follows: the next step written ahead, or the operation's
    /// end. Returns what the runner does next.
    async fn apply(
        &self,
        l: &Loaded,
        step: &Step,
        outcome: Outcome,
        row: Option<i64>,
        retries: &mut u32,
    ) -> Result<Next> {
        let id = l.op.id;
        let name = step.name();
        let j = &self.inner.journal;
        match outcome {
            Outcome::Done {
                result,
                payment,
                document,
            } => {
                // Plan on from the operation as it reads once this is written.
                let after = l.with_step_done(&name, &payment, document.as_ref());
                let next = plan(&after, self.explicit_confirm());
                let mut ahead = None;
                if let Plan::Run(s) = &next {
                    let started = after
                        .step(&s.name())
                        .is_some_and(|r| r.state == StepState::Started);
                    if !started && !lookup_again(&after, s) {
                        if let Ok(a) = self.prepare(&after, s).await {
                            ahead = Some((*s, a));
                        }
                    }
                }
                let at = self.now();
                let day = self.local_day();
                let fresh = j.write(|tx| {
                    let row = match row {
                        Some(r) => r,
                        None => journal::start_step(tx, id, &name, None, &at)?,
                    };
                    let text = result.to_string();
                    journal::finish_step(tx, row, StepState::Done, Some(&text), None, &at)?;
                    for (p, u) in &payment {
                        journal::payments_update(tx, *p, u, &at)?;
                    }
                    if let Some(d) = &document {
                        journal::insert_document(tx, id, d, &at)?;
                    }
                    day::effects(tx, &after, step, &result, &at, &day)?;
                    journal::log(tx, id, &at, &format!("{name} done"), Some(&text))?;
                    clear_problem(tx, id, &at)?;
                    Ok(match (&next, ahead) {
                        (Plan::Finish(state, why), _) => {
                            finish_operation(tx, &after, *state, why.as_ref(), &at)?;
                            None
                        }
                        (Plan::AwaitPayment, _) => {
                            journal::set_operation_state(
                                tx,
                                id,
                                &[OperationState::Running],
                                OperationState::AwaitingPayment,
                                None,
                                &at,
                            )?;
                            None
                        }
                        (Plan::Run(_), Some((s, a))) => Some(start(tx, id, &s, a, &at, &day)?),
                        (Plan::Run(_), None) => None,
                    })
                })?;
                if let (Step::Receipt, Some(d)) = (step, &document) {
                    if d.text.is_none() {
                        // The sale is done: say so now, then read the receipt
                        // back from the register's electronic journal and keep
                        // it with what it lacked, if anything.
                        self.publish(id);
                        self.read_back_receipt(&after, d.number).await;
                    }
                }
                Ok(match next {
                    Plan::Run(_) => Next::Continue(fresh),
                    _ => Next::Stop,
                })
            }
            Outcome::Retry(why) => {
                let at = self.now();
                if let Some(r) = row {
                    j.write(|tx| {
                        journal::finish_step(tx, r, StepState::Failed, None, Some("retry"), &at)?;
                        journal::log(tx, id, &at, &format!("{name} again"), Some(&why))
                    })?;
                }
                self.again(l, retries, &name, &why)
            }
            Outcome::Switch(code) => {
                let at = self.now();
                if let Some(r) = row {
                    j.write(|tx| {
                        journal::finish_step(tx, r, StepState::Failed, None, Some(&code), &at)?;
                        journal::log(tx, id, &at, &format!("{name} again"), Some(&code))
                    })?;
                }
                self.again(l, retries, &name, &code)
            }
            Outcome::RestartReceipt(why) => {
                let names = vec!["receipt".to_string()];
                let at = self.now();
                j.write(|tx| {
                    if let Some(r) = row {
                        journal::finish_step(tx, r, StepState::Failed, None, Some("restart"), &at)?;
                    }
                    journal::supersede(tx, id, &names, &at)?;
                    journal::log(tx, id, &at, "receipt_restarted", Some(&why))
                })?;
                self.again(l, retries, &name, &why)
            }
            Outcome::Failed {
                code,
                message,
                payment,
            } => {
                let at = self.now();
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
                let to = if moved_money(&l) || payment.is_some() {
                    OperationState::NeedsAttention
                } else {
                    OperationState::Failed
                };
                j.write(|tx| {
                    journal::set_operation_state(
                        tx,
                        id,
                        &[OperationState::Running],
                        to,
                        Some((&code, &message)),
                        &at,
                    )
                })?;
                Ok(Next::Stop)
            }
            Outcome::Unresolved { code, message } => {
                // The step stays started (or was never started): it is
                // recovered when the device answers again.
                let at = self.now();
                j.write(|tx| {
                    journal::set_problem(tx, id, &code, &message, &at)?;
                    journal::log(tx, id, &at, &format!("{name} unresolved"), Some(&message))
                })?;
                self.inner.note_unresolved();
                Ok(Next::Stop)
            }
        }
    }

    /// Read a printed receipt back and keep its text with the operation;
    /// what it lacks of what it had to carry (RRN, auth code, reference) is
    /// noted in its history. A register that cannot be read back changes
    /// nothing.
    async fn read_back_receipt(&self, l: &Loaded, number: Option<i64>) {
        let Some(number) = number.and_then(|n| u64::try_from(n).ok()) else {
            return;
        };
        let Some(lines) = steps::read_back(self.inner.devices.fiscal.as_ref(), number).await else {
            return;
        };
        let missing = steps::missing(l, &lines);
        let at = self.now();
        let text = lines.join("\n");
        let written = self.inner.journal.write(|tx| {
            journal::set_document_text(tx, l.op.id, number, &text)?;
            let detail = if missing.is_empty() {
                "verified".to_string()
            } else {
                format!("missing {}", missing.join(", "))
            };
            journal::log(tx, l.op.id, &at, "read_back", Some(&detail))
        });
        if let Err(e) = written {
            tracing::warn!("the read-back of receipt {number} was not kept: {e}");
        }
        if !missing.is_empty() {
            tracing::warn!("receipt {number} lacks {}", missing.join(", "));
        }
    }

    /// A step runs again; after too many tries a person is asked.
    fn again(&self, l: &Loaded, retries: &mut u32, name: &str, why: &str) -> Result<Next> {
        *retries += 1;
        if *retries <= MAX_RETRIES {
            return Ok(Next::Continue(None));
        }
        let at = self.now();
        let message = format!("{name} ran {MAX_RETRIES} times without an answer: {why}");
        self.inner.journal.write(|tx| {
            journal::set_operation_state(
                tx,
                l.op.id,
                &[OperationState::Running],
                OperationState::NeedsAttention,
                Some(("internal.retries", &message)),
                &at,
            )
        })?;
        Ok(Next::Stop)
    }
}

/// Write step `step` ahead as started (a charge also records its request
/// id; a step that prints a fiscal document opens the fiscal shift, on the
/// shop's date `day`, if none is open).
fn start(
    tx: &rusqlite::Transaction<'_>,
    op: i64,
    step: &Step,
    ahead: Option<String>,
    at: &str,
    day: &str,
) -> Result<StepRecord> {
    if step.prints() {
        journal::shifts::ensure_open(tx, op, day, at)?;
    }
    let name = step.name();
    let id = journal::start_step(tx, op, &name, ahead.as_deref(), at)?;
    if let (Step::Charge(p), Some(a)) = (step, &ahead) {
        if let Ok(c) = serde_json::from_str::<steps::ChargeAhead>(a) {
            journal::set_request_id(tx, *p, &c.pending.request_id)?;
        }
    }
    Ok(StepRecord {
        id,
        operation_id: op,
        name,
        attempt: 0,
        state: StepState::Started,
        recovery: ahead,
        result: None,
        error_code: None,
    })
}

/// End an operation in `state`: card payments never sent end with it.
fn finish_operation(
    tx: &rusqlite::Transaction<'_>,
    l: &Loaded,
    state: OperationState,
    why: Option<&(String, String)>,
    at: &str,
) -> Result<()> {
    if state != OperationState::Done {
        for p in l
            .payments
            .iter()
            .filter(|p| p.state == PaymentState::Pending && p.method == PaymentMethod::Card)
        {
            journal::payments_update(
                tx,
                p.id,
                &PaymentUpdate::Cancelled(crate::api::Decline {
                    code: "cancelled".into(),
                    message: "the operation ended first".into(),
                }),
                at,
            )?;
        }
    }
    let why = why.map(|(c, m)| (c.as_str(), m.as_str()));
    journal::set_operation_state(tx, l.op.id, &[OperationState::Running], state, why, at)
}

fn internal(message: &str) -> Outcome {
    Outcome::Failed {
        code: "internal".into(),
        message: message.into(),
        payment: None,
    }
}

fn clear_problem(tx: &rusqlite::Transaction<'_>, id: i64, at: &str) -> Result<()> {
    crate::journal::exec(
        tx,
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
