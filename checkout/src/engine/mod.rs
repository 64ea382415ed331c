//! The operation engine: it owns the devices and runs every operation in its
//! own task, one at a time on the devices (the lane), so a caller that goes
//! away (a closed tab, a dropped connection) changes nothing and a new caller
//! finds the running operation and follows it.
//!
//! - [`Engine::submit`] starts an operation for a client's idempotency key:
//!   the same key returns the first operation's progress or result, never a
//!   second charge or receipt; a key reused for another request is refused.
//! - Actions on an existing operation (pay the rest, cancel, print again,
//!   look the payment up again, resolve by hand) carry keys too.
//! - Recovery runs at start-up, before every new operation, and every few
//!   seconds while an operation waits for a device that did not answer: each
//!   unfinished operation resumes at its last written step through that
//!   step's `recover`.
//!
//! The runner is in [`runner`], the steps in [`steps`], the gate in
//! [`preflight`], the UI's view of an operation in [`view`].

mod day;
mod preflight;
mod runner;
pub mod steps;
mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, watch, OwnedMutexGuard};

pub use preflight::PasswordCheck;
pub use steps::{reference, Devices};
pub use view::view;

use crate::api::{
    ActionRequest, AddPaymentRequest, CashMoveRequest, CashRefundRequest, KasaEvent, KeyRequest,
    OperationKind, OperationState, OperationView, RefundRequest, Resolution, ResolveRequest,
    SaleRequest, VoidRequest,
};
use crate::clock::{local_date, Clock};
use crate::journal::{self, Journal, NewOperation, StepState};
use crate::operations::{self, check_key, needs_card, Context};
use crate::settings::ReceiptSettings;
use crate::{Error, Result};

/// How the engine behaves.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The line a free amount is sold as.
    pub receipt: ReceiptSettings,
    /// The shop's time zone (its business day).
    pub time_zone: chrono_tz::Tz,
    /// How long a new request waits for the operation before it (a
    /// recovery, a receipt) to let go of the devices before it is refused
    /// as busy.
    pub lane_wait: Duration,
    /// How often an operation waiting for a device that did not answer is
    /// tried again.
    pub retry_every: Duration,
    /// The merchants configured on the terminal (their ids fill a lookup).
    pub merchants: Vec<crate::settings::MerchantSettings>,
    /// The shop's departments and their merchants.
    pub departments: Vec<crate::settings::DepartmentSettings>,
    /// How often a settlement left pending is tried again.
    pub settle_every: Duration,
    /// The backup written after each day close: the journal's file and the
    /// installer's backup settings (none: no backup).
    pub backup: Option<DayCloseBackup>,
}

/// Where the journal is and how it is backed up after a day close.
#[derive(Debug, Clone)]
pub struct DayCloseBackup {
    pub journal: std::path::PathBuf,
    pub settings: crate::backup::BackupSettings,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            receipt: ReceiptSettings::default(),
            time_zone: crate::clock::DEFAULT_TIME_ZONE,
            lane_wait: Duration::from_secs(3),
            retry_every: Duration::from_secs(5),
            merchants: Vec::new(),
            departments: Vec::new(),
            settle_every: Duration::from_secs(60),
            backup: None,
        }
    }
}

/// A new operation, as asked for.
#[derive(Debug, Clone)]
pub enum NewRequest {
    Sale(SaleRequest),
    Refund(RefundRequest),
    Void(VoidRequest),
    CashRefund(CashRefundRequest),
    CashIn(CashMoveRequest),
    CashOut(CashMoveRequest),
    XReport(KeyRequest),
    DayClose(KeyRequest),
}

impl NewRequest {
    fn key(&self) -> &str {
        match self {
            NewRequest::Sale(r) => &r.key,
            NewRequest::Refund(r) => &r.key,
            NewRequest::Void(r) => &r.key,
            NewRequest::CashRefund(r) => &r.key,
            NewRequest::CashIn(r) | NewRequest::CashOut(r) => &r.key,
            NewRequest::XReport(r) | NewRequest::DayClose(r) => &r.key,
        }
    }

