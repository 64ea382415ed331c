//! What the emulated register answers besides the receipt: the diagnostic
//! (0x5A), the shift (UA 0x2E), the data modem (UA 0x7A), the operator
//! password (0x65, three wrong ones lock it), cash in / out and the drawer
//! query (0x46, also card cash-out with slots), X / Z reports (0x45) and
//! non-fiscal documents (0x26 / 0x2A / 0x27).

use chrono::Duration as ChronoDuration;

use crate::dialect::{ErrorKind, Syntax};
use crate::text::{self, money};

use super::receipt::card_block;
use super::{Device, Outcome};

impl Device {
    /// 0x5A. UA (§7.4): model, firmware and date, checksum, switches,
    /// country (2), serial, fiscal number, ID_DEV, ID_ACQ, ID_SAM. X: name,
    /// firmware, date, time, checksum, switches, serial, FM.
    pub(super) fn diagnostic(&self) -> Vec<String> {
        let d = self.d();
        let c = &self.config;
        match d.syntax {
            Syntax::Comma => vec![
                d.model.to_string(),
                "4.00UA 15Jan25".into(),
                "A1B2".into(),
                "00000000".into(),
                "2".into(),
                c.serial.clone(),
                c.fiscal_memory.clone(),
                c.id_dev.clone(),
                c.id_acq.clone(),
                c.id_sam.clone(),
            ],
            Syntax::Tab => vec![
                d.model.to_string(),
                "1.00".into(),
                "15Jan25".into(),
                "1200".into(),
                "A1B2".into(),
                "00000000".into(),
                c.serial.clone(),
                c.fiscal_memory.clone(),
            ],
        }
    }

    /// UA 0x2E: `Z` (no shift), `P,<minutes>`, `F,<minutes>` (Z due).
    pub(super) fn shift_state(&self) -> Vec<String> {
        match self.shift_minutes() {
            _ if self.config.faults.shift_over_24h => vec!["F".into(), "1500".into()],
            None => vec!["Z".into()],
            Some(m) if m >= 24 * 60 => vec!["F".into(), m.to_string()],
            Some(m) => vec!["P".into(), m.to_string()],
        }
    }

    /// UA 0x7A: state, unsent documents, oldest unsent (`DD-MM-YY HH:MM`),
    /// last sent, reserved, `ok` / `err`. Only the sixth field's meaning
    /// comes from public code; the rest is this emulator's own layout.
    pub(super) fn modem_state(&self) -> Vec<String> {
        let f = &self.config.faults;
        let now = self.now();
        let (unsent, oldest) = if f.unsent_hours > 0 {
            let t = now - ChronoDuration::hours(i64::from(f.unsent_hours));
            ("3".to_string(), t.format("%d-%m-%y %H:%M").to_string())
        } else {
            ("0".to_string(), String::new())
        };
        vec![
            "1".into(),
            unsent,
            oldest,
            now.format("%d-%m-%y %H:%M").to_string(),
            "0".into(),
            if f.modem_down { "err" } else { "ok" }.into(),
        ]
    }

    /// 0x65 `<operator>,<old>,<new>`: a wrong old password counts toward
    /// the lock; the right one sets the new password (the driver sends the
    /// same one, so nothing changes and nothing prints).
    pub(super) fn set_password(&mut self, p: &[String]) -> Outcome {
        if p.len() < 3 {
            return Err(ErrorKind::Syntax);
        }
        self.password_ok(&p[1])?;
        let new = p[2].trim();
        if new.is_empty() || !new.chars().all(|c| c.is_ascii_digit()) {
            return Err(ErrorKind::Syntax);
        }
        self.config.password = new.to_string();
        Ok(Vec::new())
    }

