//! The steps of the shop's day: the terminal's survey (batch totals per
//! merchant, and at a day close the batch's transactions where the protocol
//! lists them), the settlement of each merchant, the fiscal Z report with
//! the audit chain's head printed before it, and the three-way
//! reconciliation; with what each records in the journal when it is done
//! (settlements, the shift's close, its reports).
//!
//! The fiscal Z never waits on the bank: a settlement that cannot run is
//! recorded as pending and runs later ([`super::Engine::settle_pending`]).
//! A settlement is safe to run again (an already settled batch is empty),
//! so its recovery runs it again; the survey and the reconciliation only
//! read, so theirs is to run again too; the Z is recovered by reading the
//! register's documents back.

use fiscal::readback::{summarize, summarize_report, DocumentKind};
use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use terminal::CardTransaction;

use crate::journal::{self, audit, Loaded, NewDocument};
use crate::operations::{OperationSpec, Step};
use crate::reconcile::{self, Inputs, MerchantBatch, TerminalSurvey};
use crate::Result;

use super::steps::{Outcome, ReceiptAhead, RunResult, StepContext};

/// The most lookups a survey makes to list the terminal's batch.
const MAX_LOOKUPS: usize = 5000;
/// A survey stops listing after this many invoices in a row the terminal
/// does not hold (the batch's start).
const MISSES: usize = 25;
/// The most documents a reconciliation reads back.
const MAX_DOCUMENTS: i64 = 5000;

fn merchants(l: &Loaded) -> Vec<u8> {
    match &l.op.spec {
        OperationSpec::XReport { merchants } | OperationSpec::DayClose { merchants } => {
            if merchants.is_empty() {
                vec![0]
            } else {
                merchants.clone()
            }
        }
        _ => vec![0],
    }
}

/// The terminal's batch totals per merchant; at a day close, also the
/// batch's transactions (walking the invoices back from the last while the
/// terminal holds them), else only its last transaction.
pub async fn run_survey(ctx: &StepContext<'_>) -> RunResult {
    let t = ctx.devices.terminal.as_ref();
    let mut survey = TerminalSurvey::default();
    for m in merchants(ctx.loaded) {
        let batch = match t.batch_totals(m).await {
            Ok(r) => MerchantBatch {
                merchant: m,
                totals: r.totals,
                error: None,
            },
            Err(e) => MerchantBatch {
                merchant: m,
                totals: None,
                error: Some(format!("terminal.{}", e.code())),
            },
        };
        survey.merchants.push(batch);
    }
    if matches!(ctx.loaded.op.spec, OperationSpec::DayClose { .. }) {
        if let Ok(Some(last)) = t.last_transaction().await {
            let (list, complete) = walk(ctx, &last).await;
            survey.transactions = list;
            survey.complete = complete;
        }
    }
    RunResult::Ended(Outcome::Done {
        result: serde_json::to_value(&survey).unwrap_or(Value::Null),
        payment: Vec::new(),
        document: None,
    })
}

/// The batch's transactions by invoice, from `last` back.
async fn walk(ctx: &StepContext<'_>, last: &CardTransaction) -> (Vec<CardTransaction>, bool) {
    let t = ctx.devices.terminal.as_ref();
    let Ok(top) = last.invoice.trim().parse::<u64>() else {
        return (vec![last.clone()], false);
    };
    let mut out = Vec::new();
    let mut misses = 0;
    for invoice in (1..=top).rev().take(MAX_LOOKUPS) {
        match t.find_by_invoice(&invoice.to_string()).await {
            Ok(Some(tx)) => {
                misses = 0;
                out.push(tx);
            }
            Ok(None) => {
                misses += 1;
                if misses >= MISSES {
                    return (out, true);
                }
            }
            // The protocol cannot look up by invoice: the last one only.
            Err(terminal::Error::Unsupported(_)) => return (vec![last.clone()], false),
            Err(_) => return (out, false),
        }
    }
    (out, true)
}

/// Settle merchant `m`. A terminal that cannot settle now (no host link,
/// switched off) leaves the settlement pending: the Z goes on.
pub async fn run_settle(ctx: &StepContext<'_>, m: u8) -> RunResult {
    match ctx.devices.terminal.settle(m).await {
        Ok(r) => RunResult::Ended(settled(ctx.loaded, m, r)),
        Err(e) if e.outcome_unknown() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(pending(m, &e)),
    }
}