    fn fingerprint(&self) -> String {
        match self {
            NewRequest::Sale(r) => operations::fingerprint("sale", r),
            NewRequest::Refund(r) => operations::fingerprint("refund", r),
            NewRequest::Void(r) => operations::fingerprint("void", r),
            NewRequest::CashRefund(r) => operations::fingerprint("cash_refund", r),
            NewRequest::CashIn(r) => operations::fingerprint("cash_in", r),
            NewRequest::CashOut(r) => operations::fingerprint("cash_out", r),
            NewRequest::XReport(r) => operations::fingerprint("x_report", r),
            NewRequest::DayClose(r) => operations::fingerprint("day_close", r),
        }
    }

    fn validate(&self, ctx: &Context<'_>) -> Result<NewOperation> {
        match self {
            NewRequest::Sale(r) => operations::validate_sale(ctx, r),
            NewRequest::Refund(r) => operations::validate_refund(ctx, r),
            NewRequest::Void(r) => operations::validate_void(ctx, r),
            NewRequest::CashRefund(r) => operations::validate_cash_refund(ctx, r),
            NewRequest::CashIn(r) => operations::validate_cash_move(ctx, OperationKind::CashIn, r),
            NewRequest::CashOut(r) => {
                operations::validate_cash_move(ctx, OperationKind::CashOut, r)
            }
            NewRequest::XReport(r) => operations::validate_x_report(ctx, r),
            NewRequest::DayClose(r) => operations::validate_day_close(ctx, r),
        }
    }
}

/// Where a keyed request is before its effect is in the journal.
#[derive(Debug, Clone)]
enum Creation {
    Pending,
    /// Recorded: follow this operation.
    Created(i64),
    /// Refused before anything was written.
    Refused(crate::api::ApiError),
}

#[derive(Debug)]
struct Inner {
    journal: Journal,
    devices: Devices,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    /// One operation at a time on the devices.
    lane: Arc<tokio::sync::Mutex<()>>,
    /// Operations being driven now, with their latest view.
    live: Mutex<HashMap<i64, watch::Sender<OperationView>>>,
    /// The step each live operation is at.
    steps: Mutex<HashMap<i64, &'static str>>,
    /// Keyed requests whose effect is not yet recorded (or whose engine
    /// task still runs), with the fingerprint of the request they carry.
    creating: Mutex<HashMap<String, (String, watch::Receiver<Creation>)>>,
    events: broadcast::Sender<KasaEvent>,
    password: Mutex<PasswordCheck>,
    /// Set when an operation was left waiting for a device.
    retry: tokio::sync::Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn set_step(&self, id: i64, step: Option<&'static str>) {
        let mut s = lock(&self.steps);
        match step {
            Some(name) => {
                s.insert(id, name);
            }
            None => {
                s.remove(&id);
            }
        }
    }

    fn step(&self, id: i64) -> Option<&'static str> {
        lock(&self.steps).get(&id).copied()
    }

    fn password(&self) -> PasswordCheck {
        lock(&self.password).clone()
    }

    fn set_password(&self, p: PasswordCheck) {
        *lock(&self.password) = p;
    }

    fn note_unresolved(&self) {
        self.retry.notify_one();
    }
}

