//! A behaviour emulator of ECRCommX.BPOS1Lib at the API level.
//!
//! Operation methods return at once; the operation then advances with the
//! clock: `LastResult` reads 2 while the status walks its timeline
//! (`LastStatMsgCode` 9 → 1 → 2 → 6 → 3), then 0 with the result properties
//! set, or 1 with `LastErrorCode` 4 and a `ResponseCode`. An approved purchase
//! or refund waits for `Confirm`; without it the terminal cancels it once the
//! confirm time-out has passed. The deadline is kept in the books
//! ([`crate::emulator::Record::confirm_by`]), so it holds across connections
//! and restarts; the clock is observed at every call and, behind the bridge,
//! by a ticker ([`Bpos1Api::tick`]), so an operation whose cash register died
//! runs to its end and its approval is cancelled on time with nobody polling.
//!
//! It knows the names of the seed's ECRCommX list (the 1C integration note),
//! case-insensitively as COM does: an unknown method or property is an error
//! of the call itself (as `DISP_E_UNKNOWNNAME` would be); a listed method it
//! does not emulate answers `LastResult` 1, `LastErrorCode` 4, `ResponseCode`
//! 1000. Emulated: `CommOpen`, `CommOpenTCP`, `CommOpenAuto`, `CommClose`,
//! `SetErrorLang`, `useLogging`, `Purchase`, `Refund`, `Void`, `Confirm`,
//! `Cancel`, `GetTxnNum`, `GetTxnDataByOrder`, `GetTxnDataByInv`,
//! `GetBatchTotals`, `PrintBatchTotals`, `Settlement`, `PosGetInfo`,
//! `CheckConnection`, `ReqCurrReceipt`, `ReqReceiptByInv`. While an operation
//! runs, any other method than `Cancel` is refused as busy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Local;

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
    /// How long the terminal waits for a card that does not come.
    pub card_wait: Duration,
    /// Print each status step on stderr (`bpos1 status 1`).
    pub trace: bool,
}

impl Default for Bpos1EmulatorConfig {
    fn default() -> Self {
        Self {
            step_delay: Duration::from_millis(300),
            confirm_timeout: Duration::from_secs(30),
            merchants: 2,
            card_wait: Duration::from_secs(60),
            trace: false,
        }
    }
}

/// The methods of the seed's ECRCommX.BPOS1Lib list, lower case.
const METHODS: &[&str] = &[
    "commopen",
    "commopentcp",
    "commopenauto",
    "commclose",
    "purchase",
    "refund",
    "void",
    "settlement",
    "printbatchtotals",
    "confirm",
    "cancel",
    "gettxnnum",
    "gettxndatabyorder",
    "gettxndatabyinv",
    "getbatchtotals",
    "checkconnection",
    "printlastsettlecopy",
    "printbatchjournal",
    "reqcurrreceipt",
    "reqreceiptbyinv",
    "seterrorlang",
    "setcontrolmode",
    "readkey",
    "displaytext",
    "setline",
    "exchangestatuses",
    "completion",
    "readcard",
    "balance",
    "deposit",
    "purchaseservice",
    "identifycard",
    "posgetinfo",
    "posextransaction",
    "selectapp",
    "closeapp",
    "startscenario",
    "setextraprintdata",
    "uselogging",
    "sendfile",
    "setscreen",
    "correcttransaction",
];

/// The text (BSTR) properties of the list, lower case.
const TEXT_PROPERTIES: &[&str] = &[
    "lasterrordescription",
    "laststatmsgdescription",
    "pan",
    "datetime",
    "terminalid",
    "merchantid",
    "authcode",
    "expdate",
    "cardholder",
    "issuername",
    "rrn",
    "receipt",
    "emvaid",
    "track3",
    "currency",
    "rnk",
    "currencycode",
    "adddata",
    "terminalinfo",
    "discountname",
    "ecrdatatm",
    "libraryversion",
    "scenariodata",
];

/// The number properties of the list, lower case.
const NUMBER_PROPERTIES: &[&str] = &[
    "lastresult",
    "lasterrorcode",
    "laststatmsgcode",
    "responsecode",
    "invoicenum",
    "totalsdebitamt",
    "totalsdebitnum",
    "totalscreditamt",
    "totalscreditnum",
    "totalscancelledamt",
    "totalscancellednum",
    "signverif",
    "txnnum",
    "amount",
    "addamount",
    "entrymode",
    "txntype",
    "termstatus",
    "key",
    "trnstatus",
    "trnbatchnum",
    "discountattribute",
];

