//! A behaviour emulator of ECRCommX.BPOS1Lib at the API level.
//!
//! Operation methods return at once; the operation then advances with the
//! clock: `LastResult` reads 2 while the status walks its timeline
//! (`LastStatMsgCode` 9 → 1 → 2 → 6 → 3 → 5), then 0 with the result
//! properties set, or 1 with `LastErrorCode` 4 and a `ResponseCode`.
//! An approved purchase or refund waits for `Confirm`; without it the
//! terminal cancels it once the confirm time-out has passed (observed lazily,
//! at the next call). Lookups (`GetTxnNum`, `GetTxnDataByOrder`,
//! `GetTxnDataByInv`) and totals (`GetBatchTotals`, `Settlement`) read the
//! shared [`Bank`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Bpos1Api, Value};
use crate::emulator::{Bank, Outcome, Record};
use crate::{BatchTotals, Error, Result, TxnKind, TxnStatus};

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct Bpos1EmulatorConfig {
    /// Time per status step (0: operations finish at the first poll).
    pub step_delay: Duration,
    /// How long an approval waits for `Confirm` before the terminal cancels it.
    pub confirm_timeout: Duration,
    pub merchants: u8,
}

impl Default for Bpos1EmulatorConfig {
    fn default() -> Self {
        Self {
            step_delay: Duration::from_millis(300),
            confirm_timeout: Duration::from_secs(30),
            merchants: 2,
        }
    }
}

#[derive(Debug, Clone)]
enum OpKind {
    Financial {
        kind: TxnKind,
        amount: i64,
        merchant: u8,
        rrn: String,
        invoice: u64,
    },
}

#[derive(Debug, Clone)]
struct Running {
    op: OpKind,
    outcome: Outcome,
    started: Instant,
    cancelled: bool,
}

/// The emulated ECRCommX.BPOS1Lib object.
#[derive(Debug, Clone)]
pub struct Bpos1Emulator {
    cfg: Bpos1EmulatorConfig,
    bank: Arc<Mutex<Bank>>,
    running: Option<Running>,
    /// An approval waiting for `Confirm`: invoice and when it was ready.
    unconfirmed: Option<(u64, Instant)>,
    last_result: i64,
    last_error_code: i64,
    last_error_text: String,
    stat: i64,
    props: HashMap<&'static str, Value>,
    link_down: bool,
    open: bool,
}

const TIMELINE: [i64; 5] = [9, 1, 2, 6, 3];

impl Bpos1Emulator {
    /// A fresh terminal.
    pub fn new(cfg: Bpos1EmulatorConfig) -> Self {
        let bank = Arc::new(Mutex::new(Bank::new(cfg.merchants)));
        Self {
            cfg,
            bank,
            running: None,
            unconfirmed: None,
            last_result: 0,
            last_error_code: 0,
            last_error_text: String::new(),
            stat: 0,
            props: HashMap::new(),
            link_down: false,
            open: true,
        }
    }

    /// The shared books (clone the emulator's handle before handing it to a driver).
    pub fn bank_handle(&self) -> Arc<Mutex<Bank>> {
        Arc::clone(&self.bank)
    }

    fn bank(&self) -> MutexGuard<'_, Bank> {
        match self.bank.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn fail(&mut self, code: i64, response: i64, text: &str) {
        self.last_result = 1;
        self.last_error_code = code;
        self.last_error_text = text.into();
        self.props.insert("ResponseCode", Value::Int(response));
    }

    fn succeed(&mut self) {
        self.last_result = 0;
        self.last_error_code = 0;
        self.last_error_text.clear();
    }

    /// Cancel an approval that was not confirmed in time.
    fn expire(&mut self, force: bool) {
        if let Some((invoice, at)) = self.unconfirmed {
            if force || at.elapsed() >= self.cfg.confirm_timeout {
                self.bank().set_status(invoice, TxnStatus::Cancelled);
                self.unconfirmed = None;
            }
        }
    }

    /// Move the running operation along the clock.
    fn advance(&mut self) {
        let Some(run) = self.running.clone() else {
            return;
        };
        let step = if self.cfg.step_delay.is_zero() {
            usize::MAX
        } else {
            let n = run.started.elapsed().as_nanos() / self.cfg.step_delay.as_nanos().max(1);
            usize::try_from(n).unwrap_or(usize::MAX)
        };
        if run.cancelled {
            self.finish_error(1001, "Операцію скасовано");
            return;
        }
        match run.outcome {
            Outcome::Timeout => {
                self.stat = 9;
                return;
            }
            Outcome::CustomerCancel if step >= 1 => {
                self.finish_error(1001, "Скасовано клієнтом");
                return;
            }
            _ => {}
        }
        if step < TIMELINE.len() {
            self.stat = TIMELINE[step];
            return;
        }
        self.finish();
    }