/// Recover a settlement: settle again (an already settled batch is empty).
pub async fn recover_settle(ctx: &StepContext<'_>, m: u8) -> Outcome {
    match ctx.devices.terminal.settle(m).await {
        Ok(r) => settled(ctx.loaded, m, r),
        Err(e) => pending(m, &e),
    }
}

fn settled(l: &Loaded, m: u8, r: terminal::BatchReport) -> Outcome {
    // An empty batch after a lost reply: the totals are the survey's.
    let empty = r
        .totals
        .is_none_or(|t| t == terminal::BatchTotals::default());
    let totals = if empty {
        survey_of(l)
            .and_then(|s| s.merchants.into_iter().find(|b| b.merchant == m))
            .and_then(|b| b.totals)
            .or(r.totals)
    } else {
        r.totals
    };
    Outcome::Done {
        result: json!({ "merchant": m, "state": "done", "totals": totals, "receipt": r.receipt }),
        payment: Vec::new(),
        document: None,
    }
}

fn pending(m: u8, e: &terminal::Error) -> Outcome {
    Outcome::Done {
        result: json!({ "merchant": m, "state": "pending", "error": format!("terminal.{}", e.code()) }),
        payment: Vec::new(),
        document: None,
    }
}

/// The survey this operation made, from its step's result.
fn survey_of(l: &Loaded) -> Option<TerminalSurvey> {
    l.step("survey")
        .and_then(|s| s.result.as_deref())
        .and_then(|r| serde_json::from_str(r).ok())
}

/// What the Z step writes ahead: the register's last document before it,
/// and the audit head it prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZAhead {
    pub before: u64,
    pub audit_id: i64,
    pub audit_hash: String,
}

/// The Z report: the audit chain's head on a non-fiscal slip right before
/// it (so a rewritten chain shows against paper), then the Z.
pub async fn run_z(ctx: &StepContext<'_>, ahead: &ZAhead) -> RunResult {
    let f = ctx.devices.fiscal.as_ref();
    let head = audit::printed_head(ahead.audit_id, &ahead.audit_hash);
    // A register that prints no non-fiscal slip still closes its day.
    let _ = f
        .print_non_fiscal(&["ДО Z-ЗВІТУ".to_string(), head.clone()])
        .await;
    match f.z_report().await {
        Ok(totals) => {
            let number = f.last_document_number().await.ok();
            let lines = match number {
                Some(n) => super::steps::read_back(f, n).await,
                None => None,
            };
            RunResult::Ended(z_done(ctx.loaded, number, totals.number, lines, &head))
        }
        Err(e) if e.is_uncertain() => RunResult::Uncertain,
        Err(e) => RunResult::Ended(Outcome::Failed {
            code: format!("fiscal.{}", e.code()),
            message: e.to_string(),
            payment: None,
        }),
    }
}

fn z_done(
    l: &Loaded,
    document: Option<u64>,
    z_number: u64,
    lines: Option<Vec<String>>,
    head: &str,
) -> Outcome {
    let summary = lines.as_deref().and_then(summarize_report);
    Outcome::Done {
        result: json!({
            "document": document, "z_number": z_number, "summary": summary, "audit_head": head,
        }),
        payment: Vec::new(),
        document: Some(NewDocument {
            kind: "z_report",
            number: document.and_then(|n| i64::try_from(n).ok()),
            amount: l.op.total,
            text: lines.map(|t| t.join("\n")),
        }),
    }
}

/// Recover a Z: a Z report among the register's documents since the step
/// began means it printed; else it runs again.
pub async fn recover_z(ctx: &StepContext<'_>, ahead: &ZAhead) -> Outcome {
    let f = ctx.devices.fiscal.as_ref();
    let last = match f.last_document_number().await {
        Ok(n) => n,
        Err(e) => {
            return Outcome::Unresolved {
                code: format!("fiscal.{}", e.code()),
                message: e.to_string(),
            }
        }
    };
    for n in (ahead.before + 1..=last).rev().take(8) {
        if let Ok(lines) = f.read_document(n).await {
            if summarize(&lines).kind == DocumentKind::ZReport {
                let z_number = lines
                    .first()
                    .and_then(|l| l.rsplit('№').next())
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                let head = audit::printed_head(ahead.audit_id, &ahead.audit_hash);
                return z_done(ctx.loaded, Some(n), z_number, Some(lines), &head);
            }
        }
    }
    Outcome::Retry("no Z report was printed".into())
}