#[derive(Debug, Clone)]
struct Running {
    kind: TxnKind,
    amount: i64,
    merchant: u8,
    rrn: String,
    invoice: u64,
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
    last_result: i64,
    last_error_code: i64,
    last_error_text: String,
    stat: i64,
    /// Result properties, by lower-case name.
    props: HashMap<&'static str, Value>,
    link_down: bool,
    open: bool,
}

const TIMELINE: [i64; 5] = [9, 1, 2, 6, 3];

impl Bpos1Emulator {
    /// A fresh terminal.
    pub fn new(cfg: Bpos1EmulatorConfig) -> Self {
        let bank = Bank::new(cfg.merchants);
        Self::with_bank(cfg, Arc::new(Mutex::new(bank)))
    }

    /// A terminal keeping its books in `bank` (shared with other emulator
    /// objects or with a state file).
    pub fn with_bank(cfg: Bpos1EmulatorConfig, bank: Arc<Mutex<Bank>>) -> Self {
        if let Ok(mut b) = bank.lock() {
            if b.books().protocol.is_empty() {
                b.set_protocol("bpos1");
            }
            if cfg.trace {
                b.set_trace(true);
            }
        }
        Self {
            cfg,
            bank,
            running: None,
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
        self.bank
            .lock()
            .expect("the emulator's books were poisoned by a panic")
    }

    fn fail(&mut self, code: i64, response: i64, text: &str) {
        self.last_result = 1;
        self.last_error_code = code;
        self.last_error_text = text.into();
        self.props.insert("responsecode", Value::Int(response));
    }

    fn succeed(&mut self) {
        self.last_result = 0;
        self.last_error_code = 0;
        self.last_error_text.clear();
    }

    /// Cancel approvals not confirmed in time (all of them with `force`).
    fn expire(&mut self, force: bool) {
        let now = Local::now().naive_local();
        self.bank().expire_unconfirmed(now, force);
    }

    /// Move the running operation along the clock.
    fn advance(&mut self) {
        let Some(run) = self.running.clone() else {
            return;
        };
        let elapsed = run.started.elapsed();
        let step = if self.cfg.step_delay.is_zero() {
            usize::MAX
        } else {
            let n = elapsed.as_nanos() / self.cfg.step_delay.as_nanos().max(1);
            usize::try_from(n).unwrap_or(usize::MAX)
        };
        if run.cancelled {
            self.finish_error(1001, "Операцію скасовано");
            return;
        }
        match run.outcome {
            Outcome::Timeout => {
                self.stat = 9;
                if elapsed >= self.cfg.card_wait {
                    self.finish_error(1001, "Час очікування картки вичерпано");
                }
                return;
            }
            Outcome::CustomerCancel if step >= 1 => {
                self.finish_error(1001, "Скасовано клієнтом");
                return;
            }
            _ => {}
        }
        if step < TIMELINE.len() {
            self.set_stat(TIMELINE[step]);
            return;
        }
        self.finish();
    }

    fn set_stat(&mut self, code: i64) {
        if self.cfg.trace && code != self.stat {
            eprintln!("bpos1 status {code}");
        }
        self.stat = code;
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
        match &run.outcome {
            Outcome::NoHostLink => return self.fail(4, 1004, "Немає зв'язку з банком"),
            Outcome::NoPaper => return self.fail(4, 1005, "Немає паперу"),
            Outcome::Busy => return self.fail(4, 1000, "Термінал зайнятий"),
            _ => {}
        }
        let record = {
            let mut bank = self.bank();
            match run.kind {
                TxnKind::Void => bank.void_as(run.invoice, "", &run.outcome),
                TxnKind::Refund => {
                    bank.refund_as(run.merchant, run.amount, &run.rrn, &run.outcome, "")
                }
                kind => Ok(bank.authorise_as(kind, run.merchant, run.amount, &run.outcome, "")),
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
        if run.kind != TxnKind::Void {
            let until = Local::now().naive_local()
                + chrono::Duration::from_std(self.cfg.confirm_timeout)
                    .unwrap_or(chrono::Duration::MAX);
            self.bank().await_confirm(record.invoice, until);
        }
        if run.outcome == Outcome::DropAfterApproval {
            self.link_down = true;
        }
    }

    fn set_props(&mut self, r: &Record) {
        let s = |v: &str| Value::Str(v.to_string());
        self.props.insert("pan", s(&r.pan));
        self.props.insert("rrn", s(&r.rrn));
        self.props.insert("authcode", s(&r.auth_code));
        self.props.insert("issuername", s(&r.issuer));
        self.props.insert("emvaid", s(&r.aid));
        self.props.insert("terminalid", s(&r.terminal_id));
        self.props.insert("merchantid", s(&r.merchant_id));
        self.props.insert(
            "invoicenum",
            Value::Int(i64::try_from(r.invoice).unwrap_or(0)),
        );
        self.props
            .insert("trnbatchnum", Value::Int(i64::from(r.batch)));
        self.props
            .insert("datetime", s(&r.at.format("%y%m%d%H%M%S").to_string()));
        self.props.insert("expdate", s("2812"));
        self.props.insert("amount", Value::Int(r.amount));
        self.props.insert("addamount", Value::Int(0));
        self.props
            .insert("responsecode", Value::Int(r.host_code.parse().unwrap_or(0)));
        self.props
            .insert("signverif", Value::Int(i64::from(r.signature_required)));
        self.props.insert("entrymode", Value::Int(3));
        let txn_type = match r.kind {
            TxnKind::Purchase => 1,
            TxnKind::Refund => 2,
            TxnKind::Void => 3,
            TxnKind::Other => 0,
        };
        self.props.insert("txntype", Value::Int(txn_type));
        let status = match r.status {
            TxnStatus::Approved => 1,
            TxnStatus::Declined => 2,
            TxnStatus::Reversed => 3,
            TxnStatus::Cancelled => 4,
            TxnStatus::Unknown => 0,
        };
        self.props.insert("trnstatus", Value::Int(status));
    }

    fn start(&mut self, kind: TxnKind, amount: i64, merchant: u8, rrn: String, invoice: u64) {
        // A new operation cancels an approval still waiting for its confirm.
        self.expire(true);
        let outcome = self.bank().next_outcome();
        self.running = Some(Running {
            kind,
            amount,
            merchant,
            rrn,
            invoice,
            outcome,
            started: Instant::now(),
            cancelled: false,
        });
        self.last_result = 2;
        self.stat = 0;
        self.set_stat(9);
    }

    fn set_totals(&mut self, t: BatchTotals) {
        let put = |m: &mut HashMap<&'static str, Value>, k, v: i64| {
            m.insert(k, Value::Int(v));
        };
        put(&mut self.props, "totalsdebitnum", i64::from(t.debit_count));
        put(&mut self.props, "totalsdebitamt", t.debit_amount);
        put(
            &mut self.props,
            "totalscreditnum",
            i64::from(t.credit_count),
        );
        put(&mut self.props, "totalscreditamt", t.credit_amount);
        put(
            &mut self.props,
            "totalscancellednum",
            i64::from(t.cancelled_count),
        );
        put(&mut self.props, "totalscancelledamt", t.cancelled_amount);
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

    fn receipt(&mut self, found: Option<Record>) {
        match found {
            Some(r) => {
                let text = format!(
                    "{}\nСУМА {} ГРН\n{}\nТЕРМІНАЛ {}\nКОД АВТ.: {}\nЧЕК N: {}\nRRN: {}",
                    match r.kind {
                        TxnKind::Refund => "ПОВЕРНЕННЯ",
                        TxnKind::Void => "СКАСУВАННЯ",
                        _ => "ОПЛАТА",
                    },
                    crate::emulator::money(r.amount),
                    r.pan,
                    r.terminal_id,
                    r.auth_code,
                    r.invoice,
                    r.rrn,
                );
                self.props.insert("receipt", Value::Str(text));
                self.succeed();
            }
            None => self.fail(4, 1000, "Чек не знайдено"),
        }
    }

    fn confirm(&mut self) {
        let answer = self.bank().confirm();
        match answer {
            Ok(_) => self.succeed(),
            Err(1008) => self.fail(4, 1008, "Операцію вже завершено"),
            Err(code) => self.fail(4, i64::from(code), "Немає операції для підтвердження"),
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
        let name = method.trim().to_ascii_lowercase();
        if !METHODS.contains(&name.as_str()) {
            return Err(Error::Unsupported(format!(
                "ECRCommX has no method {method}"
            )));
        }
        self.tick();
        let merchant = |i: usize| {
            int(args, i)
                .ok()
                .and_then(|m| u8::try_from(m).ok())
                .unwrap_or(0)
        };
        let link_calls = ["commopen", "commopentcp", "commopenauto", "commclose"];
        let setup_calls = ["seterrorlang", "uselogging"];
        if self.running.is_some()
            && name != "cancel"
            && !link_calls.contains(&name.as_str())
            && !setup_calls.contains(&name.as_str())
        {
            return Err(Error::Busy);
        }
        match name.as_str() {
            "commopen" | "commopentcp" | "commopenauto" => {
                self.open = true;
                self.succeed();
            }
            "commclose" => self.open = false,
            "seterrorlang" | "uselogging" => self.succeed(),
            _ if !self.open => self.fail(2, 0, "COM port is not open"),
            "purchase" => {
                let amount = int(args, 0)? - int(args, 1).unwrap_or(0);
                self.start(TxnKind::Purchase, amount, merchant(2), String::new(), 0);
            }
            "refund" => {
                let rrn = args.get(3).map(Value::text).unwrap_or_default();
                self.start(TxnKind::Refund, int(args, 0)?, merchant(2), rrn, 0);
            }
            "void" => {
                let invoice = u64::try_from(int(args, 0)?).unwrap_or(0);
                self.start(TxnKind::Void, 0, merchant(1), String::new(), invoice);
            }
            "confirm" => self.confirm(),
            "cancel" => {
                if let Some(run) = self.running.as_mut() {
                    run.cancelled = true;
                    self.advance();
                } else {
                    // Nothing running: the approval waiting for its confirm.
                    self.expire(true);
                    self.succeed();
                }
            }
            "gettxnnum" => {
                let n = self.bank().journal().len();
                self.props
                    .insert("txnnum", Value::Int(i64::try_from(n).unwrap_or(0)));
                self.succeed();
            }
            "gettxndatabyorder" => {
                let n = usize::try_from(int(args, 0)?).unwrap_or(0);
                let found = n
                    .checked_sub(1)
                    .and_then(|i| self.bank().journal().into_iter().nth(i));
                self.lookup(found);
            }
            "gettxndatabyinv" => {
                let n = u64::try_from(int(args, 0)?).unwrap_or(0);
                let found = self.bank().lookup(n.max(1)).cloned();
                self.lookup(found);
            }
            "reqcurrreceipt" => {
                let found = self.bank().last().cloned();
                self.receipt(found);
            }
            "reqreceiptbyinv" => {
                let n = u64::try_from(int(args, 0)?).unwrap_or(0);
                let found = self.bank().lookup(n.max(1)).cloned();
                self.receipt(found);
            }
            "getbatchtotals" | "printbatchtotals" => {
                let t = self.bank().totals(merchant(0));
                self.set_totals(t);
                self.succeed();
            }
            "settlement" => {
                let settled = self.bank().settle(merchant(0));
                self.set_totals(settled.unwrap_or_default());
                self.succeed();
            }
            "posgetinfo" => {
                self.props.insert(
                    "terminalinfo",
                    Value::Str("TE7E132 KASA0001 EMU-BPOS1".into()),
                );
                self.succeed();
            }
            "checkconnection" => self.succeed(),
            _ => self.fail(
                4,
                1000,
                &format!("{method} is not available on this terminal"),
            ),
        }
        Ok(())
    }

    fn get(&mut self, property: &str) -> Result<Value> {
        if std::mem::take(&mut self.link_down) {
            return Err(Error::LinkLost("ECR link dropped".into()));
        }
        let name = property.trim().to_ascii_lowercase();
        let text = TEXT_PROPERTIES.contains(&name.as_str());
        if !text && !NUMBER_PROPERTIES.contains(&name.as_str()) {
            return Err(Error::Unsupported(format!(
                "ECRCommX has no property {property}"
            )));
        }
        self.tick();
        Ok(match name.as_str() {
            "lastresult" => Value::Int(if self.running.is_some() {
                2
            } else {
                self.last_result
            }),
            "lasterrorcode" => Value::Int(self.last_error_code),
            "lasterrordescription" => Value::Str(self.last_error_text.clone()),
            "laststatmsgcode" => Value::Int(self.stat),
            "laststatmsgdescription" => Value::Str(format!("status {}", self.stat)),
            other => match self.props.get(other) {
                Some(v) => v.clone(),
                None if text => Value::Str(String::new()),
                None => Value::Int(0),
            },
        })
    }

    fn tick(&mut self) {
        self.advance();
        self.expire(false);
    }
}