    fn finish_error(&mut self, rc: i64, text: &str) {
        self.running = None;
        self.stat = 0;
        self.fail(4, rc, text);
    }

    fn finish(&mut self) {
        let Some(run) = self.running.take() else {
            return;
        };
        self.stat = 0;
        let OpKind::Financial {
            kind,
            amount,
            merchant,
            rrn,
            invoice,
        } = run.op;
        let code = match &run.outcome {
            Outcome::NoHostLink => return self.fail(4, 1004, "Немає зв'язку з банком"),
            Outcome::NoPaper => return self.fail(4, 1005, "Немає паперу"),
            Outcome::Busy => return self.fail(4, 1000, "Термінал зайнятий"),
            Outcome::Decline(c) => c.clone(),
            Outcome::PartialApproval => "10".into(),
            _ => "00".into(),
        };
        let record = {
            let mut bank = self.bank();
            match kind {
                TxnKind::Void => bank.void(invoice, ""),
                TxnKind::Refund => bank.refund(merchant, amount, &rrn, &code),
                _ => Ok(bank.authorise(kind, merchant, amount, &code, "")),
            }
        };
        let record = match record {
            Ok(r) => r,
            Err(Error::Device { code, message }) => {
                return self.fail(4, code.parse().unwrap_or(1000), &message)
            }
            Err(e) => return self.fail(4, 1000, &e.to_string()),
        };
        self.set_props(&record);
        if record.status != TxnStatus::Approved {
            let rc = record.host_code.parse().unwrap_or(5);
            return self.fail(
                4,
                rc,
                crate::response_text(&record.host_code, crate::Lang::Uk),
            );
        }
        self.succeed();
        if kind != TxnKind::Void {
            self.unconfirmed = Some((record.invoice, Instant::now()));
        }
        if run.outcome == Outcome::DropAfterApproval {
            self.link_down = true;
        }
    }

    fn set_props(&mut self, r: &Record) {
        let p = self.bank().profile(r.merchant);
        let s = |v: &str| Value::Str(v.to_string());
        self.props.insert("PAN", s(&r.pan));
        self.props.insert("RRN", s(&r.rrn));
        self.props.insert("AuthCode", s(&r.auth_code));
        self.props.insert("IssuerName", s(&r.scheme));
        self.props.insert("TerminalID", s(&p.terminal_id));
        self.props.insert("MerchantID", s(&p.merchant_id));
        self.props
            .insert("InvoiceNum", s(&format!("{:06}", r.invoice)));
        self.props
            .insert("TrnBatchNum", s(&format!("{:06}", r.batch)));
        self.props
            .insert("DateTime", s(&r.at.format("%y%m%d%H%M%S").to_string()));
        self.props.insert("Amount", Value::Int(r.amount));
        self.props
            .insert("ResponseCode", Value::Int(r.host_code.parse().unwrap_or(0)));
        let txn_type = match r.kind {
            TxnKind::Purchase => 1,
            TxnKind::Refund => 2,
            TxnKind::Void => 3,
            TxnKind::Other => 0,
        };
        self.props.insert("TxnType", Value::Int(txn_type));
        let status = match r.status {
            TxnStatus::Approved => 1,
            TxnStatus::Declined => 2,
            TxnStatus::Reversed => 3,
            TxnStatus::Cancelled => 4,
            TxnStatus::Unknown => 0,
        };
        self.props.insert("TrnStatus", Value::Int(status));
    }

    fn start(&mut self, op: OpKind) -> Result<()> {
        if self.running.is_some() {
            return Err(Error::Busy);
        }
        self.expire(true);
        let outcome = self.bank().next_outcome();
        self.running = Some(Running {
            op,
            outcome,
            started: Instant::now(),
            cancelled: false,
        });
        self.last_result = 2;
        self.stat = 9;
        Ok(())
    }

    fn set_totals(&mut self, t: BatchTotals) {
        let put = |m: &mut HashMap<&'static str, Value>, k, v: i64| {
            m.insert(k, Value::Int(v));
        };
        put(&mut self.props, "TotalsDebitNum", i64::from(t.debit_count));
        put(&mut self.props, "TotalsDebitAmt", t.debit_amount);
        put(
            &mut self.props,
            "TotalsCreditNum",
            i64::from(t.credit_count),
        );
        put(&mut self.props, "TotalsCreditAmt", t.credit_amount);
        put(
            &mut self.props,
            "TotalsCancelledNum",
            i64::from(t.cancelled_count),
        );
        put(&mut self.props, "TotalsCancelledAmt", t.cancelled_amount);
    }

    fn lookup(&mut self, found: Option<Record>) {
        match found {
            Some(r) => {
                self.set_props(&r);
                self.succeed();
            }
            None => self.fail(4, 1000, "Транзакцію не знайдено"),
        }
    }
}