/// Write-ahead of a Z: clear a stray receipt, the last document, the audit
/// head to print.
pub async fn prepare_z(
    ctx_fiscal: &dyn fiscal::FiscalRegister,
    journal: &journal::Journal,
) -> std::result::Result<ZAhead, Outcome> {
    let ReceiptAhead { before } = super::steps::prepare_receipt(ctx_fiscal).await?;
    let (audit_id, audit_hash) = journal.audit_head().map_err(|e| Outcome::Failed {
        code: "storage".into(),
        message: e.to_string(),
        payment: None,
    })?;
    Ok(ZAhead {
        before,
        audit_id,
        audit_hash,
    })
}

/// The reference line's operation id (`Kasa #000123`).
pub fn reference_of(lines: &[String]) -> Option<i64> {
    lines.iter().find_map(|l| {
        let rest = l.split("Kasa #").nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    })
}

/// What the reconciliation reads from the journal: the shift's operations,
/// merchants still pending settlement, the Z step's data, and the shift's
/// first and last document numbers.
type Gathered = (Vec<Loaded>, Vec<u8>, String, Option<i64>, Option<i64>);

/// The three-way reconciliation of the shift this day close closed.
pub async fn run_reconcile(ctx: &StepContext<'_>, journal: &journal::Journal) -> RunResult {
    let l = ctx.loaded;
    let Some(shift_id) = l.op.shift_id else {
        return RunResult::Ended(Outcome::Done {
            result: Value::Null,
            payment: Vec::new(),
            document: None,
        });
    };
    let gathered = (|| -> Result<Gathered> {
        let shift = journal
            .shift(shift_id)?
            .ok_or_else(|| crate::Error::NotFound(format!("shift {shift_id}")))?;
        let ops = journal.operations_of_shift(shift_id)?;
        let pending = journal.pending_settlements(Some(shift_id))?;
        let first = journal.first_document_of_shift(shift_id)?;
        let z = l
            .step("z")
            .and_then(|s| s.result.as_deref())
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .and_then(|v| v["document"].as_i64());
        Ok((ops, pending, shift.business_day, first, z))
    })();
    let (ops, pending, day, first, z) = match gathered {
        Ok(g) => g,
        Err(e) => {
            return RunResult::Ended(Outcome::Failed {
                code: "storage".into(),
                message: e.to_string(),
                payment: None,
            })
        }
    };
    let mut documents = Vec::new();
    if let (Some(first), Some(z)) = (first, z) {
        for n in (first..=z).take(MAX_DOCUMENTS as usize) {
            match ctx
                .devices
                .fiscal
                .read_document(u64::try_from(n).unwrap_or(0))
                .await
            {
                Ok(lines) if !lines.is_empty() => documents.push((n, lines)),
                Ok(_) => {}
                Err(e) if e.is_uncertain() => return RunResult::Uncertain,
                Err(_) => break,
            }
        }
    }
    let survey = survey_of(l).unwrap_or_default();
    let r = reconcile::reconcile(&Inputs {
        shift: shift_id,
        business_day: day,
        operations: &ops,
        survey: &survey,
        pending_settlements: &pending,
        documents: &documents,
        reference_of,
    });
    RunResult::Ended(Outcome::Done {
        result: serde_json::to_value(&r).unwrap_or(Value::Null),
        payment: Vec::new(),
        document: None,
    })
}