/// The engine. Clones share one engine.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Assemble an engine. Call [`Engine::start`] before the first request.
    pub fn new(
        journal: Journal,
        devices: Devices,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        Engine {
            inner: Arc::new(Inner {
                journal,
                devices,
                clock,
                config,
                lane: Arc::new(tokio::sync::Mutex::new(())),
                live: Mutex::new(HashMap::new()),
                steps: Mutex::new(HashMap::new()),
                creating: Mutex::new(HashMap::new()),
                events,
                password: Mutex::new(PasswordCheck::Unchecked),
                retry: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Start: open the terminal's session, check the operator password once,
    /// resolve what an earlier run left unfinished, and keep retrying
    /// operations that wait for a device. Returns the operations recovered.
    pub async fn start(&self) -> Result<Vec<OperationView>> {
        // The terminal's session now, so the first sale is as fast as the
        // rest; a terminal that is off is reached at the first operation.
        if let Err(e) = self.inner.devices.terminal.open().await {
            tracing::warn!("the card terminal is not reachable yet: {e}");
        }
        self.check_password().await;
        let recovered = self.recover_all().await?;
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(retry_loop(weak, self.inner.config.retry_every));
        Ok(recovered)
    }

    /// Wait until no operation holds the devices (benchmarks: a sale's
    /// read-back runs after the sale is reported done).
    pub async fn idle(&self) {
        let _lane = Arc::clone(&self.inner.lane).lock_owned().await;
    }

    /// Hold the devices as an operation does, for an installer's test of
    /// them (a status, a non-fiscal test print): nothing runs meanwhile.
    pub async fn hold_devices(&self) -> tokio::sync::OwnedMutexGuard<()> {
        Arc::clone(&self.inner.lane).lock_owned().await
    }

    /// The journal (read access for queries and tests).
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The clock the engine reads (logins and lockouts use the same).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    /// How the engine was configured (the shop's time zone, its merchants).
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The devices.
    pub fn devices(&self) -> &Devices {
        &self.inner.devices
    }

    /// Listen to progress and operation changes.
    pub fn subscribe(&self) -> broadcast::Receiver<KasaEvent> {
        self.inner.events.subscribe()
    }

    /// The current time as the journal writes it.
    fn now(&self) -> String {
        self.inner.clock.now().to_rfc3339()
    }

    /// The shop's local date now.
    fn local_day(&self) -> String {
        local_date(self.inner.clock.now(), self.inner.config.time_zone)
            .format("%Y-%m-%d")
            .to_string()
    }

    fn context<'a>(&'a self, actor: &'a str, operator: Option<u32>) -> Context<'a> {
        let now = self.inner.clock.now();
        Context {
            journal: &self.inner.journal,
            receipt: &self.inner.config.receipt,
            merchants: &self.inner.config.merchants,
            departments: &self.inner.config.departments,
            actor,
            operator,
            business_day: local_date(now, self.inner.config.time_zone)
                .format("%Y-%m-%d")
                .to_string(),
            at: now.to_rfc3339(),
        }
    }

    /// The view of operation `id`.
    pub fn operation(&self, id: i64) -> Result<OperationView> {
        let l = self.inner.journal.load(id)?;
        Ok(view(&l, self.inner.step(id)))
    }

    /// What became of key `key`: the operation it started, or the one an
    /// action with that key was for.
    pub fn by_key(&self, key: &str) -> Result<Option<OperationView>> {
        let id = match self.inner.journal.operation_by_key(key)? {
            Some(op) => Some(op.id),
            None => self.inner.journal.action_by_key(key)?.map(|(op, _)| op),
        };
        id.map(|id| self.operation(id)).transpose()
    }

    /// The operations not finished: running, awaiting payment or a person.
    pub fn unresolved(&self) -> Result<Vec<OperationView>> {
        self.inner
            .journal
            .unresolved()?
            .into_iter()
            .map(|op| self.operation(op.id))
            .collect()
    }

    /// The newest unfinished operation, for a screen that was reloaded.
    pub fn current(&self) -> Result<Option<OperationView>> {
        Ok(self.unresolved()?.pop())
    }

    fn publish(&self, id: i64) {
        if let Ok(l) = self.inner.journal.load(id) {
            self.publish_loaded(&l);
        }
    }

    /// Publish an operation as just read from the journal.
    fn publish_loaded(&self, l: &journal::Loaded) {
        let id = l.op.id;
        let v = view(l, self.inner.step(id));
        if let Some(tx) = lock(&self.inner.live).get(&id) {
            tx.send_replace(v.clone());
        }
        let _ = self.inner.events.send(KasaEvent::Operation {
            operation: Box::new(v),
        });
    }

    fn go_live(&self, id: i64) -> Result<()> {
        let v = self.operation(id)?;
        lock(&self.inner.live).insert(id, watch::channel(v).0);
        Ok(())
    }

    fn leave(&self, id: i64) {
        lock(&self.inner.live).remove(&id);
    }

    /// Wait until operation `id` is settled (or its driver stops), then
    /// return its view.
    async fn settled(&self, id: i64) -> Result<OperationView> {
        let rx = lock(&self.inner.live).get(&id).map(|tx| tx.subscribe());
        if let Some(mut rx) = rx {
            loop {
                if rx.borrow_and_update().state.is_settled() {
                    break;
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
        self.operation(id)
    }

    async fn lane(&self) -> Result<OwnedMutexGuard<()>> {
        let lane = Arc::clone(&self.inner.lane);
        tokio::time::timeout(self.inner.config.lane_wait, lane.lock_owned())
            .await
            .map_err(|_| Error::Busy)
    }

    /// Run `work` for a keyed request in the engine's own task: a caller
    /// that goes away changes nothing. `existing` finds what an earlier
    /// request with the same key did. The caller waits for the operation
    /// the work records, until it is settled.
    async fn keyed<F, Fut>(
        &self,
        key: &str,
        fingerprint: String,
        existing: impl FnOnce() -> Result<Option<i64>>,
        work: F,
    ) -> Result<OperationView>
    where
        F: FnOnce(Engine, watch::Sender<Creation>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        check_key(key)?;
        enum Next {
            Follow(watch::Receiver<Creation>),
            Done(i64),
        }
        let next = {
            let mut creating = lock(&self.inner.creating);
            match creating.get(key) {
                Some((f, _)) if *f != fingerprint => return Err(Error::KeyReused(key.to_string())),
                Some((_, rx)) => Next::Follow(rx.clone()),
                None => match existing()? {
                    Some(id) => Next::Done(id),
                    None => {
                        let (tx, rx) = watch::channel(Creation::Pending);
                        creating.insert(key.to_string(), (fingerprint, rx.clone()));
                        let engine = self.clone();
                        let key = key.to_string();
                        tokio::spawn(async move {
                            let inner = Arc::clone(&engine.inner);
                            work(engine, tx).await;
                            lock(&inner.creating).remove(&key);
                        });
                        Next::Follow(rx)
                    }
                },
            }
        };
        let rx = match next {
            Next::Done(id) => return self.settled(id).await,
            Next::Follow(rx) => rx,
        };
        let id = wait_creation(rx).await?;
        self.settled(id).await
    }

    /// Start a new operation (sale, refund, void, cash refund, cash in/out,
    /// X report) for `actor`, printed as the configured fiscal operator.
    pub async fn submit(&self, actor: &str, req: NewRequest) -> Result<OperationView> {
        self.submit_as(actor, None, req).await
    }

    /// [`Engine::submit`] for a user who is the fiscal register's
    /// `operator`: the operation's receipts name them.
    pub async fn submit_as(
        &self,
        actor: &str,
        operator: Option<u32>,
        req: NewRequest,
    ) -> Result<OperationView> {
        let key = req.key().to_string();
        let hash = req.fingerprint();
        let journal = &self.inner.journal;
        let existing = || match journal.operation_by_key(&key)? {
            Some(op) if op.request_hash == hash => Ok(Some(op.id)),
            Some(_) => Err(Error::KeyReused(key.clone())),
            None => match journal.action_by_key(&key)? {
                Some(_) => Err(Error::KeyReused(key.clone())),
                None => Ok(None),
            },
        };
        let actor = actor.to_string();
        self.keyed(&key, hash.clone(), existing, move |engine, tx| async move {
            let created = engine.create(&actor, operator, &req, &tx).await;
            match created {
                Ok(id) => engine.run_live(id, &tx).await,
                Err(e) => {
                    tx.send_replace(Creation::Refused((&e).into()));
                }
            }
        })
        .await
    }

    /// Validate, pass the gate and record a new operation; the lane guard
    /// is kept by the caller through `run_live`.
    async fn create(
        &self,
        actor: &str,
        operator: Option<u32>,
        req: &NewRequest,
        _tx: &watch::Sender<Creation>,
    ) -> Result<(i64, OwnedMutexGuard<()>)> {
        let guard = self.lane().await?;
        // Whatever an earlier operation left unfinished is resolved first.
        self.resolve_running().await;
        let ctx = self.context(actor, operator);
        let new = req.validate(&ctx)?;
        let card = needs_card(&new);
        let strict = !matches!(
            new.spec.kind(),
            OperationKind::CashIn | OperationKind::CashOut | OperationKind::XReport
        );
        self.gate_unresolved(strict, None)?;
        if card {
            self.preflight_card().await?;
        }
        let id = self.inner.journal.create_operation(&new)?;
        Ok((id, guard))
    }

    /// Drive a freshly recorded operation while callers follow it.
    async fn run_live(
        &self,
        (id, guard): (i64, OwnedMutexGuard<()>),
        tx: &watch::Sender<Creation>,
    ) {
        if let Err(e) = self.go_live(id) {
            tx.send_replace(Creation::Refused((&e).into()));
            return;
        }
        tx.send_replace(Creation::Created(id));
        if let Err(e) = self.drive(id).await {
            tracing::error!("operation {id} stopped: {e}");
        }
        self.leave(id);
        drop(guard);
    }

    /// Pay the rest of a sale that awaits payment.
    pub async fn add_payment(&self, actor: &str, req: AddPaymentRequest) -> Result<OperationView> {
        let journal = &self.inner.journal;
        let op = req.operation;
        let key = req.key.clone();
        let existing = || match journal.action_by_key(&key)? {
            Some((o, a)) if o == op && a == "add_payment" => Ok(Some(o)),
            Some(_) => Err(Error::KeyReused(key.clone())),
            None => Ok(None),
        };
        let actor = actor.to_string();
        let fingerprint = operations::fingerprint("add_payment", &req);
        self.keyed(
            &req.key.clone(),
            fingerprint,
            existing,
            move |engine, tx| async move {
                let r: Result<(i64, OwnedMutexGuard<()>)> = async {
                    let guard = engine.lane().await?;
                    let l = engine.inner.journal.load(req.operation)?;
                    if l.op.state != OperationState::AwaitingPayment {
                        return Err(Error::NotAllowed(format!(
                            "operation {} is {}, not awaiting a payment",
                            l.op.id,
                            l.op.state.as_str()
                        )));
                    }
                    let p = operations::validate_add_payment(&l, &req)?;
                    let card = p.card_action != crate::api::CardAction::None;
                    engine.gate_unresolved(true, Some(l.op.id))?;
                    if card {
                        engine.preflight_card().await?;
                    }
                    let at = engine.now();
                    engine.inner.journal.write(|t| {
                        journal::payments_insert(t, l.op.id, &p, &at)?;
                        journal::record_action(
                            t,
                            &req.key,
                            l.op.id,
                            "add_payment",
                            &actor,
                            None,
                            &at,
                        )?;
                        journal::set_operation_state(
                            t,
                            l.op.id,
                            &[OperationState::AwaitingPayment],
                            OperationState::Running,
                            None,
                            &at,
                        )
                    })?;
                    Ok((l.op.id, guard))
                }
                .await;
                match r {
                    Ok(created) => engine.run_live(created, &tx).await,
                    Err(e) => {
                        tx.send_replace(Creation::Refused((&e).into()));
                    }
                }
            },
        )
        .await
    }

    /// Cancel an operation: a card step still waiting for the customer is
    /// cancelled on the terminal; a sale awaiting payment or needing
    /// attention has its approved card payments given back.
    pub async fn cancel(&self, actor: &str, req: ActionRequest) -> Result<OperationView> {
        let l = self.inner.journal.load(req.operation)?;
        if l.op.state == OperationState::Running {
            // A card step in flight: record the wish (a charge not yet sent
            // is never sent; one approved anyway is given back), then ask
            // the terminal to stop; the engine's own task ends it.
            if matches!(self.inner.step(l.op.id), Some("charge")) {
                check_key(&req.key)?;
                if self.inner.journal.action_by_key(&req.key)?.is_none() {
                    let at = self.now();
                    let actor = actor.to_string();
                    self.inner.journal.write(|t| {
                        journal::record_action(t, &req.key, l.op.id, "cancel", &actor, None, &at)?;
                        journal::request_cancel(t, l.op.id, &at)
                    })?;
                    self.inner.devices.terminal.cancel().await?;
                }
                return self.settled(l.op.id).await;
            }
        }
        self.act(actor, req, "cancel", None, |l| {
            matches!(
                l.op.state,
                OperationState::AwaitingPayment | OperationState::NeedsAttention
            )
            .then_some(())
            .ok_or_else(|| not_now(l, "cancelled"))
        })
        .await
    }

    /// Print the fiscal receipt of an operation that needs attention again,
    /// with the same data (never a second receipt: the register is asked
    /// first what it holds).
    pub async fn print_again(&self, actor: &str, req: ActionRequest) -> Result<OperationView> {
        self.act(actor, req, "print_again", None, |l| {
            let fiscal_problem =
                l.op.error_code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("fiscal.") || c.starts_with("internal"));
            (l.op.state == OperationState::NeedsAttention && fiscal_problem)
                .then_some(())
                .ok_or_else(|| not_now(l, "printed again"))
        })
        .await
    }

    /// Ask the terminal again what became of a payment it could not account
    /// for.
    pub async fn retry_lookup(&self, actor: &str, req: ActionRequest) -> Result<OperationView> {
        self.act(actor, req, "retry_lookup", None, |l| {
            (l.op.state == OperationState::NeedsAttention)
                .then_some(())
                .ok_or_else(|| not_now(l, "looked up again"))
        })
        .await
    }

    /// An action on an existing operation that sets it running again.
    async fn act(
        &self,
        actor: &str,
        req: ActionRequest,
        action: &'static str,
        reason: Option<String>,
        allowed: impl Fn(&journal::Loaded) -> Result<()> + Send + Sync + 'static,
    ) -> Result<OperationView> {
        let journal = &self.inner.journal;
        let key = req.key.clone();
        let op = req.operation;
        let existing = || match journal.action_by_key(&key)? {
            Some((o, a)) if o == op && a == action => Ok(Some(o)),
            Some(_) => Err(Error::KeyReused(key.clone())),
            None => Ok(None),
        };
        let actor = actor.to_string();
        let fingerprint = format!("{action}:{}", req.operation);
        self.keyed(
            &req.key.clone(),
            fingerprint,
            existing,
            move |engine, tx| async move {
                let r: Result<(i64, OwnedMutexGuard<()>)> = async {
                    let guard = engine.lane().await?;
                    let l = engine.inner.journal.load(req.operation)?;
                    allowed(&l)?;
                    let at = engine.now();
                    let failed: Vec<String> = l
                        .steps
                        .iter()
                        .filter(|s| s.state == StepState::Failed)
                        .map(|s| s.name.clone())
                        .collect();
                    engine.inner.journal.write(|t| {
                        journal::record_action(
                            t,
                            &req.key,
                            l.op.id,
                            action,
                            &actor,
                            reason.as_deref(),
                            &at,
                        )?;
                        if action == "cancel" {
                            journal::request_cancel(t, l.op.id, &at)?;
                        }
                        if action == "print_again" {
                            journal::supersede(t, l.op.id, &failed, &at)?;
                        }
                        journal::set_operation_state(
                            t,
                            l.op.id,
                            &[l.op.state],
                            OperationState::Running,
                            None,
                            &at,
                        )
                    })?;
                    Ok((l.op.id, guard))
                }
                .await;
                match r {
                    Ok(created) => engine.run_live(created, &tx).await,
                    Err(e) => {
                        tx.send_replace(Creation::Refused((&e).into()));
                    }
                }
            },
        )
        .await
    }

    /// Print a customer's copy of a finished operation's fiscal document: a
    /// non-fiscal document, never a second fiscal receipt. It carries the
    /// text the register's electronic journal holds.
    pub async fn customer_copy(&self, actor: &str, req: ActionRequest) -> Result<OperationView> {
        let journal = &self.inner.journal;
        let key = req.key.clone();
        let op = req.operation;
        let existing = || match journal.action_by_key(&key)? {
            Some((o, a)) if o == op && a == "customer_copy" => Ok(Some(o)),
            Some(_) => Err(Error::KeyReused(key.clone())),
            None => Ok(None),
        };
        let actor = actor.to_string();
        let fingerprint = format!("customer_copy:{}", req.operation);
        self.keyed(
            &req.key.clone(),
            fingerprint,
            existing,
            move |engine, tx| async move {
                let r: Result<i64> = async {
                    let _guard = engine.lane().await?;
                    let l = engine.inner.journal.load(req.operation)?;
                    let doc = l
                        .documents
                        .iter()
                        .rev()
                        .find(|d| d.kind.ends_with("receipt"))
                        .filter(|_| l.op.state == OperationState::Done)
                        .ok_or_else(|| not_now(&l, "copied: it has no fiscal receipt"))?;
                    let mut lines = vec![
                        "КОПІЯ ДЛЯ ПОКУПЦЯ".to_string(),
                        "НЕ Є ФІСКАЛЬНИМ ДОКУМЕНТОМ".to_string(),
                    ];
                    match &doc.text {
                        Some(text) => lines.extend(text.lines().map(str::to_string)),
                        None => lines.push(format!(
                            "ЧЕК № {}  СУМА {}",
                            doc.number.unwrap_or_default(),
                            crate::money::format_minor(doc.amount)
                        )),
                    }
                    engine.inner.devices.fiscal.print_non_fiscal(&lines).await?;
                    let at = engine.now();
                    engine.inner.journal.write(|t| {
                        journal::record_action(
                            t,
                            &req.key,
                            l.op.id,
                            "customer_copy",
                            &actor,
                            None,
                            &at,
                        )
                    })?;
                    Ok(l.op.id)
                }
                .await;
                match r {
                    Ok(id) => {
                        tx.send_replace(Creation::Created(id));
                    }
                    Err(e) => {
                        tx.send_replace(Creation::Refused((&e).into()));
                    }
                }
            },
        )
        .await
    }

    /// Close an operation by hand, with a reason that is kept.
    pub async fn resolve(&self, actor: &str, req: ResolveRequest) -> Result<OperationView> {
        let reason = req.reason.split_whitespace().collect::<Vec<_>>().join(" ");
        if reason.chars().count() < 3 || reason.chars().count() > 500 {
            return Err(Error::InvalidRequest(
                "say why, in 3 to 500 characters".into(),
            ));
        }
        let journal = &self.inner.journal;
        let key = req.key.clone();
        let op = req.operation;
        let existing = || match journal.action_by_key(&key)? {
            Some((o, a)) if o == op && a == "resolve" => Ok(Some(o)),
            Some(_) => Err(Error::KeyReused(key.clone())),
            None => Ok(None),
        };
        let actor = actor.to_string();
        let fingerprint = operations::fingerprint("resolve", &req);
        self.keyed(
            &req.key.clone(),
            fingerprint,
            existing,
            move |engine, tx| async move {
                let r: Result<i64> = async {
                    let _guard = engine.lane().await?;
                    let l = engine.inner.journal.load(req.operation)?;
                    if !matches!(
                        l.op.state,
                        OperationState::NeedsAttention | OperationState::AwaitingPayment
                    ) {
                        return Err(not_now(&l, "resolved by hand"));
                    }
                    let to = match req.resolution {
                        Resolution::Done => OperationState::Done,
                        Resolution::Cancelled => OperationState::Cancelled,
                    };
                    let at = engine.now();
                    engine.inner.journal.write(|t| {
                        journal::record_action_changing(
                            t,
                            &req.key,
                            l.op.id,
                            "resolve",
                            &actor,
                            Some(&reason),
                            Some(serde_json::json!({
                                "state": [l.op.state.as_str(), to.as_str()]
                            })),
                            &at,
                        )?;
                        for p in &l.payments {
                            if matches!(
                                p.state,
                                crate::api::PaymentState::Pending
                                    | crate::api::PaymentState::Unknown
                            ) {
                                journal::payments_update(
                                    t,
                                    p.id,
                                    &journal::PaymentUpdate::Cancelled(crate::api::Decline {
                                        code: "resolved.by_hand".into(),
                                        message: reason.clone(),
                                    }),
                                    &at,
                                )?;
                            }
                        }
                        journal::set_operation_state(
                            t,
                            l.op.id,
                            &[l.op.state],
                            to,
                            Some(("resolved.by_hand", &reason)),
                            &at,
                        )
                    })?;
                    Ok(l.op.id)
                }
                .await;
                match r {
                    Ok(id) => {
                        engine.publish(id);
                        tx.send_replace(Creation::Created(id));
                    }
                    Err(e) => {
                        tx.send_replace(Creation::Refused((&e).into()));
                    }
                }
            },
        )
        .await
    }

    /// Run the settlements a day close left pending, now.
    pub async fn settle_pending(&self, actor: &str) -> Result<Vec<crate::queries::SettlementView>> {
        let _lane = self.lane().await?;
        self.settle_pending_locked(Some(actor)).await?;
        self.inner.journal.pending_settlement_views()
    }

    /// Where the shop's day stands now.
    pub fn day_status(&self) -> Result<crate::queries::DayStatus> {
        let j = &self.inner.journal;
        let now = self.inner.clock.now();
        let open = j.current_shift()?;
        let minutes = open.as_ref().and_then(|s| {
            chrono::DateTime::parse_from_rfc3339(&s.opened_at)
                .ok()
                .map(|t| (now - t.with_timezone(&chrono::Utc)).num_minutes())
        });
        let business_day = match &open {
            Some(s) => s.business_day.clone(),
            None => self.local_day(),
        };
        Ok(crate::queries::DayStatus {
            business_day,
            shift: open.map(|s| j.shift_view(s.id)).transpose()?,
            shift_minutes: minutes,
            z_due_soon: minutes.is_some_and(|m| m >= i64::from(fiscal::health::SHIFT_WARN_MINUTES)),
            z_overdue: minutes.is_some_and(|m| m >= 24 * 60),
            unresolved: u32::try_from(j.unresolved()?.len()).unwrap_or(u32::MAX),
            pending_settlements: j.pending_settlement_views()?,
        })
    }

    /// The days, newest first.
    pub fn days(&self, q: &crate::queries::DaysQuery) -> Result<crate::queries::DayList> {
        let today = self.local_day();
        self.inner.journal.days(q, &today)
    }

    /// One business day's report.
    pub fn day_report(&self, day: &str) -> Result<crate::queries::DayReport> {
        self.inner
            .journal
            .day_report(day, self.inner.config.time_zone)
    }

    /// One operation with its whole history.
    pub fn operation_detail(&self, id: i64) -> Result<crate::queries::OperationDetail> {
        let view = self.operation(id)?;
        self.inner.journal.operation_detail(view)
    }

    /// Verify the audit chain against `head` (as printed on the last Z
    /// report), else against the head the journal kept with its last shift.
    pub fn audit_verify(&self, head: Option<&str>) -> Result<journal::audit::Verification> {
        let anchor = match head {
            Some(h) => Some(journal::audit::parse_anchor(h)?),
            None => self
                .inner
                .journal
                .last_closed_shift()?
                .and_then(|s| s.audit_head)
                .and_then(|h| journal::audit::Anchor::from_lines(&[h])),
        };
        self.inner.journal.verify_audit(anchor.as_ref())
    }

    /// Resolve every operation an earlier run (or a device that did not
    /// answer) left running, oldest first, by recovering its started step.
    pub async fn recover_all(&self) -> Result<Vec<OperationView>> {
        let _lane = Arc::clone(&self.inner.lane).lock_owned().await;
        Ok(self.resolve_running().await)
    }

    /// Drive every operation left `running`; the caller holds the lane.
    async fn resolve_running(&self) -> Vec<OperationView> {
        let mut out = Vec::new();
        let Ok(ops) = self.inner.journal.unresolved() else {
            return out;
        };
        for op in ops
            .into_iter()
            .filter(|o| o.state == OperationState::Running)
        {
            if lock(&self.inner.live).contains_key(&op.id) {
                continue;
            }
            if self.go_live(op.id).is_err() {
                continue;
            }
            if let Err(e) = self.drive(op.id).await {
                tracing::warn!("operation {} could not be resolved: {e}", op.id);
            }
            self.leave(op.id);
            if let Ok(v) = self.operation(op.id) {
                out.push(v);
            }
        }
        out
    }
}

fn not_now(l: &journal::Loaded, what: &str) -> Error {
    Error::NotAllowed(format!(
        "operation {} is {} and cannot be {what}",
        l.op.id,
        l.op.state.as_str()
    ))
}

async fn wait_creation(mut rx: watch::Receiver<Creation>) -> Result<i64> {
    loop {
        match rx.borrow_and_update().clone() {
            Creation::Created(id) => return Ok(id),
            Creation::Refused(e) => return Err(Error::Again(e)),
            Creation::Pending => {}
        }
        if rx.changed().await.is_err() {
            return match rx.borrow().clone() {
                Creation::Created(id) => Ok(id),
                Creation::Refused(e) => Err(Error::Again(e)),
                Creation::Pending => Err(Error::Internal("the request was dropped".into())),
            };
        }
    }
}

/// Every `every`, and whenever an operation was left waiting for a device,
/// try the operations left running again (when the devices are free).
async fn retry_loop(inner: Weak<Inner>, every: Duration) {
    let mut last_settle = std::time::Instant::now();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let notified = {
            let s = Arc::clone(&strong);
            async move {
                tokio::select! {
                    _ = s.retry.notified() => {}
                    _ = tokio::time::sleep(every) => {}
                }
            }
        };
        drop(strong);
        notified.await;
        // Give the device a moment before asking again.
        tokio::time::sleep(every.min(Duration::from_millis(500))).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let engine = Engine { inner: strong };
        let running = engine
            .inner
            .journal
            .unresolved()
            .map(|ops| ops.iter().any(|o| o.state == OperationState::Running))
            .unwrap_or(false);
        let settle = last_settle.elapsed() >= engine.inner.config.settle_every
            && engine
                .inner
                .journal
                .pending_settlement_rows()
                .is_ok_and(|r| !r.is_empty());
        if !running && !settle {
            continue;
        }
        let Ok(_lane) = Arc::clone(&engine.inner.lane).try_lock_owned() else {
            continue;
        };
        if running {
            engine.resolve_running().await;
        }
        if settle {
            last_settle = std::time::Instant::now();
            if let Err(e) = engine.settle_pending_locked(None).await {
                tracing::warn!("pending settlements: {e}");
            }
        }
    }
}