    /// 0x46: `[-]amount` (old) or `type TAB amount` (X); 0 only queries;
    /// UA `-<amount>&<slots>` is a card cash-out. Answers
    /// `P,CashSum,ServIn,ServOut` (X: `CashSum,CashIn,CashOut`).
    pub(super) fn cash(&mut self, data: &[u8], p: &[String]) -> Outcome {
        let raw = text::from_cp1251(data);
        if self.d().card_cash_out && raw.contains('&') {
            return self.card_cash_out(&raw);
        }
        let amount = match self.d().syntax {
            Syntax::Comma => p.first().and_then(|s| text::parse_money(s)),
            Syntax::Tab => {
                let a = p.get(1).and_then(|s| text::parse_money(s));
                match p.first().map(|s| s.trim()) {
                    Some("1") => a.map(|a| -a),
                    Some("0") => a,
                    _ => None,
                }
            }
        }
        .ok_or(ErrorKind::Syntax)?;
        if amount == 0 {
            return Ok(self.cash_fields());
        }
        if self.state.receipt.is_some() || self.state.nonfiscal.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.printing_checks()?;
        if amount < 0 && -amount > self.state.counters.cash_in_drawer() {
            return Err(ErrorKind::NotPermitted);
        }
        let c = &mut self.state.counters;
        if amount > 0 {
            c.cash_in += amount;
        } else {
            c.cash_out -= amount;
        }
        c.last_document += 1;
        let n = c.last_document;
        let (what, kind) = if amount > 0 {
            ("СЛУЖБОВЕ ВНЕСЕННЯ", "cash_in")
        } else {
            ("СЛУЖБОВА ВИДАЧА", "cash_out")
        };
        let lines = vec![
            what.into(),
            format!("СУМА {}", money(amount.abs())),
            format!("№{n}  {}", self.now().format("%d.%m.%Y %H:%M:%S")),
        ];
        self.finish_numbered(n, kind, lines, 3);
        self.save();
        Ok(self.cash_fields())
    }

    fn cash_fields(&self) -> Vec<String> {
        let c = &self.state.counters;
        let mut f = Vec::new();
        if self.d().syntax == Syntax::Comma {
            f.push("P".to_string());
        }
        f.extend([
            money(c.cash_in_drawer()),
            money(c.cash_in),
            money(c.cash_out),
        ]);
        f
    }

    /// UA card cash-out: `-<amount>&<slot>,<slot>,...` read in this
    /// firmware's slot order, printed with the card block.
    fn card_cash_out(&mut self, raw: &str) -> Outcome {
        let (amount, slots) = raw.split_once('&').ok_or(ErrorKind::Syntax)?;
        let amount = text::parse_money(amount)
            .filter(|a| *a < 0)
            .map(|a| -a)
            .ok_or(ErrorKind::Syntax)?;
        if self.state.receipt.is_some() || self.state.nonfiscal.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.printing_checks()?;
        let slots: Vec<String> = slots.split(',').map(str::to_string).collect();
        let fields = self.read_slots(&slots)?;
        if amount > self.state.counters.cash_in_drawer() {
            return Ok(vec!["F".into()]);
        }
        let c = &mut self.state.counters;
        c.card_cash_out += amount;
        c.last_document += 1;
        let n = c.last_document;
        let mut lines = vec![
            "ВИДАЧА ГОТІВКИ".to_string(),
            format!("СУМА {}", money(amount)),
        ];
        lines.extend(card_block(&fields));
        lines.push(format!("№{n}  {}", self.now().format("%d.%m.%Y %H:%M:%S")));
        let fresh = lines.len();
        self.finish_numbered(n, "card_cash_out", lines, fresh);
        self.save();
        Ok(self.cash_fields())
    }