fn int(args: &[Value], i: usize) -> Result<i64> {
    args.get(i)
        .ok_or_else(|| Error::InvalidRequest(format!("argument {i} missing")))?
        .int()
}

impl Bpos1Api for Bpos1Emulator {
    fn call(&mut self, method: &str, args: &[Value]) -> Result<()> {
        if std::mem::take(&mut self.link_down) {
            return Err(Error::LinkLost("ECR link dropped".into()));
        }
        self.advance();
        if method != "Confirm" {
            self.expire(false);
        }
        let merchant = |i: usize| {
            int(args, i)
                .ok()
                .and_then(|m| u8::try_from(m).ok())
                .unwrap_or(0)
        };
        match method {
            "CommOpen" | "CommOpenTCP" | "CommOpenAuto" => {
                self.open = true;
                self.succeed();
            }
            "CommClose" => self.open = false,
            "SetErrorLang" | "useLogging" => self.succeed(),
            _ if !self.open => self.fail(2, 0, "COM port is not open"),
            "Purchase" => {
                let amount = int(args, 0)? - int(args, 1).unwrap_or(0);
                let op = OpKind::Financial {
                    kind: TxnKind::Purchase,
                    amount,
                    merchant: merchant(2),
                    rrn: String::new(),
                    invoice: 0,
                };
                self.start(op)?;
            }
            "Refund" => {
                let rrn = args.get(3).map(Value::text).unwrap_or_default();
                let op = OpKind::Financial {
                    kind: TxnKind::Refund,
                    amount: int(args, 0)?,
                    merchant: merchant(2),
                    rrn,
                    invoice: 0,
                };
                self.start(op)?;
            }
            "Void" => {
                let invoice = u64::try_from(int(args, 0)?).unwrap_or(0);
                let op = OpKind::Financial {
                    kind: TxnKind::Void,
                    amount: 0,
                    merchant: merchant(1),
                    rrn: String::new(),
                    invoice,
                };
                self.start(op)?;
            }
            "Confirm" => match self.unconfirmed.take() {
                Some(_) => self.succeed(),
                None => self.fail(4, 1008, "Немає операції для підтвердження"),
            },
            "Cancel" => {
                if let Some(run) = self.running.as_mut() {
                    run.cancelled = true;
                } else {
                    self.expire(true);
                }
                self.advance();
            }
            "GetTxnNum" => {
                let n = self.bank().lookup(0).map(|r| r.invoice).unwrap_or(0);
                self.props
                    .insert("TxnNum", Value::Int(i64::try_from(n).unwrap_or(0)));
                self.succeed();
            }
            "GetTxnDataByOrder" | "GetTxnDataByInv" => {
                let n = u64::try_from(int(args, 0)?).unwrap_or(0);
                let found = self.bank().lookup(n).cloned();
                self.lookup(found);
            }
            "GetBatchTotals" | "PrintBatchTotals" => {
                let t = self.bank().totals(merchant(0));
                self.set_totals(t);
                self.succeed();
            }
            "Settlement" => {
                let settled = self.bank().settle(merchant(0));
                match settled {
                    Ok(t) => {
                        self.set_totals(t);
                        self.succeed();
                    }
                    Err(_) => {
                        self.set_totals(BatchTotals::default());
                        self.succeed();
                    }
                }
            }
            "POSGetInfo" => {
                self.props.insert(
                    "TerminalInfo",
                    Value::Str("TE7E132 KASA0001 EMU-BPOS1".into()),
                );
                self.succeed();
            }
            "CheckConnection" | "Ping" | "CheckTerminal" => self.succeed(),
            other => self.fail(4, 1000, &format!("method {other} is not emulated")),
        }
        Ok(())
    }

    fn get(&mut self, property: &str) -> Result<Value> {
        if std::mem::take(&mut self.link_down) {
            return Err(Error::LinkLost("ECR link dropped".into()));
        }
        self.advance();
        Ok(match property {
            "LastResult" => Value::Int(if self.running.is_some() {
                2
            } else {
                self.last_result
            }),
            "LastErrorCode" => Value::Int(self.last_error_code),
            "LastErrorDescription" => Value::Str(self.last_error_text.clone()),
            "LastStatMsgCode" => Value::Int(self.stat),
            "LastStatMsgDescription" => Value::Str(format!("status {}", self.stat)),
            other => self.props.get(other).cloned().unwrap_or(Value::Int(0)),
        })
    }
}