/// What a day step records when it is done, in the transaction that ends
/// it: a settlement; the shift's close; its reports.
pub fn effects(
    tx: &Transaction<'_>,
    l: &Loaded,
    step: &Step,
    result: &Value,
    at: &str,
    day: &str,
) -> Result<()> {
    match step {
        Step::Settle(m) => {
            let shift = match l.op.shift_id {
                Some(id) => id,
                None => journal::shifts::ensure_open(tx, l.op.id, day, at)?.id,
            };
            let state = result["state"].as_str().unwrap_or("pending");
            let totals = &result["totals"];
            let state = if state == "done"
                && totals
                    .as_object()
                    .is_some_and(|t| t.values().all(|v| v.as_i64() == Some(0)))
            {
                "empty"
            } else {
                state
            };
            crate::journal::exec(
                tx,
                "INSERT INTO settlements (shift_id, merchant, state, totals, receipt, error_code,
                     requested_at, done_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?3 = 'pending' THEN NULL ELSE ?7 END)
                 ON CONFLICT (shift_id, merchant) DO UPDATE SET state = excluded.state,
                     totals = excluded.totals, receipt = excluded.receipt,
                     error_code = excluded.error_code, done_at = excluded.done_at",
                params![
                    shift,
                    m,
                    state,
                    (!totals.is_null()).then(|| totals.to_string()),
                    result["receipt"].as_str(),
                    result["error"].as_str(),
                    at
                ],
            )?;
            journal::log(tx, l.op.id, at, &format!("settlement {m}"), Some(state))?;
            if state != "pending" {
                // An older settlement left pending went with this one: the
                // terminal's batch held its payments too.
                crate::journal::exec(
                    tx,
                    "UPDATE settlements SET state = 'done', error_code = NULL, done_at = ?3,
                         receipt = 'settled with shift ' || ?1
                     WHERE (merchant = ?2 OR ?2 = 0) AND state = 'pending' AND shift_id <> ?1",
                    params![shift, m, at],
                )?;
            }
        }
        Step::ZReport => {
            if let Some(shift) = journal::shifts::open_shift(tx)? {
                journal::shifts::close(
                    tx,
                    shift.id,
                    &journal::shifts::ShiftClose {
                        operation: l.op.id,
                        z_number: result["z_number"].as_i64(),
                        fiscal_totals: result.to_string(),
                        audit_head: result["audit_head"].as_str().map(str::to_string),
                    },
                    at,
                )?;
                journal::log(tx, l.op.id, at, "shift_closed", Some(&shift.business_day))?;
            }
        }
        Step::Reconcile => {
            if let Some(shift) = l.op.shift_id {
                let survey = l
                    .step("survey")
                    .and_then(|s| s.result.clone())
                    .unwrap_or_default();
                journal::shifts::set_reports(tx, shift, &survey, &result.to_string())?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl super::Engine {
    /// Run the settlements a day close left pending (the terminal was off
    /// or had no host link), oldest first; returns how many are still
    /// pending. The caller holds the lane.
    pub(crate) async fn settle_pending_locked(&self, actor: Option<&str>) -> Result<usize> {
        let j = &self.inner.journal;
        let rows = j.pending_settlement_rows()?;
        let mut left = 0;
        for (shift, m) in rows {
            match self.inner.devices.terminal.settle(m).await {
                Ok(r) => {
                    let empty = r
                        .totals
                        .is_some_and(|t| t == terminal::BatchTotals::default());
                    let state = if empty { "empty" } else { "done" };
                    let totals = r
                        .totals
                        .map(|t| serde_json::to_string(&t).unwrap_or_default());
                    let at = self.now();
                    let close = j.shift(shift)?.and_then(|s| s.close_operation);
                    j.write(|tx| {
                        journal::shifts::settle_later(
                            tx,
                            shift,
                            m,
                            state,
                            totals.as_deref(),
                            Some(&r.receipt),
                            &at,
                        )?;
                        if let Some(op) = close {
                            journal::log(tx, op, &at, &format!("settlement {m}"), Some(state))?;
                        }
                        if let Some(actor) = actor {
                            audit::append(
                                tx,
                                &audit::AuditEntry {
                                    actor,
                                    action: "settle_pending",
                                    operation: close,
                                    reason: None,
                                    change: Some(
                                        json!({ "shift": shift, "merchant": m, "state": state }),
                                    ),
                                },
                                &at,
                            )?;
                        }
                        Ok(())
                    })?;
                }
                Err(e) => {
                    tracing::info!("the settlement of merchant {m} is still pending: {e}");
                    left += 1;
                }
            }
        }
        Ok(left)
    }
}