    pub(super) fn report(&mut self, p: &[String]) -> Outcome {
        if self.state.receipt.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.printing_checks()?;
        let z = match self.d().syntax {
            Syntax::Comma => {
                // "{pwd},0" (Z) or "{pwd},2" (X); a bare "0"/"2"/"Z"/"X" too.
                let last = p.last().map(|s| s.trim().to_string()).unwrap_or_default();
                if p.len() >= 2 {
                    self.password_ok(&p[0])?;
                }
                match last.as_str() {
                    "0" | "Z" => true,
                    "2" | "X" => false,
                    _ => return Err(ErrorKind::Syntax),
                }
            }
            Syntax::Tab => match p.first().map(|s| s.trim()) {
                Some("Z") => true,
                Some("X") => false,
                _ => return Err(ErrorKind::Syntax),
            },
        };
        if z && self.config.faults.fm_full {
            return Err(ErrorKind::FiscalMemoryFull);
        }
        let c = self.state.counters.clone();
        let number = if z { c.z_count + 1 } else { c.z_count };
        let mut lines = vec![if z {
            format!("Z-ЗВІТ №{number}")
        } else {
            "X-ЗВІТ".to_string()
        }];
        for i in 0..5 {
            lines.push(format!(
                "ПРОДАЖ {} {}",
                text::tax_letter(i),
                money(c.day_sales[i])
            ));
        }
        for i in 0..5 {
            lines.push(format!(
                "ПОВЕРН. {} {}",
                text::tax_letter(i),
                money(c.day_returns[i])
            ));
        }
        lines.push(format!("ГОТІВКА {}", money(c.day_paid[0])));
        lines.push(format!("КАРТКА {}", money(c.day_paid[1])));
        lines.push(format!("ПОВЕРН. ГОТІВКА {}", money(c.day_refunded[0])));
        lines.push(format!("ПОВЕРН. КАРТКА {}", money(c.day_refunded[1])));
        lines.push(format!(
            "ВНЕСЕННЯ {}  ВИДАЧА {}",
            money(c.cash_in),
            money(c.cash_out)
        ));
        self.state.counters.last_document += 1;
        let n = self.state.counters.last_document;
        let now = self.now().format("%d.%m.%Y %H:%M:%S");
        lines.push(format!("№{n}  {now}"));
        let mut fields = vec![number.to_string()];
        fields.extend(c.day_sales.iter().map(|t| money(*t)));
        if z {
            let cs = &mut self.state.counters;
            cs.z_count += 1;
            cs.day_sales = [0; 5];
            cs.day_returns = [0; 5];
            cs.day_paid = [0; 2];
            cs.day_refunded = [0; 2];
            cs.day_rounding = 0;
            cs.cash_in = 0;
            cs.cash_out = 0;
            cs.card_cash_out = 0;
            cs.shift_opened = None;
            self.config.faults.shift_over_24h = false;
        }
        let fresh = lines.len();
        self.finish_numbered(n, if z { "z" } else { "x" }, lines, fresh);
        self.save();
        Ok(fields)
    }

    /// 0x26: opens a non-fiscal document (not while a receipt is open).
    pub(super) fn nonfiscal_open(&mut self) -> Outcome {
        if self.state.receipt.is_some() || self.state.nonfiscal.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.printing_checks()?;
        self.state.nonfiscal = Some(Vec::new());
        self.print("НЕФІСКАЛЬНИЙ ДОКУМЕНТ");
        self.save();
        Ok(Vec::new())
    }

    /// 0x2A: one text line on the open non-fiscal document.
    pub(super) fn nonfiscal_text(&mut self, data: &[u8], p: &[String]) -> Outcome {
        if self.state.nonfiscal.is_none() {
            return Err(ErrorKind::NotPermitted);
        }
        self.printing_checks()?;
        let t = match self.d().syntax {
            Syntax::Tab => p.first().cloned().unwrap_or_default(),
            Syntax::Comma => text::from_cp1251(data),
        };
        if t.chars().count() > self.d().text_width {
            return Err(ErrorKind::Syntax);
        }
        self.print(t);
        self.save();
        Ok(Vec::new())
    }

    /// 0x27: closes the non-fiscal document (it has no fiscal number and
    /// does not move the document counter).
    pub(super) fn nonfiscal_close(&mut self) -> Outcome {
        let Some(mut lines) = self.state.nonfiscal.take() else {
            return Err(ErrorKind::NotPermitted);
        };
        lines.push("НЕФІСКАЛЬНИЙ ДОКУМЕНТ".into());
        self.finish_document(lines, 1);
        self.save();
        Ok(Vec::new())
    }
}
